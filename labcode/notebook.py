"""Utilidades para ejecutar los capítulos (en el libro, en Colab o en local).

- :func:`glue` guarda un valor para citarlo en la prosa del libro
  (``{glue:text}`nombre```). Fuera de la construcción del libro (por ejemplo
  en Colab, sin ``myst_nb``) simplemente no hace nada visible, de modo que el
  mismo cuaderno funciona en todas partes.
- :func:`set_seed` fija las semillas de ``random``, NumPy y PyTorch.
- :func:`progress` devuelve una barra de progreso adecuada al entorno (nunca
  un widget durante la construcción del libro).
- :func:`record_peak_memory` anota el pico de memoria de un capítulo durante
  la construcción del libro (apéndice «Rendimiento»).
- :func:`environment_summary` describe máquina y versiones (para los
  apéndices y los pies de las figuras de rendimiento).
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

from labcode.checks import seed as _check_seed


def glue(name: str, value: Any, display: bool = False) -> None:
    """Publica ``value`` con el nombre ``name`` para usarlo en la prosa.

    Envuelve :func:`myst_nb.glue`. Si ``myst_nb`` no está instalado (por
    ejemplo en Colab) y ``display`` es ``True``, muestra el valor con
    ``IPython.display``; si no, no hace nada.
    """
    try:
        from myst_nb import glue as _glue
    except ImportError:  # pragma: no cover - depende del entorno
        if display:
            try:
                from IPython.display import display as _display

                _display(value)
            except ImportError:
                print(value)
        return
    _glue(name, value, display=display)


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


def in_book_build() -> bool:
    """¿Se está ejecutando el capítulo dentro de ``make book`` (``LABCODE_BUILD=1``)?"""
    return os.environ.get("LABCODE_BUILD") == "1"


def progress(iterable: Iterable | None = None, **kwargs) -> Iterator:
    """Barra de progreso (``tqdm.auto``): widget en Jupyter, texto en terminal.

    Durante la construcción del libro (``LABCODE_BUILD=1``) es siempre una barra
    de texto (``tqdm.std``) desactivada, aunque quien llama pida mostrarla: un
    widget de Jupyter en una salida obligaría a las páginas estáticas a cargar
    RequireJS y el gestor de widgets desde un CDN.
    """
    if in_book_build():
        from tqdm.std import tqdm

        kwargs["disable"] = True
    else:
        try:  # barra de widget en Jupyter si ipywidgets está disponible
            import ipywidgets  # noqa: F401
            from tqdm.auto import tqdm
        except ImportError:  # pragma: no cover - sin ipywidgets, barra de texto
            from tqdm import tqdm
    kwargs.setdefault("leave", False)
    return tqdm(iterable, **kwargs)


@contextmanager
def no_widget_bars_in_build(module: Any) -> Iterator[None]:
    """Dentro de la construcción del libro, desactiva la barra ``module.tqdm`` de otra biblioteca.

    Para barras de terceros que no se pueden apagar de otro modo (p. ej. la
    conversión GGUF de transformers usa ``tqdm.auto`` sin opción ``disable``).
    Fuera de la construcción no cambia nada: el lector ve su barra.
    """
    original = getattr(module, "tqdm", None)
    if not in_book_build() or original is None:
        yield
        return
    from functools import partial

    from tqdm.std import tqdm

    module.tqdm = partial(tqdm, disable=True)
    try:
        yield
    finally:
        module.tqdm = original


#: Subcarpeta de ``LABCODE_BUILD_DIR`` donde cada capítulo deja su pico de memoria.
PEAK_RSS_DIR = "peak-rss"


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


def record_peak_memory(page: str) -> dict[str, int] | None:
    """Guarda ``{page: bytes}`` con el pico de memoria del capítulo (sólo en ``make book``).

    Se llama en la última celda (oculta) de cada capítulo. Escribe
    ``$LABCODE_BUILD_DIR/peak-rss/<page>.json``; fuera de la construcción del
    libro (Colab, Binder, local) no hace nada y devuelve ``None``.
    """
    build_dir = os.environ.get("LABCODE_BUILD_DIR", "").strip()
    if not in_book_build() or not build_dir:
        return None
    import json
    from pathlib import Path

    record = {page: peak_rss_bytes()}
    folder = Path(build_dir) / PEAK_RSS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{page}.json").write_text(json.dumps(record) + "\n", encoding="utf-8")
    return record


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
        "sistema": f"{platform.system()} {platform.machine()}",
        "cpus": str(os.cpu_count()),
        "numpy": np.__version__,
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["hilos_torch"] = str(torch.get_num_threads())
    except ImportError:  # pragma: no cover
        pass
    return info
