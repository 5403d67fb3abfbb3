"""Pruebas de labcode.utils.timing, el único cronómetro de labcode: mide lo que tarda
una función de verdad, alterna las funciones y rechaza con un mensaje claro lo que
no puede medir."""

from __future__ import annotations

import time

import pytest
import torch

from labcode.utils.errors import LabcodeError
from labcode.utils.timing import Timing, time_autorange, time_call, time_interleaved


def _sleep(seconds: float):
    return lambda: time.sleep(seconds)


def test_time_call_measures_a_20_ms_sleep():
    t = time_call(_sleep(0.02), repeats=3, warmup=0)
    assert len(t.times_s) == 3
    assert 0.015 <= t.median_s <= 0.06
    assert t.min_s <= t.median_s


def test_time_interleaved_alternates_the_functions_and_keeps_them_apart():
    order = []

    def make(name, seconds):
        def fn():
            order.append(name)
            time.sleep(seconds)
        return fn

    res = time_interleaved({"fast": make("fast", 0.0), "slow": make("slow", 0.02)},
                           repeats=3, warmup=1)
    # Calentamiento (uno de cada) y después A, B, A, B, A, B: una llamada por repetición.
    assert order == ["fast", "slow"] + ["fast", "slow"] * 3
    assert set(res) == {"fast", "slow"}
    assert res["fast"].median_s < 0.01 <= 0.015 <= res["slow"].median_s <= 0.06


def test_timing_median_and_minimum():
    t = Timing((0.3, 0.1, 0.2, 0.4))
    assert t.median_s == pytest.approx(0.25)
    assert t.min_s == pytest.approx(0.1)


def test_time_autorange_gives_the_time_of_one_call():
    t = time_autorange(_sleep(0.01), min_run_time=0.05, num_threads=1)
    assert 0.008 <= t.median_s <= 0.04


def test_num_threads_is_applied_during_the_measure_and_restored():
    before = torch.get_num_threads()
    seen = []
    time_call(lambda: seen.append(torch.get_num_threads()), repeats=2, warmup=0, num_threads=1)
    assert seen == [1, 1]  # 2 repeticiones, una llamada cada una
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("kwargs, message", [
    ({"repeats": 0}, "repeats debe ser un entero positivo"),
    ({"repeats": 1.5}, "repeats debe ser un entero positivo"),
    ({"warmup": -1}, "warmup"),
    ({"num_threads": 0}, "num_threads debe ser un entero positivo"),
])
def test_bad_counts_are_clear_errors_in_spanish(kwargs, message):
    with pytest.raises(LabcodeError, match=message):
        time_interleaved({"a": lambda: None}, **kwargs)


def test_nothing_to_measure_is_a_clear_error():
    with pytest.raises(LabcodeError, match="se esperaba un dict no vacío"):
        time_interleaved({})
    with pytest.raises(LabcodeError, match="se esperaba una función sin argumentos"):
        time_interleaved({"a": 3})
    with pytest.raises(LabcodeError, match="min_run_time"):
        time_autorange(lambda: None, min_run_time=0)
