"""Comprobaciones del apéndice «Rendimiento» sobre el libro ya construido: las
mediciones se hicieron en esta construcción, las salidas comparadas coinciden y
cada cifra de la prosa está publicada con glue."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bookutil import ROOT, glued, notebook_files

pytestmark = pytest.mark.book

PAGE = "book/rendimiento"


@pytest.fixture(scope="module")
def g():
    return glued(PAGE)


def test_machine_and_versions_are_stated(g):
    import numpy
    import torch

    assert f"NumPy {numpy.__version__}" in g["ap_versions"]
    assert f"PyTorch {torch.__version__}" in g["ap_versions"]
    assert g.int("ap_cpus") >= 1 and g.int("ap_threads") >= 1
    assert g["ap_profile"] in ("quick", "full")


def test_numpy_and_torch_attention_agree(g):
    assert g.float("ap_np_diff") < 1e-4
    assert g.float("ap_np_ratio_max") > 0
    assert g["ap_np_cfg"].startswith("lote de ")


def test_mha_ratio_and_target_verdict_are_consistent(g):
    ratios = [g.float("ap_mha_inference_ratio"), g.float("ap_mha_training_ratio")]
    assert all(r > 0 for r in ratios)
    assert g.float("ap_mha_diff") < 1e-4
    # El veredicto se deriva de las razones sin redondear; con dos decimales sólo
    # puede discrepar justo en el umbral.
    if max(ratios) < 1.19:
        assert g["ap_mha_target"] == "sí"
    elif max(ratios) > 1.21:
        assert g["ap_mha_target"] == "no"


def test_generation_figures_are_consistent(g):
    cache, no_cache, hf = (g.float(f"ap_gen_{k}") for k in ("labcode_cache",
                                                              "labcode_no_cache", "hf"))
    assert min(cache, no_cache, hf) > 0
    assert g.float("ap_gen_speedup") == pytest.approx(cache / no_cache, rel=0.05)
    assert g["ap_gen_target"] == ("sí" if cache >= hf else "no") or abs(cache - hf) < 0.2
    assert g.int("ap_gen_params") == 124  # GPT-2 small


def test_finetuning_figures_come_from_chapter_7_of_this_build(g):
    ch7 = glued("book/07_fine_tuning_bert")
    assert g["ap_ft_acc"] == ch7["ch07_acc"]
    assert g["ap_ft_train_s"] == ch7["ch07_train_s"]
    assert g.int("ap_ft_n_eval") == int(ch7["ch07_n_eval"])
    assert g["ap_ft_target"] in ("sí", "no")


def test_build_times_cover_every_executed_page(g):
    executed = {Path(p).name for p in notebook_files()} - {"rendimiento"}
    assert g.int("ap_build_pages") >= len(executed)
    assert g.float("ap_build_total") > 0
    assert g["ap_build_slowest"] in executed


def test_gpu_results_file_is_shown_as_measured(g):
    data = json.loads((ROOT / "benchmarks" / "results" / "h100.json").read_text())
    assert g["ap_gpu_name"] == data["machine"]["gpu"]
    assert g["ap_gpu_date"] == data["date"]
    b1 = data["generation_b1"]["results"]
    assert g.float("ap_gpu_b1_cache") == pytest.approx(b1["labcode_cache"]["tokens_per_s"], abs=1)


def test_every_chapter_recorded_its_peak_memory_and_fits_in_binder(g):
    """Cada capítulo anotó su pico de memoria (RSS), ninguno pasa de los 2 GB de Binder
    (issue 10) y el apéndice lo dice con las cifras de esta construcción."""
    from bookutil import BUILD

    from labcode.book import bench

    peaks = bench.book_peak_memory(BUILD)
    executed = {Path(p).name for p in notebook_files()}
    missing = sorted(executed - set(peaks))
    assert not missing, f"capítulos sin pico de memoria anotado: {missing}"
    # Un núcleo con PyTorch importado ocupa siempre más de 100 MB: un valor menor
    # sería una medida rota (p. ej. en KiB en vez de bytes).
    assert min(peaks.values()) > 100 * 10**6, peaks
    over = {p: b for p, b in peaks.items() if b > bench.BINDER_MEMORY_LIMIT_BYTES}
    assert not over, f"capítulos que no caben en los 2 GB de Binder (bytes): {over}"
    others = {p: b for p, b in peaks.items() if p != "rendimiento"}
    worst = max(others, key=others.get)
    sentence = g["ap_mem_sentence"]
    assert sentence.startswith(f"El capítulo que más memoria usó es {worst}, con")
    assert "todos quedan por debajo" in sentence


def test_build_sentence_says_how_the_chapters_were_executed(g):
    """La frase sobre la ejecución en paralelo sale de ``execution.json`` de esta
    construcción (``tools/execute_book.py``) y el apéndice corrió con todos los núcleos."""
    from bookutil import BUILD

    path = BUILD / "execution.json"
    execution = json.loads(path.read_text()) if path.is_file() else {"jobs": 1}
    sentence = g["ap_build_exec_sentence"]
    if execution["jobs"] > 1:
        assert sentence.startswith(f"En esta construcción se ejecutaron {execution['jobs']} "
                                   f"capítulos a la vez, con {execution['threads']} hilo(s)")
        assert g.int("ap_threads") == g.int("ap_cpus")
    else:
        assert "uno detrás de otro" in sentence
