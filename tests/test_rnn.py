"""Pruebas de labcode.nn.rnn: capas, modelos y funciones de medida."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from labcode.nn.rnn import (
    LSTMClassifier,
    LSTMConfig,
    LSTMEncoder,
    RecurrentLayer,
    SelfAttentionLayer,
    benchmark_sequence_lengths,
    gradient_norm_vs_distance,
    time_forward_backward,
)
from labcode.utils.timing import Timing


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


# ---------------------------------------------------------------------------
# Capas
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_recurrent_layer_shapes(cell, bidirectional):
    layer = RecurrentLayer(6, hidden_size=5, cell=cell, bidirectional=bidirectional)
    out = layer(torch.randn(3, 7, 6))
    assert out.shape == (3, 7, layer.output_size)
    assert layer.output_size == (10 if bidirectional else 5)


def test_recurrent_layer_is_causal_in_time():
    layer = RecurrentLayer(4, cell="lstm")
    x = torch.randn(1, 6, 4)
    y = x.clone()
    y[:, 4:] += 1.0  # cambiar el futuro no altera las salidas pasadas
    torch.testing.assert_close(layer(x)[:, :4], layer(y)[:, :4])


def test_self_attention_layer_shapes_and_causality():
    layer = SelfAttentionLayer(8, num_heads=2, causal=True)
    x = torch.randn(2, 5, 8)
    out = layer(x)
    assert out.shape == (2, 5, 8)
    y = x.clone()
    y[:, 3:] += 1.0
    torch.testing.assert_close(layer(y)[:, :3], out[:, :3])
    bidir = SelfAttentionLayer(8)
    assert (bidir(y)[:, :3] - bidir(x)[:, :3]).abs().max() > 1e-4


def test_layer_errors():
    with pytest.raises(ValueError, match=r"cell debe ser uno de.*'transformer'"):
        RecurrentLayer(4, cell="transformer")
    with pytest.raises(ValueError, match="input_size.*se recibió 0"):
        RecurrentLayer(0)
    with pytest.raises(ValueError, match="divisible.*d_model=6.*num_heads=4"):
        SelfAttentionLayer(6, num_heads=4)
    layer = RecurrentLayer(4)
    with pytest.raises(ValueError, match=r"última dimensión debe ser 4.*\(2, 3, 5\)"):
        layer(torch.randn(2, 3, 5))
    with pytest.raises(ValueError, match=r"3D.*\(3, 4\)"):
        layer(torch.randn(3, 4))
    with pytest.raises(TypeError, match="coma flotante"):
        layer(torch.zeros(2, 3, 4, dtype=torch.long))
    with pytest.raises(TypeError, match="torch.Tensor"):
        SelfAttentionLayer(4)(np.zeros((1, 2, 4)))


# ---------------------------------------------------------------------------
# Modelos sobre tokens
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("pooling", ["last", "mean"])
def test_lstm_classifier_shapes_and_backward(bidirectional, pooling):
    cfg = LSTMConfig(
        vocab_size=30, num_classes=3, embed_dim=8, hidden_size=6,
        bidirectional=bidirectional, pooling=pooling,
    )
    model = LSTMClassifier(cfg)
    idx = torch.randint(0, 30, (4, 9))
    logits = model(idx)
    assert logits.shape == (4, 3)
    logits.sum().backward()
    assert model.head.weight.grad is not None
    assert model.num_parameters() > 0
    outputs, summary = model.encoder(idx)
    assert outputs.shape == (4, 9, cfg.output_size)
    assert summary.shape == (4, cfg.output_size)


@pytest.mark.parametrize("pooling", ["last", "mean"])
def test_padding_does_not_change_the_summary(pooling):
    cfg = LSTMConfig(vocab_size=20, embed_dim=8, hidden_size=6, pad_idx=0, pooling=pooling)
    enc = LSTMEncoder(cfg).eval()
    seq = torch.tensor([[5, 3, 9, 2]])
    padded = torch.tensor([[5, 3, 9, 2, 0, 0, 0]])
    _, s1 = enc(seq)
    out2, s2 = enc(padded)  # longitudes deducidas de pad_idx
    torch.testing.assert_close(s1, s2)
    assert torch.all(out2[0, 4:] == 0)
    _, s3 = enc(padded, lengths=[4])  # longitudes explícitas
    torch.testing.assert_close(s1, s3)


def test_lstm_model_errors():
    with pytest.raises(ValueError, match="vocab_size.*se recibió 0"):
        LSTMConfig(vocab_size=0)
    with pytest.raises(ValueError, match="pooling.*'max'"):
        LSTMConfig(vocab_size=5, pooling="max")
    with pytest.raises(ValueError, match=r"pad_idx.*vocab_size=5.*se recibió 7"):
        LSTMConfig(vocab_size=5, pad_idx=7)
    with pytest.raises(ValueError, match="dropout"):
        LSTMConfig(vocab_size=5, dropout=1.0)
    with pytest.raises(TypeError, match="LSTMConfig"):
        LSTMEncoder({"vocab_size": 5})
    model = LSTMClassifier(LSTMConfig(vocab_size=10, embed_dim=4, hidden_size=4, pad_idx=0))
    with pytest.raises(ValueError, match=r"\[0, vocab_size=10\).*\[1, 12\]"):
        model(torch.tensor([[1, 12]]))
    with pytest.raises(ValueError, match=r"\(B, T\).*\(3,\)"):
        model(torch.tensor([1, 2, 3]))
    with pytest.raises(TypeError, match="enteros"):
        model(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="sólo por relleno"):
        model(torch.tensor([[1, 2], [0, 0]]))
    with pytest.raises(ValueError, match=r"lengths debe tener forma \(2,\)"):
        model(torch.tensor([[1, 2], [3, 4]]), lengths=[2])


# ---------------------------------------------------------------------------
# Medidas
# ---------------------------------------------------------------------------


def test_time_forward_backward_returns_positive_times():
    layer = RecurrentLayer(8)
    x = torch.randn(2, 16, 8, requires_grad=True)
    timing = time_forward_backward(layer, x, repeats=3)
    assert isinstance(timing, Timing)
    assert len(timing.times_s) == 3
    assert all(t > 0 for t in timing.times_s)
    assert 0 < timing.min_s <= timing.median_s < 5
    assert all(p.grad is None for p in layer.parameters())  # no deja gradientes colgando
    assert x.grad is None
    fwd = time_forward_backward(layer, x, repeats=2, backward=False)
    assert fwd.min_s > 0


def test_time_forward_backward_errors():
    with pytest.raises(ValueError, match="repeats.*se recibió 0"):
        time_forward_backward(RecurrentLayer(2), torch.randn(1, 2, 2), repeats=0)
    with pytest.raises(ValueError, match="warmup"):
        time_forward_backward(RecurrentLayer(2), torch.randn(1, 2, 2), warmup=-1)
    with pytest.raises(TypeError, match="nn.Module"):
        time_forward_backward(lambda x: x, torch.randn(1, 2, 2))


def test_benchmark_sequence_lengths():
    layers = {"lstm": RecurrentLayer(8), "atención": SelfAttentionLayer(8)}
    res = benchmark_sequence_lengths(layers, [4, 16], batch_size=2, repeats=2)
    np.testing.assert_array_equal(res["length"], [4, 16])
    for name in layers:
        assert res[name].shape == (2,) and np.all(res[name] > 0)
    with pytest.raises(ValueError, match="vacío"):
        benchmark_sequence_lengths({}, [4])
    with pytest.raises(ValueError, match="dimensión de entrada común"):
        benchmark_sequence_lengths({"a": RecurrentLayer(4), "b": RecurrentLayer(8)}, [4])


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_gradient_norm_decays_with_distance_for_recurrent_nets(cell):
    torch.manual_seed(0)
    layer = RecurrentLayer(16, cell=cell)
    dist, norms = gradient_norm_vs_distance(layer, seq_len=40, d_model=16, batch_size=2)
    np.testing.assert_array_equal(dist, np.arange(40))
    assert np.all(norms > 0) and np.all(np.isfinite(norms))
    # decaimiento (casi) exponencial: muchos órdenes de magnitud en 39 pasos
    assert norms[-1] < 1e-6 * norms[0]
    assert norms[10] < norms[1] and norms[30] < norms[10]
    assert layer.training  # restaura el modo


def test_gradient_norm_is_flat_with_distance_for_attention():
    torch.manual_seed(0)
    layer = SelfAttentionLayer(16)
    _, norms = gradient_norm_vs_distance(layer, seq_len=40, d_model=16, batch_size=2)
    far = norms[1:]  # el propio token (distancia 0) tiene un camino extra
    assert far.max() / far.min() < 10  # mismo orden de magnitud a cualquier distancia


def test_gradient_norm_matches_explicit_jacobian():
    torch.manual_seed(0)
    layer = RecurrentLayer(3, hidden_size=2, cell="rnn")
    x = torch.randn(1, 4, 3, generator=torch.Generator().manual_seed(5))
    jac = torch.autograd.functional.jacobian(lambda z: layer(z)[0, -1], x)  # (2, 1, 4, 3)
    expected = jac[:, 0].pow(2).sum(dim=(0, 2)).sqrt().flip(0).numpy()
    _, norms = gradient_norm_vs_distance(layer, seq_len=4, d_model=3, batch_size=1, seed=5)
    np.testing.assert_allclose(norms, expected, rtol=1e-5)


def test_gradient_norm_errors():
    with pytest.raises(ValueError, match="seq_len.*se recibió 0"):
        gradient_norm_vs_distance(RecurrentLayer(4), seq_len=0, d_model=4)
    with pytest.raises(ValueError, match=r"\(B=2, T=5, H\)"):
        _bad_output_module()
    with pytest.raises(TypeError, match="nn.Module"):
        gradient_norm_vs_distance("lstm", seq_len=4, d_model=4)


def _bad_output_module():
    class Pool(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(4, 3)

        def forward(self, x):
            return self.lin(x).mean(1)  # (B, H): falta la dimensión temporal

    return gradient_norm_vs_distance(Pool(), seq_len=5, d_model=4, batch_size=2)
