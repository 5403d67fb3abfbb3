"""Pruebas de labcode.analysis.inference y labcode.models.decoding con modelos diminutos."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from labcode.analysis import inference as inf
from labcode.models.decoding import (
    StaticCacheGPT,
    TruncatedLlama,
    crop_cache,
    draft_agreement,
    expected_speedup,
    speculative_generate,
)
from labcode.models.gpt import GPT, GPTConfig
from labcode.models.llama import Llama, LlamaConfig


@pytest.fixture(autouse=True)
def one_thread():
    """Modelos diminutos: un hilo evita la sobrecarga de OpenMP en máquinas compartidas."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_gpt(**kw) -> GPT:
    torch.manual_seed(0)
    cfg = dict(vocab_size=11, n_positions=8, n_embd=4, n_layer=1, n_head=2)
    cfg.update(kw)
    return GPT(GPTConfig(**cfg)).eval()


def tiny_llama(**kw) -> Llama:
    torch.manual_seed(0)
    cfg = dict(vocab_size=10, hidden_size=4, intermediate_size=6, num_hidden_layers=1,
               num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=64)
    cfg.update(kw)
    return Llama(LlamaConfig(**cfg)).eval()


# --- Cuentas del techo, comprobadas a mano ------------------------------------------


def test_gpt_decode_cost_by_hand():
    # C=4, V=11, 1 capa, 2 cabezas (hs=2). Pesos por paso (floats):
    #   c_attn 4*12 + 12 = 60, attn.c_proj 16 + 4 = 20, c_fc 4*16 + 16 = 80,
    #   mlp.c_proj 64 + 4 = 68, lm_head (atada a wte) 44, ln_1/ln_2/ln_f 3 * 8 = 24 -> 296.
    #   wpe: una fila de 4 floats por token (wte está atada: la cuenta lm_head).
    # Caché con S=5 posiciones: 2 (k, v) * 1 capa * 2 cabezas * hs 2 * 5 = 40 floats.
    # FLOPs: 2 * (48 + 16 + 64 + 64 + 44) = 472 de las lineales, 4 * 1 * 2 * 2 * 5 = 80 de atención.
    cost = inf.step_cost(tiny_gpt(), new_tokens=1, context_len=5)
    assert cost.weight_bytes == 296 * 4
    assert cost.embedding_bytes == 4 * 4
    assert cost.kv_bytes == 40 * 4
    assert cost.flops == 472 + 80
    assert cost.bytes_per_token == (296 + 4 + 40) * 4
    assert cost.intensity == pytest.approx(552 / 1360)


def test_gpt_batch_and_prefill_cost_by_hand():
    model = tiny_gpt()
    batch = inf.step_cost(model, 1, 5, batch_size=3)
    assert batch.weight_bytes == 296 * 4  # los pesos se leen una vez para todo el lote
    assert batch.embedding_bytes == 3 * 16 and batch.kv_bytes == 3 * 160
    assert batch.flops == 3 * 552 and batch.tokens == 3
    # Prefill de 4 tokens: 4 filas de wpe, caché de 4 posiciones, 1+2+3+4 = 10 parejas causales.
    pre = inf.step_cost(model, new_tokens=4)
    assert pre.embedding_bytes == 4 * 16 and pre.kv_bytes == 2 * 2 * 2 * 4 * 4
    assert pre.flops == 4 * 472 + 4 * 2 * 2 * 10


def test_llama_decode_cost_by_hand():
    # C=4, 2 cabezas de consulta (hs=2), 1 cabeza K/V, FFN 6, V=10, atada, sin sesgos.
    # Lineales: q 16, k 8, v 8, o 16, gate 24, up 24, down 24, lm_head 40 -> 160 pesos.
    # Normas: 3 * 4 = 12. Caché (S=5): 2 * 1 * 1 * 2 * 5 = 20 floats (GQA: una sola cabeza K/V).
    cost = inf.step_cost(tiny_llama(), 1, 5)
    assert cost.weight_bytes == (160 + 12) * 4
    assert cost.embedding_bytes == 0
    assert cost.kv_bytes == 20 * 4
    assert cost.flops == 2 * 160 + 4 * 1 * 2 * 2 * 5


