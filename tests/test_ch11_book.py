"""Salidas del capítulo 11 (Vision Transformers) en el libro construido.

No reejecutan el capítulo: leen los valores publicados con ``glue``.
"""

from __future__ import annotations

import pytest
from bookutil import glued, outputs_text

pytestmark = pytest.mark.book

PAGE = "book/11_vision_transformers"


@pytest.fixture(scope="module")
def g():
    return glued(PAGE)


def test_patch_embedding_conv_equals_linear(g):
    assert g.float("ch11_patch_diff") < 1e-5
    assert g.float("ch11_vit_diff") < 1e-5
    assert g.int("ch11_patch_params") == 2 * 2 * 1 * 64 + 64


def test_shapes_and_data(g):
    assert g.int("ch11_num_patches") == 16
    assert g.int("ch11_seq_len") == 17
    assert g.int("ch11_n_total") == 1797
    assert g.int("ch11_n_train") + g.int("ch11_n_test") == 1797


def test_accuracies_in_range_and_consistent(g):
    for name in ("vit", "cnn", "mlp"):
        frac = g.float(f"ch11_{name}_acc_frac")
        assert 0.0 <= frac <= 1.0
        assert abs(g.float(f"ch11_{name}_acc") - 100 * frac) < 0.051
        assert g.float(f"ch11_{name}_seconds") >= 0
    # todos aprenden muy por encima del azar (10 %)
    assert g.float("ch11_vit_acc_frac") > 0.8
    assert g.float("ch11_cnn_acc_frac") > 0.8
    assert g["ch11_best"] in ("ViT", "CNN pequeña", "MLP")


def test_parameter_counts_glued(g):
    vit = g.int("ch11_vit_params")
    cnn = g.int("ch11_cnn_params")
    assert vit > cnn > 0


def test_position_similarity_in_range(g):
    for name in ("ch11_sim_near", "ch11_sim_far"):
        assert -1.0 <= g.float(name) <= 1.0


def test_exercise_solution_succeeds():
    text = outputs_text(PAGE)
    assert "Ejercicio 11 (parches de ViT-B/16) resuelto" in text
    assert "todavía no hay respuesta" in text
