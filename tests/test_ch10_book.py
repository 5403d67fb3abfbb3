"""Comprobaciones del capítulo 10 (Transformers frente a RNN) sobre el libro ya construido."""

from __future__ import annotations

import pytest
from bookutil import glued, outputs_text

pytestmark = pytest.mark.book

PAGE = "book/10_transformers_vs_rnn"


@pytest.fixture(scope="module")
def g():
    return glued(PAGE)


def test_parameter_counts_matched(g):
    a, b = g.float("ch10_time_params_lstm"), g.float("ch10_time_params_tr")
    assert abs(a - b) <= 0.10 * b
    assert g.float("ch10_time_params_diff") < 10
    a, b = g["ch10_task_params_lstm"], g["ch10_task_params_tr"]
    assert abs(a - b) <= 0.10 * b


def test_timings_positive_and_consistent(g):
    assert g.float("ch10_timing_s") > 0
    assert g.float("ch10_ratio_nmax") > 0 and g.float("ch10_ratio_nmin") > 0
    assert g["ch10_nmax"] > g["ch10_nmin"]
    cross = g["ch10_crossover"]
    assert cross == "ninguno único" or g["ch10_nmin"] <= g.float("ch10_crossover") <= g["ch10_nmax"]
    verdict = g["ch10_verdict"]
    assert "LSTM" in verdict or "Transformer" in verdict


def test_accuracies_in_range(g):
    for key in ("ch10_acc_lstm_dmax", "ch10_acc_tr_dmax"):
        assert 0.0 <= g.float(key) <= 1.0
    assert g.float("ch10_chance") == pytest.approx(1 / 8, abs=1e-3)
    assert g.float("ch10_train_s") > 0
    assert "LSTM" in g["ch10_summary_lstm"] and "Transformer" in g["ch10_summary_tr"]


def test_label_check_and_exercise_solution():
    text = outputs_text(PAGE)
    assert "cambiar la clave cambia la etiqueta: True" in text
    assert "cambiar los distractores cambia la etiqueta: False" in text
    assert "✅ Práctica del capítulo 10 resuelto" in text
    assert "todavía no hay respuesta" in text
