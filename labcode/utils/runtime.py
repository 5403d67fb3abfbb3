"""Utilidades de ejecución que usa toda la biblioteca: semillas, barras de progreso,
cronómetro, pico de memoria y descripción del entorno.

- :func:`set_seed` fija las semillas de ``random``, NumPy y PyTorch.
- :func:`progress` devuelve una barra de progreso adecuada al entorno: widget en
  Jupyter, texto en una terminal, nada si ``LABCODE_PROGRESS=off``.
- :func:`quiet_bars` apaga, bajo ese mismo ajuste, la barra de otra biblioteca;
  :func:`quiet_transformers` silencia los avisos y las barras de transformers.
- :func:`timer`, :func:`release_memory` (y :func:`trim_heap`), :func:`peak_rss_bytes` y
  :func:`environment_summary`.

``LABCODE_PROGRESS`` (``auto`` por defecto, ``text`` u ``off``) es un ajuste de
labcode, no del libro: sirve igual en un registro de CI que en la construcción
del libro, que lo pone a ``off`` para que ninguna página estática lleve widgets.
"""

from __future__ import annotations

import os
import platform
import random
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from labcode.utils.checks import seed as _check_seed
from labcode.utils.errors import LabcodeValueError

PROGRESS_STYLES = ("auto", "text", "off")


def default_num_threads() -> int:
    """Hilos de PyTorch para entrenar: ``LABCODE_NUM_THREADS`` o ``min(2, núcleos)``."""
    env = os.environ.get("LABCODE_NUM_THREADS")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise LabcodeValueError(
                f"LABCODE_NUM_THREADS debe ser un entero >= 1; se recibió {env!r}."
            ) from None
    return max(1, min(2, os.cpu_count() or 1))


def set_seed(seed: int = 0) -> None:
    """Fija las semillas de ``random``, NumPy y (si está) PyTorch (entero en [0, 2**32 - 1])."""
    seed = _check_seed(seed)
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch
    except ImportError:  # pragma: no cover
        return
    torch.manual_seed(seed)


def progress_style() -> str:
    """El estilo de las barras de progreso (``LABCODE_PROGRESS``: auto, text u off)."""
    style = os.environ.get("LABCODE_PROGRESS", "auto").strip().lower() or "auto"
    if style not in PROGRESS_STYLES:
        raise LabcodeValueError(
            f"LABCODE_PROGRESS debe ser uno de {PROGRESS_STYLES}; se recibió {style!r}."
        )
    return style


def progress(iterable: Iterable | None = None, **kwargs) -> Iterator:
    """Barra de progreso: widget en Jupyter (``tqdm.auto``), texto en una terminal.

    Con ``LABCODE_PROGRESS=off`` la barra existe pero no se muestra, aunque quien
    llama pida mostrarla; con ``text`` es siempre de texto (nunca un widget).
    """
    style = progress_style()
    if style == "auto":
        try:  # barra de widget en Jupyter si ipywidgets está disponible
            import ipywidgets  # noqa: F401
            from tqdm.auto import tqdm
        except ImportError:  # pragma: no cover - sin ipywidgets, barra de texto
            from tqdm import tqdm
    else:
        from tqdm.std import tqdm

        if style == "off":
            kwargs["disable"] = True
    kwargs.setdefault("leave", False)
    return tqdm(iterable, **kwargs)


@contextmanager
def quiet_bars(module: Any) -> Iterator[None]:
    """Con ``LABCODE_PROGRESS`` distinto de ``auto``, apaga la barra ``module.tqdm`` ajena.

    Para barras de terceros que no se pueden apagar de otro modo (p. ej. la
    conversión GGUF de transformers usa ``tqdm.auto`` sin opción ``disable``).
    Con ``auto`` no cambia nada: el lector ve su barra.
    """
    original = getattr(module, "tqdm", None)
    if progress_style() == "auto" or original is None:
        yield
        return
    from functools import partial

    from tqdm.std import tqdm

    module.tqdm = partial(tqdm, disable=progress_style() == "off")
    try:
        yield
    finally:
        module.tqdm = original


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silencia avisos y barras de progreso de transformers (p. ej. el informe de
    carga que anuncia la cabeza de clasificación nueva) y los restaura al salir."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def release_memory() -> None:
    """Recoge la basura y devuelve al sistema la memoria libre del montón (glibc ``malloc_trim``).

    Tras soltar un modelo (o cuantizar capa a capa, que crea temporales en float32 de
    tamaños distintos) glibc libera la memoria pero no devuelve esas páginas, y el pico
    de memoria del proceso sigue creciendo con el siguiente modelo. Fuera de glibc
    (macOS, Windows, musl) solo recoge la basura.
    """
    import gc

    gc.collect()
    trim_heap()


def trim_heap() -> None:
    """Solo ``malloc_trim``: devuelve al sistema el montón libre sin recoger la basura.

    Cuesta microsegundos; ``gc.collect`` recorre todos los objetos de Python (décimas de
    segundo en un cuaderno con modelos cargados), así que en un bucle (una llamada por
    capa) se usa esta y no :func:`release_memory`. Fuera de glibc no hace nada.
    """
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # pragma: no cover - otra libc
        pass


def peak_rss_bytes() -> int:
    """Pico de memoria residente (RSS) de este proceso más el del mayor hijo terminado.

    ``resource.getrusage(...).ru_maxrss`` (KiB en Linux). Sumar el de los procesos
    hijos (p. ej. los del entrenamiento distribuido) da una cota superior del
    pico conjunto.
    """
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return int(own + children) * 1024


@contextmanager
def timer() -> Iterator[dict]:
    """Mide el tiempo de pared de un bloque: ``with timer() as t: ...; t["s"]``."""
    out: dict = {}
    start = time.perf_counter()
    try:
        yield out
    finally:
        out["s"] = time.perf_counter() - start


def environment_summary() -> dict[str, str]:
    """Máquina y versiones de las bibliotecas principales."""
    info = {
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.machine()}",
        "cpus": str(os.cpu_count()),
        "numpy": np.__version__,
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = str(torch.get_num_threads())
    except ImportError:  # pragma: no cover
        pass
    return info
