"""Pruebas de labcode.analysis.efficient_attention: exactitud, formas, medidas y errores claros."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from labcode.analysis import efficient_attention as ea


def _qkv(*shape, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(*shape, generator=g, dtype=dtype) for _ in range(3))


def _naive_masked(q, k, v, mask):
    """Referencia independiente: bucle por consulta con softmax sobre las claves visibles."""
    n = q.shape[-2]
    out = torch.zeros_like(v)
    for i in range(n):
        idx = torch.nonzero(mask[i]).squeeze(-1)
        s = (q[..., i : i + 1, :] @ k[..., idx, :].transpose(-2, -1)) / q.shape[-1] ** 0.5
        out[..., i, :] = (torch.softmax(s, -1) @ v[..., idx, :]).squeeze(-2)
    return out


def test_full_attention_matches_torch_sdpa():
    q, k, v = _qkv(2, 3, 17, 8)
    for causal in (False, True):
        ref = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal)
        torch.testing.assert_close(ea.full_attention(q, k, v, causal=causal), ref)


def test_sliding_window_mask_values():
    m = ea.sliding_window_mask(5, window=1)
    expected = torch.tensor(
        [[1, 1, 0, 0, 0], [1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 0, 1, 1]],
        dtype=torch.bool,
    )
    assert torch.equal(m, expected)
    mc = ea.sliding_window_mask(5, window=1, causal=True)
    assert torch.equal(mc, expected & torch.ones(5, 5, dtype=torch.bool).tril())
    assert torch.equal(ea.sliding_window_mask(4, causal=True), torch.ones(4, 4).tril().bool())


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("n,window,block", [(37, 5, 8), (64, 0, 16), (100, 7, 3), (1, 3, None),
                                            (50, 49, None), (33, 10, 64)])
def test_sliding_window_equals_masked_full(causal, n, window, block):
    q, k, v = _qkv(2, 3, n, 8)
    out = ea.sliding_window_attention(q, k, v, window, causal=causal, block_size=block)
    assert out.shape == (2, 3, n, 8)
    mask = ea.sliding_window_mask(n, window, causal)
    torch.testing.assert_close(out, ea.full_attention(q, k, v, mask=mask), atol=1e-12, rtol=0)
    torch.testing.assert_close(out, _naive_masked(q, k, v, mask), atol=1e-12, rtol=0)


@pytest.mark.parametrize("causal", [False, True])
def test_window_at_least_n_is_full_attention(causal):
    q, k, v = _qkv(1, 2, 45, 16)
    full = ea.full_attention(q, k, v, causal=causal)
    for w in (44, 45, 1000):
        out = ea.sliding_window_attention(q, k, v, w, causal=causal)
        assert (out - full).abs().max().item() < 1e-12


def test_window_zero_returns_values():
    q, k, v = _qkv(3, 10, 4)
    torch.testing.assert_close(ea.sliding_window_attention(q, k, v, 0), v)


def test_causal_window_ignores_the_future():
    q, k, v = _qkv(1, 20, 8)
    out = ea.sliding_window_attention(q, k, v, 4, causal=True)
    k2, v2 = k.clone(), v.clone()
    k2[:, 10:] += 5.0
    v2[:, 10:] -= 3.0
    out2 = ea.sliding_window_attention(q, k2, v2, 4, causal=True)
    torch.testing.assert_close(out[:, :10], out2[:, :10])
    assert not torch.allclose(out[:, 10:], out2[:, 10:])


def test_window_different_value_dim_and_float32():
    q, k, _ = _qkv(2, 30, 8, dtype=torch.float32)
    v = torch.randn(2, 30, 5)
    out = ea.sliding_window_attention(q, k, v, 6)
    assert out.shape == (2, 30, 5) and out.dtype == torch.float32
    ref = ea.full_attention(q, k, v, mask=ea.sliding_window_mask(30, 6))
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("chunk", [1, 7, 64, 500])
def test_linear_attention_equals_quadratic_form(causal, chunk):
    q, k, v = _qkv(2, 3, 70, 8)
    out = ea.linear_attention(q, k, v, causal=causal, chunk_size=chunk)
    ref = ea.linear_attention_naive(q, k, v, causal=causal)
    assert out.shape == (2, 3, 70, 8)
    assert (out - ref).abs().max().item() < 1e-12


def test_linear_attention_by_hand():
    q, k, v = _qkv(4, 3)
    fq, fk = ea.elu_feature_map(q), ea.elu_feature_map(k)
    assert torch.all(fq > 0)
    # causal, posición 2, sumando a mano
    w = torch.stack([fq[2] @ fk[j] for j in range(3)])
    expected = (w[:, None] * v[:3]).sum(0) / w.sum()
    torch.testing.assert_close(ea.linear_attention(q, k, v, causal=True)[2], expected)
    # primera posición causal: sólo se ve a sí misma
    torch.testing.assert_close(ea.linear_attention(q, k, v, causal=True)[0], v[0])


def test_linear_attention_is_not_softmax():
    q, k, v = _qkv(1, 64, 16)
    err = ea.relative_error(ea.linear_attention(q, k, v), ea.full_attention(q, k, v))
    assert err > 0.05


def test_relative_error():
    a = torch.tensor([1.0, 2.0, 2.0])
    assert ea.relative_error(a, a) == 0.0
    assert ea.relative_error(np.array([0.0, 0.0, 0.0]), a) == pytest.approx(1.0)
    assert ea.relative_error(a * 1.1, a) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="formas"):
        ea.relative_error(a, a[:2])
    with pytest.raises(ValueError, match="ceros"):
        ea.relative_error(a, torch.zeros(3))


def test_peak_memory_measures():
    n = 512
    peak = ea.numpy_peak_memory(lambda: np.ones((n, n), dtype=np.float32))
    assert n * n * 4 <= peak < 1.5 * n * n * 4
    q, k, v = _qkv(1, 1, n, 16, dtype=torch.float32)
    full = ea.torch_peak_memory(lambda: ea.full_attention(q, k, v))
    assert full >= n * n * 4  # al menos una matriz n x n en float32
    win = ea.torch_peak_memory(lambda: ea.sliding_window_attention(q, k, v, 16))
    assert win < full


def test_measure_attention_costs():
    res = ea.measure_attention_costs(
        {"full": ea.full_attention, "lin": ea.linear_attention}, [16, 32], d=8, repeats=1,
        show_progress=False,
    )
    assert list(res["n"]) == [16, 32]
    for name in ("full", "lin"):
        assert np.all(res[name]["seconds"] > 0)
        assert np.all(res[name]["peak_bytes"] > 0)
    res2 = ea.measure_attention_costs({"f": ea.full_attention}, [8], d=4, repeats=1,
                                      memory=False, show_progress=False)
    assert np.isnan(res2["f"]["peak_bytes"]).all()


def test_bad_inputs():
    q, k, v = _qkv(2, 10, 4)
    with pytest.raises(TypeError, match="torch.Tensor"):
        ea.sliding_window_attention(q.numpy(), k, v, 2)
    with pytest.raises(ValueError, match="misma dimensión d"):
        ea.full_attention(q, k[..., :3], v)
    with pytest.raises(ValueError, match="misma longitud n"):
        ea.sliding_window_attention(q, k[:, :5], v[:, :5], 2)
    with pytest.raises(ValueError, match="window"):
        ea.sliding_window_attention(q, k, v, -1)
    with pytest.raises(TypeError, match="window"):
        ea.sliding_window_attention(q, k, v, 2.5)
    with pytest.raises(ValueError, match="block_size"):
        ea.sliding_window_attention(q, k, v, 2, block_size=0)
    with pytest.raises(ValueError, match="chunk_size"):
        ea.linear_attention(q, k, v, causal=True, chunk_size=0)
    with pytest.raises(ValueError, match="coma flotante"):
        ea.linear_attention(q.long(), k, v)
    with pytest.raises(ValueError, match="al menos 2 dimensiones"):
        ea.full_attention(q[0, 0], k, v)
    with pytest.raises(ValueError, match="k y v"):
        ea.full_attention(q, k, v[:, :9])
    with pytest.raises(ValueError, match="booleana"):
        ea.full_attention(q, k, v, mask=torch.ones(10, 10))
    with pytest.raises(ValueError, match="n_q == n_k"):
        ea.full_attention(q[:, :3], k, v, causal=True)
    with pytest.raises(ValueError, match="vacío"):
        ea.measure_attention_costs({}, [8])
    with pytest.raises(ValueError, match="n"):
        ea.sliding_window_mask(0)
