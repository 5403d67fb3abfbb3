"""Pruebas de labcode.hf.generation (el modelo se carga una sola vez por módulo)."""

from __future__ import annotations

import argparse

import pytest
import torch
from bookutil import skip_or_fail

from labcode.hf import generation
from labcode.hf.generation import (
    GPT2TextGenerator,
    apply_repetition_penalty,
    greedy_by_hand,
    top_k_filter,
    top_p_filter,
)
from labcode.hf.pretrained import ModelNotAvailableError
from labcode.utils.errors import LabcodeError

PROMPT = "The cat sat on the"


@pytest.fixture(scope="module")
def gen():
    try:
        return GPT2TextGenerator()
    except ModelNotAvailableError as exc:  # pragma: no cover - sin modelo instalado
        skip_or_fail(f"modelo no disponible: {exc}")


# --- piezas sueltas (sin modelo) ---------------------------------------------------------


def test_top_p_filter_matches_hf_warper():
    from transformers.generation.logits_process import TopPLogitsWarper

    g = torch.Generator().manual_seed(0)
    for p in (0.1, 0.5, 0.9, 0.99, 1.0):
        logits = torch.randn(3, 50, generator=g) * 3
        mine = top_p_filter(logits, p)
        ref = F_softmax(TopPLogitsWarper(top_p=p)(None, logits.clone()))
        torch.testing.assert_close(mine, ref)
        assert torch.allclose(mine.sum(-1), torch.ones(3))


def F_softmax(x):
    return torch.softmax(x, dim=-1)


def test_top_p_peaked_keeps_only_argmax():
    logits = torch.tensor([10.0, 0.0, -1.0, -2.0])
    probs = top_p_filter(logits, 0.9)
    assert probs[0] == 1.0 and probs[1:].sum() == 0


def test_top_k_filter_keeps_k():
    logits = torch.tensor([[1.0, 5.0, 3.0, 2.0]])
    out = top_k_filter(logits, 2)
    assert torch.isinf(out).sum() == 2
    assert out[0, 1] == 5.0 and out[0, 2] == 3.0


def test_repetition_penalty_lowers_seen_tokens():
    logits = torch.tensor([[2.0, -2.0, 1.0]])
    out = apply_repetition_penalty(logits, torch.tensor([[0, 1]]), 2.0)
    assert torch.equal(out, torch.tensor([[1.0, -4.0, 1.0]]))
    assert apply_repetition_penalty(logits, torch.tensor([[0]]), 1.0) is logits


def test_filters_reject_bad_params():
    with pytest.raises(ValueError, match="p debe ser"):
        top_p_filter(torch.zeros(3), 0.0)
    with pytest.raises(ValueError, match="k debe ser un entero >= 1"):
        top_k_filter(torch.zeros(3), 0)


# --- con el modelo -----------------------------------------------------------------------


def test_loaded_model_info(gen):
    assert gen.context_length >= 1024
    assert gen.load_seconds > 0
    assert "GPT2TextGenerator" in repr(gen)


def test_greedy_by_hand_equals_hf_generate(gen):
    ids = gen.encode(PROMPT)
    mine = greedy_by_hand(gen.model, ids, 4)
    hf = gen.generate_ids(ids, 4)
    assert torch.equal(mine, hf)
    assert mine.shape[1] == ids.shape[1] + 4


def test_greedy_is_deterministic_and_stream_matches(gen):
    a = gen.generate(PROMPT, max_new_tokens=6)
    b = gen.generate(PROMPT, max_new_tokens=6)
    assert a == b and len(a) > 0
    pieces = list(gen.stream(PROMPT, max_new_tokens=6))
    assert len(pieces) >= 2
    assert "".join(pieces) == a


def test_sampling_reproducible_with_seed(gen):
    kw = {"max_new_tokens": 5, "strategy": "sample", "temperature": 1.3}
    a = gen.generate(PROMPT, seed=1, **kw)
    b = gen.generate(PROMPT, seed=1, **kw)
    assert a == b
    others = {gen.generate(PROMPT, seed=s, **kw) for s in (2, 3)}
    assert len(others | {a}) >= 2  # semillas distintas: casi siempre textos distintos
    s1 = "".join(gen.stream(PROMPT, seed=5, **kw))
    s2 = "".join(gen.stream(PROMPT, seed=5, **kw))
    assert s1 == s2


