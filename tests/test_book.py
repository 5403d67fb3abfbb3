"""Pruebas sobre el libro construido (``make book``).

La construcción del libro es la prueba de ejecución: falla ante cualquier error
de celda o aviso de Sphinx (``-W -n``). Estas pruebas comprueban lo que produjo
sin volver a ejecutar los capítulos.
"""

from __future__ import annotations

import hashlib
import re
from html.parser import HTMLParser

import pytest
from bookutil import BUILD, HTML, ROOT, executed_notebook, html, notebook_files, toc_files

pytestmark = pytest.mark.book

CHAPTERS = notebook_files()


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images: list[dict] = []
        self.links: list[str] = []
        self.error_outputs = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs)
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        classes = (attrs.get("class") or "").split()
        if "output" in classes and ("error" in classes or "traceback" in classes):
            self.error_outputs += 1


def _parse(page: str) -> _Collector:
    c = _Collector()
    c.feed(html(page))
    return c


def _code_hash() -> str:
    # Como el Makefile: find labcode -name '*.py' | LC_ALL=C sort
    files = sorted((ROOT / "labcode").rglob("*.py"),
                   key=lambda p: p.relative_to(ROOT).as_posix().encode())
    files += [ROOT / "pyproject.toml", ROOT / "requirements.txt", ROOT / "requirements-dev.txt",
              ROOT / "requirements-models.txt"]
    h = hashlib.sha256()
    for f in files:
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def test_toc_has_introduction_and_first_four_chapters():
    files = toc_files()
    assert files[0] == "book/intro"
    for ch in ["book/01_motivacion", "book/02_self_attention", "book/03_multi_head",
               "book/04_positional"]:
        assert ch in files
        assert ch in CHAPTERS, f"{ch} debería ser un cuaderno con celdas de código"


@pytest.mark.parametrize("page", toc_files())
def test_every_toc_page_is_built(page):
    assert "<h1" in html(page)


def test_start_page_redirects_to_introduction():
    index = (HTML / "index.html").read_text(encoding="utf-8")
    assert "book/intro.html" in index


def test_build_log_has_no_warnings_and_succeeded():
    log = (BUILD / "build.log").read_text(encoding="utf-8", errors="replace")
    pattern = re.compile(r": (WARNING|ERROR|CRITICAL): ")
    sphinx_warnings = [ln for ln in log.splitlines() if pattern.search(ln)]
    assert not sphinx_warnings, "avisos de Sphinx:\n" + "\n".join(sphinx_warnings[:20])
    assert "build succeeded" in log
    # La construcción se hizo con avisos como errores y referencias estrictas.


def test_outputs_are_from_current_labcode():
    """La caché de ejecución corresponde al labcode y dependencias actuales."""
    stamp = (BUILD / ".code-hash").read_text().strip()
    assert stamp == _code_hash(), "el libro se construyó con otro labcode: ejecuta `make book`"


@pytest.mark.parametrize("page", CHAPTERS)
def test_chapter_executed_without_errors(page):
    nb = executed_notebook(page)  # falla si la ejecución en caché no corresponde a la fuente
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert code_cells, f"{page} no tiene celdas de código"
    outputs = [o for c in code_cells for o in c.get("outputs", [])]
    assert outputs, f"{page} no produjo ninguna salida"
    errors = [o for o in outputs if o.get("output_type") == "error"]
    assert not errors, f"{page} tiene salidas de error: {errors[:1]}"
    assert all(c.get("execution_count") for c in code_cells), f"{page}: hay celdas sin ejecutar"


@pytest.mark.parametrize("page", CHAPTERS)
def test_chapter_html_shows_outputs_and_no_tracebacks(page):
    text = html(page)
    assert "cell_output" in text, f"{page} no muestra salidas ejecutadas"
    assert "Traceback (most recent call last)" not in text
    assert _parse(page).error_outputs == 0


@pytest.mark.parametrize("page", toc_files())
def test_images_exist_and_have_alt_text(page):
    parsed = _parse(page)
    page_dir = (HTML / page).parent
    for img in parsed.images:
        src = img.get("src", "")
        if src.startswith("data:") or src.startswith("http"):
            continue
        assert (page_dir / src).resolve().exists(), f"{page}: falta la imagen {src}"
        if "logo" in (img.get("class") or ""):
            continue
        assert (img.get("alt") or "").strip(), f"{page}: imagen sin texto alternativo: {src}"


# «Ejercicios» solo remite a los ejercicios de cada capítulo (sphinx-exercise): no ejecuta figuras.
@pytest.mark.parametrize("page", [p for p in CHAPTERS if p != "book/ejercicios"])
def test_chapters_have_figures(page):
    figures = [i for i in _parse(page).images if "_images/" in i.get("src", "")]
    assert figures, f"{page} no tiene ninguna figura ejecutada"


@pytest.mark.parametrize("page", CHAPTERS)
def test_chapters_open_with_objectives_and_close_with_summary(page):
    src = (ROOT / f"{page}.md").read_text(encoding="utf-8")
    assert "Objetivos de aprendizaje" in src
    assert re.search(r"^#+ .*Resumen", src, flags=re.M), f"{page} no tiene sección de resumen"


@pytest.mark.parametrize("page", CHAPTERS)
def test_launch_buttons_point_to_binder_and_colab(page):
    text = html(page)
    assert "mybinder.org" in text
    assert "colab.research.google.com" in text


def test_bibliography_lists_core_papers():
    text = html("book/bibliografia").lower()
    for title in ["Attention Is All You Need", "Long Short-Term Memory", "BERT",
                  "Language Models are Few-Shot Learners", "An Image is Worth 16x16 Words",
                  "Neural Machine Translation by Jointly Learning to Align and Translate",
                  "Language Models are Unsupervised Multitask Learners"]:
        assert title.lower() in text, f"falta {title!r} en la bibliografía"


def test_api_reference_documents_labcode():
    text = html("book/api")
    for name in ["SelfAttentionNumPy", "MultiHeadAttentionNumPy", "PositionalEncodingSinusoidal",
                 "scaled_dot_product_attention", "causal_mask", "softmax"]:
        assert name in text, f"la referencia de la API no documenta {name}"


def test_exercise_solutions_are_hidden_toggles():
    for page in ["book/02_self_attention", "book/03_multi_head", "book/04_positional"]:
        text = html(page)
        assert "tag_hide-cell" in text or "toggle" in text, f"{page}: la solución no está oculta"


def test_book_language_is_spanish():
    assert 'lang="es"' in html("book/intro")
