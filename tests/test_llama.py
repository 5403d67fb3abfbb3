"""Pruebas de labcode.models.llama: desde cero frente a LlamaForCausalLM de transformers."""

from __future__ import annotations

import pytest
import torch
import transformers  # noqa: E402  (dependencia fijada: si falta, la prueba debe fallar)

from labcode.hf import pretrained
from labcode.hf.models import load_llama
from labcode.models.llama import KVCache, Llama, LlamaConfig, repeat_kv, rotate_half

VOCAB = 97


def _hf_tiny(num_kv_heads: int = 2, tie: bool = False, bias: bool = False, seed: int = 0):
    torch.manual_seed(seed)
    config = transformers.LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=num_kv_heads,
        max_position_embeddings=48,
        rope_theta=500.0,
        rms_norm_eps=1e-6,
        tie_word_embeddings=tie,
        attention_bias=bias,
        mlp_bias=bias,
    )
    return transformers.LlamaForCausalLM(config).eval()


def _ids(B: int = 3, T: int = 17, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, VOCAB, (B, T), generator=torch.Generator().manual_seed(seed))


# --- Igual que transformers en configuraciones pequeñas -------------------------------------


@pytest.mark.parametrize(
    "num_kv_heads,tie,bias",
    [(1, False, False), (2, True, False), (4, False, True), (2, False, False)],
    ids=["MQA-untied", "GQA-tied", "MHA-bias", "GQA-untied"],
)
def test_matches_hf_llama_on_random_configs(num_kv_heads, tie, bias):
    hf = _hf_tiny(num_kv_heads, tie, bias)
    model = Llama.from_hf(hf)
    assert model.config.n_rep == 4 // num_kv_heads
    assert list(model.state_dict()) == list(hf.state_dict())  # mismos nombres, mismo orden
    assert (model.lm_head.weight is model.model.embed_tokens.weight) == tie
    ids = _ids()
    with torch.no_grad():
        ours, theirs = model(ids), hf(ids).logits
    assert ours.shape == (3, 17, VOCAB)
    assert (ours - theirs).abs().max().item() < 1e-5


def test_load_state_dict_key_for_key_both_ways():
    hf = _hf_tiny(2, tie=False)
    model = Llama(LlamaConfig.from_hf(hf.config))
    model.load_state_dict(hf.state_dict(), strict=True)
    hf2 = _hf_tiny(2, tie=False, seed=5)
    hf2.load_state_dict(model.state_dict(), strict=True)
    ids = _ids(2, 9)
    with torch.no_grad():
        assert torch.allclose(hf2(ids).logits, hf(ids).logits, atol=1e-6)


def test_config_from_hf_reads_rope_theta_and_heads():
    cfg = LlamaConfig.from_hf(_hf_tiny(1).config)
    assert (cfg.rope_theta, cfg.num_key_value_heads, cfg.head_dim) == (500.0, 1, 16)
    assert cfg.rms_norm_eps == 1e-6 and cfg.tie_word_embeddings is False


def test_greedy_generation_matches_hf():
    hf = _hf_tiny(2)
    model = Llama.from_hf(hf)
    prompt = _ids(1, 5)
    ours = model.generate(prompt, 12)
    theirs = hf.generate(prompt, max_new_tokens=12, min_new_tokens=12, do_sample=False)
    assert torch.equal(ours, theirs)


def test_helpers_match_hf():
    from transformers.models.llama import modeling_llama as ml

    x = torch.randn(2, 3, 5, 8)
    assert torch.equal(rotate_half(x), ml.rotate_half(x))
    assert torch.equal(repeat_kv(x, 3), ml.repeat_kv(x, 3))
    norm_hf = ml.LlamaRMSNorm(8, eps=1e-6)
    from labcode.models.llama import RMSNorm

    norm = RMSNorm(8, eps=1e-6)
    assert torch.allclose(norm(x), norm_hf(x), atol=1e-7)
    assert torch.allclose(norm(x).pow(2).mean(-1), torch.ones(2, 3, 5), atol=1e-4)


# --- Caché de claves y valores ----------------------------------------------------------------


