"""Validaciones de entrada compartidas, con mensajes claros en español.

Cada módulo de ``labcode`` valida sus argumentos antes de tocar NumPy o PyTorch,
para que un error diga qué se esperaba y qué se recibió en lugar de mostrar una
traza interna de difusión de formas.
"""

from __future__ import annotations

import numbers

__all__ = ["positive_int", "token_ids"]


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


def token_ids(
    input_ids,
    *,
    who: str,
    vocab_size: int,
    max_positions: int,
    limit_name: str,
    past: int = 0,
    extra: int = 0,
) -> None:
    """Comprueba un lote de identificadores de *token* para un modelo de lenguaje.

    Parameters
    ----------
    input_ids : torch.Tensor
        Enteros de forma ``(B, T)``, no vacío, con valores en ``[0, vocab_size)``.
    who : str
        Quién comprueba (aparece al principio del mensaje de error).
    vocab_size, max_positions : int
        Tamaño del vocabulario y contexto máximo del modelo.
    limit_name : str
        Nombre del contexto máximo en la configuración (``"n_positions"``...).
    past, extra : int
        Posiciones ya en la caché KV y *tokens* que se van a generar; cuentan
        para el contexto máximo.

    Raises
    ------
    TypeError
        Si no es un tensor de enteros.
    ValueError
        Si la forma no es ``(B, T)``, está vacío, no cabe en el contexto o hay
        identificadores fuera del vocabulario.
    """
    import torch

    if not isinstance(input_ids, torch.Tensor):
        raise TypeError(
            f"{who}: input_ids debe ser un torch.Tensor de enteros (B, T); "
            f"se recibió {type(input_ids).__name__}."
        )
    dtype = input_ids.dtype
    if dtype.is_floating_point or dtype.is_complex or dtype == torch.bool:
        raise TypeError(
            f"{who}: input_ids debe contener enteros (torch.long); se recibió dtype={dtype}."
        )
    if input_ids.dim() != 2:
        raise ValueError(
            f"{who}: input_ids debe tener forma (B, T); se recibió la forma "
            f"{tuple(input_ids.shape)}. Para una sola secuencia usa input_ids[None]."
        )
    B, T = input_ids.shape
    if B == 0 or T == 0:
        raise ValueError(f"{who}: input_ids no puede estar vacío; se recibió la forma {(B, T)}.")
    total = past + T + extra
    if total > max_positions:
        raise ValueError(
            f"{who}: secuencia demasiado larga: {past} en caché + {T} de entrada + {extra} "
            f"nuevos = {total} posiciones; el máximo es {limit_name}={max_positions}. "
            "Recorte la entrada o genere menos tokens."
        )
    lo, hi = int(input_ids.min()), int(input_ids.max())
    if lo < 0 or hi >= vocab_size:
        raise ValueError(
            f"{who}: los ids deben estar en el vocabulario [0, {vocab_size}); se recibieron "
            f"valores entre {lo} y {hi}."
        )
