"""Pruebas de labcode.train: grupos de weight decay, tasa de aprendizaje y el bucle común."""

from __future__ import annotations

import itertools
import math
import time

import pytest
import torch
from torch import nn

from labcode.models.vit import ViT, ViTConfig
from labcode.nn.params import num_parameters
from labcode.train import TrainConfig, lr_at, make_optimizer, param_groups, train


class _Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(5, 4)
        self.lin = nn.Linear(4, 3)
        self.norm = nn.LayerNorm(3)

    def forward(self, idx):
        return self.norm(self.lin(self.emb(idx))).sum(-1)


def _batches(seed=0):
    g = torch.Generator().manual_seed(seed)
    while True:
        yield torch.randint(0, 5, (8,), generator=g), torch.randn(8, generator=g)


def _mse(model, batch):
    x, y = batch
    return ((model(x) - y) ** 2).mean()


def test_param_groups_split_matrices_from_biases_and_norms():
    m = _Tiny()
    m.lin.bias.requires_grad_(False)  # congelado: no entra en ningún grupo
    decay, no_decay = param_groups(m, 0.1)
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert {id(p) for p in decay["params"]} == {id(m.emb.weight), id(m.lin.weight)}
    assert {id(p) for p in no_decay["params"]} == {id(m.norm.weight), id(m.norm.bias)}
    decay, no_decay = param_groups(m, 0.1, decay_all=True)
    assert decay["weight_decay"] == no_decay["weight_decay"] == 0.1


def test_param_groups_respect_no_weight_decay_of_vit():
    vit = ViT(ViTConfig(d_model=8, num_heads=2, num_layers=1, d_ff=16))
    no_decay = {id(p) for p in param_groups(vit, 0.05)[1]["params"]}
    assert id(vit.cls_token) in no_decay and id(vit.pos_embed.wpe.weight) in no_decay
    assert id(vit.patch_embed.proj.weight) not in no_decay
    total = sum(p.numel() for g in param_groups(vit, 0.05) for p in g["params"])
    assert total == num_parameters(vit) == vit.num_parameters()


def test_cosine_schedule_warmup_and_end():
    cfg = TrainConfig(steps=20, lr=1.0, warmup=4, min_lr_ratio=0.1)
    assert [lr_at(s, cfg) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert lr_at(4, cfg) == 1.0  # el coseno empieza al acabar el calentamiento
    assert lr_at(19, cfg) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 15 / 16)))
    assert lr_at(20, cfg) == pytest.approx(0.1)
    start = TrainConfig(steps=20, lr=1.0, warmup=4, cosine_from_start=True)
    assert lr_at(10, start) == pytest.approx(0.5)  # la mitad de los pasos: la mitad del coseno
    timed = TrainConfig(steps=1000, lr=1.0, max_seconds=10.0, cosine_from_start=True)
    assert lr_at(1, timed, elapsed=10.0) == 0.0  # manda el reloj


