"""Los textos de la interfaz del tema, en español (tools/spanish_theme.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from spanish_theme import SEARCH_BAR_TEXT, STRINGS, translate_html  # noqa: E402


def test_translate_html_replaces_interface_strings_only():
    html = ('<input placeholder="Search this book..." aria-label="Search this book...">'
            '<button title="Toggle primary sidebar"></button><span>Suggest edit</span>'
            '<a title="Link to this heading">#</a><p>Search this book... en la prosa</p>')
    out = translate_html(html)
    assert f'placeholder="{SEARCH_BAR_TEXT}"' in out and f'aria-label="{SEARCH_BAR_TEXT}"' in out
    assert 'title="Mostrar u ocultar el índice"' in out
    assert ">Sugerir un cambio<" in out and 'title="Enlace a este encabezado"' in out
    assert "<p>Search this book... en la prosa</p>" in out  # el texto del libro no se toca
    assert translate_html(out) == out


def test_extensions_are_registered_in_config():
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    assert config["sphinx"]["local_extensions"]["spanish_theme"] == "tools/"
    assert config["sphinx"]["config"]["language"] == "es"


@pytest.mark.book
def test_built_pages_have_no_english_interface_strings():
    from bookutil import html

    for page in ("book/intro", "book/ruta"):
        text = html(page)
        left = [s for s in STRINGS if s in text]
        assert not left, f"{page}: textos del tema en inglés: {left}"
