"""Cada diagrama de arquitectura aparece en el libro construido, con texto alternativo."""

from __future__ import annotations

import re

import pytest
from bookutil import HTML, ROOT, html, skip_or_fail

pytestmark = pytest.mark.book

#: (página, nombre de la figura, función de labcode.analysis.diagrams que la dibuja)
DIAGRAMS = [
    ("book/02_self_attention", "fig-ch02-mascaras-rejilla", "masks_diagram"),
    ("book/03_multi_head", "fig-ch03-dividir-unir", "multi_head_diagram"),
    ("book/05_arquitectura", "fig-ch05-pre-post-ln", "norm_placement_diagram"),
    ("book/05_arquitectura", "fig-ch05-pila", "encoder_decoder_diagram"),
    ("book/06_bert_vs_gpt", "fig-ch06-kv-cache", "kv_cache_diagram"),
    ("book/06_bert_vs_gpt", "fig-ch06-familias", "families_diagram"),
    ("book/11_vision_transformers", "fig-ch11-vit-diagrama", "vit_diagram"),
]


def test_every_diagram_function_is_used_in_the_book():
    from labcode.analysis import diagrams

    drawn = {name for name in diagrams.__all__ if name.endswith("_diagram")}
    assert drawn == {fn for _, _, fn in DIAGRAMS}


@pytest.mark.parametrize(("page", "figure", "function"), DIAGRAMS)
def test_diagram_cell_draws_it_with_labcode(page, figure, function):
    source = (ROOT / f"{page}.md").read_text(encoding="utf-8")
    cell = source[source.index(f"name: {figure}"):].split("```", 1)[0]
    assert f"{function}(" in cell, f"{figure} no se dibuja con labcode.analysis.diagrams.{function}"


@pytest.mark.parametrize(("page", "figure", "function"), DIAGRAMS)
def test_diagram_is_in_the_html_with_alt_text(page, figure, function):
    if not (HTML / f"{page}.html").exists():
        skip_or_fail(f"construcción parcial sin {page}")
    text = html(page)
    match = re.search(rf'<figure[^>]*id="{figure}".*?</figure>', text, re.S)
    assert match, f"{page}: falta la figura {figure}"
    img = re.search(r'<img[^>]*alt="([^"]*)"[^>]*src="([^"]+\.png)"', match.group(0))
    assert img, f"{figure}: la figura no tiene una imagen PNG con alt"
    assert len(img.group(1).split()) >= 15, f"{figure}: texto alternativo demasiado corto"
    src = (HTML / page).parent / img.group(2)
    assert src.resolve().exists(), f"{figure}: falta la imagen {img.group(2)}"
