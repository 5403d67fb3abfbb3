"""Validaciones de entrada compartidas, con mensajes claros en español.

Cada módulo de ``labcode`` valida sus argumentos antes de tocar NumPy o PyTorch,
para que un error diga qué se esperaba y qué se recibió en lugar de mostrar una
traza interna de difusión de formas.
"""

from __future__ import annotations

import numbers

__all__ = ["positive_int"]


def positive_int(name: str, value) -> int:
    """Devuelve ``value`` como ``int`` si es un entero positivo.

    Raises
    ------
    TypeError
        Si no es un entero (los booleanos tampoco valen).
    ValueError
        Si es un entero ``<= 0``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} debe ser un entero positivo; se recibió {value!r} "
            f"(tipo {type(value).__name__})."
        )
    if value <= 0:
        raise ValueError(f"{name} debe ser un entero positivo (> 0); se recibió {value}.")
    return int(value)
