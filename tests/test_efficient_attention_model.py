"""La ventana deslizante del registro enchufada en un codificador (experimento del capítulo 12)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from labcode.analysis import efficient_attention as ea
from labcode.models.bert import BertConfig, BertEncoder


@pytest.fixture(scope="module")
def batch():
    torch.manual_seed(0)
    model = BertEncoder(BertConfig(vocab_size=50, hidden_size=32, num_layers=2, num_heads=4,
                                   intermediate_size=64, max_position_embeddings=32,
                                   dropout=0.0)).eval()
    ids = torch.randint(1, 50, (3, 12))
    mask = torch.ones(3, 12, dtype=torch.long)
    mask[1, 7:] = 0  # una frase con relleno
    ids[1, 7:] = 0
    return model, ids, mask


def test_window_covering_the_sentence_gives_the_full_output(batch):
    model, ids, mask = batch
    res = ea.window_embedding_similarity(model, ids, mask, [0, 2, 11, 40])
    np.testing.assert_array_equal(res["window"], [0, 2, 11, 40])
    # con radio >= n - 1 la ventana no oculta nada: la misma salida (salvo redondeo)
    assert res["max_abs_diff"][2] < 1e-5 and res["max_abs_diff"][3] < 1e-5
    np.testing.assert_allclose(res["mean_cos"][2:], 1.0, atol=1e-6)
    # con radio 0 cada token solo se ve a sí mismo: la incrustación cambia de verdad
    assert res["mean_cos"][0] < 0.9999 and res["max_abs_diff"][0] > 1e-3
    assert res["max_abs_diff"][0] > 100 * res["max_abs_diff"][2]
    assert (res["min_cos"] <= res["mean_cos"] + 1e-12).all()


def test_window_matches_an_explicit_band_mask(batch):
    """El modelo con ventana 2 calcula lo mismo que la atención explícita con la banda."""
    model, ids, mask = batch
    from labcode.nn.attention import set_attn_implementation

    set_attn_implementation(model, "sliding_window", sliding_window=2)
    try:
        fast = ea.mean_pooled_embeddings(model, ids, mask)
    finally:
        set_attn_implementation(model, "sdpa")
    band = ea.sliding_window_mask(12, window=2)
    with torch.no_grad():
        x = model.embeddings(ids, torch.zeros_like(ids))
        keys = mask.bool()[:, None, None, :]
        for layer in model.layers:
            x = layer(x, mask=keys & band)
    m = mask.unsqueeze(-1).float()
    slow = torch.nn.functional.normalize((x * m).sum(1) / m.sum(1), dim=-1)
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=1e-5)


def test_model_gets_its_attention_back(batch):
    model, ids, mask = batch
    ea.window_embedding_similarity(model, ids, mask, [1])
    assert model.config.attn_implementation == "sdpa"
    assert all(layer.self_attn.attn_implementation == "sdpa" for layer in model.layers)
    with pytest.raises(ValueError):
        ea.window_embedding_similarity(model, ids, mask, [-1])
