"""Utilidades comunes de las pruebas en navegador (Chromium + Playwright, sin red).

El libro construido se sirve con ``http.server`` en 127.0.0.1 y se abre con el
Chromium de Debian (``apt-get install -y chromium``; no ``playwright install``).
Toda petición fuera de ese servidor se aborta y se anota en ``Tab.external``:
el libro no debe pedir nada fuera de la máquina (MathJax y plotly.js se sirven
desde ``_static``), y ``tests/test_browser.py`` comprueba que la lista queda
vacía en cada página.

Errores de consola que se toleran, y por qué (nada más se tolera):

- ``Identifier 'THEBE_JS_URL' has already been declared``: Jupyter Book 1.x
  inyecta dos veces el mismo ``<script>const THEBE_JS_URL = ...</script>`` en
  cada página (una vez sphinx-thebe y otra sphinx-book-theme); el segundo falla
  sin efecto (thebe está desactivado en ``_config.yml``).
- ``Failed to load resource: net::ERR_FAILED`` cuyo origen es una URL que la
  prueba abortó (recursos externos bloqueados a propósito).
- ``Got invalid theme mode: . Resetting to auto.``: pydata-sphinx-theme lo
  escribe con ``console.error`` la primera vez que se visita el sitio, cuando
  ``localStorage`` aún no guarda un modo de color; después guarda «auto».
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

from bookutil import HTML, require_build, skip_or_fail

# Chromium de Debian; en otro sistema (p. ej. los runners de GitHub, con
# /usr/bin/google-chrome) se indica con LABCODE_CHROMIUM.
CHROMIUM = Path(os.environ.get("LABCODE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
TOLERATED_ERRORS = (
    "Identifier 'THEBE_JS_URL' has already been declared",
    "Got invalid theme mode: . Resetting to auto.",
)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # sin ruido en la salida de pytest
        pass


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


@contextlib.contextmanager
def serve_html() -> Iterator[str]:
    """Sirve el HTML construido en un puerto libre; devuelve la URL base."""
    require_build()
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    server = _Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def chromium() -> Iterator[object]:
    """El Chromium del sistema lanzado con Playwright (en CI es obligatorio)."""
    try:
        from playwright import sync_api
    except ImportError:
        skip_or_fail("falta playwright (pip install -r requirements.txt)")
    if not CHROMIUM.exists():
        skip_or_fail(f"falta Chromium en {CHROMIUM}: apt-get install -y chromium "
                     "(o LABCODE_CHROMIUM=/ruta/al/navegador)")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Tab:
    """Una pestaña que bloquea lo externo y recoge las peticiones y los errores de consola."""

    def __init__(self, browser, base_url: str, **context_kwargs):
        self.base_url = base_url
        self.context = browser.new_context(**context_kwargs)
        self.blocked: list[str] = []
        #: Peticiones que salían de la máquina desde el último goto (abortadas).
        self.external: list[str] = []
        self.requested: list[str] = []
        self.errors: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))

    def _route(self, route):
        url = route.request.url
        self.requested.append(url)
        if url.startswith(self.base_url):
            route.continue_()
        else:
            self.blocked.append(url)
            self.external.append(url)
            route.abort()

    def _console(self, msg):
        if msg.type != "error":
            return
        source = (msg.location or {}).get("url", "")
        if "net::ERR_FAILED" in msg.text and source in self.blocked:
            return
        self.errors.append(f"console.error: {msg.text} ({source})")

    def goto(self, path: str):
        self.errors.clear()
        self.external.clear()
        return self.page.goto(self.base_url + path, wait_until="load")

    def unexpected_errors(self) -> list[str]:
        return [e for e in self.errors if not any(t in e for t in TOLERATED_ERRORS)]
