"""El HTML construido no necesita ningún CDN: MathJax es local y no hay widgets.

Las pruebas en navegador (``tests/test_browser.py``) abortan y anotan toda
petición que sale de la máquina; aquí se comprueba lo mismo sin navegador,
leyendo el HTML, y se prueba la extensión ``tools/mathjax_local.py``.
"""

from __future__ import annotations

import re
import sys

import pytest
from bookutil import HTML, ROOT, require_build, toc_files

sys.path.insert(0, str(ROOT / "tools"))

import mathjax_local  # noqa: E402

PAGES = toc_files()
EXTERNAL_SRC = re.compile(r"""<(?:script|link)\b[^>]*\b(?:src|href)=["'](?:https?:)?//""")
WIDGET_MARKERS = (
    "require.min.js",
    "require.js",
    "@jupyter-widgets/html-manager",
    "application/vnd.jupyter.widget-state+json",
    "application/vnd.jupyter.widget-view+json",
)


@pytest.mark.book
@pytest.mark.parametrize("page", PAGES)
def test_page_loads_nothing_from_outside(page):
    require_build()
    path = HTML / f"{page}.html"
    if not path.exists():
        pytest.fail(f"falta {path}")
    text = path.read_text(encoding="utf-8")
    external = [m.group(0) for m in EXTERNAL_SRC.finditer(text)]
    assert not external, f"{page} carga recursos externos: {external}"
    widgets = [m for m in WIDGET_MARKERS if m in text]
    assert not widgets, f"{page} incluye widgets de Jupyter (y su JS de un CDN): {widgets}"


@pytest.mark.book
def test_mathjax_is_served_from_static():
    require_build()
    static = HTML / "_static" / mathjax_local.MATHJAX_DIR
    assert (static / mathjax_local.COMPONENT).is_file()
    assert list((static / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))
    built = [p for p in PAGES if (HTML / f"{p}.html").exists()]
    pages_with_math = [p for p in built if "tex-chtml.js" in (HTML / f"{p}.html").read_text()]
    assert pages_with_math, "ninguna página carga MathJax"
    for page in pages_with_math:
        text = (HTML / f"{page}.html").read_text(encoding="utf-8")
        assert re.search(r'src="(\.\./)*_static/mathjax/tex-chtml\.js', text), page


def test_external_resources_are_detected():
    """La expresión regular no es decorativa."""
    assert EXTERNAL_SRC.search('<script src="https://cdn.jsdelivr.net/npm/mathjax@3/x.js">')
    assert EXTERNAL_SRC.search("<link rel='stylesheet' href='//fonts.example/x.css'>")
    assert not EXTERNAL_SRC.search('<script src="../_static/mathjax/tex-chtml.js">')
    assert not EXTERNAL_SRC.search('<a href="https://github.com/x">')


def _fake_es5(tmp_path):
    es5 = tmp_path / "node_modules" / "mathjax" / "es5"
    for sub in mathjax_local.ON_DEMAND:
        (es5 / sub).mkdir(parents=True)
        (es5 / sub / "x.js").write_text(sub)
    (es5 / mathjax_local.COMPONENT).write_text("// mathjax")
    (es5 / "sre").mkdir()
    (es5 / "sre" / "big.js").write_text("no se copia")
    return es5


def test_copy_mathjax_copies_component_and_on_demand_files(tmp_path):
    es5 = _fake_es5(tmp_path)
    assert mathjax_local.mathjax_source(tmp_path) == es5
    dest = mathjax_local.copy_mathjax(tmp_path / "out" / "mathjax", es5)
    assert (dest / mathjax_local.COMPONENT).read_text() == "// mathjax"
    for sub in mathjax_local.ON_DEMAND:
        assert (dest / sub / "x.js").read_text() == sub
    assert not (dest / "sre").exists()


def test_missing_mathjax_fails_with_a_clear_message(tmp_path):
    from sphinx.errors import ExtensionError

    with pytest.raises(ExtensionError, match=r"Falta MathJax .*npm ci --prefix tools"):
        mathjax_local.mathjax_source(tmp_path)


def test_installed_mathjax_matches_the_lockfile():
    import json

    lock = json.loads((ROOT / "tools" / "package-lock.json").read_text(encoding="utf-8"))
    entry = lock["packages"]["node_modules/mathjax"]
    assert entry["version"].startswith("3.") and entry["integrity"].startswith("sha512-")
    installed = ROOT / "tools" / "node_modules" / "mathjax" / "package.json"
    if installed.exists():
        assert json.loads(installed.read_text())["version"] == entry["version"]
