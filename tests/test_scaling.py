"""Pruebas de labcode.analysis.scaling: leyes de Kaplan y Chinchilla frente a cuentas a mano."""

from __future__ import annotations

import numpy as np
import pytest

from labcode.analysis import scaling


def test_published_constants():
    k = scaling.KAPLAN
    assert (k.alpha_n, k.n_c, k.alpha_d, k.d_c, k.alpha_c, k.c_c) == (
        0.076, 8.8e13, 0.095, 5.4e13, 0.050, 3.1e8
    )
    c = scaling.CHINCHILLA
    assert (c.e, c.a, c.b, c.alpha, c.beta) == (1.69, 406.4, 410.7, 0.34, 0.28)
    assert scaling.FLOPS_PER_PF_DAY == pytest.approx(8.64e19)


def test_kaplan_laws_by_hand():
    assert scaling.kaplan_loss_params(1e9) == pytest.approx((8.8e13 / 1e9) ** 0.076)
    assert scaling.kaplan_loss_data(1e10) == pytest.approx((5.4e13 / 1e10) ** 0.095)
    assert scaling.kaplan_loss_compute(1.0) == pytest.approx((3.1e8) ** 0.05)
    # en N = N_c la pérdida vale 1 y la pendiente log-log es -alpha
    assert scaling.kaplan_loss_params(8.8e13) == pytest.approx(1.0)
    n = np.logspace(6, 11, 5)
    assert scaling.log_log_slope(n, scaling.kaplan_loss_params(n)) == pytest.approx(-0.076)
    assert isinstance(scaling.kaplan_loss_params(1e9), float)
    assert scaling.kaplan_loss_params(n).shape == (5,)


def test_chinchilla_loss_by_hand():
    n, d = 70e9, 1.4e12
    expected = 1.69 + 406.4 / n**0.34 + 410.7 / d**0.28
    assert scaling.chinchilla_loss(n, d) == pytest.approx(expected)
    assert scaling.chinchilla_loss(n, d) == pytest.approx(1.9366, abs=1e-3)
    # Chinchilla por debajo de Gopher (mismo cómputo) y la pérdida nunca baja de E
    assert scaling.chinchilla_loss(70e9, 1.4e12) < scaling.chinchilla_loss(280e9, 300e9)
    assert scaling.chinchilla_loss(1e15, 1e18) > 1.69
    out = scaling.chinchilla_loss(np.array([1e9, 1e10]), 1e11)
    assert out.shape == (2,) and out[0] > out[1]


def test_training_flops():
    assert scaling.training_flops(70e9, 1.4e12) == pytest.approx(5.88e23)
    assert scaling.training_flops(175e9, 300e9) == pytest.approx(3.15e23)


@pytest.mark.parametrize("c", [1e19, 5.88e23, 1e26])
def test_compute_optimal_is_the_isoflop_minimum(c):
    opt = scaling.compute_optimal(c)
    assert 6 * opt["n"] * opt["d"] == pytest.approx(c)
    assert opt["tokens_per_param"] == pytest.approx(opt["d"] / opt["n"])
    assert opt["a"] == pytest.approx(0.28 / 0.62) and opt["b"] == pytest.approx(0.34 / 0.62)
    # mínimo numérico sobre la curva isoFLOP
    n = np.logspace(np.log10(opt["n"]) - 1, np.log10(opt["n"]) + 1, 4001)
    loss = scaling.chinchilla_loss(n, c / (6 * n))
    assert n[np.argmin(loss)] == pytest.approx(opt["n"], rel=2e-3)
    assert opt["loss"] == pytest.approx(loss.min(), abs=1e-9)


def test_compute_optimal_closed_form_by_hand():
    c = 1e21
    g = (0.34 * 406.4 / (0.28 * 410.7)) ** (1 / 0.62)
    opt = scaling.compute_optimal(c)
    assert opt["n"] == pytest.approx(g * (c / 6) ** (0.28 / 0.62))
    assert opt["d"] == pytest.approx((c / 6) ** (0.34 / 0.62) / g)


def test_twenty_tokens_rule():
    r = scaling.twenty_tokens_rule(5.88e23)
    assert r["n"] == pytest.approx(70e9) and r["d"] == pytest.approx(1.4e12)
    r2 = scaling.twenty_tokens_rule(6e20, tokens_per_param=10)
    assert r2["d"] == pytest.approx(10 * r2["n"]) and 6 * r2["n"] * r2["d"] == pytest.approx(6e20)
    arr = scaling.twenty_tokens_rule(np.array([1e20, 1e22]))
    assert arr["n"].shape == (2,)


def test_kaplan_optimal_params_slope():
    c = np.logspace(20, 25, 6)
    n = scaling.kaplan_optimal_params(c)
    assert scaling.log_log_slope(c, n) == pytest.approx(0.73)
    assert scaling.kaplan_optimal_params(5.76e23) == pytest.approx(
        scaling.twenty_tokens_rule(5.76e23)["n"]
    )


def test_format_si():
    assert scaling.format_si(7e10) == "70 G"
    assert scaling.format_si(1.4e12) == "1.4 T"
    assert scaling.format_si(135e6, "P") == "135 MP"
    assert scaling.format_si(12) == "12"


def test_bad_inputs():
    with pytest.raises(ValueError, match="> 0"):
        scaling.kaplan_loss_params(0)
    with pytest.raises(ValueError, match="> 0"):
        scaling.chinchilla_loss(-1, 1e9)
    with pytest.raises(ValueError, match="> 0"):
        scaling.compute_optimal(float("nan"))
    with pytest.raises(TypeError, match="numérico"):
        scaling.training_flops("mucho", 1e9)
    with pytest.raises(TypeError, match="booleano"):
        scaling.kaplan_loss_data(True)
    with pytest.raises(ValueError, match="misma longitud"):
        scaling.log_log_slope([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="> 0"):
        scaling.twenty_tokens_rule(1e20, tokens_per_param=0)
