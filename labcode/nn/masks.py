"""Máscaras booleanas de atención, con una sola convención: ``True`` = se atiende.

Es la convención de :mod:`labcode.numpy_ref.attention` y la que reciben todas las
funciones de :data:`labcode.nn.attention.ATTENTION_FUNCTIONS`. Una máscara debe poder
difundirse (*broadcast*) a la forma de las puntuaciones ``(B, nh, Tq, Tk)``.

- :func:`causal_mask`: la consulta ``i`` ve las claves ``j <= i`` (con ``past``
  posiciones ya en la caché, ``j <= past + i``).
- :func:`padding_mask`: las claves que no son relleno, a partir de los ids.
- :func:`length_mask`: lo mismo a partir de las longitudes reales.
- :func:`sliding_window_mask`: la banda ``|i - j| <= window`` (y causal si se pide).
"""

from __future__ import annotations

import torch

from labcode.utils import checks
from labcode.utils.errors import LabcodeValueError

__all__ = [
    "causal_mask",
    "check_mask_rows",
    "length_mask",
    "padding_mask",
    "sliding_window_mask",
]


def causal_mask(T: int, device: torch.device | str | None = None, past: int = 0) -> torch.Tensor:
    """Máscara causal: la posición ``i`` solo puede atender a ``j <= i``.

    Parameters
    ----------
    T : int
        Longitud de la secuencia (consultas nuevas).
    device : torch.device o str, opcional
        Dispositivo del tensor devuelto.
    past : int, opcional
        Posiciones ya guardadas en la caché KV: la máscara es ``(T, past + T)`` y la
        consulta ``i`` (posición absoluta ``past + i``) ve las claves ``j <= past + i``.

    Returns
    -------
    torch.Tensor
        Tensor booleano ``(T, past + T)`` triangular inferior (``True`` = puede atender).

    Raises
    ------
    ValueError
        Si ``T`` no es un entero positivo o ``past`` es negativo.
    """
    if isinstance(T, bool) or not isinstance(T, int) or T < 1:
        raise LabcodeValueError(f"causal_mask: se esperaba un entero T >= 1; se recibió {T!r}.")
    checks.mask_length("causal_mask: T", T)
    past = checks.nonnegative_int("causal_mask: past", past)
    ones = torch.ones(T, past + T, dtype=torch.bool, device=device)
    return ones.tril(diagonal=past)


def padding_mask(ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    """Máscara de relleno (*padding*) para las claves.

    Parameters
    ----------
    ids : torch.Tensor
        Identificadores de tokens, forma ``(B, T)``.
    pad_id : int
        Identificador del token de relleno.

    Returns
    -------
    torch.Tensor
        Tensor booleano ``(B, 1, 1, T)``: ``True`` donde la clave es un token real.
        Se difunde sobre las cabezas (``nh``) y las consultas (``Tq``).

    Raises
    ------
    ValueError
        Si ``ids`` no es 2D.
    """
    if not isinstance(ids, torch.Tensor) or ids.dim() != 2:
        shape = tuple(ids.shape) if isinstance(ids, torch.Tensor) else type(ids).__name__
        raise LabcodeValueError(
            f"padding_mask: se esperaban ids con forma (B, T); se recibió {shape}."
        )
    return (ids != pad_id)[:, None, None, :]  # (B, 1, 1, T)


def length_mask(lengths: torch.Tensor, T: int) -> torch.Tensor:
    """Máscara de claves reales ``(B, 1, 1, T)`` a partir de las longitudes ``(B,)``.

    Los ``lengths[b]`` primeros tokens de la fila ``b`` son reales; el resto, relleno.
    """
    T = checks.mask_length("length_mask: T", T)
    lengths = torch.as_tensor(lengths)
    if lengths.dim() != 1:
        raise LabcodeValueError(
            f"length_mask: se esperaban longitudes (B,); se recibió la forma "
            f"{tuple(lengths.shape)}."
        )
    pos = torch.arange(T, device=lengths.device)  # (T,)
    return (pos[None, :] < lengths[:, None])[:, None, None, :]  # (B, 1, 1, T)


def sliding_window_mask(n: int, window: int | None = None, causal: bool = False) -> torch.Tensor:
    """Máscara booleana ``(n, n)``: ``True`` donde la consulta ``i`` puede ver la clave ``j``.

    Parameters
    ----------
    n:
        Longitud de la secuencia.
    window:
        Radio de la ventana: ``|i - j| <= window``. ``None`` = sin límite.
    causal:
        Si es ``True``, además ``j <= i``.

    Raises
    ------
    ValueError, TypeError
        Si ``n < 1`` o ``window < 0``.
    """
    n = checks.mask_length("n", checks.positive_int("n", n))
    causal = checks.flag("causal", causal)
    i = torch.arange(n).unsqueeze(1)  # (n, 1)
    j = torch.arange(n).unsqueeze(0)  # (1, n)
    mask = torch.ones(n, n, dtype=torch.bool)
    if window is not None:
        window = checks.nonnegative_int("window", window)
        mask &= (i - j).abs() <= window
    if causal:
        mask &= j <= i
    return mask


def check_mask_rows(mask: torch.Tensor, target: tuple[int, ...] | None = None,
                    who: str = "check_mask_rows") -> torch.Tensor:
    """Comprueba **una vez** que cada consulta pueda atender al menos a una clave.

    Una fila toda ``False`` haría que la softmax diera NaN. Leer el resultado obliga a
    sincronizar con la GPU, así que los ``forward`` no lo hacen: llámala al construir
    la máscara. ``target`` es la forma a la que se difunde (por defecto, la suya).

    Raises
    ------
    ValueError
        Si alguna consulta queda completamente enmascarada.
    """
    full = mask if target is None else mask.expand(target)
    visible = full.any(dim=-1)
    if not bool(visible.all()):
        idx = (~visible).nonzero()[0].tolist()
        raise LabcodeValueError(
            f"{who}: hay una consulta completamente enmascarada (índice {idx}); cada "
            "consulta debe poder atender al menos a una clave (True = puede atender)."
        )
    return mask
