"""Cronometrar con :class:`torch.utils.benchmark.Timer`: la única forma de medir tiempos
en labcode.

:func:`time_interleaved` mide varias funciones alternándolas (A, B, C, A, B, C...)
para que una carga variable de la máquina les afecte por igual; :func:`time_call`
mide una. ``Timer`` sincroniza la GPU antes y después de cada medida, de modo que
el tiempo incluye el trabajo que CUDA deja en cola.

Nota sobre los hilos: ``Timer`` usa un solo hilo si no se le dice otra cosa; aquí
``num_threads=None`` significa «los hilos que PyTorch usa ahora»
(``torch.get_num_threads()``), que es lo que ve quien ejecuta el código.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass

from labcode.utils.checks import nonnegative_int, positive_int
from labcode.utils.errors import LabcodeValueError

__all__ = ["Timing", "time_interleaved", "time_call"]


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
        ``Timer.timeit(1)``.
    warmup : int
        Llamadas previas sin cronometrar (``>= 0``).
    num_threads : int, optional
        Hilos de PyTorch durante la medida (por defecto, los actuales).

    Returns
    -------
    dict
        ``{nombre: Timing}``.
    """
    import torch
    from torch.utils.benchmark import Timer

    if not isinstance(fns, dict) or not fns:
        raise LabcodeValueError("time_interleaved: se esperaba un dict no vacío {nombre: función}.")
    repeats = positive_int("repeats", repeats)
    warmup = nonnegative_int("warmup", warmup)
    threads = torch.get_num_threads() if num_threads is None else positive_int(
        "num_threads", num_threads)
    timers = {name: Timer(stmt="fn()", globals={"fn": fn}, num_threads=threads)
              for name, fn in fns.items()}
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
