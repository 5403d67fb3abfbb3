"""Pruebas de labcode.models.seq2seq (Transformer encoder-decoder) y labcode.data.seq2seq."""

from __future__ import annotations

import datetime
from dataclasses import replace

import numpy as np
import pytest
import torch
from toy_tasks import ReverseTask

from labcode.data.seq2seq import DATE_FORMATS, DateTask, format_date
from labcode.data.tokenizer import CharTokenizer
from labcode.models.seq2seq import TransformerConfig, TransformerModel
from labcode.tasks.seq2seq import Seq2SeqTrainConfig, exact_match, train_seq2seq


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Modelos diminutos: un hilo es más rápido y no sufre si la CPU está ocupada.
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def small_model(norm_first=False, **kw) -> TransformerModel:
    torch.manual_seed(0)
    cfg = dict(src_vocab_size=14, tgt_vocab_size=12, d_model=32, num_heads=4, num_layers=2,
               d_ff=64, dropout=0.0, max_len=16, norm_first=norm_first)  # fmt: skip
    cfg.update(kw)
    return TransformerModel(TransformerConfig(**cfg)).eval()


# ---------------------------------------------------------------------------- datos


def test_char_vocab_roundtrip_and_errors():
    v = CharTokenizer.from_alphabet("abc")
    assert len(v) == 7 and (v.pad_id, v.bos_id, v.eos_id) == (0, 1, 2)
    ids = v.encode("cab", bos=True, eos=True)
    assert ids == [1, 6, 4, 5, 2]
    assert v.decode(ids + [0, 0]) == "cab"
    assert v.decode([1, 4, 2, 5]) == "a"  # se detiene en <eos>
    with pytest.raises(ValueError, match="fuera del vocabulario"):
        v.encode("abz")


def test_date_task_formats_and_split():
    d = datetime.date(2021, 3, 3)
    outs = {format_date(d, f) for f in DATE_FORMATS}
    for s in ("3 de marzo de 2021", "03/03/2021", "3 marzo 2021", "el 3 de marzo del 2021",
              "miércoles, 3 de marzo de 2021", "03/03/21"):  # fmt: skip
        assert s in outs
    task = DateTask()
    assert not set(task.train_ordinals) & set(task.test_ordinals)
    pairs = task.sample_pairs(50, np.random.default_rng(0), split="test")
    test_days = {datetime.date.fromordinal(int(o)).isoformat() for o in task.test_ordinals}
    assert all(t in test_days for _, t in pairs)
    src, tgt = task.collate(pairs)
    assert src.shape[0] == tgt.shape[0] == 50
    assert src.shape[1] <= task.max_src_len() and tgt.shape[1] == 12
    assert (tgt[:, 0] == 1).all() and (tgt[:, -1] == 2).all()
    # la entrada se normaliza (mayúsculas y espacios)
    assert torch.equal(task.encode_sources(["3  de MARZO de 2021"]),
                       task.encode_sources(["3 de marzo de 2021"]))  # fmt: skip


def test_reverse_task():
    task = ReverseTask(3, 6)
    pairs = task.sample_pairs(20, np.random.default_rng(0))
    assert all(t == s[::-1] and 3 <= len(s) <= 6 for s, t in pairs)


# ---------------------------------------------------------------------------- modelo


@pytest.mark.parametrize("norm_first", [False, True])
def test_forward_shapes(norm_first):
    m = small_model(norm_first)
    src = torch.randint(3, 14, (2, 7))
    tgt = torch.randint(3, 12, (2, 5))
    assert m(src, tgt).shape == (2, 5, 12)
    memory, mask = m.encode(src)
    assert memory.shape == (2, 7, 32) and mask.shape == (2, 1, 1, 7)
    logits, ws = m.decode(tgt, memory, mask, output_attentions=True)
    assert len(ws) == 2 and ws[0]["cross"].shape == (2, 4, 5, 7)
    assert ws[0]["self"].shape == (2, 4, 5, 5)


def test_padding_invariance():
    m = small_model()
    src = torch.randint(3, 14, (2, 6))
    tgt = torch.randint(3, 12, (2, 4))
    ref = m(src, tgt)
    src_p = torch.cat([src, torch.zeros(2, 3, dtype=torch.long)], 1)
    tgt_p = torch.cat([tgt, torch.zeros(2, 2, dtype=torch.long)], 1)
    out = m(src_p, tgt_p)
    torch.testing.assert_close(out[:, :4], ref, atol=1e-5, rtol=0)
    # relleno distinto en cada ejemplo del lote
    src2 = src.clone()
    src2[1, 4:] = 0
    solo = m(src2[1:, :4], tgt[1:])
    torch.testing.assert_close(m(src2, tgt)[1:], solo, atol=1e-5, rtol=0)


