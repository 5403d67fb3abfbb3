"""Pruebas de labcode.nn.blocks: atención multi-cabeza, FFN y bloques encoder/decoder."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from labcode.nn.blocks import (
    FeedForward,
    MultiHeadAttention,
    TransformerDecoderBlock,
    TransformerEncoderBlock,
    causal_mask,
    padding_mask,
)
from labcode.nn.masks import check_mask_rows

D, H, F = 16, 4, 32


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def copy_to_torch_encoder(block: TransformerEncoderBlock, ref: nn.TransformerEncoderLayer):
    """Copia los pesos de nuestro bloque en ``nn.TransformerEncoderLayer``."""
    a = block.self_attn
    with torch.no_grad():
        ref.self_attn.in_proj_weight.copy_(
            torch.cat([a.q_proj.weight, a.k_proj.weight, a.v_proj.weight])
        )
        ref.self_attn.in_proj_bias.copy_(torch.cat([a.q_proj.bias, a.k_proj.bias, a.v_proj.bias]))
        ref.self_attn.out_proj.load_state_dict(a.out_proj.state_dict())
        ref.linear1.load_state_dict(block.ffn.fc1.state_dict())
        ref.linear2.load_state_dict(block.ffn.fc2.state_dict())
        ref.norm1.load_state_dict(block.norm1.state_dict())
        ref.norm2.load_state_dict(block.norm2.state_dict())


# ---------------------------------------------------------------------------- máscaras


def test_causal_mask_is_lower_triangular():
    m = causal_mask(4)
    assert m.dtype == torch.bool and m.shape == (4, 4)
    assert torch.equal(m, torch.tril(torch.ones(4, 4, dtype=torch.bool)))
    with pytest.raises(ValueError, match="T >= 1"):
        causal_mask(0)


def test_padding_mask_shape_and_values():
    ids = torch.tensor([[5, 6, 0, 0], [5, 6, 7, 8]])
    m = padding_mask(ids, pad_id=0)
    assert m.shape == (2, 1, 1, 4)
    assert m[0, 0, 0].tolist() == [True, True, False, False]
    assert m[1].all()
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        padding_mask(torch.tensor([1, 2, 0]), 0)


# ---------------------------------------------------------------------------- atención


def test_mha_shapes_batched_unbatched_and_cross():
    mha = MultiHeadAttention(D, H).eval()
    x = torch.randn(2, 5, D)
    y, w = mha(x)
    assert y.shape == (2, 5, D) and w is None
    y, w = mha(x, output_attentions=True)
    assert w.shape == (2, H, 5, 5)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, H, 5))
    # sin dimensión de lote
    y1, w1 = mha(x[0], output_attentions=True)
    assert y1.shape == (5, D) and w1.shape == (H, 5, 5)
    torch.testing.assert_close(y1, y[0], atol=1e-6, rtol=0)
    # atención cruzada: Tq != Tk
    mem = torch.randn(2, 7, D)
    y, w = mha(x, mem, mem, output_attentions=True)
    assert y.shape == (2, 5, D) and w.shape == (2, H, 5, 7)


def test_mha_submodules():
    mha = MultiHeadAttention(D, H, bias=False)
    for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
        lin = getattr(mha, name)
        assert isinstance(lin, nn.Linear) and lin.weight.shape == (D, D) and lin.bias is None
    assert mha.head_dim == D // H


@pytest.mark.parametrize("kind", ["none", "causal", "padding", "both"])
def test_sdpa_path_equals_explicit_path(kind):
    mha = MultiHeadAttention(D, H).eval()
    x = torch.randn(2, 6, D)
    ids = torch.tensor([[3, 4, 5, 6, 0, 0], [3, 4, 5, 6, 7, 8]])
    mask = {
        "none": None,
        "causal": causal_mask(6),
        "padding": padding_mask(ids, 0),
        "both": causal_mask(6) & padding_mask(ids, 0),
    }[kind]
    fast, _ = mha(x, mask=mask)
    slow, w = mha(x, mask=mask, output_attentions=True)
    torch.testing.assert_close(fast, slow, atol=1e-6, rtol=0)
    if mask is not None:
        assert (w.masked_select(~mask.expand_as(w)) == 0).all()


def test_causal_mask_blocks_the_future():
    mha = MultiHeadAttention(D, H).eval()
    x = torch.randn(1, 6, D)
    y, _ = mha(x, mask=causal_mask(6))
    x2 = x.clone()
    x2[:, 4:] = torch.randn(1, 2, D)  # cambiamos el futuro de la posición 3
    y2, _ = mha(x2, mask=causal_mask(6))
    torch.testing.assert_close(y[:, :4], y2[:, :4], atol=1e-6, rtol=0)
    assert not torch.allclose(y[:, 4:], y2[:, 4:])


def test_padding_mask_blocks_padded_keys():
    mha = MultiHeadAttention(D, H).eval()
    x = torch.randn(1, 5, D)
    mask = padding_mask(torch.tensor([[1, 1, 1, 0, 0]]), 0)
    y, _ = mha(x, mask=mask)
    x2 = x.clone()
    x2[:, 3:] = 100 * torch.randn(1, 2, D)  # cambiamos lo que hay en el relleno
    y2, _ = mha(x2, mask=mask)
    torch.testing.assert_close(y[:, :3], y2[:, :3], atol=1e-6, rtol=0)
    # y equivale a recortar la secuencia
    y3, _ = mha(x[:, :3])
    torch.testing.assert_close(y[:, :3], y3, atol=1e-6, rtol=0)


def test_mha_errors_are_clear():
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(10, 3)
    mha = MultiHeadAttention(D, H)
    with pytest.raises(ValueError, match=r"d_model=16.*\(2, 5, 8\)"):
        mha(torch.randn(2, 5, 8))
    with pytest.raises(ValueError, match="difundirse"):
        mha(torch.randn(2, 5, D), mask=torch.ones(3, 5, dtype=torch.bool))
    with pytest.raises(TypeError, match="booleana"):
        mha(torch.randn(2, 5, D), mask=torch.ones(5, 5))
    with pytest.raises(ValueError, match="completamente enmascarada"):
        check_mask_rows(torch.zeros(5, 5, dtype=torch.bool), (2, H, 5, 5))
    with pytest.raises(ValueError, match="attn_implementation"):
        MultiHeadAttention(D, H, attn_implementation="flash")
    with pytest.raises(ValueError, match="sliding_window"):
        MultiHeadAttention(D, H, attn_implementation="sliding_window")
    with pytest.raises(ValueError, match=r"\(B, T, 16\)"):
        mha(torch.randn(5, D)[None, None])
    with pytest.raises(TypeError, match="torch.Tensor"):
        mha([[0.0] * D])


# ---------------------------------------------------------------------------- FFN


@pytest.mark.parametrize("act", ["relu", "gelu", "gelu_tanh"])
def test_feedforward(act):
    ffn = FeedForward(D, F, activation=act).eval()
    x = torch.randn(2, 5, D)
    y = ffn(x)
    assert y.shape == x.shape
    ref = {
        "relu": torch.relu,
        "gelu": nn.functional.gelu,
        "gelu_tanh": lambda t: nn.functional.gelu(t, approximate="tanh"),
    }[act]
    torch.testing.assert_close(y, ffn.fc2(ref(ffn.fc1(x))))
    # por posición: permutar posiciones permuta la salida
    perm = torch.tensor([4, 2, 0, 1, 3])
    torch.testing.assert_close(ffn(x[:, perm]), y[:, perm])


def test_feedforward_errors():
    with pytest.raises(ValueError, match="activación desconocida"):
        FeedForward(D, F, activation="tanh")
    with pytest.raises(ValueError, match="d_model=16"):
        FeedForward(D, F)(torch.randn(3, 8))


# ---------------------------------------------------------------------------- encoder


def test_encoder_block_postln_equals_torch_layer():
    block = TransformerEncoderBlock(D, H, F, dropout=0.1).eval()
    ref = nn.TransformerEncoderLayer(D, H, F, dropout=0.1, batch_first=True).eval()
    copy_to_torch_encoder(block, ref)
    x = torch.randn(3, 7, D)
    ids = torch.tensor([[1] * 7, [1] * 5 + [0] * 2, [1] * 2 + [0] * 5])
    with torch.no_grad():
        ours = block(x, mask=padding_mask(ids, 0))
        theirs = ref(x, src_key_padding_mask=ids == 0)  # torch: True = ignorar
    real = ids != 0
    diff = (ours - theirs)[real].abs().max().item()
    assert diff < 1e-5
    with torch.no_grad():
        diff_nomask = (block(x) - ref(x)).abs().max().item()
    assert diff_nomask < 1e-5


def test_encoder_block_preln_equals_torch_layer():
    block = TransformerEncoderBlock(D, H, F, norm_first=True, activation="gelu").eval()
    ref = nn.TransformerEncoderLayer(
        D, H, F, batch_first=True, norm_first=True, activation="gelu"
    ).eval()
    copy_to_torch_encoder(block, ref)
    x = torch.randn(2, 6, D)
    with torch.no_grad():
        assert (block(x) - ref(x)).abs().max().item() < 1e-5


def test_encoder_block_weights_and_training():
    block = TransformerEncoderBlock(D, H, F, norm_first=True)
    x = torch.randn(2, 6, D, requires_grad=True)
    y, w = block(x, output_attentions=True)
    assert y.shape == x.shape and w.shape == (2, H, 6, 6)
    y.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert all(p.grad is not None for p in block.parameters())


def test_postln_output_is_normalized():
    block = TransformerEncoderBlock(D, H, F, dropout=0.0).eval()
    y = block(5 * torch.randn(2, 4, D))
    torch.testing.assert_close(y.mean(-1), torch.zeros(2, 4), atol=1e-5, rtol=0)


# ---------------------------------------------------------------------------- decoder


def test_decoder_block_shapes_and_weights():
    dec = TransformerDecoderBlock(D, H, F).eval()
    x, mem = torch.randn(2, 5, D), torch.randn(2, 7, D)
    assert dec(x, mem).shape == (2, 5, D)
    y, w = dec(x, mem, self_mask=causal_mask(5), output_attentions=True)
    assert y.shape == (2, 5, D)
    assert w["self"].shape == (2, H, 5, 5) and w["cross"].shape == (2, H, 5, 7)
    assert torch.equal(w["self"][0, 0] > 0, causal_mask(5))


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_block_masks(norm_first):
    dec = TransformerDecoderBlock(D, H, F, norm_first=norm_first).eval()
    x, mem = torch.randn(1, 5, D), torch.randn(1, 6, D)
    mem_ids = torch.tensor([[1, 1, 1, 1, 0, 0]])
    kw = dict(self_mask=causal_mask(5), memory_mask=padding_mask(mem_ids, 0))
    y = dec(x, mem, **kw)
    # el futuro del destino no influye
    x2 = x.clone()
    x2[:, 3:] = torch.randn(1, 2, D)
    torch.testing.assert_close(dec(x2, mem, **kw)[:, :3], y[:, :3], atol=1e-6, rtol=0)
    # el relleno de la memoria no influye
    mem2 = mem.clone()
    mem2[:, 4:] = 50 * torch.randn(1, 2, D)
    torch.testing.assert_close(dec(x, mem2, **kw), y, atol=1e-6, rtol=0)


def test_decoder_block_equals_torch_decoder_layer():
    dec = TransformerDecoderBlock(D, H, F).eval()
    ref = nn.TransformerDecoderLayer(D, H, F, batch_first=True).eval()
    with torch.no_grad():
        for ours, theirs in ((dec.self_attn, ref.self_attn), (dec.cross_attn, ref.multihead_attn)):
            theirs.in_proj_weight.copy_(
                torch.cat([ours.q_proj.weight, ours.k_proj.weight, ours.v_proj.weight])
            )
            theirs.in_proj_bias.copy_(torch.cat([ours.q_proj.bias, ours.k_proj.bias,
                                                 ours.v_proj.bias]))  # fmt: skip
            theirs.out_proj.load_state_dict(ours.out_proj.state_dict())
        ref.linear1.load_state_dict(dec.ffn.fc1.state_dict())
        ref.linear2.load_state_dict(dec.ffn.fc2.state_dict())
        for i in (1, 2, 3):
            getattr(ref, f"norm{i}").load_state_dict(getattr(dec, f"norm{i}").state_dict())
        x, mem = torch.randn(2, 5, D), torch.randn(2, 7, D)
        ours = dec(x, mem, self_mask=causal_mask(5))
        theirs = ref(x, mem, tgt_mask=nn.Transformer.generate_square_subsequent_mask(5))
    assert (ours - theirs).abs().max().item() < 1e-5
