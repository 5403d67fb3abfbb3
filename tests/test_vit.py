"""Pruebas de labcode.models.vit: parches, ViT, errores y un entrenamiento diminuto."""

from __future__ import annotations

import pytest
import torch

from labcode.analysis.attention_maps import attention_rollout
from labcode.data.digits import load_digits_dataset
from labcode.models.vit import (
    MLPBaseline,
    PatchEmbedding,
    SmallCNN,
    ViT,
    ViTConfig,
    copy_patch_weights,
    patchify,
    unpatchify,
)
from labcode.tasks.vit import ViTTrainConfig, train_model, train_vit

TINY = ViTConfig(d_model=16, num_heads=2, num_layers=2, d_ff=32)


def test_patchify_shapes_and_order():
    x = torch.arange(2 * 3 * 4 * 6, dtype=torch.float32).reshape(2, 3, 4, 6)
    p = patchify(x, 2)
    assert p.shape == (2, 6, 3 * 2 * 2)
    # parche (fila 0, columna 1): columnas 2..3 de las filas 0..1, en orden (C, P, P)
    torch.testing.assert_close(p[0, 1], x[0, :, 0:2, 2:4].reshape(-1))
    # parche 3 = (fila 1, columna 0)
    torch.testing.assert_close(p[1, 3], x[1, :, 2:4, 0:2].reshape(-1))
    torch.testing.assert_close(unpatchify(p, 2, (4, 6), 3), x)


def test_patchify_matches_unfold():
    x = torch.randn(3, 2, 8, 8)
    ref = torch.nn.functional.unfold(x, kernel_size=4, stride=4).transpose(1, 2)
    torch.testing.assert_close(patchify(x, 4), ref)


def test_conv_equals_unfold_linear_with_copied_weights():
    torch.manual_seed(0)
    conv = PatchEmbedding(8, 2, 3, 12, method="conv")
    lin = copy_patch_weights(conv, PatchEmbedding(8, 2, 3, 12, method="linear"))
    x = torch.randn(4, 3, 8, 8)
    a, b = conv(x), lin(x)
    assert a.shape == (4, 16, 12)
    assert (a - b).abs().max().item() < 1e-5
    back = copy_patch_weights(lin, PatchEmbedding(8, 2, 3, 12))
    assert (back(x) - a).abs().max().item() < 1e-6


def test_forward_shapes_cls_and_attention():
    torch.manual_seed(0)
    model = ViT(TINY).eval()
    x = torch.randn(5, 1, 8, 8)
    assert model(x).shape == (5, 10)
    assert model.tokens(x).shape == (5, TINY.num_patches + 1, 16)
    assert TINY.seq_len == 17
    logits, att = model(x, output_attentions=True)
    torch.testing.assert_close(logits, model(x))
    assert len(att) == TINY.num_layers
    for w in att:
        assert w.shape == (5, 2, 17, 17)
        torch.testing.assert_close(w.sum(-1), torch.ones(5, 2, 17))
    maps = model.attention_maps(x)
    torch.testing.assert_close(maps[0], att[0])
    roll = attention_rollout(maps)
    assert roll.shape == (5, 17, 17)
    torch.testing.assert_close(roll.sum(-1), torch.ones(5, 17))
    sim = model.position_similarity()
    assert sim.shape == (4, 4, 4, 4)
    torch.testing.assert_close(sim[1, 2, 1, 2], torch.tensor(1.0))


def test_class_token_changes_output():
    torch.manual_seed(0)
    model = ViT(TINY).eval()
    torch.nn.init.normal_(model.head.weight)
    x = torch.randn(2, 1, 8, 8)
    before = model(x)
    with torch.no_grad():
        model.cls_token.add_(torch.randn_like(model.cls_token))
    assert (model(x) - before).abs().max() > 1e-4


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"image_size": 8, "patch_size": 3}, "divisible"),
        ({"d_model": 30, "num_heads": 4}, "num_heads"),
        ({"dropout": 1.5}, "dropout"),
        ({"num_layers": 0}, "entero positivo"),
    ],
)
def test_config_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ViTConfig(**kwargs)


def test_input_errors():
    model = ViT(TINY)
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        model(torch.randn(8, 8))
    with pytest.raises(ValueError, match="canal"):
        model(torch.randn(2, 3, 8, 8))
    with pytest.raises(ValueError, match="8x8"):
        model(torch.randn(2, 1, 16, 16))
    with pytest.raises(TypeError, match="float"):
        model(torch.zeros(2, 1, 8, 8, dtype=torch.long))
    with pytest.raises(TypeError, match="torch.Tensor"):
        patchify([[1.0]], 2)
    with pytest.raises(ValueError, match="divisible"):
        patchify(torch.randn(1, 1, 7, 8), 2)
    with pytest.raises(ValueError, match="divisible"):
        PatchEmbedding(10, 4, 1, 8)
    with pytest.raises(ValueError, match="method"):
        PatchEmbedding(8, 2, 1, 8, method="fft")
    with pytest.raises(ValueError, match="unpatchify"):
        unpatchify(torch.randn(1, 5, 4), 2, 8, 1)
    with pytest.raises(ValueError, match="attention_rollout"):
        attention_rollout([])
    with pytest.raises(ValueError, match="test_size"):
        load_digits_dataset(test_size=1.5)


def test_digits_dataset_split():
    data = load_digits_dataset(test_size=0.25, seed=0)
    assert len(data.x_train) + len(data.x_test) == 1797
    assert data.x_train.shape[1:] == (1, 8, 8) and data.x_train.dtype == torch.float32
    assert abs(data.x_train.mean().item()) < 1e-4
    # estratificado: las 10 clases en proporciones parecidas
    counts = torch.bincount(data.y_test, minlength=10)
    assert counts.min() >= 40 and counts.max() <= 50


def test_baselines_shapes():
    x = torch.randn(3, 1, 8, 8)
    assert MLPBaseline()(x).shape == (3, 10)
    assert SmallCNN()(x).shape == (3, 10)
    with pytest.raises(ValueError, match="canal"):
        SmallCNN()(torch.randn(3, 2, 8, 8))


@pytest.mark.slow
def test_tiny_training_learns():
    data = load_digits_dataset(test_size=0.3, seed=0, n_samples=400)
    tc = ViTTrainConfig(epochs=25, batch_size=32, lr=3e-3, warmup_epochs=1)
    cfg = ViTConfig(d_model=32, num_heads=2, num_layers=2, d_ff=64)
    model, hist, _ = train_vit(cfg, tc, data=data, show_progress=False)
    assert len(hist.loss) == 25 and len(hist.test_accuracy) == 25
    assert hist.loss[-1] < hist.loss[0]
    assert hist.final_accuracy > 0.5  # azar = 0.1
    assert hist.num_parameters == model.num_parameters() > 0
    mlp_hist = train_model(MLPBaseline(), data, tc, show_progress=False)
    assert mlp_hist.final_accuracy > 0.5
