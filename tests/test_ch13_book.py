"""Comprobaciones del capítulo 13 (inferencia eficiente) sobre el libro construido."""

from __future__ import annotations

import pytest
from bookutil import glued, html

pytestmark = pytest.mark.book

PAGE = "book/13_inferencia"


@pytest.fixture(scope="module")
def g():
    return glued(PAGE)


def test_roofline_numbers_consistent(g):
    bw, peak, ridge = g.float("ch13_bw_triad"), g.float("ch13_peak_gflops"), g.float("ch13_ridge")
    assert bw > 0.5 and peak > 1  # GB/s y GFLOP/s plausibles en cualquier CPU
    assert ridge == pytest.approx(peak / bw, rel=0.1)
    # fp32: dos FLOPs por peso de cuatro bytes
    assert 0.4 < g.float("ch13_gpt_intensity") < 0.7
    # GPT-2 small en float32: ~124 M parámetros * 4 bytes
    assert 480 <= g.float("ch13_gpt_mb") <= 520
    assert 240 <= g.float("ch13_gpt_mflop") <= 260
    # techo = ancho de banda / bytes por token
    assert g.float("ch13_gpt_ceiling") == pytest.approx(bw * 1e3 / g.float("ch13_gpt_mb"), rel=0.05)


def test_decode_ratio_and_target_branch(g):
    ratio = g.float("ch13_gen_ratio")
    tps, ceiling = g.float("ch13_gen_tps"), g.float("ch13_gen_ceiling")
    assert ratio == pytest.approx(100 * tps / ceiling, abs=1)
    assert g["ch13_gen_target"] == ("sí se cumple" if ratio >= 70 else "no se cumple")
    assert g.float("ch13_prefill_intensity") > 10 * g.float("ch13_gpt_intensity")


def test_batching_branches(g):
    for key in ("ch13_ridge_batch", "ch13_measured_bound"):
        text = g[key]
        assert text.startswith("a partir del lote ") or text.startswith("en ninguno"), text
    assert g.float("ch13_b32_speedup") > 0


def test_quantization_quality_and_bytes(g):
    rel = g.float("ch13_ppl_w8_rel")
    w8, fp32 = g.float("ch13_ppl_w8"), g.float("ch13_ppl_fp32")
    assert rel == pytest.approx(100 * (w8 / fp32 - 1), abs=0.1)
    assert abs(rel) < 10  # los pesos int8 apenas cambian la perplejidad
    assert g.float("ch13_ppl_dyn") > g.float("ch13_ppl_w8")
    assert g.float("ch13_mb_w8") < g.float("ch13_smol_mb") / 3
    assert g.float("ch13_argmax_w8") > 80
    assert g["ch13_int8_target"] in ("se cumple", "no se cumple")
    if g["ch13_int8_target"] == "se cumple":
        assert g.float("ch13_speedup_w8") >= 1.8 and abs(rel) <= 2


def test_speculative(g):
    assert g["ch13_sp_draft"] in ("primeras 4 capas", "primeras 12 capas", "primeras 20 capas",
                                  "int8 solo pesos", "int8 dinámica")
    assert 0 <= g.float("ch13_sp_trunc_acc_max") < 50
    assert 80 <= g.float("ch13_sp_w8_acc") <= 100
    assert 0 <= g.float("ch13_sp_best_acc") <= 100
    speedup = g.float("ch13_sp_best_speedup")
    assert g["ch13_sp_verdict"] == ("más rápida" if speedup > 1 else "más lenta")
    assert g["ch13_sp_target"] == ("se cumple" if speedup >= 1.5 else "no se cumple")


def test_static_cache_and_gpu(g):
    assert g["ch13_static_same"] == "los mismos"
    assert g.float("ch13_gpu_goal") == pytest.approx(5 * g.float("ch13_gpu_base"), rel=0.01)
    assert "no se ha medido" in g["ch13_gpu_result"] or "tokens/s" in g["ch13_gpu_result"]


def test_figures_have_alt_text():
    page = html(PAGE)
    for name in ("techo", "lotes"):
        assert f'id="fig-ch13-{name}"' in page
    assert page.count('alt="') >= 2
