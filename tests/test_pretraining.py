"""Preentrenamiento MLM: estadísticas del enmascarado 80/10/10 y una pérdida que baja."""

from __future__ import annotations

import pytest
import torch

from labcode.models.bert import BertConfig
from labcode.tasks.pretraining import (
    IGNORE_INDEX,
    BertForMLM,
    WordTokenizer,
    fill_mask,
    mask_tokens,
    train_mlm,
)

V, MASK, SPECIAL = 50, 4, (0, 1, 2, 3)


def _big_batch(n_rows=400, T=250):
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, V, (n_rows, T), generator=g)
    ids[:, 0], ids[:, -1] = 2, 3  # [CLS] ... [SEP]
    ids[:50, -40:-1] = 0  # relleno al final de algunas filas
    return ids


def test_masking_statistics_15_then_80_10_10():
    ids = _big_batch()
    inputs, labels = mask_tokens(ids, MASK, V, SPECIAL, generator=torch.Generator().manual_seed(1))
    normal = ~torch.isin(ids, torch.tensor(SPECIAL))
    selected = labels != IGNORE_INDEX
    n_sel = int(selected.sum())
    rate = n_sel / int(normal.sum())
    assert abs(rate - 0.15) < 0.005, rate  # ~94 000 candidatos: error típico ≈ 0.001
    masked = (inputs == MASK) & selected
    unchanged = (inputs == ids) & selected
    changed = selected & ~masked & ~unchanged
    # Un token al azar puede coincidir con el original (1/45): cuenta como «sin cambios».
    assert abs(int(masked.sum()) / n_sel - 0.80) < 0.01
    assert abs(int(changed.sum()) / n_sel - 0.10 * 44 / 45) < 0.01
    assert abs(int(unchanged.sum()) / n_sel - (0.10 + 0.10 / 45)) < 0.01
    assert torch.equal(labels[selected], ids[selected])
    assert torch.equal(inputs[~selected], ids[~selected])  # lo no elegido no cambia


def test_special_tokens_and_padding_never_masked_nor_drawn():
    ids = _big_batch()
    inputs, labels = mask_tokens(ids, MASK, V, SPECIAL, mlm_probability=0.9,
                                 generator=torch.Generator().manual_seed(2))
    special = torch.isin(ids, torch.tensor(SPECIAL))
    assert (labels[special] == IGNORE_INDEX).all()
    assert torch.equal(inputs[special], ids[special])
    random_tokens = inputs[(labels != IGNORE_INDEX) & (inputs != MASK)]
    assert not torch.isin(random_tokens, torch.tensor(SPECIAL)).any()


def test_mask_tokens_is_reproducible_and_validates():
    ids = _big_batch(4, 20)
    a = mask_tokens(ids, MASK, V, SPECIAL, generator=torch.Generator().manual_seed(5))
    b = mask_tokens(ids, MASK, V, SPECIAL, generator=torch.Generator().manual_seed(5))
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    with pytest.raises(ValueError, match="mlm_probability"):
        mask_tokens(ids, MASK, V, SPECIAL, mlm_probability=1.5)
    with pytest.raises(ValueError, match="sumen 1"):
        mask_tokens(ids, MASK, V, SPECIAL, split=(0.8, 0.1, 0.2))
    with pytest.raises(TypeError, match="enteros"):
        mask_tokens(ids.float(), MASK, V, SPECIAL)


def test_word_tokenizer_roundtrip_and_mask():
    tok = WordTokenizer("En un lugar de la Mancha, de cuyo nombre no quiero acordarme.", 12)
    assert tok.itos[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert tok.split("la [MASK] de") == ["la", "[MASK]", "de"]
    assert tok.encode("de [MASK] zzz") == [tok.stoi["de"], tok.mask_id, tok.unk_id]
    assert tok.decode(tok.encode("de la")) == "de la"


@pytest.mark.slow
def test_tiny_bert_mlm_loss_falls():
    # Un texto con estructura fija: «el X come Y .» repetido con pocas palabras.
    g = torch.Generator().manual_seed(0)
    animals, foods = ["gato", "perro", "loro"], ["pan", "queso", "sopa"]
    words = []
    for _ in range(600):
        words += ["el", animals[int(torch.randint(3, (1,), generator=g))], "come",
                  foods[int(torch.randint(3, (1,), generator=g))], "."]
    text = " ".join(words)
    tok = WordTokenizer(text, 40)
    ids = torch.tensor(tok.encode(text))
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_layers=1, num_heads=2,
                     intermediate_size=64, max_position_embeddings=16, dropout=0.0)
    torch.manual_seed(0)
    model = BertForMLM(cfg)
    res = train_mlm(model, ids, tok, steps=200, batch_size=32, seq_len=12, lr=1e-2,
                    val_ids=ids, eval_every=100, progress=False)
    first, last = sum(res.losses[:10]) / 10, sum(res.losses[-10:]) / 10
    assert last < 0.5 * first, (first, last)
    assert res.val_losses[200] < res.val_losses[100] + 0.2
    top = fill_mask(model, tok, "el gato [MASK] pan .", top_k=1)[0][0][0]
    assert top == "come"
    with pytest.raises(ValueError, match="no contiene"):
        fill_mask(model, tok, "el gato come pan")


def test_span_corrupt_like_t5():
    from labcode.tasks.pretraining import span_corrupt

    words = "gracias por invitarme a tu fiesta la semana pasada".split()
    src, tgt = span_corrupt(words, [(2, 4), (8, 9)])
    assert src == ["gracias", "por", "<extra_id_0>", "tu", "fiesta", "la", "semana",
                   "<extra_id_1>"]
    assert tgt == ["<extra_id_0>", "invitarme", "a", "<extra_id_1>", "pasada", "<extra_id_2>"]
    with pytest.raises(ValueError, match="solaparse"):
        span_corrupt(words, [(2, 5), (4, 6)])
