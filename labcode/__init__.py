"""labcode: el código del libro «Lab 11: Transformers».

Cada módulo corresponde a un concepto (y a un capítulo) del libro:

- :mod:`labcode.attention_numpy`: atención por producto escalar escalado,
  ``SelfAttentionNumPy`` y ``MultiHeadAttentionNumPy`` en NumPy puro.
- :mod:`labcode.positional`: codificación posicional sinusoidal y aprendida.
- :mod:`labcode.rnn`: la línea base recurrente (LSTM) con la que se compara.
- :mod:`labcode.plotting`: figuras compartidas (mapas de calor de atención...).
- :mod:`labcode.exercises`: funciones que comprueban los ejercicios del libro.
- :mod:`labcode.config`: carpeta de datos y perfil de ejecución.
- :mod:`labcode.notebook`: utilidades para los capítulos (``glue``...).

Los módulos se importan de forma perezosa para que ``import labcode`` sea
rápido y no exija PyTorch a quien sólo usa la parte en NumPy.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = {
    "attention_numpy",
    "positional",
    "rnn",
    "plotting",
    "exercises",
    "config",
    "notebook",
    "blocks",
    "model",
    "gpt",
    "bert",
    "tokenization",
    "quijote",
}


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"el módulo 'labcode' no tiene el atributo {name!r}")


__all__ = sorted(_SUBMODULES) + ["__version__"]
