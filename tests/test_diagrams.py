"""Diagramas de arquitectura: los tamaños escritos salen de la configuración."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from labcode.analysis import diagrams as D
from labcode.models.bert import BertConfig
from labcode.models.gpt import GPTConfig
from labcode.models.seq2seq import TransformerConfig
from labcode.models.vit import ViTConfig
from labcode.numpy_ref.attention import MultiHeadAttentionNumPy


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _text(fig) -> str:
    return "\n".join(D.figure_texts(fig))


def _cfg(**kw):
    return TransformerConfig(src_vocab_size=30, tgt_vocab_size=20, **kw)


def test_model_sizes_reads_every_config():
    assert D.model_sizes(_cfg(d_model=48, num_heads=3, num_layers=2, d_ff=96,
                              num_decoder_layers=5)) == D.ModelSizes(48, 3, 2, 96, 5)
    assert D.model_sizes(GPTConfig(n_embd=64, n_head=4, n_layer=3)) == D.ModelSizes(64, 4, 3,
                                                                                    256, 3)
    bert = BertConfig(hidden_size=32, num_heads=2, num_layers=1, intermediate_size=40)
    assert D.model_sizes(bert) == D.ModelSizes(32, 2, 1, 40, 1)
    with pytest.raises(TypeError, match="no tiene"):
        D.model_sizes(object())


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_decoder_shows_config_sizes(norm_first):
    fig = D.encoder_decoder_diagram(_cfg(d_model=48, num_heads=3, num_layers=2, d_ff=96,
                                         num_decoder_layers=5, norm_first=norm_first))
    text = _text(fig)
    assert "d_model = 48 · h = 3 (d_head = 16) · d_ff = 96" in text
    assert "× 2" in text and "× 5" in text  # capas del codificador y del decodificador
    for kind in ("bidireccional", "causal", "Atención cruzada"):
        assert kind in text
    assert ("pre-LN" in text) == norm_first
    assert ("Add & Norm" in text) != norm_first


def test_multi_head_diagram_shapes_and_split():
    fig = D.multi_head_diagram(MultiHeadAttentionNumPy(12, 3), n=4, batch=2)
    text = _text(fig)
    assert "d_model = 12, h = 3 cabezas, d_head = d_model / h = 4" in text
    assert "(2, 4, 3, 4) → (2, 3, 4, 4)" in text  # dividir
    assert "pesos (2, 3, 4, 4)" in text
    # Con el reshape directo, la cabeza 0 se queda con filas enteras (posiciones 0 y 1).
    assert "la cabeza 0 recibe solo las posiciones [0, 1]: mezcla tokens" in text
    good = D._split_owner(4, 12, 3, direct=False)
    assert (good == np.repeat(np.arange(3), 4)[None, :]).all()  # bloques de columnas


def test_masks_diagram_cells_follow_masks():
    fig = D.masks_diagram(n=5, length=3)
    pad, causal, both = ([t.get_text() for t in ax.texts] for ax in fig.axes)
    assert pad.count("✓") == 5 * 3
    assert causal.count("✓") == 15  # triángulo inferior de 5x5
    assert both.count("✓") == 3 + 3 + 6  # filas 0..4 ven min(i+1, 3) claves
    assert "Relleno (padding): 3 tokens reales de 5" in _text(fig)
    with pytest.raises(ValueError, match="etiquetas"):
        D.masks_diagram(n=4, length=2, tokens=["a"])


def test_families_diagram_sizes():
    from transformers import T5Config

    fig = D.families_diagram(BertConfig(hidden_size=32, num_heads=2, num_layers=3,
                                        intermediate_size=64),
                             GPTConfig(n_embd=48, n_head=6, n_layer=5), T5Config())
    text = _text(fig)
    assert "d_model = 32, h = 2, capas = 3" in text
    assert "d_model = 48, h = 6, capas = 5" in text
    t5 = T5Config()
    assert f"capas = {t5.num_layers} + {t5.num_decoder_layers}" in text
    assert "objetivo: rellenar [MASK] (MLM)" in text


def test_norm_placement_marks_chapter_model():
    post = _text(D.norm_placement_diagram(_cfg(norm_first=False)))
    assert "LayerNorm(x + Subcapa(x))" in post and "x + Subcapa(LayerNorm(x))" in post
    fig = D.norm_placement_diagram(_cfg(norm_first=True))
    marks = [t for t in fig.findobj(plt.Text) if "modelo de este capítulo" in t.get_text()]
    assert len(marks) == 1 and marks[0].get_position()[0] > 5  # a la derecha: pre-LN


def test_kv_cache_memory_from_config():
    cfg = GPTConfig(n_embd=64, n_head=4, n_layer=3)
    text = _text(D.kv_cache_diagram(cfg, prompt_len=3, new_tokens=2))
    assert "por token: 2 × 3 capas × 64 = 384 números" in text
    assert "(1, 4, P, 16)" in text
    assert "3 consulta(s) × 3 claves" in text and "1 consulta(s) × 5 claves" in text
    assert text.count("K,V") == 3 + 4  # paso 1: 3 en caché; paso 2: 4


def test_vit_diagram_patches_and_sizes():
    cfg = ViTConfig(image_size=8, patch_size=4, d_model=32, num_heads=2, num_layers=3)
    text = _text(D.vit_diagram(cfg, image=np.eye(8)))
    assert "imagen 8×8 → 4 parches de 4×4" in text
    assert "lineal a d_model = 32" in text and "(5 posiciones)" in text
    assert "Codificador Transformer × 3" in text and "[CLS]" in text
    with pytest.raises(ValueError, match="imagen debe medir"):
        D.vit_diagram(cfg, image=np.zeros((3, 3)))