def test_int8_cost_counts_one_byte_per_weight():
    q = inf.quantize_int8(tiny_gpt())
    cost = inf.step_cost(q, 1, 5)
    # int8 + escala float32 por fila (+ sesgo float32): c_attn 48+48+48, attn.c_proj 16+16+16,
    # c_fc 64+64+64, mlp.c_proj 64+16+16, lm_head 44+44; normas 24 floats.
    assert cost.weight_bytes == 144 + 48 + 192 + 96 + 88 + 24 * 4
    # lm_head ya no está atada: se lee una fila de wte y otra de wpe por token.
    assert cost.embedding_bytes == 2 * 16
    assert cost.flops == 552  # los FLOPs no cambian


def test_ceiling_and_roofline():
    cost = inf.step_cost(tiny_gpt(), 1, 5)  # 1360 bytes, 552 FLOPs
    assert inf.decode_ceiling(cost, 1360.0 * 50) == pytest.approx(50.0)
    assert inf.roofline_time(cost, bandwidth=1360.0, peak_flops=1e9) == pytest.approx(1.0)
    assert inf.roofline_time(cost, bandwidth=1e9, peak_flops=276.0) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="bandwidth"):
        inf.decode_ceiling(cost, 0.0)


def test_step_cost_errors():
    with pytest.raises(ValueError, match="context_len"):
        inf.step_cost(tiny_gpt(), new_tokens=4, context_len=2)
    with pytest.raises(TypeError, match="GPT o un labcode.models.llama.Llama"):
        inf.step_cost(nn.Linear(2, 2))


def test_bandwidth_and_flops_byte_counts(monkeypatch):
    monkeypatch.setattr(inf, "_median_seconds", lambda fn, min_run_time: 0.5)
    bw = inf.measure_bandwidth(n_bytes=4096 * 4, min_run_time=0.01)
    assert bw["copy"] == 2 * 4096 * 4 / 0.5  # lee y escribe un vector
    assert bw["triad"] == 3 * 4096 * 4 / 0.5  # lee dos y escribe uno
    assert inf.measure_matmul_flops(n=8) == 2 * 8**3 / 0.5
    with pytest.raises(ValueError, match="n_bytes"):
        inf.measure_bandwidth(n_bytes=16)


# --- Cuantización -------------------------------------------------------------------


@pytest.mark.parametrize("mode", inf.INT8_MODES)
def test_int8_linear_within_rounding_bound(mode):
    torch.manual_seed(1)
    lin = nn.Linear(64, 48)
    q = inf.Int8Linear.from_linear(lin, mode=mode)
    # Cada peso reconstruido está a menos de media escala del original.
    assert ((q.dequantized_weight() - lin.weight).abs() <= q.scales[:, None] / 2 + 1e-7).all()
    x = torch.randn(5, 3, 64)
    with torch.no_grad():
        ref, out = lin(x), q(x)
    assert out.shape == ref.shape
    # Cota del error por salida i: sum_j |x_j| * s_i / 2 (redondeo de los pesos) y, en el modo
    # dinámico, sum_j |W_ij| * a / 2 con a = rango(x) / 127 (redondeo de las activaciones).
    bound = x.abs() @ (q.scales[None, :] / 2).expand(64, -1) + 1e-4
    if q.mode == "dynamic":
        a = (x.reshape(-1, 64).max().clamp(min=0) - x.reshape(-1, 64).min().clamp(max=0)) / 127
        bound = bound + (a / 2) * lin.weight.abs().sum(1)
    if q.mode == "weight_only":  # redondeo de x a bf16 y de la salida bf16
        bound = bound + 2.0**-8 * (x.abs() @ lin.weight.abs().t() + ref.abs())
    assert ((out - ref).abs() <= bound).all()
    assert (out - ref).abs().max() > 0  # de verdad está cuantizado


def test_quantize_int8_replaces_linears_and_keeps_greedy():
    model = tiny_gpt(vocab_size=50, n_positions=32, n_embd=32, n_layer=2, n_head=2)
    q = inf.quantize_int8(model, mode="weight_only")
    assert not any(isinstance(m, nn.Linear) for m in q.modules())
    assert sum(isinstance(m, inf.Int8Linear) for m in q.modules()) == 2 * 4 + 1
    assert any(isinstance(m, nn.Linear) for m in model.modules())  # el original no cambia
    ids = torch.randint(0, 50, (2, 12), generator=torch.Generator().manual_seed(0))
    err = inf.logit_error(q, model, ids)
    assert err["max_abs"] < 0.1 * err["ref_std"] and err["argmax_agree"] > 0.9
    with pytest.raises(ValueError, match="nn.Linear"):
        inf.quantize_int8(nn.Sequential(nn.ReLU()))
    with pytest.raises(ValueError, match="mode"):
        inf.quantize_int8(model, mode="int4")


