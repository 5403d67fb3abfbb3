"""Fixtures compartidas entre módulos de prueba.

Las pruebas en navegador comparten un único servidor HTTP y un único Chromium
por sesión: Playwright (API síncrona) no admite dos instancias vivas a la vez.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Los datos de desarrollo de ../shared/data, si existen y nadie eligió otra fuente
# (como hace el Makefile): labcode ya no conoce la estructura del repositorio.
_SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
_CHOSEN = os.environ.get("LABCODE_DATA") or os.environ.get("LABCODE_DATA_URL")
if not _CHOSEN and _SHARED_DATA.is_dir():
    os.environ["LABCODE_DATA"] = str(_SHARED_DATA)

# Con pytest-xdist (``make test`` reparte las pruebas entre procesos), un hilo de
# OpenMP por proceso, también en los subprocesos que lancen: dos procesos con dos
# hilos cada uno en dos núcleos se estorban (la espera activa de OpenMP) y todo va
# mucho más lento. Se fija antes de que ninguna prueba importe torch.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"


@pytest.fixture(scope="session")
def base_url():
    """URL base del HTML construido, servido en 127.0.0.1."""
    from browserutil import serve_html

    with serve_html() as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    """El Chromium del sistema (Playwright); falla en CI si falta, se omite fuera."""
    from browserutil import chromium

    with chromium() as b:
        yield b


@pytest.fixture
def no_data_source(monkeypatch, tmp_path):
    """Ni caché ni réplica alcanzables: ``LABCODE_CACHE`` vacía y ``LABCODE_DATA_URL``
    en un puerto de 127.0.0.1 donde nadie escucha (nunca sale a la red)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setenv("LABCODE_CACHE", str(tmp_path / "cache-vacia"))
    monkeypatch.setenv("LABCODE_DATA_URL", url)
    return url


@pytest.fixture(scope="session")
def generated_notebooks(tmp_path_factory):
    """Cuadernos de ``tools/make_notebooks.py`` generados de la construcción actual
    (``make book``), con labcode fijado a ``git rev-parse HEAD``. Tarda ~30 s.

    Con pytest-xdist se generan una sola vez para todos los procesos: en la carpeta
    temporal común de la sesión, y el primero que llega los escribe mientras los
    demás esperan (``filelock``).
    """
    import subprocess
    import sys

    from bookutil import BUILD, ROOT, require_build
    from filelock import FileLock

    require_build()
    sys.path.insert(0, str(ROOT / "tools"))
    import make_notebooks

    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout.strip()
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        out = tmp_path_factory.mktemp("notebooks")
        make_notebooks.write_notebooks(out, build=BUILD, commit=head)
        return out
    shared = tmp_path_factory.getbasetemp().parent  # la misma para todos los procesos
    out, done = shared / "notebooks", shared / "notebooks.done"
    with FileLock(str(shared / "notebooks.lock")):
        if not done.exists():
            make_notebooks.write_notebooks(out, build=BUILD, commit=head)
            done.touch()
    return out