def test_seed_restores_global_rng(gen):
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    gen.generate(PROMPT, max_new_tokens=2, strategy="sample", seed=7)
    assert torch.equal(torch.rand(1), expected)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"strategy": "sample", "top_k": 5, "seed": 0},
        {"strategy": "sample", "top_p": 0.9, "temperature": 0.7, "seed": 0},
        {"strategy": "beam", "num_beams": 2},
        {"strategy": "greedy", "repetition_penalty": 1.3},
        {"strategy": "greedy", "chat": True},
    ],
)
def test_every_strategy_runs(gen, kwargs):
    text = gen.generate(PROMPT, max_new_tokens=3, **kwargs)
    assert isinstance(text, str)


def test_stream_sample_with_filters(gen):
    text = "".join(gen.stream(PROMPT, max_new_tokens=4, strategy="sample", top_k=3,
                              top_p=0.8, temperature=0.8, seed=0))
    assert isinstance(text, str)


def test_next_token_distribution(gen):
    dist = gen.next_token_distribution(PROMPT, k=10)
    assert len(dist) == 10
    probs = [p for _, p in dist]
    assert probs == sorted(probs, reverse=True)
    assert 0 < sum(probs) <= 1 + 1e-6
    assert all(isinstance(t, str) for t, _ in dist)
    full = gen.next_token_probs(PROMPT)
    assert abs(float(full.sum()) - 1) < 1e-4
    assert abs(float(full.max()) - probs[0]) < 1e-6


def test_perplexity_fluent_below_shuffled(gen):
    fluent = "The weather is nice today, so we are going to the park."
    shuffled = "park nice The going so today, we the weather are is to."
    p_fluent, p_shuffled = gen.perplexity(fluent), gen.perplexity(shuffled)
    assert 1 < p_fluent < p_shuffled


def test_perplexity_sliding_window_equals_full(gen, monkeypatch):
    text = "One two three four five six seven eight nine ten eleven twelve."
    full = gen.perplexity(text)
    monkeypatch.setattr(gen, "context_length", 6)
    windowed = gen.perplexity(text, stride=3)
    assert windowed > 1
    assert windowed != full  # con menos contexto cambia, pero del mismo orden
    assert abs(windowed - full) / full < 2.0
    with pytest.raises(ValueError, match="stride debe ser <="):
        gen.perplexity(text, stride=7)


# --- errores ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"temperature": 0}, ValueError, "temperature debe ser un número finito > 0"),
        ({"temperature": -1.0}, ValueError, "temperature"),
        ({"temperature": "alta"}, TypeError, "temperature debe ser un número"),
        ({"top_p": 0.0}, ValueError, r"top_p debe estar en el intervalo \(0, 1\]"),
        ({"top_p": 1.5}, ValueError, "top_p"),
        ({"top_k": 0}, ValueError, "top_k debe ser un entero >= 1"),
        ({"top_k": 2.5}, TypeError, "top_k debe ser un entero"),
        ({"num_beams": 0}, ValueError, "num_beams debe ser un entero >= 1"),
        ({"repetition_penalty": 0}, ValueError, "repetition_penalty debe ser"),
        ({"max_new_tokens": 0}, ValueError, "max_new_tokens debe ser un entero >= 1"),
        ({"strategy": "nucleus"}, ValueError, "strategy debe ser una de"),
        ({"seed": "x"}, TypeError, "seed debe ser un entero entre 0"),
    ],
)
def test_bad_parameters(gen, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        gen.generate(PROMPT, **kwargs)


def test_bad_prompts(gen):
    with pytest.raises(TypeError, match="prompt debe ser un texto"):
        gen.generate(123)
    with pytest.raises(ValueError, match="no vacío"):
        gen.generate("   ")
    with pytest.raises(ValueError, match="contexto del modelo admite como máximo"):
        gen.generate("hola " * (gen.context_length + 10), max_new_tokens=1)
    with pytest.raises(ValueError, match="no se pueden emitir token a token"):
        gen.stream(PROMPT, strategy="beam")
    with pytest.raises(ValueError, match="al menos 2 tokens"):
        gen.perplexity("Hi")
    with pytest.raises(TypeError, match="model_name debe ser"):
        GPT2TextGenerator(model_name=3)


def test_cli(gen, monkeypatch, capsys):
    monkeypatch.setattr(generation, "GPT2TextGenerator", lambda: gen)
    parser = argparse.ArgumentParser()
    generation.add_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["generate", PROMPT, "--max-new-tokens", "3"])
    assert generation.run_cli(args) == 0
    assert capsys.readouterr().out.startswith(PROMPT)
    args = parser.parse_args(["generate", PROMPT, "--max-new-tokens", "3", "--stream"])
    assert generation.run_cli(args) == 0
    args = parser.parse_args(["generate", PROMPT, "--temperature", "0"])
    # El error sube como LabcodeError: python -m labcode lo escribe en una línea (exit 2).
    with pytest.raises(LabcodeError, match="temperature"):
        generation.run_cli(args)