def test_decoder_is_causal():
    m = small_model()
    src = torch.randint(3, 14, (1, 6))
    tgt = torch.randint(3, 12, (1, 5))
    tgt2 = tgt.clone()
    tgt2[0, 3:] = torch.tensor([3, 4])
    torch.testing.assert_close(m(src, tgt)[:, :3], m(src, tgt2)[:, :3], atol=1e-6, rtol=0)


def test_parameter_count_by_component():
    m = small_model(tie_embeddings=True)
    parts = m.num_parameters(by_component=True)
    assert sum(parts.values()) == m.num_parameters()
    assert parts["lm_head"] == 0  # compartido con tgt_embed
    assert m.lm_head.weight is m.tgt_embed.weight


def test_generate_greedy_consistency_and_beam():
    m = small_model()
    src = torch.randint(3, 14, (3, 6))
    out = m.generate(src, max_len=8)
    assert out.shape[0] == 3 and out.shape[1] <= 8 and (out[:, 0] == 1).all()
    # voraz = argmax de un forward con teacher forcing sobre su propia salida
    logits = m(src, out[:, :-1])
    for b in range(3):
        row = out[b]
        n = int((row != 0).sum())  # tokens reales (incluye <bos>)
        assert torch.equal(logits[b, : n - 1].argmax(-1), row[1:n])
    out2, attn = m.generate(src, max_len=8, output_attentions=True)
    assert torch.equal(out, out2) and attn[0].shape == (3, 4, out.shape[1], 6)
    beam = m.generate(src, max_len=8, num_beams=3)
    assert beam.shape[0] == 3 and (beam[:, 0] == 1).all()


def test_bad_inputs_raise_clear_errors():
    m = small_model()
    src = torch.randint(3, 14, (2, 6))
    tgt = torch.randint(3, 12, (2, 4))
    with pytest.raises(ValueError, match=r"forma \(B, T\)"):
        m(src[0], tgt)
    with pytest.raises(ValueError, match="max_len=16"):
        m(torch.randint(3, 14, (2, 20)), tgt)
    with pytest.raises(ValueError, match="fuera del vocabulario"):
        m(src, torch.full((2, 4), 12))
    with pytest.raises(ValueError, match="fuera del vocabulario"):
        m(src - 10, tgt)
    with pytest.raises(TypeError, match="enteros"):
        m(src.float(), tgt)
    with pytest.raises(ValueError, match="pad_id=20 está fuera del vocabulario"):
        TransformerConfig(src_vocab_size=14, tgt_vocab_size=12, pad_id=20)
    with pytest.raises(ValueError, match="divisible"):
        TransformerConfig(14, 12, d_model=30, num_heads=4)
    with pytest.raises(ValueError, match="max_len"):
        m.generate(src, max_len=40)


@pytest.mark.slow
def test_tiny_training_on_reversal_learns():
    task = ReverseTask(3, 6)
    m = small_model(src_vocab_size=len(task.src_vocab), tgt_vocab_size=len(task.tgt_vocab),
                    norm_first=True)  # fmt: skip
    res = train_seq2seq(
        m, task, Seq2SeqTrainConfig(steps=150, batch_size=64, lr=3e-3, warmup=20, log_every=10),
        show_progress=False,
    )
    assert res.losses[-1] < 0.5 * res.losses[0]
    assert res.seconds > 0 and len(res.steps) == 15
    pairs = task.sample_pairs(100, np.random.default_rng(1))
    acc, preds = exact_match(m, task, pairs)
    assert len(preds) == 100 and 0.0 <= acc <= 1.0


def test_train_seq2seq_logs_the_mean_of_each_stretch():
    task = ReverseTask(3, 6)
    kw = dict(src_vocab_size=len(task.src_vocab), tgt_vocab_size=len(task.tgt_vocab))
    cfg = Seq2SeqTrainConfig(steps=5, batch_size=8, warmup=2, log_every=2)
    res = train_seq2seq(small_model(**kw), task, cfg, show_progress=False)
    assert res.steps == [2, 4, 5] and len(res.losses) == 3
    assert res.config["steps"] == 5 and res.seconds > 0
    every = train_seq2seq(small_model(**kw), task, replace(cfg, log_every=1), show_progress=False)
    # misma semilla, mismos lotes: cada tramo es la media de sus pasos
    assert res.losses[0] == pytest.approx((every.losses[0] + every.losses[1]) / 2, rel=1e-12)
    assert res.losses[2] == pytest.approx(every.losses[4], rel=1e-12)
    with pytest.raises(TypeError, match="Seq2SeqTrainConfig"):
        train_seq2seq(small_model(**kw), task, {"steps": 3})
