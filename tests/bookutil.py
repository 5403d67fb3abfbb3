"""Acceso a lo que produjo la construcción del libro (``make book``).

Las pruebas no vuelven a ejecutar los capítulos (eso duplicaría el tiempo de CI):
leen el HTML de ``_build/html`` y los cuadernos ejecutados que guarda
jupyter-cache en ``_build/.jupyter_cache``, incluidos los valores publicados con
``glue``.
"""

from __future__ import annotations

import ast
import os
from functools import cache
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
BUILD = Path(os.environ.get("LABCODE_BUILD_DIR", ROOT / "_build"))
HTML = BUILD / "html"


class BookNotBuilt(AssertionError):
    pass


def toc_files() -> list[str]:
    """Rutas (sin extensión) de todas las páginas de ``_toc.yml``."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return files


def notebook_files() -> list[str]:
    """Páginas de la tabla de contenidos que son cuadernos MyST (tienen celdas de código)."""
    out = []
    for f in toc_files():
        src = ROOT / f"{f}.md"
        if src.exists() and "```{code-cell}" in src.read_text(encoding="utf-8"):
            out.append(f)
    return out


def require_build() -> None:
    if not (HTML / "index.html").exists():
        raise BookNotBuilt(
            f"No existe {HTML / 'index.html'}: construye el libro primero con `make book`."
        )


def html(page: str) -> str:
    require_build()
    path = HTML / f"{page}.html"
    if not path.exists():
        raise BookNotBuilt(f"Falta la página construida {path}.")
    return path.read_text(encoding="utf-8")


@cache
def executed_notebook(page: str):
    """El cuaderno ejecutado (``nbformat``) de una página, desde jupyter-cache."""
    from jupyter_cache import get_cache

    require_build()
    cache = get_cache(str(BUILD / ".jupyter_cache"))
    uri = str((ROOT / f"{page}.md").resolve())
    record = cache.get_cached_project_nb(uri)
    if record is None:
        raise BookNotBuilt(f"{page}.md no tiene una ejecución válida en la caché.")
    return cache.get_cache_bundle(record.pk).nb


def glued(page: str) -> dict:
    """Valores publicados con ``glue`` en una página: ``{nombre: valor}``.

    Los valores se devuelven como texto (``text/plain``); si el texto es un
    literal de Python (número, lista...), se convierte.
    """
    nb = executed_notebook(page)
    out = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            meta = output.get("metadata", {}).get("scrapbook")
            if not meta:
                continue
            data = output.get("data", {})
            text = data.get(meta["mime_prefix"] + "text/plain")
            if text is None:
                out[meta["name"]] = data
                continue
            try:
                out[meta["name"]] = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                out[meta["name"]] = text.strip("'\"")
    return out


def outputs_text(page: str) -> str:
    """Todo el texto (stdout y text/plain) que produjo la página al ejecutarse."""
    nb = executed_notebook(page)
    chunks = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                chunks.append(output.get("text", ""))
            elif "data" in output:
                chunks.append(str(output["data"].get("text/plain", "")))
    return "\n".join(chunks)


def skip_or_fail(reason: str) -> None:
    """Omite la prueba por falta de un recurso opcional (datos, modelo, node),
    pero en CI (``CI`` definida) falla: allí ``.ci/run`` instala todo y una
    omisión escondería un error."""
    import pytest

    if os.environ.get("CI"):
        pytest.fail(f"en CI no se puede omitir: {reason}")
    pytest.skip(reason)
