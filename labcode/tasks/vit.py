"""La receta del capítulo 11: entrenar un ViT (y sus líneas base) con los dígitos 8x8.

- :class:`ViTTrainConfig`: épocas, lote, tasa de aprendizaje, aumento de datos...
- :func:`train_model`: entrena cualquier clasificador de imágenes (ViT, MLP o CNN)
  con el bucle común :func:`labcode.train.train` y mide la exactitud de prueba.
- :func:`train_vit`: crea un :class:`labcode.models.vit.ViT` y lo entrena.

La configuración del capítulo está en :mod:`labcode.book.presets`
(``VIT_DIGITS_CONFIG``, ``VIT_DIGITS_TRAIN_CONFIG``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from labcode.data.digits import DigitsData, load_digits_dataset
from labcode.models.vit import ViT, ViTConfig
from labcode.nn.params import num_parameters
from labcode.train import TrainConfig, train
from labcode.utils import checks
from labcode.utils.errors import LabcodeTypeError, LabcodeValueError
from labcode.utils.runtime import default_num_threads

__all__ = ["ViTTrainConfig", "TrainHistory", "evaluate_accuracy", "train_model", "train_vit"]


@dataclass
class ViTTrainConfig:
    """Configuración de :func:`train_model` (AdamW, calentamiento + coseno, por épocas).

    Parameters
    ----------
    epochs, batch_size : int
    lr, weight_decay : float
    warmup_epochs : int
        Épocas de calentamiento lineal de la tasa de aprendizaje.
    label_smoothing : float
    shift : int
        Aumento de datos: desplazamiento aleatorio de hasta ``shift`` píxeles
        (con relleno de ceros) en cada lote; 0 lo desactiva.
    seed : int
    num_threads : int, opcional
        Hilos de PyTorch. Por defecto 1: con modelos diminutos y lotes pequeños
        la sincronización entre hilos cuesta más de lo que ahorra. ``None`` usa
        :func:`labcode.utils.runtime.default_num_threads`.
    """

    epochs: int = 30
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 0.05
    warmup_epochs: int = 2
    label_smoothing: float = 0.0
    shift: int = 0
    seed: int = 0
    num_threads: int | None = 1

    def __post_init__(self) -> None:
        checks.positive_int("ViTTrainConfig.epochs", self.epochs)
        checks.positive_int("ViTTrainConfig.batch_size", self.batch_size)
        checks.nonnegative_int("ViTTrainConfig.warmup_epochs", self.warmup_epochs)
        checks.positive_float("ViTTrainConfig.lr", self.lr)
        checks.finite_float("ViTTrainConfig.weight_decay", self.weight_decay, low=0.0)
        checks.probability("ViTTrainConfig.label_smoothing", self.label_smoothing)
        checks.nonnegative_int("ViTTrainConfig.shift", self.shift)
        checks.seed(self.seed, "ViTTrainConfig.seed")
        if self.num_threads is not None:
            checks.positive_int("ViTTrainConfig.num_threads", self.num_threads)


@dataclass
class TrainHistory:
    """Resultado de :func:`train_model`: pérdida y exactitud de prueba por época."""

    loss: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    seconds: float = 0.0
    num_parameters: int = 0

    @property
    def final_accuracy(self) -> float:
        return self.test_accuracy[-1] if self.test_accuracy else float("nan")

    def as_dict(self) -> dict:
        return asdict(self) | {"final_accuracy": self.final_accuracy}


@torch.no_grad()
def evaluate_accuracy(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 512
) -> float:
    """Exactitud (fracción de aciertos) de ``model`` sobre ``(x, y)`` en modo evaluación."""
    if len(x) != len(y):
        raise LabcodeValueError(
            "evaluate_accuracy: x e y deben tener la misma longitud; se recibió "
            f"{len(x)} y {len(y)}."
        )
    was_training = model.training
    model.eval()
    correct = 0
    for i in range(0, len(x), batch_size):
        correct += (model(x[i : i + batch_size]).argmax(-1) == y[i : i + batch_size]).sum().item()
    model.train(was_training)
    return correct / max(1, len(x))


def _random_shift(x: torch.Tensor, shift: int, gen: torch.Generator) -> torch.Tensor:
    """Desplaza cada imagen del lote hasta ``shift`` píxeles (relleno con el fondo)."""
    B, _, H, W = x.shape
    background = x.amin()
    padded = F.pad(x, (shift, shift, shift, shift), value=float(background))
    dx = torch.randint(0, 2 * shift + 1, (B,), generator=gen)
    dy = torch.randint(0, 2 * shift + 1, (B,), generator=gen)
    rows = (dy[:, None] + torch.arange(H)[None])  # (B, H)
    cols = (dx[:, None] + torch.arange(W)[None])  # (B, W)
    idx_b = torch.arange(B)[:, None, None]
    out = padded[idx_b, :, rows[:, :, None], cols[:, None, :]]  # (B, H, W, C)
    return out.permute(0, 3, 1, 2).contiguous()


def _epoch_batches(data: DigitsData, tc: ViTTrainConfig, gen: torch.Generator):
    """Lotes de ``tc.epochs`` épocas: barajado por época y desplazamientos aleatorios."""
    n = len(data.x_train)
    for _ in range(tc.epochs):
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, tc.batch_size):
            idx = perm[i : i + tc.batch_size]
            xb, yb = data.x_train[idx], data.y_train[idx]
            if tc.shift:
                xb = _random_shift(xb, tc.shift, gen)
            yield xb, yb


def _epoch_losses(losses: list[float], n: int, batch_size: int) -> list[float]:
    """Pérdida media por época (cada lote pesa lo que mide; el último puede ser menor)."""
    sizes = [min(batch_size, n - i) for i in range(0, n, batch_size)]
    out = []
    for start in range(0, len(losses), len(sizes)):
        total = 0.0
        for loss, size in zip(losses[start : start + len(sizes)], sizes, strict=False):
            total += loss * size
        out.append(total / n)
    return out


def train_model(
    model: nn.Module,
    data: DigitsData,
    train_config: ViTTrainConfig | None = None,
    show_progress: bool = True,
    eval_every: int = 1,
) -> TrainHistory:
    """Entrena ``model`` (ViT, MLP o CNN) con el mismo bucle y mide la exactitud de prueba.

    AdamW, calentamiento lineal y decaimiento coseno por paso
    (:func:`labcode.train.lr_at`), entropía cruzada y (opcionalmente)
    desplazamientos aleatorios como aumento de datos.

    Parameters
    ----------
    model : nn.Module
        Cualquier clasificador ``(B, 1, 8, 8) → (B, 10)``.
    data : DigitsData
        De :func:`labcode.data.digits.load_digits_dataset`.
    train_config : ViTTrainConfig, opcional
    show_progress : bool
        Barra de progreso.
    eval_every : int
        Cada cuántas épocas se mide la exactitud de prueba (siempre en la última).

    Returns
    -------
    TrainHistory
        Pérdida media por época, exactitud de prueba, segundos de entrenamiento
        (sin contar las evaluaciones) y número de parámetros.
    """
    tc = train_config or ViTTrainConfig()
    if not isinstance(data, DigitsData):
        raise LabcodeTypeError(
            f"train_model: se esperaba un DigitsData; se recibió {type(data).__name__}."
        )
    torch.set_num_threads(tc.num_threads or default_num_threads())
    n = len(data.x_train)
    per_epoch = math.ceil(n / tc.batch_size)  # pasos por época
    eval_every = checks.positive_int("eval_every", eval_every)
    cfg = TrainConfig(
        steps=tc.epochs * per_epoch, lr=tc.lr, warmup=tc.warmup_epochs * per_epoch,
        weight_decay=tc.weight_decay, eval_every=eval_every * per_epoch,
        desc=type(model).__name__, show_progress=show_progress,
    )
    hist = TrainHistory(num_parameters=num_parameters(model, only_trainable=True))

    def evaluate(step: int) -> None:
        hist.test_accuracy.append(evaluate_accuracy(model, data.x_test, data.y_test))

    def loss_fn(m: nn.Module, batch) -> torch.Tensor:
        return F.cross_entropy(m(batch[0]), batch[1], label_smoothing=tc.label_smoothing)

    gen = torch.Generator().manual_seed(tc.seed)
    res = train(model, _epoch_batches(data, tc, gen), loss_fn, cfg, evaluate=evaluate)
    hist.loss = _epoch_losses(res.losses, n, tc.batch_size)
    hist.seconds = res.seconds
    return hist


def train_vit(
    config: ViTConfig | None = None,
    train_config: ViTTrainConfig | None = None,
    data: DigitsData | None = None,
    show_progress: bool = True,
    eval_every: int = 1,
) -> tuple[ViT, TrainHistory, DigitsData]:
    """Crea un :class:`labcode.models.vit.ViT` y lo entrena sobre los dígitos con
    :func:`train_model`.

    Parameters
    ----------
    config : ViTConfig, opcional
        Por defecto ``ViTConfig()`` (la del capítulo,
        :data:`labcode.book.presets.VIT_DIGITS_CONFIG`).
    train_config : ViTTrainConfig, opcional
        Por defecto ``ViTTrainConfig()`` (la del
        capítulo, :data:`labcode.book.presets.VIT_DIGITS_TRAIN_CONFIG`).
    data : DigitsData, opcional
        Por defecto ``load_digits_dataset()``.
    show_progress : bool
    eval_every : int

    Returns
    -------
    (ViT, TrainHistory, DigitsData)
    """
    config = config or ViTConfig()
    tc = train_config or ViTTrainConfig()
    data = data if data is not None else load_digits_dataset(seed=tc.seed)
    torch.manual_seed(tc.seed)
    model = ViT(config)
    hist = train_model(model, data, tc, show_progress=show_progress, eval_every=eval_every)
    return model, hist, data
