"""Extensión de Sphinx: ``plotly.js`` local para las figuras interactivas del libro.

Durante ``make book`` (``LABCODE_BUILD=1``), :func:`labcode.book.notebook.viewer_output`
escribe las figuras de Plotly con ``include_plotlyjs=False``: el HTML de la
figura no trae la biblioteca (4,6 MB) ni la pide a un CDN, porque el libro debe
funcionar sin red. Esta extensión:

- copia ``plotly.min.js`` del paquete ``plotly`` instalado (la misma versión que
  generó las figuras, fijada en ``requirements.txt``) a ``_static/`` de la
  salida HTML (no se guarda en el repositorio), y
- añade ``<script src="_static/plotly.min.js">`` en la cabecera **sólo** de las
  páginas que tienen una figura de Plotly (un nodo ``raw`` con
  ``plotly-graph-div``), antes del código de la figura.

Se registra en ``_config.yml``::

    sphinx:
      local_extensions:
        launch_links: tools/
        plotly_js: tools/
"""

from __future__ import annotations

import shutil
from pathlib import Path

from docutils import nodes

__all__ = ["PLOTLY_JS", "page_uses_plotly", "plotly_js_source", "setup"]

PLOTLY_JS = "plotly.min.js"
#: Clase que Plotly pone al ``<div>`` de cada figura (``fig.to_html``).
MARKER = "plotly-graph-div"


def plotly_js_source() -> Path:
    """Ruta de ``plotly.min.js`` dentro del paquete ``plotly`` instalado."""
    import plotly

    path = Path(plotly.__file__).resolve().parent / "package_data" / PLOTLY_JS
    if not path.is_file():
        raise FileNotFoundError(
            f"No se encontró {path}: reinstala plotly (pip install -r requirements.txt)."
        )
    return path


def page_uses_plotly(doctree) -> bool:
    """¿Tiene la página (su *doctree*) alguna figura de Plotly en HTML crudo?"""
    if doctree is None:
        return False
    return any(
        MARKER in node.astext()
        for node in doctree.findall(nodes.raw)
        if "html" in node.get("format", "").split()
    )


def _on_builder_inited(app) -> None:
    if app.builder.format != "html":
        return
    static = Path(app.outdir) / "_static"
    static.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(plotly_js_source(), static / PLOTLY_JS)


def _on_page_context(app, pagename, templatename, context, doctree) -> None:
    if page_uses_plotly(doctree):
        # Sphinx >= 3.5: add_js_file dentro de html-page-context sólo afecta a esta página.
        # Sin defer/async: el <script> de cada figura llama a Plotly.newPlot al cargarse.
        app.add_js_file(PLOTLY_JS, priority=400)


def setup(app):
    app.connect("builder-inited", _on_builder_inited)
    app.connect("html-page-context", _on_page_context)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1.0"}