def test_with_int8_mode_shares_the_int8_weights_and_matches_a_fresh_quantization():
    model = tiny_gpt(vocab_size=50, n_positions=32, n_embd=32, n_layer=2, n_head=2)
    w8 = inf.quantize_int8(model, mode="weight_only")
    dy = inf.with_int8_mode(w8, "dynamic")
    fresh = inf.quantize_int8(model, mode="dynamic")
    pairs = [(a, b) for a, b in zip(w8.modules(), dy.modules(), strict=True)
             if isinstance(a, inf.Int8Linear)]
    assert len(pairs) == 2 * 4 + 1
    for a, b in pairs:
        assert b.weight_int8.data_ptr() == a.weight_int8.data_ptr()  # sin copia
        assert b.scales.data_ptr() == a.scales.data_ptr()
        assert a.mode == "weight_only" and b.mode in ("dynamic", "weight_only")
    ids = torch.randint(0, 50, (2, 12), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(dy(ids), fresh(ids))  # como cuantizar de nuevo en ese modo
    with pytest.raises(ValueError, match="Int8Linear"):
        inf.with_int8_mode(model, "dynamic")
    with pytest.raises(ValueError, match="mode"):
        inf.with_int8_mode(w8, "int4")


def test_perplexity_matches_cross_entropy():
    model = tiny_llama(vocab_size=20)
    ids = torch.randint(0, 20, (10,), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits = model(ids[None])[0]
    expected = torch.nn.functional.cross_entropy(logits[:-1], ids[1:]).exp()
    assert inf.perplexity(model, ids, window=64) == pytest.approx(float(expected), rel=1e-5)
    # En ventanas de 5: se predicen 4 + 4 tokens (el primero de cada ventana no).
    w1, w2 = ids[:5], ids[5:]
    with torch.no_grad():
        l1, l2 = model(w1[None])[0], model(w2[None])[0]
    ce = (torch.nn.functional.cross_entropy(l1[:-1], w1[1:], reduction="sum")
          + torch.nn.functional.cross_entropy(l2[:-1], w2[1:], reduction="sum")) / 8
    assert inf.perplexity(model, ids, window=5) == pytest.approx(float(ce.exp()), rel=1e-5)


def test_batch_throughput_rows():
    model = tiny_gpt(vocab_size=50, n_positions=32, n_embd=16)
    rows = inf.batch_throughput(model, (1, 3), context_len=6, min_run_time=0.01)
    assert [r["batch_size"] for r in rows] == [1, 3]
    for r in rows:
        assert r["tokens_per_s"] == pytest.approx(r["batch_size"] / r["step_s"])
        cost = inf.step_cost(model, 1, 6, batch_size=r["batch_size"])
        assert r["flops_per_s"] == pytest.approx(cost.flops / r["step_s"])
    with pytest.raises(TypeError, match="forward_cached"):
        inf.batch_throughput(tiny_llama())


# --- Decodificación especulativa -----------------------------------------------------


def spec_llama() -> Llama:
    return tiny_llama(vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=4,
                      num_attention_heads=4, num_key_value_heads=2)


@pytest.mark.parametrize("k", [1, 3, 5])
@pytest.mark.parametrize("n_draft", [1, 2, 4])
def test_speculative_equals_greedy(k, n_draft):
    model = spec_llama()
    draft = TruncatedLlama(model, n_draft)
    g = torch.Generator().manual_seed(k)
    for length in (1, 4, 9):
        prompt = torch.randint(0, 97, (1, length), generator=g)
        ref = model.generate(prompt, 17)
        out, stats = speculative_generate(model, draft, prompt, 17, k=k)
        assert torch.equal(out, ref), (k, n_draft, length)
        assert stats["proposed"] == k * stats["rounds"]
        if n_draft == 4:  # el borrador es el modelo entero: acepta todo
            assert stats["acceptance"] == 1.0


def test_expected_speedup_and_agreement():
    assert expected_speedup(0.0, 4, 0.1) == pytest.approx(1 / 1.4)  # 1 token por ronda
    assert expected_speedup(1.0, 4, 0.0) == 5.0  # acepta todo y el borrador es gratis
    assert expected_speedup(0.5, 2, 0.5) == pytest.approx((1 + 0.5 + 0.25) / 2)
    model = spec_llama()
    ids = model.generate(torch.randint(0, 97, (1, 4), generator=torch.Generator().manual_seed(3)),
                         12)
    assert draft_agreement(model, TruncatedLlama(model, 4), ids) == 1.0
    alpha = draft_agreement(model, TruncatedLlama(model, 1), ids, start=3)
    with torch.no_grad():
        a = model(ids)[0, 3:-1].argmax(-1)
        b = TruncatedLlama(model, 1)(ids)[0, 3:-1].argmax(-1)
    assert alpha == pytest.approx(float((a == b).float().mean()))
    with pytest.raises(ValueError, match="alpha"):
        expected_speedup(1.5, 2, 0.1)


def test_truncated_llama_is_early_exit():
    model = spec_llama()
    full = TruncatedLlama(model, 4)
    ids = torch.randint(0, 97, (2, 6), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.allclose(full(ids), model(ids), atol=1e-6)
        assert not torch.allclose(TruncatedLlama(model, 1)(ids), model(ids), atol=1e-3)
    with pytest.raises(ValueError, match="n_layers"):
        TruncatedLlama(model, 5)


def test_crop_cache_and_speculative_errors():
    model = spec_llama()
    cache = model.new_cache()
    with torch.no_grad():
        model(torch.zeros(1, 6, dtype=torch.long), cache)
    crop_cache(cache, 4)
    assert all(k.shape[2] == 4 for k in cache.keys) and cache.seq_len() == 4
    with pytest.raises(ValueError, match=r"\(1, T\)"):
        speculative_generate(model, TruncatedLlama(model, 1),
                             torch.zeros(2, 3, dtype=torch.long), 4)
    with pytest.raises(ValueError, match="k"):
        speculative_generate(model, TruncatedLlama(model, 1), torch.zeros(1, 3, dtype=torch.long),
                             4, k=0)


# --- Caché estática ------------------------------------------------------------------


def static_gpt() -> GPT:
    return tiny_gpt(vocab_size=50, n_positions=32, n_embd=16, n_layer=2, n_head=2)


def test_static_cache_same_logits_as_dynamic():
    model = static_gpt()
    static = StaticCacheGPT(model, max_len=20)
    ids = torch.randint(0, 50, (1, 10), generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        logits, past = model.forward_cached(ids[:, :4])
        assert torch.allclose(static.prefill(ids[:, :4]), logits[:, -1], atol=1e-6)
        for t in range(4, 10):
            dyn, past = model.forward_cached(ids[:, t:t + 1], past)
            stat = static.step(ids[:, t:t + 1], torch.tensor([t]))
            assert torch.allclose(stat, dyn[:, -1], atol=1e-5), t
            assert torch.allclose(static.k_cache[:, :, :, : t + 1],
                                  torch.stack([k for k, _ in past]), atol=1e-6)


@pytest.mark.parametrize("batch", [1, 3])
def test_static_cache_same_greedy_tokens(batch):
    model = static_gpt()
    prompt = torch.randint(0, 50, (batch, 5), generator=torch.Generator().manual_seed(batch))
    static = StaticCacheGPT(model, max_len=32, batch_size=batch)
    assert torch.equal(static.generate(prompt, 20), model.generate(prompt, 20))
    assert torch.equal(static.generate(prompt, 3), model.generate(prompt, 3))  # reutilizable
    with pytest.raises(ValueError, match="no caben"):
        static.generate(prompt, 40)
    with pytest.raises(ValueError, match="max_len"):
        StaticCacheGPT(model, max_len=64)


# --- python -m labcode bench inference -----------------------------------------------


def test_bench_inference_cli_small(tmp_path, capsys):
    import json

    from labcode.__main__ import main

    out = tmp_path / "inf.json"
    assert main(["bench", "inference", "--small", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "ancho de banda" in text and "especulativa" in text
    rep = json.loads(out.read_text())["inference"]
    assert rep["small"] is True
    assert [r["batch_size"] for r in rep["decode"]["rows"]] == [1, 2, 4]
    assert all(r["same_tokens"] for r in rep["speculative"]["rows"])
    assert rep["static"]["same_tokens"] == {"static": True}
    assert set(rep["int8"]) >= {"fp32", "weight_only", "dynamic", "target_met"}
    # el techo de int8 es más alto: menos bytes por token
    assert rep["int8"]["weight_only"]["bytes_per_token"] < rep["int8"]["fp32"]["bytes_per_token"]
