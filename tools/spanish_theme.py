"""Extensión de Sphinx: los textos del tema que siguen en inglés con ``language: es``.

``language: es`` traduce casi toda la interfaz de sphinx-book-theme, pero quedan cadenas sin
traducción en su catálogo (los botones de la barra lateral y del repositorio) y una que
Jupyter Book fija en inglés (el texto del buscador, ``search_bar_text``). Esta extensión:

- pone ``search_bar_text`` en español al iniciarse la configuración, y
- al terminar la construcción HTML, sustituye en las páginas las cadenas de :data:`STRINGS`
  (solo dentro de atributos y etiquetas de la interfaz: cada clave incluye sus comillas o sus
  signos ``>``/``<``, de modo que no puede tocar el texto del libro).

Se registra en ``_config.yml``::

    sphinx:
      local_extensions:
        spanish_theme: tools/
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["SEARCH_BAR_TEXT", "STRINGS", "translate_html", "setup"]

SEARCH_BAR_TEXT = "Buscar en este libro…"

#: Cadena exacta en el HTML → su versión en español.
STRINGS = {
    '"Search this book..."': f'"{SEARCH_BAR_TEXT}"',
    '"Toggle primary sidebar"': '"Mostrar u ocultar el índice"',
    '"Toggle secondary sidebar"': '"Mostrar u ocultar el contenido de la página"',
    '"Link to this heading"': '"Enlace a este encabezado"',
    '"Link to this definition"': '"Enlace a esta definición"',
    '"Link to this code"': '"Enlace a este código"',
    '"Link to this image"': '"Enlace a esta imagen"',
    '"Link to this table"': '"Enlace a esta tabla"',
    '"Suggest edit"': '"Sugerir un cambio"',
    ">Suggest edit<": ">Sugerir un cambio<",
    ">Open issue<": ">Abrir un problema<",
    ">Repository<": ">Repositorio<",
    '"Source repositories"': '"Repositorios de origen"',
    '"Launch interactive content"': '"Abrir el contenido interactivo"',
    'aria-label="Page"': 'aria-label="Página"',
    'aria-label="Main"': 'aria-label="Principal"',
}


def translate_html(html: str) -> str:
    for old, new in STRINGS.items():
        html = html.replace(old, new)
    return html


def _on_config_inited(app, config) -> None:
    options = dict(config.html_theme_options or {})
    options["search_bar_text"] = SEARCH_BAR_TEXT
    config.html_theme_options = options


def _on_build_finished(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    for path in Path(app.outdir).rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        new = translate_html(text)
        if new != text:
            path.write_text(new, encoding="utf-8")


def setup(app):
    app.connect("config-inited", _on_config_inited)
    app.connect("build-finished", _on_build_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1.0"}
