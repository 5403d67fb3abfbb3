"""Cronometrar con :class:`torch.utils.benchmark.Timer`: la única forma de medir tiempos
en labcode.

:func:`time_interleaved` mide varias funciones alternándolas (A, B, C, A, B, C...)
para que una carga variable de la máquina les afecte por igual; :func:`time_call`
mide una; :func:`time_autorange` repite una operación corta en bloques hasta
reunir un tiempo mínimo de medida (``Timer.blocked_autorange``). ``Timer`` sincroniza
la GPU antes y después de cada medida, de modo que el tiempo incluye el trabajo que
CUDA deja en cola.

Nota sobre los hilos: ``Timer`` usa un solo hilo si no se le dice otra cosa; aquí
``num_threads=None`` significa «los hilos que PyTorch usa ahora»
(``torch.get_num_threads()``), que es lo que ve quien ejecuta el código.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass

from labcode.utils.checks import nonnegative_int, positive_float, positive_int
from labcode.utils.errors import LabcodeValueError

__all__ = ["Timing", "time_autorange", "time_call", "time_interleaved"]


@dataclass(frozen=True)
class Timing:
    """Segundos de cada repetición de una misma operación."""

    times_s: tuple[float, ...]

    @property
    def median_s(self) -> float:
        """Valor típico (la mediana de las repeticiones)."""
        return float(statistics.median(self.times_s))

    @property
    def min_s(self) -> float:
        """El mínimo de las repeticiones, el menos afectado por otros procesos."""
        return float(min(self.times_s))


def _timer(fn: Callable[[], object], num_threads: int | None):
    """Un ``Timer`` que llama a ``fn()`` con ``num_threads`` hilos (``None``: los actuales)."""
    import torch
    from torch.utils.benchmark import Timer

    if not callable(fn):
        raise LabcodeValueError(f"se esperaba una función sin argumentos; se recibió "
                                f"{type(fn).__name__}.")
    threads = torch.get_num_threads() if num_threads is None else positive_int(
        "num_threads", num_threads)
    return Timer(stmt="fn()", globals={"fn": fn}, num_threads=threads)


def time_interleaved(
    fns: dict[str, Callable[[], object]],
    repeats: int = 5,
    warmup: int = 1,
    num_threads: int | None = None,
) -> dict[str, Timing]:
    """Tiempo de varias funciones sin argumentos, con repeticiones intercaladas.

    Parameters
    ----------
    fns : dict
        ``{nombre: función sin argumentos}``.
    repeats : int
        Repeticiones cronometradas de cada función (``>= 1``); cada una es un
        ``Timer.timeit(1)``, que antes de medir llama dos veces a la función para
        calentar (así que cada repetición la ejecuta tres veces y cronometra la última).
    warmup : int
        Llamadas previas sin cronometrar (``>= 0``).
    num_threads : int, optional
        Hilos de PyTorch durante la medida (por defecto, los actuales).

    Returns
    -------
    dict
        ``{nombre: Timing}``.
    """
    if not isinstance(fns, dict) or not fns:
        raise LabcodeValueError("time_interleaved: se esperaba un dict no vacío {nombre: función}.")
    repeats = positive_int("repeats", repeats)
    warmup = nonnegative_int("warmup", warmup)
    timers = {name: _timer(fn, num_threads) for name, fn in fns.items()}
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, timer in timers.items():
            times[name].append(timer.timeit(1).mean)
    return {name: Timing(tuple(ts)) for name, ts in times.items()}


def time_call(fn: Callable[[], object], repeats: int = 5, warmup: int = 1,
              num_threads: int | None = None) -> Timing:
    """Tiempo de una función sin argumentos (ver :func:`time_interleaved`)."""
    return time_interleaved({"fn": fn}, repeats, warmup, num_threads)["fn"]


def time_autorange(fn: Callable[[], object], min_run_time: float = 0.5,
                   num_threads: int | None = None) -> Timing:
    """Tiempo por llamada de una operación corta, repetida en bloques durante al menos
    ``min_run_time`` segundos (``Timer.blocked_autorange``).

    Cada elemento de ``times_s`` es la media de un bloque de llamadas; la mediana
    (``median_s``) es la de ``Measurement.median``.
    """
    min_run_time = positive_float("min_run_time", min_run_time)
    measurement = _timer(fn, num_threads).blocked_autorange(min_run_time=min_run_time)
    return Timing(tuple(measurement.times))
