"""El libro construido tiene todos sus datos: ningún aviso de datos que faltan ni valores «n/d».

Los datos se consiguen solos (:mod:`labcode.data.registry`), así que el libro
publicado (construido en un runner sin ``../shared/data``) debe estar completo.
"""

from __future__ import annotations

import html as htmllib
import re

import pytest
from bookutil import HTML, glued, notebook_files, require_build

pytestmark = pytest.mark.book

# Un valor pegado con {glue:text} se publica como <span class="pasted-text">valor</span>;
# así no se confunde con la fórmula $n/d$ del capítulo 10.
PASTED_ND = re.compile(r'<span class="pasted-text">\s*n/d\s*</span>')
MISSING = re.compile(r"faltan los datos|sin datos del quijote|sin el texto del quijote", re.I)


def _pages() -> list:
    require_build()
    return sorted(p for p in HTML.rglob("*.html") if "_static" not in p.parts)


def test_no_page_warns_about_missing_data_nor_shows_nd():
    pages = _pages()
    assert len(pages) >= len(notebook_files())
    for page in pages:
        source = page.read_text(encoding="utf-8")
        text = htmllib.unescape(re.sub(r"<[^>]+>", " ", source))
        name = page.relative_to(HTML).as_posix()
        assert not MISSING.search(text), f"{name}: {MISSING.search(text).group(0)!r}"
        assert not PASTED_ND.search(source), f"{name} publica un valor «n/d»"


@pytest.mark.parametrize("page", ["book/06_bert_vs_gpt", "book/08_generacion"])
def test_data_dependent_values_are_measured(page):
    values = glued(page)
    assert values, f"{page} no publicó ningún valor con glue"
    missing = sorted(name for name, value in values.items() if value == "n/d")
    assert not missing, f"{page}: valores sin datos {missing}"
