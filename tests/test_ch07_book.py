"""Salidas del capítulo 7 (ajuste fino de BERT) en el libro construido.

No reejecutan el capítulo: leen los valores publicados con ``glue``.
"""

from __future__ import annotations

import math

import pytest
from bookutil import execution_seconds, glued, outputs_text

pytestmark = pytest.mark.book

PAGE = "book/07_fine_tuning_bert"


@pytest.fixture(scope="module")
def g():
    return glued(PAGE)


def test_run_description_is_glued(g):
    assert g["ch07_profile"] in ("quick", "full")
    assert g["ch07_device"] in ("cpu", "cuda", "mps")
    assert g["ch07_model"]
    assert g.int("ch07_n_train") > 0
    assert g.int("ch07_n_eval") == 872  # validación completa de SST-2


def test_accuracy_before_is_chance_and_after_is_high(g):
    before = g.float("ch07_acc_before")
    after = g.float("ch07_acc")
    assert 30.0 <= before <= 70.0  # cabeza aleatoria: cerca del azar
    assert after >= 80.0 and after > before + 20
    assert 0.0 < g.float("ch07_f1") <= 1.0


def test_checks_in_chapter(g):
    assert g.float("ch07_head_err") < 1e-5  # cabeza a mano == modelo
    assert g.float("ch07_load_err") < 1e-5  # guardar y cargar no cambia nada
    # Una época en lotes de 16 (los grupos por longitud son múltiplos de 16 salvo el último).
    n_train = int(g["ch07_n_train"].replace(" ", ""))
    assert g.int("ch07_steps") == math.ceil(n_train / 16)
    # El entrenamiento es una parte de la ejecución del capítulo.
    assert 0 < g.float("ch07_train_s") < execution_seconds(PAGE)


def test_exercise_solved(g):
    from labcode.book.exercises import EXERCISE_11_4

    text = outputs_text(PAGE)
    assert "✅ Ejercicio 11.4 resuelto" in text
    assert "✅ Métricas a mano resuelto" in text
    assert "todavía no hay respuesta" in text
    acc = g.float("ch07_ej_acc")
    assert acc >= 100 * EXERCISE_11_4["min_accuracy"]  # el bucle de la solución aprende
    assert g.float("ch07_ej_s") < 240  # el ejercicio cabe en un par de minutos de CPU
