"""Comprobaciones de los capítulos 1 (motivación) y 4 (codificación posicional) ya construidos.

Leen los valores publicados con ``glue`` y la salida de las celdas (sin volver a
ejecutar los capítulos).
"""

from __future__ import annotations

import re

import pytest
from bookutil import glued, html, outputs_text

pytestmark = pytest.mark.book

CH01 = "book/01_motivacion"
CH04 = "book/04_positional"


# ---------------------------------------------------------------------------
# Capítulo 1
# ---------------------------------------------------------------------------


def test_ch01_manual_rnn_matches_library():
    assert glued(CH01).float("ch01_rnn_manual_err") < 1e-6


def test_ch01_timings_are_reported_consistently():
    g = glued(CH01)
    assert g["ch01_nmin"] < g["ch01_nmax"]
    assert g.float("ch01_ratio_nmin") > 0 and g.float("ch01_ratio_nmax") > 0
    assert g.float("ch01_lstm_step_us") > 0
    # La conclusión se genera a partir de las medidas: el último tramo (n mayores) debe
    # coincidir con el cociente medido en la n mayor.
    ultimo = g["ch01_conclusion"].split(";")[-1]
    assert f"a {g['ch01_nmax']}," in ultimo or f"n = {g['ch01_nmax']}," in ultimo
    r = g.float("ch01_ratio_nmax")
    if r > 1.2:
        assert "la LSTM fue más rápida" in ultimo
    elif r < 0.8:
        assert "la atención fue más rápida" in ultimo
    # La atención crece más deprisa con n que la LSTM.
    assert g.float("ch01_ratio_nmax") > g.float("ch01_ratio_nmin")
    assert 0.5 < g.float("ch01_slope_lstm") < 2.5
    assert 1.0 < g.float("ch01_slope_att") < 2.8


def test_ch01_timing_table_printed_for_every_length():
    text = outputs_text(CH01)
    for n in (16, 128, 2048):
        assert re.search(rf"^\s+{n}\s+\d", text, flags=re.M), f"falta la fila n = {n}"


def test_ch01_gradients_vanish_for_recurrent_nets_not_for_attention():
    g = glued(CH01)
    assert g.float("ch01_factor_rnn") < 0.8
    assert g.float("ch01_factor_lstm") < 0.9
    assert g.float("ch01_factor_rnn") < g.float("ch01_factor_lstm") < g.float("ch01_factor_lstm3")
    assert g.float("ch01_rnn_far") < 1e-10
    assert g.float("ch01_lstm_far") < 1e-6
    assert 0.9 < g.float("ch01_att_decay") < 1.1
    assert g.float("ch01_att_spread") < 10
    assert g.float("ch01_rho") < 1


def test_ch01_has_both_figures_and_the_hidden_answer():
    page = html(CH01)
    assert "fig-ch01-tiempos" in page and "fig-ch01-gradientes" in page
    assert "Para pensar" in page and "dropdown" in page


# ---------------------------------------------------------------------------
# Capítulo 4
# ---------------------------------------------------------------------------


def test_ch04_permutation_equivariance_and_its_breaking():
    g = glued(CH04)
    assert g.float("ch04_err_palabras") < 1e-10
    assert g.float("ch04_err_equiv") < 1e-10
    assert g.float("ch04_err_pesos") < 1e-10
    assert g.float("ch04_err_pe") > 1e-2


def test_ch04_table_and_properties():
    g = glued(CH04)
    assert g.float("ch04_err_fila") < 1e-12
    assert g.float("ch04_err_shift") < 1e-10
    assert g.float("ch04_err_orto") < 1e-10
    assert g.float("ch04_dispersion") < 1e-10
    assert g.float("ch04_err_teoria") < 1e-10
    assert g.float("ch04_norma") == pytest.approx((64 / 2) ** 0.5, abs=1e-3)
    assert g.float("ch04_onda_min") == pytest.approx(6.28, abs=0.01)


def test_ch04_learned_and_torch_modules():
    g = glued(CH04)
    assert g["ch04_learned_params"] == 16 * 8
    assert g["ch04_learned_rows"] == 10
    assert g.float("ch04_err_torch") < 1e-6
    assert g.float("ch04_r2_sin") > 0.9999
    assert 0.2 < g.float("ch04_r2_minilm") < 1.0
    text = outputs_text(CH04)
    assert "ValueError: la secuencia tiene 20 posiciones" in text


def test_ch04_exercise_placeholder_and_solution():
    text = outputs_text(CH04)
    assert "❌ Ejercicio 11.2: todavía no hay respuesta" in text
    assert "✅ Ejercicio 11.2: correcto" in text
    page = html(CH04)
    for fig in ("fig-ch04-tabla", "fig-ch04-producto", "fig-ch04-gram", "fig-ch04-ejercicio"):
        assert fig in page