def test_kv_cache_equals_full_forward():
    model = Llama.from_hf(_hf_tiny(2))
    ids = _ids(2, 12)
    cache = model.new_cache()
    with torch.no_grad():
        full = model(ids[:, :11])
        a = model(ids[:, :7], cache)  # prellenado
        b = model(ids[:, 7:10], cache)  # varios tokens tras la caché (máscara desplazada)
        c = model(ids[:, 10:11], cache)  # un token
    steps = torch.cat((a, b, c), dim=1)
    assert (steps - full).abs().max().item() < 1e-5
    assert isinstance(cache, KVCache) and cache.seq_len() == 11
    # Con GQA la caché sólo guarda las cabezas compartidas: (B, nkv, S, hs).
    assert tuple(cache.keys[0].shape) == (2, 2, 11, 16)


def test_generate_with_and_without_cache_is_the_same():
    model = Llama.from_hf(_hf_tiny(1))
    prompt = _ids(2, 6)
    assert torch.equal(model.generate(prompt, 15), model.generate(prompt, 15, use_cache=False))
    g = torch.Generator().manual_seed(3)
    s1 = model.generate(prompt, 15, do_sample=True, top_k=5, generator=g)
    g = torch.Generator().manual_seed(3)
    s2 = model.generate(prompt, 15, do_sample=True, top_k=5, use_cache=False, generator=g)
    assert torch.equal(s1, s2)


def test_sampling_options():
    model = Llama.from_hf(_hf_tiny(2))
    prompt = _ids(2, 4)
    greedy = model.generate(prompt, 8)
    # top_k=1 es decodificación voraz aunque se muestree.
    assert torch.equal(model.generate(prompt, 8, do_sample=True, top_k=1), greedy)
    g = torch.Generator().manual_seed(0)
    sampled = model.generate(prompt, 8, do_sample=True, temperature=5.0, generator=g)
    assert sampled.shape == (2, 12) and torch.equal(sampled[:, :4], prompt)
    assert not torch.equal(sampled, greedy)
    assert int(sampled.min()) >= 0 and int(sampled.max()) < VOCAB
    assert torch.equal(model.generate(prompt, 0), prompt)


def test_eos_stops_generation():
    model = Llama.from_hf(_hf_tiny(2))
    prompt = _ids(1, 4)
    first = int(model.generate(prompt, 1)[0, -1])
    out = model.generate(prompt, 10, eos_token_id=first)
    assert out.shape == (1, 5) and int(out[0, -1]) == first
    assert model.training is False


def test_generate_restores_training_mode():
    model = Llama.from_hf(_hf_tiny(2)).train()
    model.generate(_ids(1, 3), 2)
    assert model.training


# --- Errores claros ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny() -> Llama:
    torch.manual_seed(0)
    return Llama(
        LlamaConfig(
            vocab_size=VOCAB,
            hidden_size=32,
            intermediate_size=48,
            num_hidden_layers=1,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=16,
        )
    ).eval()


@pytest.mark.parametrize(
    "ids,exc,pattern",
    [
        (torch.arange(5), ValueError, r"forma \(B, T\).*\(5,\)"),
        (torch.zeros(1, 2, 3, dtype=torch.long), ValueError, r"forma \(B, T\)"),
        (torch.zeros(1, 0, dtype=torch.long), ValueError, "vacío"),
        (torch.zeros(1, 3), TypeError, "enteros"),
        ([[1, 2]], TypeError, "torch.Tensor"),
        (torch.tensor([[1, VOCAB]]), ValueError, rf"\[0, {VOCAB}\).*entre 1 y {VOCAB}"),
        (torch.tensor([[-1, 2]]), ValueError, r"\[0, 97\)"),
        (torch.zeros(1, 17, dtype=torch.long), ValueError, "demasiado larga.*16"),
    ],
)
def test_forward_rejects_bad_input(tiny, ids, exc, pattern):
    with pytest.raises(exc, match=pattern):
        tiny(ids)


