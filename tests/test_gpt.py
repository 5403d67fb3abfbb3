"""Pruebas de labcode.models.gpt: equivalencia con GPT2LMHeadModel de HF, caché KV y errores."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import transformers  # noqa: E402  (dependencia fijada: si falta, la prueba debe fallar)

from labcode.analysis.generation_speed import measure_tokens_per_second  # noqa: E402
from labcode.models.gpt import (
    GPT,
    GPTConfig,
    encoder_block_from_gpt_block,
)
from labcode.nn.blocks import causal_mask  # noqa: E402

# (vocab_size, n_positions, n_embd, n_layer, n_head)
CONFIGS = [
    (97, 32, 32, 1, 1),
    (211, 64, 48, 2, 4),
    (500, 48, 64, 3, 8),
    (1000, 40, 96, 2, 6),
]


def _hf_model(vocab, npos, n_embd, n_layer, n_head, seed=0):
    torch.manual_seed(seed)
    cfg = transformers.GPT2Config(
        vocab_size=vocab, n_positions=npos, n_embd=n_embd, n_layer=n_layer, n_head=n_head,
        bos_token_id=None, eos_token_id=None, pad_token_id=None,
    )
    model = transformers.GPT2LMHeadModel(cfg).eval()
    # La inicialización de HF usa std=0.02; se agrandan los pesos para que la
    # comparación sea exigente (activaciones y logits de orden 1, no ~0).
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = 0
    return model


@pytest.fixture(scope="module", params=CONFIGS, ids=lambda c: "V{}-T{}-C{}-L{}-H{}".format(*c))
def pair(request):
    hf = _hf_model(*request.param, seed=request.param_index)
    return hf, GPT.from_hf(hf)


def test_from_hf_logits_match(pair):
    hf, ours = pair
    cfg = ours.config
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, cfg.vocab_size, (3, cfg.n_positions), generator=g)
    with torch.no_grad():
        expected = hf(ids).logits
        got = ours(ids)
    assert got.shape == (3, cfg.n_positions, cfg.vocab_size)
    assert expected.abs().max() > 1.0  # la prueba no es trivial
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=0)


def test_config_copied_from_hf(pair):
    hf, ours = pair
    assert ours.config.vocab_size == hf.config.vocab_size
    assert ours.config.n_positions == hf.config.n_positions
    assert ours.config.n_layer == hf.config.n_layer
    assert ours.config.n_head == hf.config.n_head
    assert ours.lm_head.weight is ours.transformer.wte.weight  # pesos atados
    n_hf = sum(p.numel() for p in hf.parameters())
    assert ours.num_parameters() == n_hf


def test_greedy_generation_matches_hf_with_and_without_cache(pair):
    hf, ours = pair
    cfg = ours.config
    g = torch.Generator().manual_seed(2)
    prompt = torch.randint(0, cfg.vocab_size, (2, 5), generator=g)
    n = cfg.n_positions - 5
    with torch.no_grad():
        expected = hf.generate(
            prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=n,
            min_new_tokens=n, do_sample=False,
        )
    with_cache = ours.generate(prompt, n, use_cache=True)
    without_cache = ours.generate(prompt, n, use_cache=False)
    assert with_cache.shape == (2, cfg.n_positions)
    assert torch.equal(with_cache[:, :5], prompt)
    assert torch.equal(with_cache, without_cache)
    assert torch.equal(with_cache, expected)


def test_forward_cached_in_chunks_equals_full_forward(pair):
    _, ours = pair
    cfg = ours.config
    ids = torch.randint(0, cfg.vocab_size, (2, cfg.n_positions), generator=torch.Generator())
    with torch.no_grad():
        full = ours(ids)
        cut1, cut2 = cfg.n_positions // 3, cfg.n_positions // 3 + 1  # un trozo de 1 token
        a, past = ours.forward_cached(ids[:, :cut1])
        b, past = ours.forward_cached(ids[:, cut1:cut2], past)
        c, past = ours.forward_cached(ids[:, cut2:], past)
    assert past[0][0].shape == (2, cfg.n_head, cfg.n_positions, cfg.n_embd // cfg.n_head)
    torch.testing.assert_close(torch.cat([a, b, c], dim=1), full, atol=1e-5, rtol=0)


def test_causal_mask_blocks_the_future():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=50, n_positions=16, n_embd=32, n_layer=2, n_head=4)).eval()
    ids = torch.randint(0, 50, (1, 16))
    changed = ids.clone()
    changed[0, 10:] = (changed[0, 10:] + 7) % 50
    with torch.no_grad():
        a, b = model(ids), model(changed)
    torch.testing.assert_close(a[:, :10], b[:, :10], atol=0, rtol=0)
    assert (a[:, 10:] - b[:, 10:]).abs().max() > 1e-3  # lo posterior sí cambia


def test_gpt_block_is_a_pre_ln_encoder_block_with_causal_mask():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=50, n_positions=16, n_embd=48, n_layer=1, n_head=6)).eval()
    block = model.transformer.h[0]
    with torch.no_grad():
        for p in block.parameters():
            p.add_(0.1 * torch.randn_like(p))
    enc = encoder_block_from_gpt_block(block)
    assert enc.norm_first and enc.ffn.activation == "gelu_tanh"
    x = torch.randn(2, 16, 48)
    with torch.no_grad():
        y_gpt, _ = block(x)
        y_enc = enc(x, mask=causal_mask(16))
        y_bidir = enc(x)
    torch.testing.assert_close(y_enc, y_gpt, atol=1e-5, rtol=0)
    assert (y_bidir - y_gpt).abs().max() > 1e-3  # sin máscara causal ya no es GPT


def test_sampling_is_reproducible_and_respects_top_k():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=30, n_positions=32, n_embd=32, n_layer=1, n_head=2)).eval()
    prompt = torch.zeros(2, 3, dtype=torch.long)
    a = model.generate(prompt, 20, do_sample=True, generator=torch.Generator().manual_seed(5))
    b = model.generate(prompt, 20, do_sample=True, generator=torch.Generator().manual_seed(5),
                       use_cache=False)
    assert torch.equal(a, b)
    # top_k=1 con muestreo equivale a la decodificación voraz.
    greedy = model.generate(prompt, 20)
    top1 = model.generate(prompt, 20, do_sample=True, top_k=1, temperature=0.5,
                          generator=torch.Generator().manual_seed(9))
    assert torch.equal(greedy, top1)
    assert torch.equal(model.generate(prompt, 0), prompt)
    # top_p muy pequeño deja solo el token más probable: también es la voraz.
    nucleus = model.generate(prompt, 20, do_sample=True, top_p=1e-6,
                             generator=torch.Generator().manual_seed(9))
    assert torch.equal(greedy, nucleus)


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=20, n_positions=8, n_embd=16, n_layer=1, n_head=2)).eval()


@pytest.mark.parametrize(
    "bad, exc, words",
    [
        (torch.zeros(4, dtype=torch.long), ValueError, "(B, T)"),
        (torch.zeros(1, 2, 3, dtype=torch.long), ValueError, "(B, T)"),
        (torch.zeros(1, 9, dtype=torch.long), ValueError, "n_positions"),
        (torch.full((1, 3), 20), ValueError, "vocabulario"),
        (torch.full((1, 3), -1), ValueError, "vocabulario"),
        (torch.zeros(1, 3), TypeError, "enteros"),
        ([[1, 2, 3]], TypeError, "torch.Tensor"),
        (torch.zeros(1, 0, dtype=torch.long), ValueError, "vacío"),
    ],
)
def test_forward_rejects_bad_inputs(tiny, bad, exc, words):
    with pytest.raises(exc, match=".*" + words.replace("(", r"\(").replace(")", r"\)")):
        tiny(bad)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(max_new_tokens=3, temperature=0.0), "temperature"),
        (dict(max_new_tokens=3, temperature=-1.0), "temperature"),
        (dict(max_new_tokens=3, top_k=0), "top_k"),
        (dict(max_new_tokens=3, top_k=2.5), "top_k"),  # TypeError
        (dict(max_new_tokens=-1), "max_new_tokens"),
        (dict(max_new_tokens=6), "n_positions"),
    ],
)
def test_generate_rejects_bad_arguments(tiny, kwargs, words):
    prompt = torch.zeros(1, 3, dtype=torch.long)
    with pytest.raises((ValueError, TypeError), match=words):
        tiny.generate(prompt, **kwargs)


def test_config_validation():
    with pytest.raises(ValueError, match="divisible"):
        GPTConfig(n_embd=10, n_head=3)
    with pytest.raises(ValueError, match="vocab_size"):
        GPTConfig(vocab_size=0)
    with pytest.raises(TypeError, match="GPTConfig"):
        GPT({"n_embd": 8})
    assert GPTConfig(n_positions=77).block_size == 77


def test_from_hf_rejects_other_models():
    with pytest.raises(TypeError, match="GPT2LMHeadModel"):
        GPT.from_hf(torch.nn.Linear(2, 2))
    cfg = transformers.GPT2Config(vocab_size=10, n_positions=8, n_embd=8, n_layer=1, n_head=2,
                                  activation_function="relu")
    with pytest.raises(ValueError, match="activation_function"):
        GPT.from_hf(transformers.GPT2LMHeadModel(cfg))


def test_from_hf_accepts_gpt2model():
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(vocab_size=30, n_positions=8, n_embd=16, n_layer=1, n_head=2)
    lm = transformers.GPT2LMHeadModel(cfg).eval()
    ours = GPT.from_hf(lm.transformer)
    ids = torch.randint(0, 30, (1, 8))
    with torch.no_grad():
        torch.testing.assert_close(ours(ids), lm(ids).logits, atol=1e-5, rtol=0)


def test_measure_tokens_per_second_reports_every_method():
    res = measure_tokens_per_second({"a": lambda: None, "b": lambda: None}, new_tokens=10,
                                    batch_size=2, repeats=3, warmup=0)
    assert set(res) == {"a", "b"}
    assert len(res["a"]["all_seconds"]) == 3 and res["a"]["tokens_per_s"] > 0
    with pytest.raises(ValueError, match="repeats"):
        measure_tokens_per_second({"a": lambda: None}, 1, repeats=0)


def test_input_major_weights_survive_state_dict_to_and_training():
    """Las lineales de los bloques guardan (entrada, salida) en memoria, con forma de nn.Linear."""
    torch.manual_seed(0)
    cfg = GPTConfig(vocab_size=40, n_positions=16, n_embd=32, n_layer=2, n_head=4)
    model = GPT(cfg)
    w = model.transformer.h[0].attn.c_attn.weight
    assert w.shape == (96, 32) and w.stride() == (1, 96)
    clone = GPT(cfg)
    clone.load_state_dict(model.state_dict())
    ids = torch.randint(0, 40, (2, 16))
    torch.testing.assert_close(clone(ids), model(ids), atol=0, rtol=0)
    double = GPT(cfg).to(torch.float64)
    assert double.transformer.h[0].mlp.c_fc.weight.stride() == (1, 128)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(5):
        logits = model(ids[:, :-1].contiguous())
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), ids[:, 1:].flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_from_hf_share_uses_the_same_tensors_and_gives_the_same_logits():
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    hf = GPT2LMHeadModel(GPT2Config(n_layer=2, n_embd=32, n_head=4, vocab_size=50,
                                    n_positions=16, bos_token_id=0, eos_token_id=0)).eval()
    copied, shared = GPT.from_hf(hf), GPT.from_hf(hf, share=True)
    ids = torch.randint(0, 50, (2, 9))
    with torch.no_grad():
        assert torch.equal(copied(ids), shared(ids))
        assert (shared(ids) - hf(ids).logits).abs().max() < 1e-5
    hf_attn = hf.transformer.h[0].attn.c_attn.weight
    assert shared.transformer.h[0].attn.c_attn.weight.data_ptr() == hf_attn.data_ptr()
    assert copied.transformer.h[0].attn.c_attn.weight.data_ptr() != hf_attn.data_ptr()
    assert shared.lm_head.weight is shared.transformer.wte.weight  # sigue atado
    assert all(p.device.type == "cpu" for p in shared.parameters())  # nada queda en «meta»
    with torch.no_grad():
        hf_attn.add_(1.0)  # compartir es compartir: el cambio se ve en los dos
    assert torch.equal(shared.transformer.h[0].attn.c_attn.weight, hf_attn.t())
