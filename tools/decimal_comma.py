"""Extensión de Sphinx: coma decimal en los valores que la prosa cita con ``{glue:text}``.

Los capítulos publican sus cifras con ``glue`` como texto con punto decimal (``"93.5"``): así
las leen las pruebas y el código (``float(g["ch07_acc"])``). En la prosa en español, en cambio,
el separador decimal es la coma (véase ``book/ESTILO.md``). Esta extensión cambia el punto por
la coma **solo** en el texto que ``{glue:text}`` pega en la página HTML (nodos ``inline`` con la
clase ``pasted-text`` de myst-nb), después de resolver todas las referencias: los valores
guardados, las salidas de las celdas y el código no cambian.

No toca versiones ni identificadores: ``2.13.0``, ``v1.2`` o ``11.1`` junto a otra cifra con
punto se quedan como están (un número solo cambia si no va pegado a una letra ni a otro punto).

Se registra en ``_config.yml``::

    sphinx:
      local_extensions:
        decimal_comma: tools/
"""

from __future__ import annotations

import re

from docutils import nodes

__all__ = ["to_decimal_comma", "setup"]

#: Un número con punto decimal que no forma parte de una versión (``2.13.0``) ni de un nombre.
DECIMAL = re.compile(r"(?<![\w.])(-?\d+)\.(\d+)(?=e[-+]?\d|(?![\w.]))")


def to_decimal_comma(text: str) -> str:
    """``"93.5 %"`` → ``"93,5 %"`` y ``"1.0e-05"`` → ``"1,0e-05"``; ``"2.13.0+cpu"`` y
    ``"v1.2"`` no cambian."""
    return DECIMAL.sub(r"\1,\2", text)


def _on_doctree_resolved(app, doctree, docname) -> None:
    for node in list(doctree.findall(nodes.inline)):
        if "pasted-text" not in node.get("classes", []):
            continue
        for text in list(node.findall(nodes.Text)):
            new = to_decimal_comma(str(text))
            if new != str(text):
                text.parent.replace(text, nodes.Text(new))


def setup(app):
    app.connect("doctree-resolved", _on_doctree_resolved)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1.0"}
