"""API pública con entradas malas generadas por hypothesis (issue 14).

Cada punto de entrada recibe sus argumentos válidos con **uno** de ellos
cambiado por un valor malo (formas y tipos raros, NaN e infinitos, tamaños
vacíos, enormes o negativos, tipos equivocados, Unicode extraño). La llamada
debe terminar bien con una salida finita o lanzar un ``LabcodeError``; una
excepción cruda de NumPy, PyTorch, tokenizers o transformers hace fallar la
prueba. Las comprobaciones de ejercicios, además, nunca lanzan.

Número de ejemplos acotado y semilla fija (``derandomize``): todo el módulo
tarda del orden de medio minuto y se ejecuta con ``make test``.
"""

from __future__ import annotations

import contextlib
import io
import math
from datetime import timedelta

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from labcode.analysis import efficient_attention
from labcode.book import exercises
from labcode.data.tokenizer import CharTokenizer
from labcode.hf import generation, sentiment
from labcode.models import gpt
from labcode.models import seq2seq as model
from labcode.nn import blocks
from labcode.numpy_ref import attention as attention_numpy
from labcode.numpy_ref import positional
from labcode.tasks import quijote
from labcode.tasks import seq2seq as seq2seq_tasks
from labcode.utils import checks
from labcode.utils.errors import LabcodeError

FUZZ = settings(max_examples=40, deadline=timedelta(seconds=10), derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

NAN, INF = float("nan"), float("inf")
ODD_TEXT = ["\ud800", "a\udcffb", "\x00", "", " ", "é\u0301", "🙂" * 3, "\u202e", "Ω" * 500]

_DTYPES = [np.float16, np.float32, np.float64, np.int64, np.bool_, np.complex64]

arrays = hnp.arrays(
    dtype=st.sampled_from(_DTYPES),
    shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4),
    elements=None,
)


def _to_tensor(a: np.ndarray):
    t = torch.from_numpy(np.ascontiguousarray(a))
    if t.is_floating_point() and t.numel():
        return t.requires_grad_(bool(t.numel() % 2))
    return t


scalars = st.sampled_from([0, -1, -(10**9), 2**70, 1.5, -0.5, NAN, INF, -INF, True, False,
                           None, "3", 1e308, 3 + 0j])
bad_values = st.one_of(
    scalars,
    st.sampled_from(ODD_TEXT),
    arrays,
    arrays.map(_to_tensor),
    st.lists(st.integers(-5, 5), max_size=4),
    st.just([[1.0, 2.0], [3.0]]),
    st.just(object()),
)


def _finite(out, allow_neg_inf: bool = False) -> bool:
    """``True`` si todos los números de ``out`` son finitos (recorre tuplas, listas, dicts)."""
    if isinstance(out, torch.Tensor):
        out = out.detach()
        if out.is_floating_point():
            bad = torch.isnan(out) | (out == INF) | (~allow_neg_inf & (out == -INF))
            return not bool(bad.any())
        return True
    if isinstance(out, np.ndarray):
        if out.dtype.kind in "fc":
            bad = np.isnan(out) | (out == np.inf) | (~np.bool_(allow_neg_inf) & (out == -np.inf))
            return not bool(np.any(bad))
        return True
    if isinstance(out, float):
        return math.isfinite(out) or (allow_neg_inf and out == -INF)
    if isinstance(out, (tuple, list)):
        return all(_finite(o, allow_neg_inf) for o in out)
    if isinstance(out, dict):
        return all(_finite(o, allow_neg_inf) for o in out.values())
    return True


def _call_ok_or_labcode_error(fn, kwargs, allow_neg_inf=False):
    try:
        out = fn(**kwargs)
    except LabcodeError as err:
        assert str(err).strip(), "LabcodeError sin mensaje"
        return
    assert _finite(out, allow_neg_inf), f"salida no finita sin error: {fn} {kwargs}"


# --- Puntos de entrada y argumentos válidos --------------------------------------------

g = torch.Generator().manual_seed(0)


def _t(*shape):
    return torch.randn(*shape, generator=g)


def _np(*shape):
    return np.random.default_rng(0).normal(size=shape)


def _gpt_forward(**cfg):
    ids = cfg.pop("input_ids", torch.tensor([[1, 2, 3]]))
    new = cfg.pop("max_new_tokens", 2)
    temperature = cfg.pop("temperature", 1.0)
    m = gpt.GPT(gpt.GPTConfig(**cfg)).eval()
    with torch.no_grad():
        return m.generate(ids, new, temperature=temperature, do_sample=True,
                          generator=torch.Generator().manual_seed(0))


def _mha_call(d_model=8, num_heads=2, dropout=0.0, x=None, mask=None):
    m = blocks.MultiHeadAttention(d_model, num_heads, dropout=dropout)
    return m(_t(2, 3, 8) if x is None else x, mask=mask)


def _ffn_call(d_model=8, d_ff=16, dropout=0.0, activation="relu"):
    return blocks.FeedForward(d_model, d_ff, dropout=dropout, activation=activation)(_t(2, 3, 8))


def _np_mha(d_model=8, num_heads=2, seed=0, x=None, mask=None):
    m = attention_numpy.MultiHeadAttentionNumPy(d_model, num_heads, seed=seed)
    return m(_np(3, 8) if x is None else x, mask=mask)


def _char_tok(text="hola mundo", encode="hola", decode=(0, 1, 2)):
    tok = CharTokenizer(text)
    return tok.encode(encode), tok.decode(decode)


