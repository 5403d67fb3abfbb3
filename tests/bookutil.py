"""Acceso a lo que produjo la construcción del libro (``make book``).

Las pruebas no vuelven a ejecutar los capítulos (eso duplicaría el tiempo de CI):
leen el HTML de ``_build/html`` y los cuadernos ejecutados que guarda
jupyter-cache en ``_build/.jupyter_cache``, incluidos los valores publicados con
``glue``.
"""

from __future__ import annotations

import ast
import os
import re
from functools import cache
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
BUILD = Path(os.environ.get("LABCODE_BUILD_DIR", ROOT / "_build"))
HTML = BUILD / "html"


class BookNotBuilt(AssertionError):
    pass


class GluedValueError(AssertionError):
    """Un valor glued que no existe o no es del tipo que la prueba espera."""


#: Espacios que separan miles en los valores publicados («813 312», con espacio fino...).
_SPACES = re.compile(r"[\s\u00a0\u2009\u202f]")
#: Miles con coma («1,234,567»); una sola coma con otros dígitos es coma decimal («93,5»).
_THOUSANDS = re.compile(r"[+-]?[1-9]\d{0,2}(,\d{3})+")


class Glued(dict):
    """Los valores glued de una página, con accesores tipados.

    ``g["nombre"]`` da el valor tal cual; ``g.float("nombre")``, ``g.int("nombre")``
    y ``g.text("nombre")`` lo convierten (miles con espacio o coma, coma decimal) o
    fallan con un mensaje que dice qué página, qué nombre y qué valor.
    """

    def __init__(self, page: str, values: dict):
        super().__init__(values)
        self.page = page

    def _get(self, name: str):
        if name not in self:
            raise GluedValueError(
                f"{self.page}: no hay ningún valor glued {name!r}; hay {len(self)}: "
                f"{sorted(self)[:20]}")
        return self[name]

    def float(self, name: str) -> float:
        """El valor como ``float`` (acepta números y textos numéricos)."""
        value = self._get(name)
        if isinstance(value, bool):
            raise GluedValueError(f"{self.page}: {name} es un booleano ({value}), no un número.")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            text = _SPACES.sub("", value)
            if _THOUSANDS.fullmatch(text):
                text = text.replace(",", "")
            elif text.count(",") == 1 and "." not in text:
                text = text.replace(",", ".")
            try:
                return float(text)
            except ValueError:
                pass
        raise GluedValueError(f"{self.page}: {name} no es un número; vale {value!r}.")

    def int(self, name: str) -> int:
        """El valor como ``int`` (falla si tiene parte decimal)."""
        number = self.float(name)
        if not number.is_integer():
            raise GluedValueError(f"{self.page}: {name} no es un entero; vale {number!r}.")
        return int(number)

    def text(self, name: str) -> str:
        """El valor como texto (falla si no es un texto)."""
        value = self._get(name)
        if not isinstance(value, str):
            raise GluedValueError(
                f"{self.page}: {name} no es un texto; vale {value!r} ({type(value).__name__}).")
        return value


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


def _cache_record(page: str):
    """El registro de jupyter-cache con la ejecución de ``page`` en esta construcción."""
    from jupyter_cache import get_cache

    require_build()
    cache = get_cache(str(BUILD / ".jupyter_cache"))
    record = cache.get_cached_project_nb(str((ROOT / f"{page}.md").resolve()))
    if record is None:
        raise BookNotBuilt(f"{page}.md no tiene una ejecución válida en la caché.")
    return cache, record


@cache
def executed_notebook(page: str):
    """El cuaderno ejecutado (``nbformat``) de una página, desde jupyter-cache."""
    cache_, record = _cache_record(page)
    return cache_.get_cache_bundle(record.pk).nb


def execution_seconds(page: str) -> float:
    """Segundos que tardó en ejecutarse ``page`` en esta construcción (jupyter-cache)."""
    return float(_cache_record(page)[1].data["execution_seconds"])


def glued(page: str) -> Glued:
    """Valores publicados con ``glue`` en una página: ``{nombre: valor}`` (:class:`Glued`).

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
    return Glued(page, out)


def glued_float(page: str, name: str) -> float:
    """``glued(page).float(name)``."""
    return glued(page).float(name)


def glued_int(page: str, name: str) -> int:
    """``glued(page).int(name)``."""
    return glued(page).int(name)


def glued_text(page: str, name: str) -> str:
    """``glued(page).text(name)``."""
    return glued(page).text(name)


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
