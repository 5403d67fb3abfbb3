"""La rueda de labcode se instala y se importa sola, fuera del repositorio.

Se construye la rueda (``pip wheel --no-deps --no-build-isolation``) de una copia
limpia de ``labcode/``, se instala con ``--no-deps`` en un entorno virtual nuevo
que ve las dependencias del entorno de desarrollo (un ``.pth`` que apunta a su
``site-packages``, sin su labcode editable) y, desde una carpeta temporal y sin
``LABCODE_DATA``, se importa cada módulo de labcode.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Nombre de importación de las dependencias del núcleo que no coincide con el del paquete.
IMPORT_NAMES = {"scikit-learn": "sklearn"}

IMPORT_ALL = """
import importlib, json, pkgutil, sys
import labcode
lazy = "torch" not in sys.modules
names = [m.name for m in pkgutil.walk_packages(labcode.__path__, "labcode.")]
failed = {}
for name in names:
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed[name] = f"{type(exc).__name__}: {exc}"
print(json.dumps({"file": labcode.__file__, "lazy": lazy, "names": names, "failed": failed}))
"""


def _run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(list(args), capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        pytest.fail(f"{' '.join(args[:4])}... falló:\n{result.stderr[-3000:]}")
    return result


def _core_imports() -> set[str]:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    block = re.search(r"^dependencies = \[(.*?)\]", text, flags=re.M | re.S)[1]
    names = re.findall(r'"([A-Za-z0-9_.\-]+)', block)
    return {IMPORT_NAMES.get(n, n.replace("-", "_")) for n in names}


def test_module_level_imports_are_core_dependencies():
    missing = {}
    for path in sorted((ROOT / "labcode").rglob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Import):
                roots = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                roots = [(node.module or "").split(".")[0]]
            else:
                continue
            for root in roots:
                if root not in sys.stdlib_module_names | {"labcode", "__future__"} | (
                        _core_imports()):
                    missing.setdefault(root, []).append(path.relative_to(ROOT).as_posix())
    assert not missing, f"imports de nivel de módulo fuera de las dependencias: {missing}"


@pytest.fixture(scope="module")
def wheel_python(tmp_path_factory) -> Path:
    """Python de un entorno nuevo con la rueda de labcode y las dependencias de este."""
    base = tmp_path_factory.mktemp("rueda")
    src = base / "src"  # copia limpia: setuptools reutilizaría build/ del repositorio
    shutil.copytree(ROOT / "labcode", src / "labcode",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(base / "wheels"), str(src))
    (wheel,) = (base / "wheels").glob("labcode-*.whl")
    venv = base / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", str(venv))
    python = venv / "bin" / "python"
    _run(sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
         "--no-compile", str(wheel))
    site = Path(_run(str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"
                     ).stdout.strip())
    # Solo la ruta: los .pth de ese site-packages (el labcode editable) no se procesan.
    (site / "dev-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


@pytest.mark.slow
def test_every_labcode_module_imports_from_the_wheel_outside_the_repository(
        wheel_python, tmp_path):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("LABCODE_") and k != "PYTHONPATH"}
    env["MPLBACKEND"] = "Agg"
    start = time.perf_counter()
    result = _run(str(wheel_python), "-c", IMPORT_ALL, cwd=tmp_path, env=env)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert time.perf_counter() - start < 60
    path = Path(report["file"])
    assert "site-packages" in path.parts and not path.is_relative_to(ROOT), path
    assert report["lazy"], "import labcode no debe importar torch"
    assert {"labcode.cli", "labcode.book.exercises.ch02", "labcode.utils.timing"} <= set(
        report["names"])
    assert report["failed"] == {}
