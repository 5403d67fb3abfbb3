"""Salidas del capítulo 6 (BERT frente a GPT) en el libro construido.

No reejecutan el capítulo: leen los valores publicados con ``glue``.
"""

from __future__ import annotations

import pytest
from bookutil import glued, outputs_text

pytestmark = pytest.mark.book

PAGE = "book/06_bert_vs_gpt"


@pytest.fixture(scope="module")
def g():
    return glued(PAGE)


def test_same_blocks_difference_is_tiny(g):
    assert g.float("ch06_block_diff") < 1e-5
    assert g.float("ch06_block_nomask_diff") > 1e-2  # sin máscara causal no es GPT


def test_gpt2_small_logits_match_hf(g):
    assert g.float("ch06_logits_diff") < 1e-4
    assert g["ch06_gpt2_params"] == "124 439 808"
    assert g.float("ch06_kv_step_diff") < 1e-4


def test_generation_equal_with_and_without_cache_and_hf(g):
    assert g["ch06_gen_equal"] == "sí"
    assert g["ch06_gen_n"] > 0


def test_generation_speed_figures_present(g):
    for name in ("ch06_tps_cache", "ch06_tps_nocache", "ch06_tps_hf"):
        assert g.float(name) > 0
    assert g.float("ch06_speedup_cache") > 1.0  # la caché acelera


def test_minilm_hidden_states_match_hf(g):
    assert g.float("ch06_bert_diff") < 1e-4
    assert 20 < g.float("ch06_bert_params") < 25  # 22.7 M


def test_token_counts(g):
    # «El gato bebió la leche porque estaba hambriento» / «The cat drank ...»
    assert g["ch06_tok_en_gpt2"] == 9
    assert g["ch06_tok_es_gpt2"] > g["ch06_tok_en_gpt2"]
    assert g["ch06_tok_es_wp"] > g["ch06_tok_en_wp"]
    assert g.float("ch06_tok_ratio_gpt2") > 1.2
    assert g.float("ch06_tok_ratio_wp") > 1.0


def test_mini_gpt_trained(g):
    # los datos se descargan solos: el libro publicado siempre entrena el mini-GPT
    assert g.float("ch06_q_val_loss") < g.float("ch06_q_loss0") - 1.5
    assert g.float("ch06_q_val_loss") < 2.5
    assert g["ch06_q_vocab"] == 92
    assert g.int("ch06_q_steps") > 0


def test_exercise_solution_passes():
    text = outputs_text(PAGE)
    assert "Práctica del capítulo 6: todavía no hay respuesta" in text
    assert "Práctica del capítulo 6 resuelto" in text
