"""Pruebas de labcode.numpy_ref.positional y del ejercicio 11.2."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from labcode.book.exercises import check_11_2
from labcode.book.exercises.ch04 import _pe_variants_11_2
from labcode.nn.positional import LearnedPositionalEmbedding, SinusoidalPositionalEncoding
from labcode.numpy_ref.attention import SelfAttentionNumPy
from labcode.numpy_ref.positional import (
    PositionalEncodingSinusoidal,
    dot_product_by_offset,
    frequencies,
    relative_shift_matrix,
    sinusoidal_table,
)

# ---------------------------------------------------------------------------
# La tabla
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("max_len,d_model", [(7, 4), (10, 6), (5, 7), (3, 1)])
def test_table_matches_formula_with_explicit_loops(max_len, d_model):
    pe = PositionalEncodingSinusoidal(d_model, max_len).pe
    assert pe.shape == (max_len, d_model)
    for pos in range(max_len):
        for j in range(d_model):
            i = j // 2
            angle = pos / 10000 ** (2 * i / d_model)
            expected = math.sin(angle) if j % 2 == 0 else math.cos(angle)
            assert pe[pos, j] == pytest.approx(expected, abs=1e-12)


def test_first_rows_and_columns():
    pe = sinusoidal_table(100, 16)
    np.testing.assert_allclose(pe[0, 0::2], 0.0)  # sin(0)
    np.testing.assert_allclose(pe[0, 1::2], 1.0)  # cos(0)
    np.testing.assert_allclose(pe[:, 0], np.sin(np.arange(100)))  # frecuencia 1
    assert frequencies(16)[0] == 1.0
    assert np.all(np.diff(frequencies(16)) < 0)


def test_values_in_unit_interval_and_pairs_on_circle():
    pe = sinusoidal_table(500, 32)
    assert pe.min() >= -1.0 and pe.max() <= 1.0
    np.testing.assert_allclose(pe[:, 0::2] ** 2 + pe[:, 1::2] ** 2, 1.0, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(pe, axis=1), 4.0, atol=1e-12)  # sqrt(d/2)


def test_base_parameter_changes_frequencies():
    a = sinusoidal_table(20, 8, base=10000.0)
    b = sinusoidal_table(20, 8, base=100.0)
    np.testing.assert_allclose(a[:, :2], b[:, :2])  # la primera pareja no depende de la base
    assert np.abs(a - b).max() > 0.1


def test_call_adds_table_2d_and_3d():
    enc = PositionalEncodingSinusoidal(8, max_len=20)
    x = np.random.default_rng(0).normal(size=(5, 8))
    np.testing.assert_allclose(enc(x), x + enc.pe[:5])
    xb = np.random.default_rng(1).normal(size=(3, 5, 8))
    out = enc(xb)
    assert out.shape == (3, 5, 8)
    for b in range(3):
        np.testing.assert_allclose(out[b], xb[b] + enc.pe[:5])
    np.testing.assert_allclose(enc(x, start=4), x + enc.pe[4:9])
    np.testing.assert_allclose(enc(np.zeros((20, 8))), enc.pe)  # justo max_len cabe
    np.testing.assert_allclose(enc.encoding(3, start=2), enc.pe[2:5])
    assert "d_model=8" in repr(enc)


def test_call_keeps_float32_when_added_to_float32():
    enc = PositionalEncodingSinusoidal(4, max_len=10)
    out = enc(np.zeros((3, 4), dtype=np.float32))
    assert out.shape == (3, 4)
    np.testing.assert_allclose(out, enc.pe[:3], atol=1e-7)


# ---------------------------------------------------------------------------
# Propiedades
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 3, 17, -5, 0.5])
def test_relative_shift_is_fixed_linear_map(k):
    d, n = 32, 300
    pe = sinusoidal_table(n + 40, d)
    m = relative_shift_matrix(d, k)
    positions = np.arange(20, n)
    # PE(pos + k) (también para k no entero) directamente con la fórmula.
    w = frequencies(d)
    angles = (positions + k)[:, None] * w[None, :]
    shifted = np.empty((len(positions), d))
    shifted[:, 0::2], shifted[:, 1::2] = np.sin(angles), np.cos(angles)
    np.testing.assert_allclose(pe[positions] @ m, shifted, atol=1e-10)
    np.testing.assert_allclose(m @ m.T, np.eye(d), atol=1e-12)  # es ortogonal (una rotación)


def test_relative_shift_composes_and_zero_is_identity():
    np.testing.assert_allclose(relative_shift_matrix(8, 0), np.eye(8), atol=1e-15)
    np.testing.assert_allclose(
        relative_shift_matrix(8, 2) @ relative_shift_matrix(8, 3),
        relative_shift_matrix(8, 5),
        atol=1e-12,
    )


def test_dot_product_depends_only_on_offset():
    d = 64
    pe = sinusoidal_table(400, d)
    gram = pe @ pe.T
    for k in [0, 1, 5, 40, 123]:
        diag = np.diagonal(gram, offset=k)  # PE(p) · PE(p + k) para todo p
        np.testing.assert_allclose(diag, diag[0], atol=1e-9)
        assert diag[0] == pytest.approx(dot_product_by_offset(d, k), abs=1e-9)
    assert dot_product_by_offset(d, 0) == pytest.approx(d / 2)
    np.testing.assert_allclose(dot_product_by_offset(d, [3, -3]), dot_product_by_offset(d, 3))


def test_attention_is_permutation_equivariant_without_positions():
    rng = np.random.default_rng(0)
    n, d = 6, 8
    x = rng.normal(size=(n, d))
    attn = SelfAttentionNumPy(d, seed=1)
    perm = rng.permutation(n)
    out, _ = attn(x)
    out_perm, _ = attn(x[perm])
    np.testing.assert_allclose(out_perm, out[perm], atol=1e-12)
    # Con la codificación posicional la igualdad deja de cumplirse.
    enc = PositionalEncodingSinusoidal(d, max_len=n)
    out_pe, _ = attn(enc(x))
    out_pe_perm, _ = attn(enc(x[perm]))
    assert np.abs(out_pe_perm - out_pe[perm]).max() > 1e-3


# ---------------------------------------------------------------------------
# Módulos de PyTorch
# ---------------------------------------------------------------------------


def test_torch_sinusoidal_matches_numpy_and_has_no_parameters():
    mod = SinusoidalPositionalEncoding(16, max_len=50)
    assert sum(p.numel() for p in mod.parameters()) == 0
    assert "pe" not in mod.state_dict()
    x = torch.zeros(2, 10, 16)
    out = mod(x)
    assert out.shape == (2, 10, 16)
    np.testing.assert_allclose(out[0].numpy(), sinusoidal_table(50, 16)[:10], atol=1e-6)
    np.testing.assert_allclose(mod(torch.zeros(10, 16)).numpy(), out[1].numpy())
    np.testing.assert_allclose(
        mod(torch.zeros(1, 3, 16), start=7)[0].numpy(), sinusoidal_table(50, 16)[7:10], atol=1e-6
    )
    assert mod(torch.zeros(1, 3, 16, dtype=torch.float64)).dtype == torch.float64


def test_torch_sinusoidal_dropout_only_in_training():
    mod = SinusoidalPositionalEncoding(8, max_len=20, dropout=0.5)
    x = torch.ones(4, 20, 8)
    mod.eval()
    torch.testing.assert_close(mod(x), x + mod.pe[:20])
    mod.train()
    torch.manual_seed(0)
    assert (mod(x) == 0).any()


def test_learned_embedding_shapes_and_gradients():
    torch.manual_seed(0)
    mod = LearnedPositionalEmbedding(max_len=12, d_model=8)
    assert mod.wpe.weight.shape == (12, 8)
    assert mod.wpe.weight.std().item() == pytest.approx(0.02, rel=0.5)
    x = torch.randn(3, 5, 8, requires_grad=True)
    out = mod(x)
    assert out.shape == (3, 5, 8)
    torch.testing.assert_close(out - x, mod.wpe.weight[:5].expand(3, 5, 8))
    out.sum().backward()
    grad = mod.wpe.weight.grad
    torch.testing.assert_close(grad[:5], torch.full((5, 8), 3.0))  # 3 = tamaño del lote
    assert torch.all(grad[5:] == 0)  # posiciones no usadas: sin gradiente
    assert torch.all(x.grad == 1)
    assert mod(torch.zeros(4, 8), start=8).shape == (4, 8)


# ---------------------------------------------------------------------------
# Errores
# ---------------------------------------------------------------------------


def test_errors_numpy():
    enc = PositionalEncodingSinusoidal(8, max_len=10)
    with pytest.raises(ValueError, match=r"max_len=10.*start \+ n = 11"):
        enc(np.zeros((11, 8)))
    with pytest.raises(ValueError, match=r"d_model=8.*\(5, 6\)"):
        enc(np.zeros((5, 6)))
    with pytest.raises(ValueError, match=r"2D \(n, d_model\) o 3D.*forma \(8,\)"):
        enc(np.zeros(8))
    with pytest.raises(ValueError, match="4 dimensiones"):
        enc(np.zeros((1, 1, 2, 8)))
    with pytest.raises(ValueError, match=r"desde la posición 5.*start \+ n = 11"):
        enc(np.zeros((6, 8)), start=5)
    with pytest.raises(ValueError, match="start"):
        enc(np.zeros((2, 8)), start=-1)
    with pytest.raises(TypeError, match="SinusoidalPositionalEncoding"):
        enc(torch.zeros(2, 8))
    with pytest.raises(TypeError, match="numérico"):
        enc(np.array([["a"] * 8]))
    for bad in (0, -3):
        with pytest.raises(ValueError, match=rf"d_model.*se recibió {bad}"):
            PositionalEncodingSinusoidal(bad)
        with pytest.raises(ValueError, match=rf"max_len.*se recibió {bad}"):
            PositionalEncodingSinusoidal(8, max_len=bad)
    with pytest.raises(TypeError, match="d_model"):
        PositionalEncodingSinusoidal(8.0)
    with pytest.raises(ValueError, match="base"):
        PositionalEncodingSinusoidal(8, base=1.0)
    with pytest.raises(ValueError, match=r"par.*d_model=7"):
        relative_shift_matrix(7, 1)
    with pytest.raises(ValueError, match=r"par.*d_model=5"):
        dot_product_by_offset(5, 1)
    with pytest.raises(ValueError, match="start \\+ n = 200"):
        enc.encoding(200)


def test_errors_torch():
    sin = SinusoidalPositionalEncoding(8, max_len=10)
    learned = LearnedPositionalEmbedding(10, 8)
    for mod in (sin, learned):
        with pytest.raises(ValueError, match=r"max_len=10.*start \+ n = 12"):
            mod(torch.zeros(1, 12, 8))
        with pytest.raises(ValueError, match=r"d_model=8.*\(1, 4, 6\)"):
            mod(torch.zeros(1, 4, 6))
        with pytest.raises(ValueError, match="forma \\(8,\\)"):
            mod(torch.zeros(8))
        with pytest.raises(TypeError, match="torch.Tensor"):
            mod(np.zeros((2, 8)))
        with pytest.raises(TypeError, match="índices"):
            mod(torch.zeros(2, 8, dtype=torch.long))
        with pytest.raises(ValueError, match="start"):
            mod(torch.zeros(2, 8), start=9)
    with pytest.raises(ValueError, match="dropout"):
        SinusoidalPositionalEncoding(8, dropout=1.5)
    with pytest.raises(ValueError, match="max_len"):
        LearnedPositionalEmbedding(0, 8)


# ---------------------------------------------------------------------------
# Ejercicio 11.2
# ---------------------------------------------------------------------------


def test_check_11_2_accepts_correct_function_and_array(capsys):
    assert check_11_2(sinusoidal_table) is True
    assert check_11_2(PositionalEncodingSinusoidal(64, 100).pe) is True
    assert check_11_2(torch.tensor(sinusoidal_table(10, 4))) is True
    assert "✅" in capsys.readouterr().out


def test_check_11_2_none_never_raises(capsys):
    assert check_11_2(None) is False
    assert check_11_2(lambda max_len, d_model: None) is False
    out = capsys.readouterr().out
    assert out.count("todavía no hay respuesta") == 2


@pytest.mark.parametrize(
    "key,fragment",
    [
        ("seno y coseno intercambiados", "intercambiados"),
        ("exponente i/d_model", "falta el factor 2"),
        ("exponente 2i/d_model con i = índice de COLUMNA", "índice de la pareja"),
        ("exponente j/d_model", "compartir la frecuencia"),
        ("multiplicaste", "dividir"),
        ("las posiciones empiezan en 1", "empezar en 0"),
        ("pusiste todos los senos", "bloques"),
    ],
)
def test_check_11_2_diagnoses_common_mistakes(key, fragment, capsys):
    (mistake,) = [m for m in _pe_variants_11_2(5, 4) if m.startswith(key)]

    def wrong(max_len, d_model):
        return _pe_variants_11_2(max_len, d_model)[mistake]

    assert check_11_2(wrong) is False
    out = capsys.readouterr().out
    assert "❌" in out and fragment in out


def test_check_11_2_wrong_shapes_and_garbage(capsys):
    table = sinusoidal_table(30, 8)
    assert check_11_2(table.T, max_len=30, d_model=8) is False
    assert "traspuesta" in capsys.readouterr().out
    assert check_11_2(lambda n, d: np.zeros((n, d + 1))) is False
    assert "se esperaba la forma (max_len, d_model) = (50, 16)" in capsys.readouterr().out
    assert check_11_2(table[None]) is False
    assert "2D" in capsys.readouterr().out
    assert check_11_2("hola") is False
    assert check_11_2(lambda n, d: 1 / 0) is False
    assert "ZeroDivisionError" in capsys.readouterr().out
    assert check_11_2(lambda n, d: np.zeros((n, d))) is False
    assert "columna 1" in capsys.readouterr().out
    bad = table.copy()
    bad[3, 2] = np.nan
    assert check_11_2(bad) is False
    assert "NaN" in capsys.readouterr().out
