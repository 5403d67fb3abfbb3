"""Pruebas de labcode.tasks.longrange: la tarea de dependencia lejana y los modelos emparejados."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from labcode.data.longrange import LongRangeTask
from labcode.nn.params import num_parameters
from labcode.tasks.longrange import (
    TransformerClassifier,
    build_matched_models,
    complexity_table,
    crossover_length,
    time_models_vs_length,
    train_and_eval,
)


def test_task_shapes_and_ranges():
    task = LongRangeTask(vocab_size=16, distance=7, seed=1)
    assert task.seq_len == 8 and task.key_position == 0 and task.num_keys == 8
    idx, y = task.sample(32)
    assert idx.shape == (32, 8) and y.shape == (32,)
    assert int(idx.min()) >= 0 and int(idx.max()) < 16
    # exactamente una clave por secuencia, en la posición clave
    is_key = idx < task.num_keys
    assert torch.equal(is_key.sum(1), torch.ones(32, dtype=torch.long))
    assert bool(is_key[:, task.key_position].all())
    assert task.chance == pytest.approx(1 / 8)


def test_key_position_with_longer_sequence():
    task = LongRangeTask(vocab_size=10, distance=3, seq_len=12, num_keys=4)
    assert task.key_position == 12 - 1 - 3
    idx, y = task.sample(5)
    assert torch.equal(y, idx[:, 8])


def test_label_depends_only_on_far_token():
    task = LongRangeTask(vocab_size=16, distance=20, seed=0)
    idx, y = task.sample(64)
    changed = idx.clone()
    changed[:, task.key_position] = (changed[:, task.key_position] + 1) % task.num_keys
    assert bool((task.label(changed) != y).all())
    others = idx.clone()
    gen = torch.Generator().manual_seed(5)
    others[:, task.key_position + 1 :] = torch.randint(
        task.num_keys, task.vocab_size, (64, task.distance), generator=gen
    )
    assert torch.equal(task.label(others), y)


def test_test_set_is_fixed_and_differs_from_training():
    task = LongRangeTask(distance=5, seed=3)
    a, _ = task.test_set(50)
    b, _ = task.test_set(50)
    assert torch.equal(a, b)
    train, _ = task.sample(50)
    assert not torch.equal(a, train)


@pytest.mark.parametrize(
    "kwargs, exc",
    [
        (dict(distance=10, seq_len=10), ValueError),
        (dict(distance=0), ValueError),
        (dict(vocab_size=8, num_keys=8), ValueError),
        (dict(distance=2.5), TypeError),
        (dict(vocab_size=2), ValueError),
    ],
)
def test_task_bad_inputs(kwargs, exc):
    with pytest.raises(exc):
        LongRangeTask(**kwargs)


def test_distance_error_message_is_clear():
    with pytest.raises(ValueError, match="distance debe ser menor que seq_len"):
        LongRangeTask(distance=12, seq_len=5)


@pytest.mark.parametrize("d_model", [16, 32, 64])
def test_matched_parameter_counts(d_model):
    lstm, tr = build_matched_models(d_model=d_model, vocab_size=16, num_classes=8)
    a, b = num_parameters(lstm), num_parameters(tr)
    assert abs(a - b) <= 0.10 * b
    x = torch.randint(0, 16, (3, 9))
    assert lstm(x).shape == (3, 8) and tr(x).shape == (3, 8)


def test_matched_models_bad_inputs():
    with pytest.raises(ValueError, match="divisible"):
        build_matched_models(d_model=30, num_heads=4)
    with pytest.raises(ValueError):
        build_matched_models(tolerance=0)
    with pytest.raises(ValueError, match="max_len"):
        TransformerClassifier(16, 4, max_len=8)(torch.zeros(2, 9, dtype=torch.long))


def test_transformer_learns_short_distance_quickly():
    torch.manual_seed(0)
    task = LongRangeTask(vocab_size=16, distance=8, seed=0)
    _, tr = build_matched_models(d_model=32, max_len=task.seq_len)
    res = train_and_eval(tr, task, steps=120, batch_size=64, lr=3e-3, n_test=500,
                         show_progress=False)  # fmt: skip
    # ~2 s en 2 núcleos libres; sin límite de tiempo de pared (la CPU de CI puede estar compartida)
    assert res.seconds > 0
    assert 0.0 <= res.accuracy <= 1.0 and len(res.losses) == 120
    assert res.accuracy > 3 * task.chance  # claramente por encima del azar (0.125)
    assert np.mean(res.losses[-10:]) < np.mean(res.losses[:10])


def test_train_and_eval_bad_inputs():
    lstm, _ = build_matched_models(d_model=16)
    task = LongRangeTask(distance=3)
    with pytest.raises(TypeError):
        train_and_eval(lstm, "tarea")
    with pytest.raises(ValueError):
        train_and_eval(lstm, task, steps=0)
    with pytest.raises(ValueError):
        train_and_eval(lstm, task, lr=-1.0)


def test_complexity_table():
    rows = {r["capa"]: r for r in complexity_table(512, 64)}
    assert rows["recurrente"]["secuenciales"] == 512 and rows["recurrente"]["camino"] == 512
    assert rows["autoatención"]["secuenciales"] == 1 and rows["autoatención"]["camino"] == 1
    assert rows["autoatención"]["ops"] / rows["recurrente"]["ops"] == 512 / 64


def test_crossover_length():
    n = [10, 100, 1000]
    assert crossover_length(n, [1, 2, 4], [2, 2, 2]) == pytest.approx(100)
    x = crossover_length(n, [1, 1.5, 4], [2, 2, 2])
    assert 100 < x < 1000
    assert crossover_length(n, [1, 1, 1], [2, 2, 2]) is None
    with pytest.raises(ValueError):
        crossover_length([1], [1], [1])


def test_time_models_vs_length():
    lstm, tr = build_matched_models(d_model=16)
    res = time_models_vs_length({"a": lstm, "b": tr}, [4, 8], repeats=1, show_progress=False)
    assert list(res["length"]) == [4, 8]
    assert np.all(res["a"] > 0) and np.all(res["b"] > 0)
    with pytest.raises(ValueError):
        time_models_vs_length({}, [4])
