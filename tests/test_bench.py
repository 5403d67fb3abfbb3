"""Pruebas de labcode.book.bench: las mediciones dan cifras coherentes (no se comprueba
la velocidad: eso es cosa de benchmarks/ y del apéndice), las salidas comparadas
coinciden y las entradas inválidas dan errores claros."""

from __future__ import annotations

import json

import pytest
import torch

from labcode.__main__ import main
from labcode.book import bench


def test_numpy_and_torch_multi_head_attention_agree():
    rep = bench.bench_mha_numpy(seq_lens=(8, 16), d_model=32, num_heads=4, batch_size=2,
                                repeats=1)
    assert [r["seq_len"] for r in rep["rows"]] == [8, 16]
    for r in rep["rows"]:
        assert r["max_abs_diff"] < 1e-5  # float64 frente a float32
        assert r["ratio"] == pytest.approx(r["numpy_ms"] / r["torch_ms"])
    assert rep["machine"]["numpy"] and rep["machine"]["torch"] == torch.__version__


def test_labcode_mha_matches_nn_multihead_attention_and_reports_ratios():
    rep = bench.bench_mha_torch(seq_len=8, d_model=32, num_heads=4, batch_size=2, repeats=1)
    assert rep["max_abs_diff"] < 1e-5
    assert set(rep["modes"]) == {"inference", "training"}
    worst = max(m["ratio"] for m in rep["modes"].values())
    assert rep["target_met"] == (worst <= bench.MHA_TARGET_RATIO)


def test_generation_paths_produce_the_same_tokens():
    rep = bench.bench_generation(n_layer=1, n_embd=32, n_head=2, vocab_size=64, n_positions=32,
                                 new_tokens=4, repeats=1, warmup=0, device="cpu")
    assert rep["same_tokens"] == {"no_cache_equals_cache": True, "hf_equals_cache": True}
    assert set(rep["results"]) == {"labcode_cache", "labcode_no_cache", "hf"}
    for r in rep["results"].values():  # 4 tokens en la mediana de las repeticiones
        assert r["tokens_per_s"] == pytest.approx(4 / r["seconds"])
        assert r["seconds"] == pytest.approx(sorted(r["all_seconds"])[len(r["all_seconds"]) // 2])
    with pytest.raises(ValueError, match="n_positions"):
        bench.bench_generation(n_layer=1, n_embd=32, n_head=2, vocab_size=64, n_positions=8,
                               prompt_len=6, new_tokens=4)
    with pytest.raises(ValueError, match="new_tokens"):
        bench.bench_generation(new_tokens=0)


def test_book_build_times_reads_the_execution_cache(tmp_path):
    from jupyter_cache import get_cache

    with pytest.raises(FileNotFoundError, match="make book"):
        bench.book_build_times(tmp_path)
    cache = get_cache(str(tmp_path / ".jupyter_cache"))
    cache.list_cache_records()  # crea la base de datos vacía
    (tmp_path / "build-time.json").write_text('{"seconds": 12, "forced": "1"}')
    rep = bench.book_build_times(tmp_path)
    assert rep["pages"] == {} and rep["total_seconds"] == 0
    assert rep["previous_build"] == {"seconds": 12, "forced": "1"}
    assert rep["peak_rss_bytes"] == {}
    assert rep["execution"] is None
    (tmp_path / "execution.json").write_text('{"jobs": 2, "threads": 1}')
    assert bench.book_build_times(tmp_path)["execution"] == {"jobs": 2, "threads": 1}


def test_book_peak_memory_reads_what_each_chapter_recorded(tmp_path):
    folder = tmp_path / "peak-rss"
    folder.mkdir()
    (folder / "01_a.json").write_text('{"01_a": 1000}')
    (folder / "02_b.json").write_text('{"02_b": 2500}')
    assert bench.book_peak_memory(tmp_path) == {"01_a": 1000, "02_b": 2500}
    (folder / "03_c.json").write_text('["roto"]')
    with pytest.raises(ValueError, match="03_c.json no es un registro de memoria"):
        bench.book_peak_memory(tmp_path)


def test_bench_cli_runs_small_measurements_and_writes_json(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["bench", "mha", "generation", "--small", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "nn.MultiheadAttention" in text and "tokens/s" in text
    data = json.loads(out.read_text())
    assert set(data) == {"mha", "generation"}
    assert main(["bench", "nada"]) == 2
    assert "desconocidas" in capsys.readouterr().err  # una línea en la salida de errores