@pytest.mark.parametrize(
    "kwargs,pattern",
    [
        ({"max_new_tokens": 14}, "demasiado larga.*14 nuevos"),
        ({"max_new_tokens": -1}, "max_new_tokens"),
        ({"max_new_tokens": 2, "temperature": 0.0}, "temperature"),
        ({"max_new_tokens": 2, "temperature": float("nan")}, "temperature"),
        ({"max_new_tokens": 2, "do_sample": True, "top_k": 0}, "top_k"),
    ],
)
def test_generate_rejects_bad_arguments(tiny, kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        tiny.generate(torch.zeros(1, 3, dtype=torch.long), **kwargs)


def test_cache_counts_towards_the_length_limit(tiny):
    cache = tiny.new_cache()
    tiny(torch.zeros(1, 10, dtype=torch.long), cache)
    with pytest.raises(ValueError, match="10 en caché"):
        tiny(torch.zeros(1, 7, dtype=torch.long), cache)


@pytest.mark.parametrize(
    "kwargs,pattern",
    [
        ({"num_attention_heads": 4, "num_key_value_heads": 3}, "múltiplo de num_key_value_heads"),
        ({"hidden_size": 30, "num_attention_heads": 4, "num_key_value_heads": 2}, "hidden_size"),
        ({"num_hidden_layers": 0}, "num_hidden_layers"),
        ({"head_dim": 7}, "par"),
    ],
)
def test_bad_config(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        LlamaConfig(**kwargs)


def test_from_hf_rejects_other_models():
    gpt2 = transformers.GPT2LMHeadModel(
        transformers.GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=50, n_positions=8)
    )
    with pytest.raises(TypeError, match="LlamaForCausalLM.*gpt2"):
        Llama.from_hf(gpt2)
    with pytest.raises(ValueError, match="RoPE sin escalado"):
        LlamaConfig.from_hf({"model_type": "llama", "rope_scaling": {"rope_type": "llama3"}})


def test_load_llama_reads_a_saved_folder(tmp_path):
    hf = _hf_tiny(2, tie=True)
    hf.save_pretrained(tmp_path)
    model = load_llama(tmp_path)
    ids = _ids(1, 8)
    with torch.no_grad():
        assert (model(ids) - hf(ids).logits).abs().max().item() < 1e-5


# --- SmolLM2-135M-Instruct real -----------------------------------------------------------------


@pytest.fixture(scope="session")
def smollm2():
    """HF y nuestro Llama con los pesos de SmolLM2-135M-Instruct (conversión en caché)."""
    spec = pretrained.smollm2_spec()
    hf = pretrained.load_causal_lm(spec)
    tok = pretrained.load_tokenizer(spec)
    ours = load_llama(spec)
    return hf, ours, tok


@pytest.mark.slow
def test_smollm2_logits_match_hf(smollm2):
    hf, ours, tok = smollm2
    assert ours.config.num_key_value_heads == 3 and ours.config.num_attention_heads == 9
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in hf.parameters())
    text = "The Transformer architecture replaced recurrence with"
    ids = tok(text, return_tensors="pt").input_ids
    with torch.no_grad():
        diff = (ours(ids) - hf(ids).logits).abs().max().item()
    assert diff < 1e-3


@pytest.mark.slow
@pytest.mark.parametrize("chat", [False, True], ids=["text", "chat"])
def test_smollm2_greedy_text_matches_hf(smollm2, chat):
    hf, ours, tok = smollm2
    if chat:
        msgs = [{"role": "user", "content": "What is the capital of France?"}]
        text = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    else:
        text = "Once upon a time, in a small village by the sea,"
    ids = tok(text, return_tensors="pt").input_ids
    theirs = hf.generate(ids, max_new_tokens=20, do_sample=False)
    mine = ours.generate(ids, 20, eos_token_id=tok.eos_token_id)
    assert torch.equal(mine, theirs)
    new = tok.decode(mine[0, ids.shape[1] :], skip_special_tokens=True)
    if chat:
        assert "Paris" in new
    else:
        assert mine.shape[1] - ids.shape[1] == 20 and len(new.split()) >= 8


def test_from_hf_share_uses_the_same_tensors_and_gives_the_same_logits():
    from transformers import LlamaConfig as HFLlamaConfig
    from transformers import LlamaForCausalLM

    torch.manual_seed(0)
    hf = LlamaForCausalLM(HFLlamaConfig(
        vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32,
        tie_word_embeddings=True)).eval()
    copied, shared = Llama.from_hf(hf), Llama.from_hf(hf, share=True)
    ids = torch.randint(0, 64, (2, 7))
    with torch.no_grad():
        assert torch.equal(copied(ids), shared(ids))
        assert (shared(ids) - hf(ids).logits).abs().max() < 1e-4
    q = hf.model.layers[0].self_attn.q_proj.weight
    assert shared.model.layers[0].self_attn.q_proj.weight.data_ptr() == q.data_ptr()
    assert copied.model.layers[0].self_attn.q_proj.weight.data_ptr() != q.data_ptr()
    assert shared.lm_head.weight is shared.model.embed_tokens.weight
    assert all(p.device.type == "cpu" for p in shared.parameters())
