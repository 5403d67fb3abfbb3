"""Comprobaciones del capítulo 5 (arquitectura) sobre el libro ya construido."""

from __future__ import annotations

import pytest
from bookutil import glued, outputs_text

pytestmark = pytest.mark.book

PAGE = "book/05_arquitectura"


@pytest.fixture(scope="module")
def g():
    return glued(PAGE)


def test_encoder_block_equals_torch_layer(g):
    assert g["ch05_torch_diff_val"] < 1e-5
    assert g.float("ch05_torch_diff_preln") < 1e-5


def test_step_by_step_checks_are_tiny(g):
    for key in ("ch05_sdpa_err", "ch05_numpy_err", "ch05_ln_err", "ch05_pad_invariance",
                "ch05_mask_pad_diff", "ch05_mask_fut_diff"):  # fmt: skip
        assert g.float(key) < 1e-4, key


def test_accuracy_glued_and_high(g):
    acc = g["ch05_accuracy_val"]
    assert 0.0 <= acc <= 1.0
    assert acc >= 0.97, f"coincidencia exacta demasiado baja: {acc}"
    assert g["ch05_n_test_pairs"] >= 1000
    assert g["ch05_n_errors"] == round((1 - acc) * g["ch05_n_test_pairs"])
    assert g.float("ch05_accuracy") == pytest.approx(100 * acc, abs=0.05)


def test_training_time_and_parameters_glued(g):
    assert 0 < g["ch05_train_seconds_val"] < 600
    assert g["ch05_total_params_val"] > 10_000
    assert g["ch05_n_test_dates"] > 0 and g["ch05_n_train_dates"] > g["ch05_n_test_dates"]


def test_exercise_solution_passes():
    text = outputs_text(PAGE)
    assert "todavía no hay respuesta" in text
    assert "✅ Práctica del capítulo 5: correcto" in text
