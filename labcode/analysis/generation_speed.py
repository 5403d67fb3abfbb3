"""Velocidad de generación: *tokens* por segundo de varias funciones que generan.

Mide con el único cronómetro de labcode, :func:`labcode.utils.timing.time_interleaved`
(repeticiones intercaladas: A, B, C, A, B, C...), para que una carga variable de la
máquina afecte a todos los métodos por igual.
"""

from __future__ import annotations

from collections.abc import Callable

from labcode.utils import checks
from labcode.utils.timing import time_interleaved

__all__ = ["measure_tokens_per_second"]


def measure_tokens_per_second(
    generate_fns: dict[str, Callable[[], object]],
    new_tokens: int,
    batch_size: int = 1,
    repeats: int = 3,
    warmup: int = 1,
) -> dict[str, dict]:
    """Tokens generados por segundo de varias funciones de generación (con la mediana).

    Parameters
    ----------
    generate_fns : dict
        ``{nombre: función sin argumentos}``; cada llamada genera ``new_tokens``
        tokens por fila del lote.
    new_tokens : int
        Tokens nuevos por fila en cada llamada.
    batch_size : int
        Filas del lote (los tokens/s cuentan todas las filas).
    repeats : int
        Repeticiones cronometradas (``>= 1``).
    warmup : int
        Llamadas previas sin cronometrar (``>= 0``).

    Returns
    -------
    dict
        ``{nombre: {"seconds": mediana (s), "all_seconds": [...], "tokens_per_s": ...,
        "timing": Timing}}``.
    """
    checks.positive_int("measure_tokens_per_second: repeats", repeats)
    checks.nonnegative_int("measure_tokens_per_second: warmup", warmup)
    tokens = checks.positive_int("measure_tokens_per_second: new_tokens", new_tokens) * \
        checks.positive_int("measure_tokens_per_second: batch_size", batch_size)
    times = time_interleaved(generate_fns, repeats=repeats, warmup=warmup)
    return {
        name: {"seconds": t.median_s, "all_seconds": list(t.times_s),
               "tokens_per_s": tokens / t.median_s, "timing": t}
        for name, t in times.items()
    }
