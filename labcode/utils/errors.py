"""Las excepciones de labcode: una sola clase base, :class:`LabcodeError`.

Todo error que ``labcode`` lanza a propósito (una entrada no válida, un modelo
que no se puede cargar, unos datos mal formados...) es una subclase de
:class:`LabcodeError` con un mensaje en español que dice qué se esperaba, qué
se recibió y cómo arreglarlo. Cada subclase hereda además de la excepción
estándar de Python que corresponde (``ValueError``, ``TypeError``,
``FileNotFoundError``, ``RuntimeError``...), así que el código que ya captura
``ValueError`` sigue funcionando.

Examples
--------
>>> from labcode.utils.errors import LabcodeError
>>> from labcode.utils.checks import positive_int
>>> try:
...     positive_int("d_model", -3)
... except LabcodeError as err:
...     print(err)
d_model debe ser un entero positivo (> 0); se recibió -3.
"""

from __future__ import annotations

__all__ = [
    "CheckpointError",
    "DataFormatError",
    "LabcodeError",
    "LabcodeFileNotFoundError",
    "LabcodeIndexError",
    "LabcodeRuntimeError",
    "LabcodeTypeError",
    "LabcodeValueError",
    "short_reason",
]


class LabcodeError(Exception):
    """Clase base de todos los errores de labcode (mensaje en español)."""


class LabcodeValueError(LabcodeError, ValueError):
    """Un valor fuera de rango o con una forma que no corresponde."""


class LabcodeTypeError(LabcodeError, TypeError):
    """Un argumento de un tipo que no se admite."""


class LabcodeIndexError(LabcodeError, IndexError):
    """Un índice fuera de rango (por ejemplo, un identificador de *token* negativo)."""


class LabcodeFileNotFoundError(LabcodeError, FileNotFoundError):
    """Falta un fichero o una carpeta que se necesita."""


class LabcodeRuntimeError(LabcodeError, RuntimeError):
    """Una operación que no se puede hacer en el estado actual (dispositivo, orden...)."""


class CheckpointError(LabcodeValueError):
    """Una carpeta de modelo incompleta o corrupta: faltan o sobran pesos, falta el
    tokenizador, el ``model_type`` no es el esperado o un fichero safetensors está
    dañado."""


class DataFormatError(LabcodeValueError):
    """Un fichero de datos con un formato que no se puede leer (JSON roto, columnas
    que faltan...)."""


def short_reason(exc: BaseException, width: int = 160) -> str:
    """Primera frase del mensaje de una excepción, recortada (para errores de una línea)."""
    text = (str(exc).strip().splitlines() or [""])[0].split(". ")[0].rstrip(".")
    text = text or type(exc).__name__
    return text if len(text) <= width else text[: width - 1] + "…"
