"""Cronometrar: la única forma de medir tiempos en labcode.

:func:`time_interleaved` mide varias funciones alternándolas (A, B, C, A, B, C...)
para que una carga variable de la máquina les afecte por igual; :func:`time_call`
mide una; :func:`time_autorange` repite una operación corta en bloques hasta
reunir un tiempo mínimo de medida (``torch.utils.benchmark.Timer.blocked_autorange``).

Por qué dos herramientas: ``torch.utils.benchmark.Timer.timeit(n)`` llama siempre
al menos dos veces a la función, para calentar, antes de cronometrar; con una
función lenta (generar cien *tokens*) cada repetición costaría el triple. Las
repeticiones de :func:`time_interleaved` usan por eso el ``timeit.Timer`` de la
biblioteca estándar, el mismo que ``torch.utils.benchmark`` usa por dentro: una
llamada por repetición, con el recolector de basura parado, y el calentamiento
lo decide ``warmup``. En los dos casos se sincroniza la GPU (si la hay) antes y
después de cada medida, de modo que el tiempo incluye el trabajo que CUDA deja en
cola, y los hilos de PyTorch son los pedidos solo mientras se mide.

Nota sobre los hilos: ``num_threads=None`` significa «los hilos que PyTorch usa
ahora» (``torch.get_num_threads()``), que es lo que ve quien ejecuta el código.
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


def _threads(num_threads: int | None) -> int:
    """Los hilos de la medida (``None``: los que PyTorch usa ahora)."""
    import torch

    return torch.get_num_threads() if num_threads is None else positive_int(
        "num_threads", num_threads)


def _check_callable(fn: object) -> None:
    if not callable(fn):
        raise LabcodeValueError(f"se esperaba una función sin argumentos; se recibió "
                                f"{type(fn).__name__}.")


def _synchronized(fn: Callable[[], object]) -> Callable[[], None]:
    """``fn`` seguida de ``torch.cuda.synchronize()`` si hay GPU (el trabajo en cola cuenta)."""
    import torch

    if not torch.cuda.is_available():
        return fn

    def call() -> None:
        fn()
        torch.cuda.synchronize()

    return call


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
        Repeticiones cronometradas de cada función (``>= 1``): una llamada cada una.
    warmup : int
        Llamadas previas sin cronometrar (``>= 0``).
    num_threads : int, optional
        Hilos de PyTorch durante la medida (por defecto, los actuales).

    Returns
    -------
    dict
        ``{nombre: Timing}``.
    """
    import timeit

    from torch.utils.benchmark.utils.common import set_torch_threads

    if not isinstance(fns, dict) or not fns:
        raise LabcodeValueError("time_interleaved: se esperaba un dict no vacío {nombre: función}.")
    for fn in fns.values():
        _check_callable(fn)
    repeats = positive_int("repeats", repeats)
    warmup = nonnegative_int("warmup", warmup)
    calls = {name: _synchronized(fn) for name, fn in fns.items()}
    timers = {name: timeit.Timer(call) for name, call in calls.items()}
    times: dict[str, list[float]] = {name: [] for name in fns}
    with set_torch_threads(_threads(num_threads)):
        _synchronized(lambda: None)()  # lo que estuviera en cola no cuenta
        for call in calls.values():
            for _ in range(warmup):
                call()
        for _ in range(repeats):
            for name, timer in timers.items():
                times[name].append(timer.timeit(number=1))
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
    from torch.utils.benchmark import Timer

    _check_callable(fn)
    min_run_time = positive_float("min_run_time", min_run_time)
    timer = Timer(stmt="fn()", globals={"fn": fn}, num_threads=_threads(num_threads))
    measurement = timer.blocked_autorange(min_run_time=min_run_time)
    return Timing(tuple(measurement.times))
