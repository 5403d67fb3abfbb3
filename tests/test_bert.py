"""Pruebas de labcode.models.bert: BertEncoder (de labcode.nn.blocks) frente a BertModel de HF."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import transformers  # noqa: E402  (dependencia fijada: si falta, la prueba debe fallar)

from labcode.hf.models import load_minilm_hf  # noqa: E402
from labcode.hf.tokenization import load_minilm_tokenizer  # noqa: E402
from labcode.models.bert import BertConfig, BertEncoder  # noqa: E402
from labcode.nn.blocks import TransformerEncoderBlock  # noqa: E402

SENTENCES = [
    "El gato bebió la leche porque estaba hambriento",
    "The cat drank the milk because it was hungry",
    "Hola",
    "Transformers process every token of a sentence in parallel, unlike recurrent networks.",
]


@pytest.fixture(scope="module")
def minilm():
    hf = load_minilm_hf()
    return hf, BertEncoder.from_hf(hf), load_minilm_tokenizer()


def test_built_from_labcode_blocks(minilm):
    _, ours, _ = minilm
    assert len(ours.layers) == 6
    for layer in ours.layers:
        assert isinstance(layer, TransformerEncoderBlock)
        assert layer.norm_first is False and layer.ffn.activation == "gelu"
        assert layer.norm1.eps == 1e-12
    assert ours.embeddings.LayerNorm.eps == 1e-12


def test_matches_real_minilm_on_padded_batch(minilm):
    """Se comparan TODAS las posiciones, también las de relleno.

    En ambos modelos las claves de relleno reciben peso 0 y las consultas de
    relleno atienden a los tokens reales, así que también coinciden.
    """
    hf, ours, tok = minilm
    batch = tok(SENTENCES, padding=True, return_tensors="pt")
    assert (batch["attention_mask"] == 0).any()  # hay relleno de verdad
    with torch.no_grad():
        expected = hf(**batch).last_hidden_state
        got = ours(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
    assert got.shape == expected.shape == (4, batch["input_ids"].shape[1], 384)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=0)
    real = batch["attention_mask"].bool()
    assert (got - expected)[real].abs().max() < 1e-4


def test_padding_does_not_change_real_tokens(minilm):
    _, ours, tok = minilm
    alone = tok(SENTENCES[2:3], return_tensors="pt")
    padded = tok(SENTENCES, padding=True, return_tensors="pt")
    n = alone["input_ids"].shape[1]
    with torch.no_grad():
        a = ours(alone["input_ids"], alone["attention_mask"])
        b = ours(padded["input_ids"], padded["attention_mask"])
    torch.testing.assert_close(b[2:3, :n], a, atol=1e-4, rtol=0)


def test_output_attentions(minilm):
    hf, ours, tok = minilm
    batch = tok(SENTENCES[:2], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden, attn = ours(batch["input_ids"], batch["attention_mask"], output_attentions=True)
        plain = ours(batch["input_ids"], batch["attention_mask"])
    T = batch["input_ids"].shape[1]
    assert len(attn) == 6 and attn[0].shape == (2, 12, T, T)
    torch.testing.assert_close(attn[0].sum(-1), torch.ones(2, 12, T), atol=1e-5, rtol=0)
    pad = ~batch["attention_mask"].bool()  # (B, T)
    assert attn[0].permute(0, 3, 1, 2)[pad].abs().max() == 0  # nadie atiende al relleno
    torch.testing.assert_close(hidden, plain, atol=1e-4, rtol=0)


def test_random_small_bert_matches_hf():
    torch.manual_seed(0)
    cfg = transformers.BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2,
                                  num_attention_heads=4, intermediate_size=64,
                                  max_position_embeddings=20)
    hf = transformers.BertModel(cfg, add_pooling_layer=False).eval()
    ours = BertEncoder.from_hf(hf)
    ids = torch.randint(1, 99, (2, 12))
    mask = torch.ones_like(ids)
    mask[1, 7:] = 0
    types = torch.zeros_like(ids)
    types[:, 6:] = 1
    with torch.no_grad():
        expected = hf(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state
        got = ours(ids, mask, types)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=0)


@pytest.fixture(scope="module")
def small():
    torch.manual_seed(0)
    return BertEncoder(BertConfig(vocab_size=30, hidden_size=16, num_layers=1, num_heads=2,
                                  intermediate_size=32, max_position_embeddings=8)).eval()


@pytest.mark.parametrize(
    "kwargs, exc, words",
    [
        (dict(input_ids=torch.zeros(5, dtype=torch.long)), ValueError, "forma"),
        (dict(input_ids=torch.zeros(1, 9, dtype=torch.long)), ValueError, "max_position"),
        (dict(input_ids=torch.full((1, 3), 30)), ValueError, "vocabulario"),
        (dict(input_ids=torch.zeros(1, 3)), TypeError, "enteros"),
        (dict(input_ids=[[1, 2]]), TypeError, "torch.Tensor"),
        (dict(input_ids=torch.ones(2, 3, dtype=torch.long),
              attention_mask=torch.ones(2, 4, dtype=torch.long)), ValueError, "attention_mask"),
        (dict(input_ids=torch.ones(2, 3, dtype=torch.long),
              attention_mask=torch.tensor([[1, 1, 1], [0, 0, 0]])), ValueError, "sin ningún"),
        (dict(input_ids=torch.ones(1, 3, dtype=torch.long),
              token_type_ids=torch.full((1, 3), 2)), ValueError, "token_type_ids"),
    ],
)
def test_bad_inputs_raise_clear_errors(small, kwargs, exc, words):
    with pytest.raises(exc, match=words):
        small(**kwargs)


def test_config_and_from_hf_errors():
    with pytest.raises(ValueError, match="divisible"):
        BertConfig(hidden_size=10, num_heads=3)
    with pytest.raises(TypeError, match="BertModel"):
        BertEncoder.from_hf(torch.nn.Linear(2, 2))
