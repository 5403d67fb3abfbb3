"""Extensión de Sphinx: MathJax local, copiado en cada construcción (sin CDN).

Sphinx carga MathJax, por omisión, de ``cdn.jsdelivr.net``: abierto sin red, el
libro no mostraría ninguna fórmula. Como ``tools/plotly_js.py`` con plotly.js,
esta extensión:

- toma MathJax 3 del paquete npm ``mathjax`` (versión exacta en
  ``tools/package.json`` y ``tools/package-lock.json``; ``make venv`` lo instala
  con ``npm ci --prefix tools``),
- copia al ``_static/mathjax/`` de la salida HTML el componente ``tex-chtml.js``
  y lo que éste carga bajo demanda (extensiones de TeX, fuentes woff-v2, menú y
  accesibilidad); nada de eso se guarda en el repositorio, y
- apunta ``mathjax_path`` a esa copia (relativa a ``_static``).

Sin el paquete npm la construcción falla con un mensaje claro: el libro nunca se
publica con fórmulas que dependan de un CDN.

Se registra en ``_config.yml``::

    sphinx:
      local_extensions:
        mathjax_local: tools/
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sphinx.errors import ExtensionError

__all__ = ["COMPONENT", "MATHJAX_DIR", "copy_mathjax", "mathjax_source", "setup"]

TOOLS = Path(__file__).resolve().parent
#: Carpeta, dentro de ``_static`` de la salida, con la copia de MathJax.
MATHJAX_DIR = "mathjax"
#: Componente combinado: entrada TeX y salida CommonHTML (fuentes woff-v2).
COMPONENT = "tex-chtml.js"
#: Lo que ``tex-chtml.js`` pide bajo demanda (rutas relativas a ``es5/``).
ON_DEMAND = ("input/tex/extensions", "output/chtml/fonts/woff-v2", "a11y", "ui", "adaptors")


def mathjax_source(tools: Path = TOOLS) -> Path:
    """Carpeta ``es5`` del paquete npm ``mathjax`` instalado en ``tools/node_modules``."""
    es5 = tools / "node_modules" / "mathjax" / "es5"
    if not (es5 / COMPONENT).is_file():
        npm = shutil.which("npm")
        hint = (
            "ejecuta `npm ci --prefix tools` (o `make venv`)"
            if npm
            else "instala Node.js y npm (p. ej. `apt-get install nodejs npm`) y ejecuta "
            "`npm ci --prefix tools` (o `make venv`)"
        )
        raise ExtensionError(
            f"Falta MathJax en {es5}: el libro sirve MathJax desde una copia local (sin CDN). "
            f"Para instalarlo, {hint}."
        )
    return es5


def copy_mathjax(dest: Path, es5: Path | None = None) -> Path:
    """Copia el componente y sus recursos bajo demanda a ``dest``; devuelve ``dest``."""
    es5 = mathjax_source() if es5 is None else es5
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(es5 / COMPONENT, dest / COMPONENT)
    for sub in ON_DEMAND:
        shutil.copytree(es5 / sub, dest / sub, dirs_exist_ok=True)
    return dest


def _on_config_inited(app, config) -> None:
    # Relativa a _static (documentación de sphinx.ext.mathjax): sirve igual en
    # GitHub Pages, en un servidor local y abriendo los ficheros sin servidor.
    config.mathjax_path = f"{MATHJAX_DIR}/{COMPONENT}"
    mathjax_source()  # falla pronto, antes de ejecutar ningún capítulo


def _on_builder_inited(app) -> None:
    if app.builder.format != "html":
        return
    copy_mathjax(Path(app.outdir) / "_static" / MATHJAX_DIR)


def setup(app):
    app.connect("config-inited", _on_config_inited)
    app.connect("builder-inited", _on_builder_inited)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1.0"}
