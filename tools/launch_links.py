"""Extensión de Sphinx: los botones Colab y Binder abren el cuaderno generado.

sphinx-book-theme construye el enlace de Colab como
``{colab_url}/github/{org}/{repo}/blob/{branch}/{página}{ext}`` con la extensión
del fuente (``.md``), que Colab no sabe abrir. ``tools/make_notebooks.py``
genera un ``.ipynb`` por capítulo; esta extensión reescribe, después del tema
(prioridad 501), los enlaces de cada página:

- Colab → ``.../blob/{labcode_notebooks_branch}/{página}.ipynb`` (la rama que
  publica ``.github/workflows/pages.yml``).
- Binder → la misma rama de ``main`` (``binder/postBuild`` instala todo y genera
  los cuadernos en ``notebooks/``) con ``urlpath=lab/tree/notebooks/{página}.ipynb``.

Se registra en ``_config.yml``::

    sphinx:
      local_extensions:
        launch_links: tools/
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["setup", "rewrite_launch_buttons"]


def rewrite_launch_buttons(
    header_buttons: list[dict[str, Any]],
    pagename: str,
    notebooks_branch: str,
    binder_dir: str,
) -> int:
    """Reescribe los enlaces Colab y Binder de ``header_buttons``; devuelve cuántos cambió."""
    changed = 0
    for group in header_buttons:
        if group.get("label") != "launch-buttons":
            continue
        for button in group.get("buttons", []):
            url = button.get("url", "")
            if button.get("text") == "Colab":
                new = re.sub(
                    r"/blob/[^/]+/.*$", f"/blob/{notebooks_branch}/{pagename}.ipynb", url
                )
            elif button.get("text") == "Binder":
                new = re.sub(
                    r"(urlpath=[a-z/]*tree/).*$",
                    lambda m: f"{m[1]}{binder_dir}/{pagename}.ipynb",
                    url,
                )
            else:
                continue
            if new != url:
                button["url"] = new
                changed += 1
    return changed


def _on_page_context(app, pagename, templatename, context, doctree) -> None:
    buttons = context.get("header_buttons")
    if not buttons:
        return
    rewrite_launch_buttons(
        buttons,
        pagename,
        app.config.labcode_notebooks_branch,
        app.config.labcode_binder_notebooks_dir,
    )


def setup(app):
    app.add_config_value("labcode_notebooks_branch", "notebooks", "html")
    app.add_config_value("labcode_binder_notebooks_dir", "notebooks", "html")
    # Después de sphinx_book_theme.add_launch_buttons (prioridad 501).
    app.connect("html-page-context", _on_page_context, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1.0"}
