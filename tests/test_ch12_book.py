"""Comprobaciones del capítulo 12 (aplicaciones y limitaciones) sobre el libro construido."""

from __future__ import annotations

import pytest
from bookutil import glued, html, outputs_text

pytestmark = pytest.mark.book

PAGE = "book/12_aplicaciones"


@pytest.fixture(scope="module")
def g():
    return glued(PAGE)


def test_accuracies_are_counts_over_the_subset_and_agree(g):
    n = g["ch12_n_sub"]
    assert n == 200
    keys = [k for k in g if k.startswith(("ch12_acc_k", "ch12_cal_k"))]
    assert len(keys) == 10, keys
    for key in keys:
        # aciertos / 200 frases, con un decimal: múltiplos exactos de 0,5 puntos
        hits = g.float(key) * n / 100
        assert abs(hits - round(hits)) < 1e-6 and 0 <= round(hits) <= n, (key, g[key])
    short = {"0 ejemplos": "k0", "0 ejemplos, ' bad'/' good'": "k0_goodbad",
             "4 ejemplos (último −)": "k4_neg", "8 ejemplos (último +)": "k8_pos",
             "8 ejemplos (último −)": "k8_neg"}
    best = g["ch12_best_prompt"]
    assert best in short and best in outputs_text(PAGE)
    cal = {name: g.float(f"ch12_cal_{key}") for name, key in short.items()}
    assert g.float("ch12_best_prompt_acc") == max(cal.values()) == cal[best]
    gap = abs(g.float("ch12_acc_k8_pos") - g.float("ch12_acc_k8_neg"))
    assert g.float("ch12_order_gap") == pytest.approx(gap, abs=0.051)
    # el clasificador ajustado supera claramente al azar
    assert g.float("ch12_acc_ft") > 70 and g.float("ch12_acc_ft_872") > 70
    assert g["ch12_ft_source"] in ("capítulo 7", "ajustado aquí (2000 frases)")
    assert "configuraciones" in g["ch12_fewshot_verdict"] or "configuración" in g[
        "ch12_fewshot_verdict"
    ]


def test_prompt_cache_and_exactness(g):
    assert g.float("ch12_cache_err") < 1e-3
    assert g.float("ch12_exact_err") < 1e-10
    assert g.float("ch12_err_wfull") < 1e-10


def test_quadratic_cost_measured(g):
    assert 1.5 <= g.float("ch12_np_slope_t") <= 3.0
    assert 1.9 <= g.float("ch12_np_slope_m") <= 2.1
    assert 1.0 <= g.float("ch12_np_mem_ratio") <= 4.0
    assert g.float("ch12_slope_full") > g.float("ch12_slope_win")
    assert g.float("ch12_slope_full") > g.float("ch12_slope_lin")


def test_crossovers_glued(g):
    for key in ("ch12_cross_t_win", "ch12_cross_m_win", "ch12_cross_t_lin", "ch12_cross_m_lin"):
        text = str(g[key])
        assert text == "ninguno" or 128 <= g.float(key) <= 4096, (key, text)
    for key in ("ch12_verdict_win", "ch12_verdict_lin"):
        assert "más rápida" in g[key] and "memoria" in g[key]
    assert g.float("ch12_speedup_win") > 1 and g.float("ch12_speedup_lin") > 1
    assert g.float("ch12_mem_win_max") < g.float("ch12_mem_full_max")


def test_approximation_errors(g):
    for corto in ("first", "last", "rand"):
        w16, w64 = g.float(f"ch12_err_w16_{corto}"), g.float(f"ch12_err_w64_{corto}")
        assert 0 <= w64 <= w16  # más ventana, menos error
        assert g.float(f"ch12_err_lin_{corto}") > 1  # la lineal no es la softmax


def test_scaling_numbers(g):
    assert g.float("ch12_c_chinchilla") == pytest.approx(5.88e23)
    assert g.float("ch12_c_gpt3") == pytest.approx(3.15e23)
    assert g.float("ch12_l_chinchilla") == pytest.approx(1.937, abs=1e-3)
    assert g.float("ch12_l_chinchilla") < g.float("ch12_l_gopher")
    assert g["ch12_rule_n"] == "70 G" and g["ch12_rule_d"] == "1.4 T"
    assert g.float("ch12_opt_a") == pytest.approx(0.45, abs=0.01)


def test_figures_have_alt_text():
    page = html(PAGE)
    for name in ("prompting", "cuadratico", "eficiente", "error", "kaplan", "chinchilla"):
        assert f'id="fig-ch12-{name}"' in page
    assert page.count('alt="') >= 6
