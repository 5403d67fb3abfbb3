from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from labcode.analysis import plotting  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_attention_heatmap_labels_and_annotations():
    w = np.full((3, 3), 1 / 3)
    ax = plotting.attention_heatmap(w, ["a", "b", "c"], title="t")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c"]
    assert len(ax.texts) == 9 and ax.texts[0].get_text() == "0.33"


def test_attention_heatmap_accepts_tensors():
    import torch

    ax = plotting.attention_heatmap(torch.eye(2), annotate=False)
    assert ax.images[0].get_array().shape == (2, 2)


def test_attention_heatmap_errors():
    with pytest.raises(ValueError, match=r"2D.*\(2, 2, 2\)"):
        plotting.attention_heatmap(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="x_labels tiene 2 etiquetas; se esperaban 3"):
        plotting.attention_heatmap(np.zeros((3, 3)), ["a", "b"])


def test_heads_grid_draws_one_panel_per_head():
    fig = plotting.heads_grid(np.random.rand(3, 4, 4), ncols=2)
    drawn = [ax for ax in fig.axes if ax.images]
    assert len(drawn) == 3
    with pytest.raises(ValueError, match="num_heads"):
        plotting.heads_grid(np.zeros((4, 4)))


def test_matrix_heatmap_is_symmetric_around_zero():
    ax = plotting.matrix_heatmap(np.array([[-2.0, 1.0], [0.5, 0.0]]))
    assert ax.images[0].get_clim() == (-2.0, 2.0)
