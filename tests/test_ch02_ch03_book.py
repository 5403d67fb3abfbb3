"""Comprobaciones de los capítulos 2 (autoatención) y 3 (multi-cabeza) ya construidos.

No se vuelven a ejecutar los capítulos: se leen los valores publicados con ``glue``
y las salidas guardadas en la caché de ejecución (ver ``tests/bookutil.py``).
"""

from __future__ import annotations

import pytest
from bookutil import glued, html, outputs_text

pytestmark = pytest.mark.book

CH02 = "book/02_self_attention"
CH03 = "book/03_multi_head"


def test_ch02_step_by_step_equals_labcode():
    g = glued(CH02)
    assert g["ch02_err_paso_a_paso_val"] < 1e-12
    assert g.float("ch02_err_paso_a_paso") < 1e-12


def test_ch02_scaling_experiment():
    g = glued(CH02)
    d_k = g["ch02_dk_ref"]
    # var(q·k) ≈ d_k, saturación sin escala, gradiente mayor con escala
    assert abs(g.float("ch02_var_512") - d_k) / d_k < 0.1
    assert g.float("ch02_max_sin_512") > 0.9 > 0.5 > g.float("ch02_max_con_512")
    assert g.float("ch02_jac_con_512") > 3 * g.float("ch02_jac_sin_512")


def test_ch02_masks_block_exactly():
    g = glued(CH02)
    assert g["ch02_dif_relleno"] == 0.0
    assert g["ch02_dif_pasado"] == 0.0
    assert g.float("ch02_dif_ultima") > 0


def test_ch02_minilm_numbers_are_consistent():
    g = glued(CH02)
    assert g["ch02_minilm_total"] == g["ch02_minilm_capas"] * g["ch02_minilm_cabezas"] == 72
    assert 0 <= g["ch02_en_n_cat"] <= g["ch02_minilm_total"]
    assert 0 <= g["ch02_top_aciertos_nuevas"] <= g["ch02_n_frases_nuevas"]
    assert g["ch02_mejor_aciertos"] <= g["ch02_n_frases"]
    assert 0.0 <= g.float("ch02_p_azar") <= 1.0


def test_ch02_exercise_solution_prints_success():
    text = outputs_text(CH02)
    assert "todavía no hay respuesta" in text  # la celda del lector no falla
    assert "✅ Ejercicio 11.1 resuelto" in text


def test_ch03_step_by_step_and_torch_agree():
    g = glued(CH03)
    assert g["ch03_err_paso_a_paso_val"] < 1e-12
    assert g["ch03_err_bucle_val"] < 1e-12
    assert g["ch03_err_torch_val"] < 1e-10
    assert g["ch03_n_comparaciones"] >= 10


def test_ch03_mask_pitfall_and_costs():
    g = glued(CH03)
    assert g["ch03_filas_nan"] > 0  # PyTorch con la máscara sin invertir da NaN
    assert g["ch03_params"].replace(" ", "") == str(4 * g["ch03_d_coste"] ** 2)


def test_ch03_exercise_solution_prints_success():
    text = outputs_text(CH03)
    assert "todavía no está implementada" in text
    assert "✅ Ejercicio 11.3 resuelto" in text


@pytest.mark.parametrize("page", [CH02, CH03])
def test_chapters_render_without_error_outputs(page):
    page_html = html(page)
    assert "Traceback" not in page_html
    assert "Objetivos de aprendizaje" in page_html and "Resumen" in page_html
