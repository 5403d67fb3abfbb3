"""Pruebas de labcode.utils.runtime (semillas, cronómetro, barras, entorno) y de
labcode.book.notebook (glue y memoria del libro)."""

from __future__ import annotations

import time

import numpy as np
import pytest

import labcode
from labcode.book import notebook
from labcode.utils import runtime


def test_lazy_subpackages_exports_and_unknown_attribute():
    import importlib

    assert labcode.utils is importlib.import_module("labcode.utils")
    from labcode.numpy_ref.attention import MultiHeadAttentionNumPy

    assert labcode.MultiHeadAttentionNumPy is MultiHeadAttentionNumPy
    assert labcode.__version__ == "0.1.0"
    with pytest.raises(AttributeError, match="no_existe"):
        labcode.no_existe  # noqa: B018


def test_set_seed_makes_numpy_and_torch_reproducible():
    import torch

    runtime.set_seed(3)
    a, ta = np.random.rand(3), torch.rand(3)
    runtime.set_seed(3)
    b, tb = np.random.rand(3), torch.rand(3)
    assert np.array_equal(a, b) and torch.equal(ta, tb)
    runtime.set_seed(4)
    assert not np.array_equal(a, np.random.rand(3))


def test_timer_measures_elapsed_time():
    with runtime.timer() as t:
        time.sleep(0.02)
    assert 0.015 < t["s"] < 1.0


def test_progress_iterates_everything(monkeypatch):
    monkeypatch.setenv("LABCODE_PROGRESS", "off")
    assert list(runtime.progress(range(5), desc="x")) == [0, 1, 2, 3, 4]


def test_glue_outside_a_kernel_does_nothing_visible(capsys):
    # Fuera de un núcleo de Jupyter, glue no debe romper el código del lector ni escribir.
    assert notebook.glue("prueba", 1.5) is None
    assert capsys.readouterr().out == ""


def test_environment_summary_names_versions():
    import torch

    info = runtime.environment_summary()
    assert info["numpy"] == np.__version__ and info["torch"] == torch.__version__
    assert int(info["cpus"]) >= 1


def test_progress_off_is_a_disabled_text_bar_even_if_asked_to_show(monkeypatch):
    from tqdm.std import tqdm

    monkeypatch.setenv("LABCODE_PROGRESS", "off")
    bar = runtime.progress(range(3), disable=False)  # quien llama pide mostrarla
    assert type(bar) is tqdm and bar.disable
    assert list(bar) == [0, 1, 2]
    monkeypatch.setenv("LABCODE_PROGRESS", "text")
    bar = runtime.progress(range(3), disable=False)
    assert type(bar) is tqdm and not bar.disable
    monkeypatch.setenv("LABCODE_PROGRESS", "turbo")
    with pytest.raises(ValueError, match="LABCODE_PROGRESS debe ser uno de"):
        runtime.progress(range(3))


def test_third_party_bars_are_silenced_only_when_progress_is_not_auto(monkeypatch):
    import types

    from tqdm.std import tqdm

    original = object()
    module = types.SimpleNamespace(tqdm=original)
    monkeypatch.delenv("LABCODE_PROGRESS", raising=False)
    with runtime.quiet_bars(module):
        assert module.tqdm is original
    monkeypatch.setenv("LABCODE_PROGRESS", "off")
    with runtime.quiet_bars(module):
        bar = module.tqdm(range(2))
        assert type(bar) is tqdm and bar.disable
    assert module.tqdm is original


def test_quiet_transformers_silences_and_restores_the_logging():
    from transformers.utils import logging as hf_logging

    before = hf_logging.get_verbosity()
    with runtime.quiet_transformers():
        assert hf_logging.get_verbosity() == hf_logging.ERROR
        assert not hf_logging.is_progress_bar_enabled()
    assert hf_logging.get_verbosity() == before


def test_record_peak_memory_only_writes_during_the_build(monkeypatch, tmp_path):
    import json

    monkeypatch.setenv("LABCODE_BUILD_DIR", str(tmp_path))
    monkeypatch.delenv("LABCODE_BUILD", raising=False)
    assert notebook.record_peak_memory("01_x") is None
    assert not (tmp_path / notebook.PEAK_RSS_DIR).exists()
    monkeypatch.setenv("LABCODE_BUILD", "1")
    big = np.ones(64 * 2**20 // 8)  # 64 MiB vivos: el pico es al menos eso
    record = notebook.record_peak_memory("01_x")
    saved = json.loads((tmp_path / notebook.PEAK_RSS_DIR / "01_x.json").read_text())
    assert saved == record and saved["01_x"] >= big.nbytes


def test_every_executed_chapter_records_its_peak_memory_in_its_last_cell():
    import jupytext
    from bookutil import ROOT, notebook_files

    for page in notebook_files():
        nb = jupytext.read(ROOT / f"{page}.md", fmt="md:myst")
        last = nb.cells[-1]
        stem = page.rsplit("/", 1)[-1]
        assert last.cell_type == "code" and f'record_peak_memory("{stem}")' in last.source, page
        assert "remove-cell" in last.metadata.get("tags", []), page
