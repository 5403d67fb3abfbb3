"""Utilidades para ejecutar los capítulos (en el libro, en Colab o en local).

- :func:`glue` guarda un valor para citarlo en la prosa del libro
  (``{glue:text}`nombre```). Fuera de la construcción del libro (por ejemplo
  en Colab, sin ``myst_nb``) simplemente no hace nada visible, de modo que el
  mismo cuaderno funciona en todas partes.
- :func:`set_seed` fija las semillas de ``random``, NumPy y PyTorch.
- :func:`progress` devuelve una barra de progreso adecuada al entorno.
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


def progress(iterable: Iterable | None = None, **kwargs) -> Iterator:
    """Barra de progreso (``tqdm.auto``): widget en Jupyter, texto en terminal.

    Durante la construcción del libro (``LABCODE_BUILD=1``) se desactiva para no
    llenar las páginas de barras a medio dibujar.
    """
    try:  # barra de widget en Jupyter si ipywidgets está disponible
        import ipywidgets  # noqa: F401
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - sin ipywidgets, barra de texto
        from tqdm import tqdm

    kwargs.setdefault("disable", os.environ.get("LABCODE_BUILD") == "1")
    kwargs.setdefault("leave", False)
    return tqdm(iterable, **kwargs)


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
