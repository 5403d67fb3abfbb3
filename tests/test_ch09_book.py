"""Capítulo 9 (visualización de la atención): lo que publicó el libro construido."""

from __future__ import annotations

import re

import pytest
from bookutil import glued, html, outputs_text

pytestmark = pytest.mark.book

PAGE = "book/09_visualizacion"


@pytest.fixture(scope="module")
def g():
    return glued(PAGE)


def test_ours_reproduce_hf_attention_maps(g):
    assert g.float("ch09_bert_diff") < 1e-4
    assert g.float("ch09_gen_diff") < 1e-4
    assert g["ch09_gen_class"] in ("labcode.models.llama.Llama", "labcode.models.gpt.GPT")
    out = outputs_text(PAGE)
    assert "la implementación de HF sigue siendo sdpa" in out or "sigue siendo eager" in out


def test_model_shapes_and_tokens(g):
    assert g["ch09_enc_layers"] >= 1 and g["ch09_enc_heads"] >= 1
    assert g["ch09_n_heads_enc"] == g["ch09_enc_layers"] * g["ch09_enc_heads"]
    assert g["ch09_n_heads_gen"] == g["ch09_gen_layers"] * g["ch09_gen_heads"]
    # [CLS] + 9 palabras + [SEP] en inglés; el español necesita más piezas que palabras
    assert g["ch09_tok_enc_en"] == 11
    assert g["ch09_tok_enc_es"] > 8 + 2 and g["ch09_tok_gen_es"] > 8
    assert g["ch09_hambriento_pieces"] >= 2


def test_head_patterns_are_consistent(g):
    assert 0 <= g["ch09_prev_layer"] < g["ch09_enc_layers"]
    assert 0 <= g["ch09_prev_head"] < g["ch09_enc_heads"]
    assert 0.5 < g.float("ch09_prev_score") <= 1.0
    assert g["ch09_enc_prev_n"] >= 1  # la cabeza de token anterior se cuenta en la tabla
    for key in ("ch09_enc_special_pct", "ch09_enc_special_pct_en", "ch09_gen_first_pct",
                "ch09_gen_first_pct_es", "ch09_it_enc_pct", "ch09_it_gen_pct",
                "ch09_ham_enc_pct", "ch09_ham_gen_pct"):
        assert 0 <= g.float(key) <= 100, key
    assert g.float("ch09_enc_cls_mean") <= g.float("ch09_enc_special_mean") <= 1.0
    assert 0 <= g["ch09_grid_cls_n"] <= g["ch09_enc_heads"]
    for key in ("ch09_ent_enc_first", "ch09_ent_enc_min", "ch09_ent_gen_first", "ch09_ent_gen_min"):
        assert 0.0 <= g.float(key) <= 1.0, key
    assert g.float("ch09_ent_enc_min") <= g.float("ch09_ent_enc_first")
    assert 0 <= g["ch09_ent_gen_argmin"] < g["ch09_gen_layers"]


def test_coreference_and_control(g):
    layer, head = (int(x) for x in re.findall(r"\d+", g["ch09_it_enc_best"]))
    assert 0 <= layer < g["ch09_enc_layers"] and 0 <= head < g["ch09_enc_heads"]
    assert g.float("ch09_it_enc_best_cat") > g.float("ch09_it_enc_best_milk")
    # la cabeza elegida prefiere el sujeto en la frase original (por construcción)
    assert g.float("ch09_ctrl_enc_orig") > 0
    # en un decodificador la atención de «it» no puede depender de lo que viene después
    assert g.float("ch09_ctrl_gen_corr") == pytest.approx(1.0, abs=1e-6)
    for key in ("ch09_ctrl_enc_flip", "ch09_ctrl_gen_flip_adj", "ch09_ctrl_enc_flip_es",
                "ch09_ctrl_gen_flip_es"):
        assert g[key] >= 0


def test_rollout(g):
    assert g.float("ch09_rollout_diff") < 1e-6
    for key in ("ch09_raw_special", "ch09_roll_special", "ch09_raw_diag", "ch09_roll_diag"):
        assert 0.0 <= g.float(key) <= 1.0, key


def test_exercise_solved_and_fast(g):
    assert g["ch09_ex_ok"] == "sí"
    assert g.float("ch09_seconds") < 120


def test_page_has_viewers_figures_and_citations():
    page = html(PAGE)
    assert page.count('class="labcode-plotly"') == 2
    assert page.count('role="group"') >= 2 and "aria-label=" in page
    assert "_static/plotly.min.js" in page
    assert "cdn.plot.ly" not in page
    for fig in ("fig-ch09-cabeza-anterior", "fig-ch09-rejilla", "fig-ch09-stats-enc",
                "fig-ch09-stats-gen", "fig-ch09-entropia", "fig-ch09-it-control",
                "fig-ch09-rollout"):
        assert f'id="{fig}"' in page, fig
    for key in ("Jain", "Wiegreffe", "Abnar", "Clark"):
        assert key in page, key
    assert "Traceback" not in page
