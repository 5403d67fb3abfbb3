"""Lo que solo tiene sentido dentro del libro: publicar valores y anotar la memoria.

- :func:`glue` guarda un valor para citarlo en la prosa del libro
  (``{glue:text}`nombre```). Fuera de la construcción del libro (por ejemplo
  en Colab, sin ``myst_nb``) simplemente no hace nada visible, de modo que el
  mismo cuaderno funciona en todas partes.
- :func:`viewer_output` muestra una figura de Plotly en el libro (HTML con texto
  alternativo) y en Jupyter (la figura).
- :func:`record_peak_memory` anota el pico de memoria de un capítulo durante
  la construcción del libro (apéndice «Rendimiento»).

Es la única parte de labcode que lee el estado de la construcción
(``LABCODE_BUILD`` y ``LABCODE_BUILD_DIR``, que pone ``make book``).
"""

from __future__ import annotations

import html as _html
import os
from typing import Any

from labcode.utils.errors import LabcodeValueError
from labcode.utils.runtime import peak_rss_bytes

#: Subcarpeta de ``LABCODE_BUILD_DIR`` donde cada capítulo deja su pico de memoria.
PEAK_RSS_DIR = "peak-rss"


def glue(name: str, value: Any, display: bool = False) -> None:
    """Publica ``value`` con el nombre ``name`` para usarlo en la prosa.

    Envuelve :func:`myst_nb.glue`. Si ``myst_nb`` no está instalado (por
    ejemplo en Colab) y ``display`` es ``True``, muestra el valor con
    ``IPython.display``; si no, no hace nada.
    """
    try:
        from myst_nb import glue as _glue
    except ImportError:  # pragma: no cover - depende del entorno
        if display:
            try:
                from IPython.display import display as _display

                _display(value)
            except ImportError:
                print(value)
        return
    _glue(name, value, display=display)


def in_book_build() -> bool:
    """¿Se está ejecutando el capítulo dentro de ``make book`` (``LABCODE_BUILD=1``)?"""
    return os.environ.get("LABCODE_BUILD") == "1"


def record_peak_memory(page: str) -> dict[str, int] | None:
    """Guarda ``{page: bytes}`` con el pico de memoria del capítulo (sólo en ``make book``).

    Se llama en la última celda (oculta) de cada capítulo. Escribe
    ``$LABCODE_BUILD_DIR/peak-rss/<page>.json``; fuera de la construcción del
    libro (Colab, Binder, local) no hace nada y devuelve ``None``.
    """
    build_dir = os.environ.get("LABCODE_BUILD_DIR", "").strip()
    if not in_book_build() or not build_dir:
        return None
    import json
    from pathlib import Path

    record = {page: peak_rss_bytes()}
    folder = Path(build_dir) / PEAK_RSS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{page}.json").write_text(json.dumps(record) + "\n", encoding="utf-8")
    return record


#: Configuración de Plotly en el HTML del libro (se adapta al ancho, sin logotipo).
PLOTLY_CONFIG = {"responsive": True, "displaylogo": False}


def viewer_output(fig, alt: str, caption: str | None = None):
    """Lo que hay que mostrar para ver ``fig`` tanto en Jupyter/Colab como en el libro.

    Durante la construcción del libro (``LABCODE_BUILD=1``, lo define el
    Makefile) devuelve HTML sin ``plotly.js`` (``include_plotlyjs=False``; la
    extensión ``tools/plotly_js.py`` carga una copia local en la página, sin
    red) dentro de un ``<figure>`` con ``aria-label`` (texto alternativo) y un
    pie visible. Fuera del libro devuelve la propia figura: Jupyter y Colab la
    dibujan con el *renderer* normal de Plotly.

    Parameters
    ----------
    fig:
        Figura de Plotly (p. ej. de :func:`labcode.analysis.attention_maps.attention_viewer`).
    alt:
        Texto alternativo en español (qué muestra la figura).
    caption:
        Pie de figura visible (por defecto, ``alt``).

    Raises
    ------
    ValueError
        Si ``alt`` está vacío.
    """
    if not isinstance(alt, str) or not alt.strip():
        raise LabcodeValueError("viewer_output: alt (texto alternativo) no puede estar vacío.")
    if not in_book_build():
        return fig
    from IPython.display import HTML

    body = fig.to_html(full_html=False, include_plotlyjs=False, config=PLOTLY_CONFIG,
                       default_width="100%", default_height=f"{int(fig.layout.height or 500)}px")
    cap = _html.escape(caption if caption is not None else alt)
    return HTML(
        f'<figure class="labcode-plotly" role="group" aria-label="{_html.escape(alt, quote=True)}"'
        f' style="margin: 1em 0; max-width: 100%; overflow-x: hidden;">{body}'
        f'<figcaption style="font-size: 0.9em; margin-top: 0.4em;">{cap}</figcaption></figure>'
    )
