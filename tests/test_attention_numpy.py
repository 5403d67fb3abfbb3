"""Pruebas de labcode.numpy_ref.attention (y de los ejercicios 11.1 y 11.3).

La referencia es PyTorch: ``torch.nn.functional.scaled_dot_product_attention`` y
``torch.nn.MultiheadAttention`` con los mismos pesos, en float64.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from labcode.book.exercises import EXERCISE_11_1, check_11_1, check_11_3
from labcode.book.exercises.ch02 import _ex11_1_candidates
from labcode.numpy_ref.attention import (
    MultiHeadAttentionNumPy,
    SelfAttentionNumPy,
    causal_mask,
    length_mask,
    merge_heads,
    padding_mask,
    scaled_dot_product_attention,
    softmax,
    split_heads,
)

ATOL = 1e-6


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _torch_mha(mha: MultiHeadAttentionNumPy) -> torch.nn.MultiheadAttention:
    """``nn.MultiheadAttention`` con los pesos de ``mha`` (traspuestos: PyTorch usa W x)."""
    ref = torch.nn.MultiheadAttention(
        mha.d_model, mha.num_heads, bias=False, batch_first=True, dtype=torch.float64
    )
    with torch.no_grad():
        in_proj = np.concatenate([mha.W_q.T, mha.W_k.T, mha.W_v.T])  # (3·d_model, d_model)
        ref.in_proj_weight.copy_(torch.from_numpy(in_proj))
        ref.out_proj.weight.copy_(torch.from_numpy(mha.W_o.T))
    return ref.eval()


# ---------------------------------------------------------------------------
# softmax y máscaras
# ---------------------------------------------------------------------------


def test_softmax_is_stable_with_huge_inputs():
    x = np.array([[1e4, 1e4 - 1.0, -1e4], [1000.0, 0.0, -1000.0], [0.0, 0.0, 0.0]])
    with np.errstate(over="raise", invalid="raise"):
        p = softmax(x)
    assert np.all(np.isfinite(p))
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, atol=1e-12)
    # Invariancia a desplazamientos: softmax(x) = softmax(x - c).
    np.testing.assert_allclose(p[0], softmax(np.array([1.0, 0.0, -2e4 - 1.0])), atol=1e-12)
    np.testing.assert_allclose(p[2], 1 / 3)


def test_softmax_axis_dtype_and_neg_inf():
    x = _rng().normal(size=(3, 4)).astype(np.float32)
    p0 = softmax(x, axis=0)
    assert p0.dtype == np.float32
    np.testing.assert_allclose(p0.sum(axis=0), 1.0, atol=1e-6)
    p = softmax(np.array([0.0, -np.inf, 0.0]))
    assert p[1] == 0.0 and p[0] == pytest.approx(0.5)


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.array([-np.inf, -np.inf]), "entera -inf"),
        (np.array([0.0, np.nan]), "NaN"),
        (np.array([0.0, np.inf]), r"\+inf"),
    ],
)
def test_softmax_rejects_undefined_rows(bad, match):
    with pytest.raises(ValueError, match=match):
        softmax(bad)


def test_softmax_bad_axis_message():
    with pytest.raises(ValueError, match="axis=3 no existe: se esperaba un eje entre -2 y 1"):
        softmax(np.zeros((2, 2)), axis=3)


def test_causal_mask():
    m = causal_mask(4)
    assert m.dtype == bool and m.shape == (4, 4)
    np.testing.assert_array_equal(m, np.tril(np.ones((4, 4), dtype=bool)))
    assert m[2, 2] and m[3, 0] and not m[0, 1]


def test_length_mask():
    m = length_mask([3, 1], 4)
    assert m.shape == (2, 1, 4) and m.dtype == bool
    np.testing.assert_array_equal(m[:, 0], [[1, 1, 1, 0], [1, 0, 0, 0]])
    assert length_mask([2, 5]).shape == (2, 1, 5)


def test_padding_mask_is_a_deprecated_alias_of_length_mask():
    with pytest.warns(DeprecationWarning, match="length_mask"):
        m = padding_mask([3, 1], 4)
    np.testing.assert_array_equal(m, length_mask([3, 1], 4))


def test_split_merge_heads_roundtrip_and_columns():
    x = _rng().normal(size=(2, 5, 12))
    h = split_heads(x, 3)
    assert h.shape == (2, 3, 5, 4)
    np.testing.assert_array_equal(h[:, 1], x[..., 4:8])  # cabeza 1 = columnas 4..7
    np.testing.assert_array_equal(merge_heads(h), x)


# ---------------------------------------------------------------------------
# Igualdad con PyTorch
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("batched", [False, True])
@pytest.mark.parametrize("cross", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_sdpa_matches_torch(batched, cross, masked):
    rng = _rng(1)
    lead = (2, 3) if batched else ()
    n_q, n_k = (4, 6) if cross else (5, 5)
    q = rng.normal(size=lead + (n_q, 8))
    k = rng.normal(size=lead + (n_k, 8))
    v = rng.normal(size=lead + (n_k, 3))
    mask = None
    if masked:
        mask = rng.random((n_q, n_k)) < 0.6
        mask[:, 0] = True  # ninguna fila totalmente bloqueada
    out, w = scaled_dot_product_attention(q, k, v, mask=mask)
    t = [torch.from_numpy(a) for a in (q, k, v)]
    tmask = None if mask is None else torch.from_numpy(mask)
    ref = F.scaled_dot_product_attention(*t, attn_mask=tmask)
    scores = t[0] @ t[1].transpose(-1, -2) / np.sqrt(8)
    if tmask is not None:
        scores = scores.masked_fill(~tmask, float("-inf"))
    np.testing.assert_allclose(out, ref.numpy(), atol=ATOL)
    np.testing.assert_allclose(w, torch.softmax(scores, -1).numpy(), atol=ATOL)
    assert out.shape == lead + (n_q, 3) and w.shape == lead + (n_q, n_k)


@pytest.mark.parametrize("batched", [False, True])
@pytest.mark.parametrize("cross", [False, True])
@pytest.mark.parametrize("mask_kind", [None, "causal", "padding"])
def test_mha_matches_torch(batched, cross, mask_kind):
    rng = _rng(2)
    d_model, h, batch = 12, 3, 2
    n_q, n_k = (4, 6) if cross else (5, 5)
    mha = MultiHeadAttentionNumPy(d_model, h, seed=3)
    ref = _torch_mha(mha)
    query = rng.normal(size=(batch, n_q, d_model))
    key = rng.normal(size=(batch, n_k, d_model)) if cross else query
    value = rng.normal(size=(batch, n_k, d_model)) if cross else query
    allowed = None  # nuestra convención: True = puede atender
    if mask_kind == "causal":
        allowed = np.tril(np.ones((n_q, n_k), dtype=bool))
    elif mask_kind == "padding":
        allowed = length_mask([n_k, n_k - 2], n_k)[:, None]  # (batch, 1, 1, n_k)
    if not batched:
        query, key, value = query[0], key[0], value[0]
        if mask_kind == "padding":
            allowed = allowed[0]
    if cross:
        out, w = mha(query, key, value, mask=allowed)
    else:
        out, w = mha(query, mask=allowed)
    tq, tk, tv = (torch.from_numpy(a) for a in (query, key, value))
    tkw = {}
    if mask_kind == "causal":
        tkw["attn_mask"] = torch.from_numpy(~allowed)  # PyTorch: True = prohibido
    elif mask_kind == "padding":
        pad = ~allowed[:, 0, 0, :] if batched else ~allowed[0, 0]
        tkw["key_padding_mask"] = torch.from_numpy(np.ascontiguousarray(pad))
    with torch.no_grad():
        ref_out, ref_w = ref(tq, tk, tv, need_weights=True, average_attn_weights=False, **tkw)
        _, ref_avg = ref(tq, tk, tv, need_weights=True, average_attn_weights=True, **tkw)
    expected_w_shape = ((batch,) if batched else ()) + (h, n_q, n_k)
    assert out.shape == query.shape[:-2] + (n_q, d_model)
    assert w.shape == expected_w_shape
    np.testing.assert_allclose(out, ref_out.numpy(), atol=ATOL)
    np.testing.assert_allclose(w, ref_w.numpy(), atol=ATOL)
    np.testing.assert_allclose(w.mean(axis=-3), ref_avg.numpy(), atol=ATOL)


def test_single_head_mha_equals_self_attention_plus_projection():
    x = _rng(4).normal(size=(6, 8))
    mha = MultiHeadAttentionNumPy(8, 1, seed=0)
    sa = SelfAttentionNumPy(8)
    sa.W_q, sa.W_k, sa.W_v = mha.W_q, mha.W_k, mha.W_v
    out_sa, w_sa = sa(x)
    out, w = mha(x)
    np.testing.assert_allclose(out, out_sa @ mha.W_o, atol=1e-12)
    np.testing.assert_allclose(w[0], w_sa, atol=1e-12)


def test_self_attention_shapes_dtypes_and_init():
    sa = SelfAttentionNumPy(6, d_k=4, d_v=3, seed=5)
    assert sa.W_q.shape == (6, 4) and sa.W_k.shape == (6, 4) and sa.W_v.shape == (6, 3)
    assert sa.num_parameters == 6 * 4 * 2 + 6 * 3
    limit = np.sqrt(6 / (6 + 4))
    assert np.abs(sa.W_q).max() <= limit
    x = _rng().normal(size=(2, 5, 6))
    for dt in (np.float32, np.float64):
        out, w = sa(x.astype(dt))
        assert out.dtype == dt and w.dtype == dt
        assert out.shape == (2, 5, 3) and w.shape == (2, 5, 5)
    out1, _ = sa(x[1])
    np.testing.assert_allclose(out1, sa(x)[0][1], atol=1e-12)
    # misma semilla, mismos pesos; semilla distinta, pesos distintos
    same = SelfAttentionNumPy(6, seed=1).W_q
    np.testing.assert_array_equal(same, SelfAttentionNumPy(6, seed=1).W_q)
    assert not np.allclose(SelfAttentionNumPy(6, seed=1).W_q, SelfAttentionNumPy(6, seed=2).W_q)


def test_mha_float32_close_to_float64_and_params():
    mha = MultiHeadAttentionNumPy(16, 4, seed=0)
    x = _rng().normal(size=(3, 7, 16))
    out32, w32 = mha(x.astype(np.float32), mask=causal_mask(7))
    out64, _ = mha(x, mask=causal_mask(7))
    assert out32.dtype == np.float32 and w32.dtype == np.float32
    np.testing.assert_allclose(out32, out64, atol=1e-4)
    assert mha.num_parameters == 4 * 16 * 16 == MultiHeadAttentionNumPy(16, 1).num_parameters


# ---------------------------------------------------------------------------
# Las máscaras bloquean de verdad
# ---------------------------------------------------------------------------


def test_masked_weights_are_exactly_zero_and_rows_sum_to_one():
    x = _rng(6).normal(size=(5, 8))
    _, w = SelfAttentionNumPy(8)(x, mask=causal_mask(5))
    assert np.all(w[~causal_mask(5)] == 0.0)
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-12)


def test_causal_mask_future_token_does_not_change_past_outputs():
    rng = _rng(7)
    x = rng.normal(size=(6, 8))
    x2 = x.copy()
    x2[-1] = rng.normal(size=8) * 100  # cambia sólo el último token
    mha = MultiHeadAttentionNumPy(8, 2)
    out, _ = mha(x, mask=causal_mask(6))
    out2, _ = mha(x2, mask=causal_mask(6))
    np.testing.assert_array_equal(out[:-1], out2[:-1])
    assert not np.allclose(out[-1], out2[-1])


def test_padding_tokens_do_not_change_real_tokens():
    rng = _rng(8)
    x = rng.normal(size=(2, 5, 8))
    x2 = x.copy()
    x2[1, 3:] = rng.normal(size=(2, 8)) * 50  # cambia el relleno de la 2.ª secuencia
    mask = length_mask([5, 3], 5)  # (2, 1, 5)
    sa = SelfAttentionNumPy(8)
    out, w = sa(x, mask=mask)
    out2, _ = sa(x2, mask=mask)
    np.testing.assert_array_equal(out[1, :3], out2[1, :3])
    assert np.all(w[1, :, 3:] == 0.0)
    mha = MultiHeadAttentionNumPy(8, 2)
    np.testing.assert_array_equal(
        mha(x, mask=mask[:, None])[0][1, :3], mha(x2, mask=mask[:, None])[0][1, :3]
    )


# ---------------------------------------------------------------------------
# Errores documentados: mensaje con lo esperado y lo recibido
# ---------------------------------------------------------------------------


def test_error_d_model_not_divisible():
    with pytest.raises(ValueError, match=r"d_model=10 no es divisible por num_heads=3.*resto 1"):
        MultiHeadAttentionNumPy(10, 3)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"d_model": 0, "num_heads": 1}, ValueError, r"d_model debe ser .*positivo.*recibió 0"),
        ({"d_model": 8, "num_heads": -2}, ValueError, r"num_heads .*positivo.*recibió -2"),
        ({"d_model": 8.5, "num_heads": 2}, TypeError, r"d_model debe ser un entero.*8\.5"),
    ],
)
def test_error_non_positive_sizes(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        MultiHeadAttentionNumPy(**kwargs)


def test_error_non_positive_sizes_self_attention_and_masks():
    with pytest.raises(ValueError, match=r"d_k debe ser un entero positivo.*recibió 0"):
        SelfAttentionNumPy(4, d_k=0)
    with pytest.raises(ValueError, match=r"n debe ser un entero positivo.*recibió 0"):
        causal_mask(0)
    with pytest.raises(ValueError, match=r"entre 1 y n=3; se recibió lengths=\[4, 2\]"):
        length_mask([4, 2], 3)


def test_error_wrong_last_dimension():
    mha = MultiHeadAttentionNumPy(8, 2)
    with pytest.raises(ValueError, match=r"última dimensión de query debe ser d_model=8.*\(5, 7\)"):
        mha(np.zeros((5, 7)))
    with pytest.raises(ValueError, match=r"última dimensión de key debe ser d_model=8.*\(4, 6\)"):
        mha(np.zeros((5, 8)), np.zeros((4, 6)))
    with pytest.raises(ValueError, match=r"última dimensión de x debe ser d_model=8"):
        SelfAttentionNumPy(8)(np.zeros((2, 3)))


def test_error_wrong_ndim():
    mha = MultiHeadAttentionNumPy(8, 2)
    with pytest.raises(ValueError, match=r"\(n, d_model\) o \(batch, n, d_model\).*forma \(8,\)"):
        mha(np.zeros(8))
    with pytest.raises(ValueError, match=r"4 dimensiones con forma \(1, 2, 3, 8\)"):
        SelfAttentionNumPy(8)(np.zeros((1, 2, 3, 8)))
    with pytest.raises(ValueError, match=r"mismo número de dimensiones.*\(5, 8\), \(1, 5, 8\)"):
        mha(np.zeros((5, 8)), np.zeros((1, 5, 8)))
    with pytest.raises(ValueError, match=r"al menos 2 dimensiones .*\(\.\.\., n_q, d_k\).*\(4,\)"):
        scaled_dot_product_attention(np.zeros(4), np.zeros((3, 4)), np.zeros((3, 2)))


def test_error_mismatched_dk_and_nk():
    q, k, v = np.zeros((3, 4)), np.zeros((5, 4)), np.zeros((5, 2))
    with pytest.raises(ValueError, match=r"misma última dimensión d_k: .* d_k=4.*\(5, 3\)"):
        scaled_dot_product_attention(q, np.zeros((5, 3)), v)
    with pytest.raises(ValueError, match=r"mismo número de claves n_k: .* n_k=5.*\(6, 2\)"):
        scaled_dot_product_attention(q, k, np.zeros((6, 2)))
    mha = MultiHeadAttentionNumPy(8, 2)
    with pytest.raises(ValueError, match=r"se esperaba value con n_k=4; se recibió .*\(6, 8\)"):
        mha(np.zeros((3, 8)), np.zeros((4, 8)), np.zeros((6, 8)))
    with pytest.raises(ValueError, match=r"mismo tamaño de lote.*\(2, 3, 8\), \(3, 4, 8\)"):
        mha(np.zeros((2, 3, 8)), np.zeros((3, 4, 8)))
    with pytest.raises(ValueError, match=r"lote de q, k y v deben ser compatibles.*\(2, 3, 4\)"):
        scaled_dot_product_attention(np.zeros((2, 3, 4)), np.zeros((3, 5, 4)), np.zeros((3, 5, 2)))


def test_error_mask_not_broadcastable():
    mha = MultiHeadAttentionNumPy(8, 2)
    x = np.zeros((2, 5, 8))
    with pytest.raises(
        ValueError, match=r"máscara de forma \(4, 4\) no se puede difundir.*\(2, 2, 5, 5\)"
    ):
        mha(x, mask=np.ones((4, 4), dtype=bool))
    with pytest.raises(ValueError, match=r"máscara de forma \(3, 5, 5\).*\(batch, num_heads"):
        mha(x, mask=np.ones((3, 5, 5), dtype=bool))
    with pytest.raises(ValueError, match=r"forma \(3, 3\) .*\(5, 5\) \(\.\.\., n_q, n_k\)"):
        SelfAttentionNumPy(8)(np.zeros((5, 8)), mask=np.ones((3, 3), dtype=bool))


def test_error_non_boolean_mask():
    with pytest.raises(TypeError, match=r"máscara debe ser booleana.*se recibió dtype float64"):
        MultiHeadAttentionNumPy(8, 2)(np.zeros((5, 8)), mask=np.zeros((5, 5)))
    with pytest.raises(TypeError, match=r"booleana.*dtype int64"):
        scaled_dot_product_attention(
            *(np.zeros((3, 2)),) * 3, mask=np.ones((3, 3), dtype=np.int64)
        )


def test_error_fully_masked_row():
    x = np.zeros((2, 3, 8))
    mask = np.ones((2, 1, 3, 3), dtype=bool)
    mask[1, 0, 2] = False  # la consulta 2 de la secuencia 1 no puede ver nada
    with pytest.raises(ValueError, match="una fila de la máscara no permite atender a ninguna"):
        MultiHeadAttentionNumPy(8, 2)(x, mask=mask)


def test_error_non_numeric_input():
    with pytest.raises(TypeError, match=r"números reales.*dtype <U1"):
        scaled_dot_product_attention(np.array([["a"]]), np.zeros((1, 1)), np.zeros((1, 1)))


# ---------------------------------------------------------------------------
# Ejercicios 11.1 y 11.3
# ---------------------------------------------------------------------------


def test_check_11_1(capsys):
    expected, mistakes = _ex11_1_candidates()
    q, k, v = (EXERCISE_11_1[key] for key in ("Q", "K", "V"))
    out, w = scaled_dot_product_attention(q, k, v)
    np.testing.assert_allclose(expected["weights"], w, atol=1e-12)
    assert check_11_1((out, w)) is True
    assert check_11_1(np.round(w, 2)) is True
    assert check_11_1({"output": out}) is True
    assert check_11_1(None) is False
    assert "todavía no hay respuesta" in capsys.readouterr().out
    no_scale = mistakes["weights"]["olvidaste dividir por √d_k antes de la softmax"]
    assert check_11_1(no_scale) is False
    assert "olvidaste dividir por √d_k" in capsys.readouterr().out
    assert check_11_1(q @ k.T / np.sqrt(2)) is False
    assert "olvidaste la softmax" in capsys.readouterr().out
    assert check_11_1(np.ones((3, 3))) is False
    assert "cada fila debe sumar 1" in capsys.readouterr().out
    assert check_11_1(w.T) is False
    assert check_11_1(np.zeros((4, 4))) is False
    assert "se recibió la forma (4, 4)" in capsys.readouterr().out
    assert check_11_1("no es un número") is False


def _good_mha(x, W_q, W_k, W_v, W_o, num_heads):
    q, k, v = (split_heads(x @ W, num_heads) for W in (W_q, W_k, W_v))
    heads, _ = scaled_dot_product_attention(q, k, v)
    return merge_heads(heads) @ W_o


def test_check_11_3(capsys):
    assert check_11_3(_good_mha) is True
    assert check_11_3(None) is False

    def placeholder(x, W_q, W_k, W_v, W_o, num_heads):
        raise NotImplementedError

    assert check_11_3(placeholder) is False
    assert "todavía no está implementada" in capsys.readouterr().out
    assert check_11_3(lambda *args: None) is False
    assert "devolvió None" in capsys.readouterr().out

    def no_wo(x, W_q, W_k, W_v, W_o, num_heads):
        return _good_mha(x, W_q, W_k, W_v, np.eye(W_o.shape[0]), num_heads)

    assert check_11_3(no_wo) is False
    assert "W_o" in capsys.readouterr().out

    def crashes(x, *args):
        return x @ np.ones((3, 3))

    assert check_11_3(crashes) is False
    assert "tu función lanzó ValueError" in capsys.readouterr().out
    assert check_11_3(lambda x, *args: split_heads(x, 2)) is False
    assert "se esperaba una salida de forma (2, 5, 8)" in capsys.readouterr().out


def test_to_torch_builds_the_same_layer_as_the_reference_copy():
    """``MultiHeadAttentionNumPy.to_torch`` (lo que usan el capítulo 3 y labcode.book.bench)
    coincide con la copia de pesos hecha a mano en estas pruebas."""
    mha = MultiHeadAttentionNumPy(d_model=12, num_heads=3, seed=4)
    ours, ref = mha.to_torch(), _torch_mha(mha)
    assert ours.in_proj_weight.dtype == torch.float64 and not ours.training
    assert torch.equal(ours.in_proj_weight, ref.in_proj_weight)
    assert torch.equal(ours.out_proj.weight, ref.out_proj.weight)
    x = _rng(5).normal(size=(2, 5, 12))
    y, _ = mha.forward(x)
    with torch.no_grad():
        y_t = ours(*(torch.from_numpy(x),) * 3, need_weights=False)[0].numpy()
    np.testing.assert_allclose(y_t, y, atol=1e-12)
    assert mha.to_torch(torch.float32).in_proj_weight.dtype == torch.float32