def _transformer(**kw):
    base = dict(src_vocab_size=10, tgt_vocab_size=10, d_model=8, num_heads=2, num_layers=1,
                d_ff=16, dropout=0.0, max_len=8)
    cfg = model.TransformerConfig(**{**base, **kw})
    return model.TransformerModel(cfg)


TARGETS = {
    "attention_numpy.scaled_dot_product_attention": (
        attention_numpy.scaled_dot_product_attention,
        dict(q=_np(3, 4), k=_np(5, 4), v=_np(5, 2), mask=None), False),
    "attention_numpy.softmax": (attention_numpy.softmax, dict(x=_np(2, 3), axis=-1), False),
    "attention_numpy.causal_mask": (attention_numpy.causal_mask, dict(n=4), False),
    "attention_numpy.MultiHeadAttentionNumPy": (_np_mha, dict(d_model=8, num_heads=2, seed=0,
                                                              x=None, mask=None), False),
    "positional.sinusoidal_table": (positional.sinusoidal_table,
                                    dict(max_len=6, d_model=4, base=10000.0), False),
    "blocks.MultiHeadAttention": (_mha_call, dict(d_model=8, num_heads=2, dropout=0.0, x=None,
                                                  mask=None), False),
    "blocks.FeedForward": (_ffn_call, dict(d_model=8, d_ff=16, dropout=0.0,
                                           activation="relu"), False),
    "blocks.causal_mask": (blocks.causal_mask, dict(T=4), False),
    "efficient_attention.full_attention": (
        efficient_attention.full_attention,
        dict(q=_t(2, 4, 3), k=_t(2, 4, 3), v=_t(2, 4, 3), causal=False, mask=None), False),
    "efficient_attention.sliding_window_attention": (
        efficient_attention.sliding_window_attention,
        dict(q=_t(1, 6, 3), k=_t(1, 6, 3), v=_t(1, 6, 3), window=2), False),
    "efficient_attention.linear_attention": (
        efficient_attention.linear_attention, dict(q=_t(1, 6, 3), k=_t(1, 6, 3), v=_t(1, 6, 3)),
        False),
    "efficient_attention.sliding_window_mask": (
        efficient_attention.sliding_window_mask, dict(n=5, window=1, causal=False), False),
    "generation.top_k_filter": (generation.top_k_filter, dict(logits=_t(2, 7), k=3), True),
    "generation.top_p_filter": (generation.top_p_filter, dict(logits=_t(2, 7), p=0.9), False),
    "generation.apply_repetition_penalty": (
        generation.apply_repetition_penalty,
        dict(logits=_t(2, 7), input_ids=torch.tensor([[1, 2], [3, 3]]), penalty=1.3), False),
    "gpt.GPT.generate": (_gpt_forward, dict(vocab_size=16, n_positions=8, n_embd=8, n_layer=1,
                                            n_head=2, dropout=0.0, layer_norm_epsilon=1e-5,
                                            input_ids=torch.tensor([[1, 2, 3]]),
                                            max_new_tokens=2, temperature=1.0), False),
    "model.TransformerModel": (_transformer, dict(num_decoder_layers=1, dropout=0.0,
                                                  pad_id=0), False),
    "seq2seq.Seq2SeqTrainConfig": (seq2seq_tasks.Seq2SeqTrainConfig,
                                   dict(steps=3, batch_size=2, lr=1e-3, warmup=1, grad_clip=1.0,
                                        seed=0, log_every=1), False),
    "quijote.CharTokenizer": (_char_tok, dict(text="hola mundo", encode="hola",
                                              decode=(0, 1, 2)), False),
    "quijote.CharGPTTrainConfig": (quijote.CharGPTTrainConfig,
                                   dict(dropout=0.0, grad_clip=1.0, seed=0, learning_rate=1e-3),
                                   False),
    "sentiment.classification_metrics": (sentiment.classification_metrics,
                                         dict(y_true=[0, 1, 1], y_pred=[0, 1, 0]), False),
    "checks.seed": (checks.seed, dict(value=3), False),
    "checks.text": (checks.text, dict(name="texto", value="hola"), False),
    "checks.device": (checks.device, dict(value="cpu"), False),
}


@pytest.mark.parametrize("target", sorted(TARGETS))
@FUZZ
@given(data=st.data())
def test_public_entry_point_never_gives_a_raw_traceback(target, data):
    fn, valid, allow_neg_inf = TARGETS[target]
    kwargs = dict(valid)
    key = data.draw(st.sampled_from(sorted(kwargs)), label="argumento")
    kwargs[key] = data.draw(bad_values, label="valor")
    _call_ok_or_labcode_error(fn, kwargs, allow_neg_inf)


def test_valid_arguments_work():
    """Control: con los argumentos válidos cada punto de entrada funciona."""
    for name, (fn, valid, allow_neg_inf) in TARGETS.items():
        out = fn(**valid)
        assert _finite(out, allow_neg_inf), name


CHECKS = [exercises.check_11_1, exercises.check_11_2, exercises.check_ch5_mask,
          exercises.check_ch6_kv_cache, exercises.check_ch10_complexity,
          exercises.check_ch11_patches]


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
@settings(max_examples=30, deadline=timedelta(seconds=10), derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(answer=st.one_of(bad_values, st.dictionaries(st.sampled_from(
    ["num_patches", "seq_len", "patch_params", "weights", "output", "rnn_path"]), bad_values,
    max_size=3)))
def test_exercise_checks_never_raise_and_reject_garbage(check, answer):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert check(answer) is False
    assert out.getvalue().startswith("❌")
