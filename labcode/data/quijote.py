"""El texto del *Quijote* y su tokenizador por caracteres (capítulo 6).

- :func:`load_quijote_text`: lee ``quijote/pg2000.txt`` (copia local, caché o
  descarga comprobada: :func:`labcode.data.registry.fetch`) y quita la
  cabecera y el pie de Project Gutenberg (:func:`strip_gutenberg`).
- El tokenizador (un token por carácter) es :class:`labcode.data.tokenizer.CharTokenizer`.
- :func:`train_val_split`, :func:`get_batch`: datos de entrenamiento de un
  modelo de lenguaje (ventanas aleatorias desplazadas un carácter).
"""

from __future__ import annotations

from pathlib import Path

import torch

from labcode.data.registry import GUTENBERG_URL, fetch
from labcode.utils.config import DataNotFoundError
from labcode.utils.errors import LabcodeTypeError, LabcodeValueError

__all__ = [
    "GUTENBERG_URL",
    "strip_gutenberg",
    "load_quijote_text",
    "train_val_split",
    "get_batch",
    "data_help_message",
]

_START = "*** START OF"
_END = "*** END OF"


def data_help_message() -> str:
    """Instrucciones (en español) para conseguir el texto del *Quijote*."""
    return (
        "No se encontró el texto del Quijote. Con conexión a Internet se descarga solo de "
        f"Project Gutenberg ({GUTENBERG_URL}); sin ella, define LABCODE_DATA con una "
        "carpeta que contenga quijote/pg2000.txt (por ejemplo LABCODE_DATA=../shared/data) "
        "o LABCODE_DATA_URL con la URL base de una réplica."
    )


def strip_gutenberg(text: str) -> str:
    """Quita la cabecera y el pie de Project Gutenberg.

    Conserva lo que hay entre la línea ``*** START OF ...`` y la línea
    ``*** END OF ...`` (ambas excluidas); normaliza los finales de línea a ``\\n``
    y elimina la marca BOM.

    Raises
    ------
    ValueError
        Si no aparecen las marcas de inicio y fin.
    """
    if not isinstance(text, str):
        raise LabcodeTypeError(
            f"strip_gutenberg: se esperaba str; se recibió {type(text).__name__}."
        )
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    start = text.find(_START)
    end = text.find(_END)
    if start < 0 or end < 0 or end < start:
        raise LabcodeValueError(
            "strip_gutenberg: no se encontraron las marcas '*** START OF' y '*** END OF' "
            "de Project Gutenberg en el texto."
        )
    body_start = text.find("\n", start)
    body_start = len(text) if body_start < 0 else body_start + 1
    return text[body_start:end].strip() + "\n"


def load_quijote_text(path: str | Path | None = None) -> str:
    """Texto del *Quijote* sin cabecera ni pie de Project Gutenberg.

    Parameters
    ----------
    path : str or Path, optional
        Fichero a leer; por defecto ``fetch("quijote/pg2000.txt")`` (copia local,
        caché o descarga de Project Gutenberg comprobada con su hash).

    Raises
    ------
    DataNotFoundError
        Si no existe el fichero y no se puede descargar (el mensaje explica cómo
        conseguirlo).
    """
    path = Path(fetch("quijote/pg2000.txt") if path is None else path)
    if not path.is_file():
        raise DataNotFoundError(f"{data_help_message()} Detalle: no existe {path}.")
    return strip_gutenberg(path.read_text(encoding="utf-8-sig"))


def train_val_split(
    ids: torch.Tensor, val_fraction: float = 0.1
) -> tuple[torch.Tensor, torch.Tensor]:
    """Divide una secuencia: el primer ``1 - val_fraction`` para entrenar, el resto para validar.

    La validación es el **final** del libro (texto que el modelo no ve).
    """
    if not 0.0 < val_fraction < 1.0:
        raise LabcodeValueError(
            f"train_val_split: val_fraction debe estar en (0, 1); se recibió {val_fraction}."
        )
    if ids.dim() != 1:
        raise LabcodeValueError(
            f"train_val_split: se esperaba un tensor 1D; se recibió la forma {tuple(ids.shape)}."
        )
    n = int(round(len(ids) * (1.0 - val_fraction)))
    return ids[:n], ids[n:]


def get_batch(
    data: torch.Tensor,
    block_size: int,
    batch_size: int,
    generator: torch.Generator | None = None,
    device: str | torch.device = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lote aleatorio de ventanas: entradas ``x`` y objetivos ``y`` desplazados un carácter.

    Returns
    -------
    x, y : torch.Tensor
        ``(batch_size, block_size)`` cada uno; ``y[:, t] = x[:, t + 1]``.
    """
    if len(data) <= block_size:
        raise LabcodeValueError(
            f"get_batch: los datos ({len(data)} tokens) deben ser más largos que "
            f"block_size ({block_size})."
        )
    ix = torch.randint(len(data) - block_size, (batch_size,), generator=generator)
    x = torch.stack([data[i : i + block_size] for i in ix.tolist()])  # (B, T)
    y = torch.stack([data[i + 1 : i + 1 + block_size] for i in ix.tolist()])  # (B, T)
    return x.to(device), y.to(device)
