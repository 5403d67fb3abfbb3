"""El visor interactivo del capítulo 9 funciona en un navegador real y sin red.

Se sirve ``_build/html`` (o ``LABCODE_BUILD_DIR``) en 127.0.0.1 y se abre con el
Chromium del sistema (Playwright), abortando toda petición externa, igual que
``tests/test_browser.py``. Se comprueba que:

- la página carga ``plotly.js`` desde ``_static/`` (copia local de la extensión
  ``tools/plotly_js.py``, misma versión que el paquete ``plotly`` instalado) y no
  pide nada a un CDN de Plotly;
- cada visor dibuja sus mapas de calor, tiene texto alternativo y pie visible;
- al mover el deslizador cambia la capa (otras trazas visibles, otra imagen);
- no hay errores de consola salvo el documentado de ``THEBE_JS_URL``;
- a 390 px de ancho el visor no desborda la página.
"""

from __future__ import annotations

import pytest
from bookutil import HTML, skip_or_fail
from browserutil import Tab

pytestmark = [pytest.mark.browser, pytest.mark.book]

PAGE = "book/09_visualizacion"


@pytest.fixture(scope="module", autouse=True)
def _page_built():
    if not (HTML / f"{PAGE}.html").exists():
        skip_or_fail(f"{PAGE}.html no está construido (¿falta en la tabla de contenidos?)")


class _Tab(Tab):
    def __init__(self, browser, base_url: str, width: int = 1280):
        super().__init__(browser, base_url, viewport={"width": width, "height": 900})

    def open(self):
        self.page.goto(self.base_url + f"{PAGE}.html", wait_until="load")
        self.page.wait_for_function(
            "() => document.querySelectorAll('.labcode-plotly .js-plotly-plot').length >= 1 && "
            "[...document.querySelectorAll('.labcode-plotly .js-plotly-plot')]"
            ".every(g => g.querySelector('.hm image'))",
            timeout=20_000,
        )


@pytest.fixture(scope="module")
def tab(browser, base_url):
    t = _Tab(browser, base_url)
    t.open()
    yield t
    t.context.close()


_JS_VIEWERS = """() => [...document.querySelectorAll('.labcode-plotly')].map(fig => {
  const gd = fig.querySelector('.js-plotly-plot');
  const visible = gd._fullData.filter(t => t.visible === true);
  return {
    aria: fig.getAttribute('aria-label'),
    caption: (fig.querySelector('figcaption') || {}).textContent || '',
    traces: gd.data.length,
    visible: visible.map(t => t.name),
    heads: gd.layout.meta.heads,
    layers: gd.layout.meta.layers,
    steps: gd.layout.sliders[0].steps.length,
    active: gd.layout.sliders[0].active || 0,
    images: gd.querySelectorAll('.hm image').length,
    href: (gd.querySelector('.hm image') || {getAttribute: () => ''}).getAttribute('href'),
    width: gd.getBoundingClientRect().width,
  };
})"""


def test_plotly_js_is_local_and_matches_package(tab):
    import plotly.offline

    version = tab.page.evaluate("() => window.Plotly && window.Plotly.version")
    assert version == plotly.offline.get_plotlyjs_version()
    scripts = tab.page.eval_on_selector_all(
        "script[src]", "els => els.map(e => e.getAttribute('src'))")
    assert any("_static/plotly.min.js" in s for s in scripts), scripts
    assert (HTML / "_static" / "plotly.min.js").is_file()
    assert not [u for u in tab.requested if "plot.ly" in u or "plotly" in u and
                not u.startswith(tab.base_url)]


def test_viewers_render_with_text_alternative(tab):
    viewers = tab.page.evaluate(_JS_VIEWERS)
    assert len(viewers) >= 1
    for v in viewers:
        assert v["aria"] and "Visor interactivo" in v["aria"]
        assert v["caption"].strip()
        assert v["traces"] == v["heads"] * len(v["layers"])
        assert v["steps"] == len(v["layers"])
        assert len(v["visible"]) == v["heads"]  # sólo las cabezas de la capa activa
        assert all(name.startswith(f"capa {v['layers'][0]} ") for name in v["visible"])
        assert v["images"] >= v["heads"]  # un mapa de calor dibujado por cabeza
        assert v["width"] > 300


def test_slider_changes_layer(tab):
    before = tab.page.evaluate(_JS_VIEWERS)[0]
    rail = tab.page.locator(".labcode-plotly").first.locator(".slider-rail-touch-rect").first
    rail.scroll_into_view_if_needed()
    box = rail.bounding_box()
    assert box is not None
    tab.page.mouse.click(box["x"] + box["width"] - 2, box["y"] + box["height"] / 2)
    tab.page.wait_for_timeout(300)
    after = tab.page.evaluate(_JS_VIEWERS)[0]
    last = after["layers"][-1]
    assert after["active"] == after["steps"] - 1
    assert all(name.startswith(f"capa {last} ") for name in after["visible"])
    assert after["visible"] != before["visible"]
    assert after["href"] != before["href"]  # la imagen del mapa de calor cambió


def test_no_console_errors(tab):
    assert tab.unexpected_errors() == []


def test_viewer_fits_mobile_width(browser, base_url):
    t = _Tab(browser, base_url, width=390)
    try:
        t.open()
        width = t.page.evaluate("document.documentElement.scrollWidth")
        assert width <= 391, f"la página mide {width} px a 390 px de ancho"
        viewers = t.page.evaluate(_JS_VIEWERS)
        assert all(v["width"] <= 390 for v in viewers)
        assert t.unexpected_errors() == []
    finally:
        t.context.close()