def test_cosine_matches_transformers_after_warmup_but_not_at_step_0():
    tf = pytest.importorskip("transformers")
    cfg = TrainConfig(steps=30, lr=2e-3, warmup=5, min_lr_ratio=0.05)
    opt = torch.optim.AdamW([nn.Parameter(torch.zeros(1))], lr=cfg.lr)
    sched = tf.get_cosine_with_min_lr_schedule_with_warmup(opt, 5, 30, min_lr_rate=0.05)
    theirs = []
    for _ in range(30):
        theirs.append(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    ours = [lr_at(s, cfg) for s in range(30)]
    assert theirs[0] == 0.0 and ours[0] == cfg.lr / 5  # transformers no aprende en el paso 0
    assert ours[5:] == pytest.approx(theirs[5:], rel=1e-12)


def test_linear_schedule_is_transformers_one_step_ahead():
    tf = pytest.importorskip("transformers")
    cfg = TrainConfig(steps=12, lr=1e-4, warmup=3, schedule="linear")
    opt = torch.optim.AdamW([nn.Parameter(torch.zeros(1))], lr=cfg.lr)
    sched = tf.get_linear_schedule_with_warmup(opt, 4, 13)
    theirs = []
    for _ in range(13):
        opt.step()
        sched.step()
        theirs.append(sched.get_last_lr()[0])
    assert [lr_at(s, cfg) for s in range(12)] == pytest.approx(theirs[:12], rel=1e-12)


def test_train_equals_a_hand_written_loop():
    cfg = TrainConfig(steps=15, lr=1e-2, warmup=3, min_lr_ratio=0.1, weight_decay=0.1,
                      grad_clip=0.5, show_progress=False)
    torch.manual_seed(0)
    model = _Tiny()
    res = train(model, _batches(), _mse, cfg)
    torch.manual_seed(0)
    ref = _Tiny()
    opt = torch.optim.AdamW(param_groups(ref, 0.1), lr=cfg.lr, fused=True)
    losses = []
    for step, batch in zip(range(cfg.steps), _batches(), strict=False):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        loss = _mse(ref, batch)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(ref.parameters(), 0.5)
        opt.step()
        losses.append(loss.item())
    assert res.losses == losses
    assert res.lrs == [lr_at(s, cfg) for s in range(15)]
    assert res.steps == 15 and not model.training


def test_optimizer_is_fused_on_cpu_and_matches_the_python_loop():
    cfg = TrainConfig(steps=20, lr=1e-2, warmup=2, weight_decay=0.1, grad_clip=1.0,
                      show_progress=False)
    torch.manual_seed(0)
    model = _Tiny()
    assert make_optimizer(model, cfg).defaults["fused"] is True
    torch.manual_seed(0)
    ref = _Tiny()
    train(model, _batches(), _mse, cfg)
    opt = torch.optim.AdamW(param_groups(ref, 0.1), lr=cfg.lr, betas=cfg.betas, foreach=False)
    for step, batch in zip(range(cfg.steps), _batches(), strict=False):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        opt.zero_grad()
        _mse(ref, batch).backward()
        nn.utils.clip_grad_norm_(ref.parameters(), cfg.grad_clip)
        opt.step()
    for ours, theirs in zip(model.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
    # Fuera de CPU y CUDA (aquí, el dispositivo «meta»), el bucle de siempre.
    assert make_optimizer(_Tiny().to("meta"), cfg).defaults["fused"] is None


def test_evaluation_hook_every_n_steps_and_at_the_end():
    seen, modes = [], []

    def evaluate(step):
        seen.append(step)
        modes.append(model.training)
        model.eval()

    model = _Tiny()
    cfg = TrainConfig(steps=10, lr=1e-3, eval_every=4, schedule="constant", show_progress=False)
    res = train(model, _batches(), _mse, cfg, evaluate=evaluate)
    assert seen == [4, 8, 10] and len(res.losses) == 10
    assert all(modes)  # el gancho recibe el modelo en modo entrenamiento...
    assert not model.training  # ...y al final queda en evaluación


def test_max_seconds_stops_early_and_short_data_ends_the_loop():
    def slow(batches):
        for b in batches:
            time.sleep(0.02)
            yield b

    cfg = TrainConfig(steps=1000, lr=1e-3, max_seconds=0.1, show_progress=False)
    res = train(_Tiny(), slow(_batches()), _mse, cfg)
    assert res.stopped_by_time and 1 <= res.steps < 1000 and len(res.losses) == res.steps
    short = train(_Tiny(), itertools.islice(_batches(), 3), _mse,
                  TrainConfig(steps=10, lr=1e-3, show_progress=False))
    assert short.steps == 3 and not short.stopped_by_time


def test_external_scheduler_and_amp_on_cpu():
    cfg = TrainConfig(steps=4, lr=1.0, amp_dtype=torch.bfloat16, show_progress=False)
    res = train(_Tiny(), _batches(), _mse, cfg,
                scheduler=lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5**s))
    assert res.lrs == [1.0, 0.5, 0.25, 0.125]
    assert all(math.isfinite(v) for v in res.losses)


def test_bad_config_raises_clear_errors():
    with pytest.raises(ValueError, match="schedule"):
        TrainConfig(steps=3, lr=1e-3, schedule="exponencial")
    with pytest.raises(ValueError, match="steps"):
        TrainConfig(steps=0, lr=1e-3)
    with pytest.raises(ValueError, match="lr"):
        TrainConfig(steps=3, lr=-1.0)
