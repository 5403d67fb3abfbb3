"""El libro construido funciona en un navegador real (Chromium + Playwright, sin red).

Se sirve ``_build/html`` en 127.0.0.1 y se recorre con el Chromium de Debian,
abortando toda petición externa. Los errores de consola tolerados, y por qué,
están en ``tests/browserutil.py``.

Todo el recorrido reutiliza un único navegador (< ~30 s en 2 núcleos).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest
from bookutil import HTML, ROOT, notebook_files, require_build, toc_files
from browserutil import Tab

pytestmark = [pytest.mark.browser, pytest.mark.book]

REPO = "lab11-transformers/lab11-transformers"
MOBILE_WIDTH = 390

PAGES = toc_files()
BUILT = [p for p in PAGES if (HTML / f"{p}.html").exists()]
CHAPTERS = [p for p in notebook_files() if p in BUILT]


@pytest.fixture(scope="session")
def desktop(browser, base_url):
    tab = Tab(browser, base_url, viewport={"width": 1280, "height": 900})
    yield tab
    tab.context.close()


_JS_PAGE_REPORT = """() => {
  const imgs = [...document.querySelectorAll('img')].map(i => ({
    src: i.getAttribute('src'), alt: i.getAttribute('alt'),
    ok: i.complete && i.naturalWidth > 0}));
  const article = document.querySelector('article') || document.body;
  const links = [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'));
  return {
    h1: [...document.querySelectorAll('h1')].map(h => h.innerText.trim()),
    imgs,
    links,
    errorOutputs: document.querySelectorAll(
        '.output.error, .output.traceback, .cell_output .traceback').length,
    traceback: article.innerText.includes('Traceback (most recent call last)'),
  };
}"""


@pytest.fixture(scope="session")
def reports(desktop):
    """Visita cada página una sola vez y guarda lo que las pruebas comprueban."""
    out = {}
    for page in BUILT:
        response = desktop.goto(f"{page}.html")
        desktop.page.wait_for_load_state("load")
        # Espera a que terminen las imágenes (complete) antes de medirlas.
        desktop.page.wait_for_function(
            "() => [...document.images].every(i => i.complete)", timeout=10_000
        )
        report = desktop.page.evaluate(_JS_PAGE_REPORT)
        report["status"] = response.status if response else None
        report["errors"] = desktop.unexpected_errors()
        report["external"] = list(desktop.external)
        report["url"] = desktop.page.url
        out[page] = report
    return out


def test_every_toc_page_was_built():
    require_build()
    missing = [p for p in PAGES if p not in BUILT]
    assert not missing, f"páginas de _toc.yml sin HTML construido: {missing}"


@pytest.mark.parametrize("page", BUILT)
def test_page_loads_with_title(reports, page):
    r = reports[page]
    assert r["status"] == 200
    assert len(r["h1"]) >= 1 and r["h1"][0], f"{page} no tiene h1"


@pytest.mark.parametrize("page", BUILT)
def test_images_load_and_have_alt_text(reports, page):
    for img in reports[page]["imgs"]:
        assert img["ok"], f"{page}: la imagen {img['src']} no cargó"
        assert (img["alt"] or "").strip(), f"{page}: la imagen {img['src']} no tiene alt"


@pytest.mark.parametrize("page", BUILT)
def test_no_error_outputs_or_tracebacks(reports, page):
    assert reports[page]["errorOutputs"] == 0
    assert not reports[page]["traceback"]


@pytest.mark.parametrize("page", BUILT)
def test_no_console_errors(reports, page):
    assert reports[page]["errors"] == []


@pytest.mark.parametrize("page", BUILT)
def test_no_request_leaves_the_machine(reports, page):
    """Ni MathJax, ni require.js, ni widgets, ni fuentes: nada se pide a un CDN."""
    assert reports[page]["external"] == [], f"{page} pide fuera de la máquina"


def test_external_requests_are_detected(desktop):
    """La prueba anterior no pasa en vacío: una petición externa se anota."""
    desktop.goto(f"{PAGES[0]}.html")
    desktop.page.evaluate("() => fetch('https://cdn.jsdelivr.net/x.js').catch(() => null)")
    desktop.page.wait_for_timeout(200)
    assert desktop.external == ["https://cdn.jsdelivr.net/x.js"]
    desktop.errors.clear()


def test_formulas_render_with_local_mathjax(desktop):
    """MathJax (copia local en _static/mathjax) convierte el TeX en mjx-container."""
    page = next(p for p in CHAPTERS if "$" in (ROOT / f"{p}.md").read_text(encoding="utf-8"))
    desktop.goto(f"{page}.html")
    desktop.page.wait_for_selector("mjx-container", state="attached", timeout=20_000)
    scripts = desktop.page.eval_on_selector_all(
        "script[src*='tex-chtml']", "els => els.map(e => e.src)")
    assert scripts and all(s.startswith(desktop.base_url) for s in scripts), scripts
    drawn = desktop.page.evaluate("""async () => {
      await document.fonts.ready;
      return {
        shown: [...document.querySelectorAll('mjx-container')]
          .filter(e => e.getBoundingClientRect().width > 0).length,
        fonts: [...document.fonts]
          .filter(f => f.family.includes('MJX') && f.status === 'loaded').length,
      };
    }""")
    # Fórmulas visibles, dibujadas con las fuentes locales (woff-v2), sin errores de TeX.
    assert drawn["shown"] >= 1 and drawn["fonts"] >= 1, drawn
    assert desktop.page.locator("mjx-merror").count() == 0
    assert desktop.external == [] and desktop.unexpected_errors() == []


def test_chapters_have_figures_that_were_checked(reports):
    """Las pruebas de imágenes no pasan en vacío: hay figuras de capítulos."""
    figures = [i for p in CHAPTERS for i in reports[p]["imgs"] if "_images/" in (i["src"] or "")]
    assert len(figures) >= len(CHAPTERS) // 2 > 0


def test_search_finds_atencion(desktop):
    desktop.goto("search.html?q=atención")
    desktop.page.wait_for_selector("#search-results ul.search li", timeout=15_000)
    hits = desktop.page.locator("#search-results ul.search li")
    assert hits.count() >= 1
    hrefs = desktop.page.eval_on_selector_all(
        "#search-results ul.search li a", "els => els.map(a => a.getAttribute('href'))"
    )
    assert any("book/" in h for h in hrefs), hrefs
    assert desktop.unexpected_errors() == []


def _launch_links(links: list[str]) -> dict[str, str]:
    out = {}
    for href in links:
        if href.startswith("https://colab.research.google.com/"):
            out["colab"] = href
        elif href.startswith("https://mybinder.org/"):
            out["binder"] = href
    return out


@pytest.mark.parametrize("page", CHAPTERS)
def test_launch_buttons_point_to_generated_notebooks(reports, page):
    links = _launch_links(reports[page]["links"])
    assert links.get("colab") == (
        f"https://colab.research.google.com/github/{REPO}/blob/notebooks/{page}.ipynb"
    )
    assert links.get("binder") == (
        f"https://mybinder.org/v2/gh/{REPO}/main?urlpath=lab/tree/notebooks/{page}.ipynb"
    )


@pytest.mark.parametrize("page", CHAPTERS)
def test_download_buttons_offer_ipynb_and_md_that_exist(reports, page):
    downloads = {}
    for href in reports[page]["links"]:
        if "_sources/" in href:
            target = urlparse(urljoin(reports[page]["url"], href)).path
            downloads[Path(target).suffix] = HTML / unquote(target).lstrip("/")
    assert set(downloads) >= {".ipynb", ".md"}, downloads
    for path in downloads.values():
        assert path.is_file() and path.stat().st_size > 0, f"no existe {path}"


def test_dark_mode_toggle_changes_theme(desktop):
    desktop.goto(f"{CHAPTERS[0] if CHAPTERS else PAGES[0]}.html")
    page = desktop.page
    before = page.evaluate("document.documentElement.dataset.theme")
    seen = {before}
    button = page.locator("button.theme-switch-button").first
    for _ in range(3):  # auto → oscuro/claro → ...: el ciclo tiene 3 modos
        button.click()
        seen.add(page.evaluate("document.documentElement.dataset.theme"))
    assert {"light", "dark"} <= seen, f"html[data-theme] tomó sólo {seen}"
    page.evaluate("localStorage.setItem('mode', 'auto')")


@pytest.fixture(scope="session")
def mobile(browser, base_url):
    # Ventana de 390 px (ancho de un móvil). Sin is_mobile: la emulación móvil
    # ensancharía el viewport hasta el contenido y ocultaría el desbordamiento.
    tab = Tab(browser, base_url, viewport={"width": MOBILE_WIDTH, "height": 844})
    yield tab
    tab.context.close()


# Elementos que sobresalen de la pantalla sin que ningún antecesor los recorte
# (overflow-x distinto de visible): los bloques de código y las tablas se
# desplazan dentro de su caja y no cuentan; sólo se usa para el mensaje.
_JS_OFFENDERS = """(w) => {
  const clipped = (e) => {
    for (let a = e.parentElement; a && a !== document.documentElement; a = a.parentElement) {
      const s = getComputedStyle(a);
      if (s.overflowX !== 'visible' || s.position === 'fixed' || s.display === 'none') return true;
    }
    return false;
  };
  return [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > w + 1
                 && getComputedStyle(e).position !== 'fixed' && !clipped(e))
    .slice(0, 4)
    .map(e => `${e.tagName.toLowerCase()}.${[...e.classList].join('.')}: `
              + (e.textContent || '').trim().slice(0, 60));
}"""


@pytest.mark.parametrize("page", BUILT)
def test_no_horizontal_scroll_at_390px(mobile, page):
    mobile.goto(f"{page}.html")
    width = mobile.page.evaluate("document.documentElement.scrollWidth")
    offenders = []
    if width > MOBILE_WIDTH + 1:
        offenders = mobile.page.evaluate(_JS_OFFENDERS, MOBILE_WIDTH)
    assert width <= MOBILE_WIDTH + 1, (
        f"{page}: la página mide {width} px a {MOBILE_WIDTH} px de ancho; desbordan {offenders}"
    )


def test_error_checks_are_not_decorative(desktop):
    """Un error de consola, una excepción o un traceback en la página se detectan."""
    desktop.goto(f"{PAGES[0]}.html")
    desktop.page.evaluate(
        """() => {
          console.error('error de prueba');
          setTimeout(() => { throw new Error('excepción de prueba'); }, 0);
          const div = document.createElement('div');
          div.className = 'cell_output';
          div.innerHTML = '<div class="output traceback"><pre>Traceback (most recent call last)'
                          + '</pre></div>';
          (document.querySelector('article') || document.body).appendChild(div);
        }"""
    )
    desktop.page.wait_for_timeout(100)
    errors = desktop.unexpected_errors()
    assert any("error de prueba" in e for e in errors)
    assert any("excepción de prueba" in e for e in errors)
    report = desktop.page.evaluate(_JS_PAGE_REPORT)
    assert report["errorOutputs"] == 1 and report["traceback"]
    desktop.errors.clear()
