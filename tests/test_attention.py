"""Pruebas del registro de atención (labcode.nn.attention) y de las máscaras (labcode.nn.masks)."""

from __future__ import annotations

import pytest
import torch

from labcode.nn.attention import ATTENTION_FUNCTIONS, linear_attention, set_attn_implementation
from labcode.nn.blocks import MultiHeadAttention
from labcode.nn.masks import causal_mask, length_mask, padding_mask


def _qkv(B=2, nh=3, Tq=7, Tk=7, d=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(B, nh, Tq, d, generator=g), torch.randn(B, nh, Tk, d, generator=g),
            torch.randn(B, nh, Tk, d, generator=g))


def test_registry_has_the_four_implementations_with_one_signature():
    assert {"sdpa", "eager", "sliding_window", "linear"} <= set(ATTENTION_FUNCTIONS)
    q, k, v = _qkv()
    for name, fn in ATTENTION_FUNCTIONS.items():
        y, w = fn(q, k, v, None, scale=None, dropout=0.0, is_causal=True,
                  output_attentions=True, window=3)
        assert y.shape == q.shape, name
        assert w.shape == (2, 3, 7, 7), name
        torch.testing.assert_close(w.sum(-1), torch.ones(2, 3, 7))
        assert (w.triu(diagonal=1) == 0).all(), name  # causal: nada del futuro


@pytest.mark.parametrize("causal", [False, True])
def test_sdpa_eager_and_wide_window_agree(causal):
    q, k, v = _qkv()
    ref, _ = ATTENTION_FUNCTIONS["eager"](q, k, v, is_causal=causal)
    for name in ("sdpa", "sliding_window"):
        y, _ = ATTENTION_FUNCTIONS[name](q, k, v, is_causal=causal, window=6)
        torch.testing.assert_close(y, ref, atol=1e-6, rtol=1e-5)


def test_sliding_window_blocks_equal_dense_band_with_padding():
    q, k, v = _qkv(Tq=20, Tk=20)
    keys = length_mask(torch.tensor([20, 13]), 20)  # (B, 1, 1, T)
    fast, _ = ATTENTION_FUNCTIONS["sliding_window"](q, k, v, keys, window=4)
    slow, w = ATTENTION_FUNCTIONS["sliding_window"](q, k, v, keys, window=4,
                                                    output_attentions=True)
    # En la fila 1, las consultas 17..19 solo tendrían relleno en su ventana.
    torch.testing.assert_close(fast[:, :, :13], slow[:, :, :13], atol=1e-6, rtol=1e-5)
    i, j = torch.arange(20)[:, None], torch.arange(20)[None, :]
    assert (w[0, :, (i - j).abs() > 4] == 0).all()  # fuera de la banda
    assert (w[1, :, :13, 13:] == 0).all()  # claves de relleno


def test_causal_with_cache_is_aligned_to_the_last_keys():
    q, k, v = _qkv(Tq=3, Tk=7)
    full_q, _, _ = _qkv(Tq=7, Tk=7)
    full_q[:, :, 4:] = q
    for name in ("sdpa", "eager", "linear"):
        step, _ = ATTENTION_FUNCTIONS[name](q, k, v, is_causal=True)
        full, _ = ATTENTION_FUNCTIONS[name](full_q, k, v, is_causal=True)
        torch.testing.assert_close(step, full[:, :, 4:], atol=1e-5, rtol=1e-5)


def test_linear_ignores_padded_keys():
    q, k, v = _qkv(B=1, Tq=6, Tk=6)
    keys = length_mask(torch.tensor([4]), 6)
    y, _ = ATTENTION_FUNCTIONS["linear"](q, k, v, keys)
    ref = linear_attention(q[..., :4, :], k[..., :4, :], v[..., :4, :])
    torch.testing.assert_close(y[..., :4, :], ref)
    with pytest.raises(ValueError, match="máscaras de claves"):
        ATTENTION_FUNCTIONS["linear"](q, k, v, causal_mask(6))


def test_set_attn_implementation_changes_every_module():
    mha = MultiHeadAttention(16, 4).eval()
    x = torch.randn(2, 9, 16)
    ref, _ = mha(x)
    set_attn_implementation(mha, "sliding_window", sliding_window=8)
    assert mha.attn_implementation == "sliding_window"
    torch.testing.assert_close(mha(x)[0], ref, atol=1e-6, rtol=1e-5)
    set_attn_implementation(mha, "sliding_window", sliding_window=1)
    assert not torch.allclose(mha(x)[0], ref, atol=1e-3)
    with pytest.raises(ValueError, match="attn_implementation"):
        set_attn_implementation(mha, "flash")


def test_masks_use_one_convention():
    assert torch.equal(causal_mask(2, past=1), torch.tensor([[True, True, False],
                                                             [True, True, True]]))
    ids = torch.tensor([[5, 6, 0], [7, 0, 0]])
    assert torch.equal(padding_mask(ids, 0), length_mask(torch.tensor([2, 1]), 3))
