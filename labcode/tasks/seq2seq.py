"""La receta del capítulo 5: entrenar el Transformer encoder-decoder con fechas.

- :class:`Seq2SeqTrainConfig`: pasos, lote, tasa de aprendizaje... (``dataclass``).
- :func:`train_seq2seq`: entrena un :class:`labcode.models.seq2seq.TransformerModel`
  con lotes nuevos en cada paso, con el bucle común :func:`labcode.train.train`.
- :func:`exact_match`: exactitud de coincidencia exacta de la salida generada.
- :func:`train_dates_model`: el modelo de fechas (los tamaños del capítulo están
  en :mod:`labcode.book.presets`).
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from labcode.models.seq2seq import TransformerConfig, TransformerModel
from labcode.train import TrainConfig, train
from labcode.utils import checks
from labcode.utils.errors import LabcodeTypeError
from labcode.utils.runtime import default_num_threads

__all__ = [
    "Seq2SeqTrainConfig",
    "Seq2SeqResult",
    "train_seq2seq",
    "exact_match",
    "train_dates_model",
]


@dataclass
class Seq2SeqTrainConfig:
    """Hiperparámetros de :func:`train_seq2seq`.

    ``lr`` sube linealmente durante ``warmup`` pasos y después decae con un
    coseno hasta ``lr * min_lr_ratio`` en el paso ``steps`` (:func:`labcode.train.lr_at`).
    """

    steps: int = 1000
    batch_size: int = 64
    lr: float = 1e-3
    warmup: int = 100
    min_lr_ratio: float = 0.05
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    label_smoothing: float = 0.0
    seed: int = 0
    log_every: int = 10
    num_threads: int | None = None

    def __post_init__(self) -> None:
        for name in ("batch_size", "log_every"):
            checks.positive_int(f"Seq2SeqTrainConfig: {name}", getattr(self, name))
        checks.probability("Seq2SeqTrainConfig: label_smoothing", self.label_smoothing)
        checks.seed(self.seed, "Seq2SeqTrainConfig: seed")
        if self.num_threads is not None:
            checks.positive_int("Seq2SeqTrainConfig: num_threads", self.num_threads)
        self.trainer_config()  # valida steps, lr, warmup, min_lr_ratio...

    def trainer_config(self, show_progress: bool = True) -> TrainConfig:
        """La :class:`labcode.train.TrainConfig` del bucle común."""
        return TrainConfig(
            steps=self.steps, lr=self.lr, warmup=self.warmup, min_lr_ratio=self.min_lr_ratio,
            weight_decay=self.weight_decay, betas=(0.9, 0.98), grad_clip=self.grad_clip,
            show_progress=show_progress,
        )


@dataclass
class Seq2SeqResult:
    """Lo que devuelve :func:`train_seq2seq`: pérdida media cada ``log_every`` pasos."""

    steps: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    config: dict = field(default_factory=dict)


def _check_args(model, task, config) -> None:
    if not isinstance(model, TransformerModel):
        raise LabcodeTypeError(
            f"train_seq2seq: model debe ser un TransformerModel; se recibió {type(model).__name__}."
        )
    if config is not None and not isinstance(config, Seq2SeqTrainConfig):
        raise LabcodeTypeError(
            "train_seq2seq: config debe ser un Seq2SeqTrainConfig (o None); se recibió "
            f"{type(config).__name__}. Ejemplo: Seq2SeqTrainConfig(steps=200, batch_size=32)."
        )
    if not callable(getattr(task, "batch", None)):
        raise LabcodeTypeError(
            "train_seq2seq: task debe tener un método batch(n, rng) (por ejemplo, "
            f"labcode.data.seq2seq.DateTask); se recibió {type(task).__name__}."
        )


def train_seq2seq(
    model: TransformerModel,
    task,
    config: Seq2SeqTrainConfig | None = None,
    show_progress: bool = True,
) -> Seq2SeqResult:
    """Entrena ``model`` en ``task`` con AdamW, calentamiento y decaimiento coseno.

    Parameters
    ----------
    model : TransformerModel
        El modelo (se modifica en su sitio).
    task : labcode.data.seq2seq.Seq2SeqTask
        Proporciona lotes nuevos en cada paso con ``task.batch(n, rng)``.
    config : Seq2SeqTrainConfig, opcional
    show_progress : bool
        Barra de progreso.

    Returns
    -------
    Seq2SeqResult
        Pérdida media cada ``log_every`` pasos y el tiempo de pared en segundos.

    Notes
    -----
    Si ``config.num_threads`` no es ``None``, fija ``torch.set_num_threads`` durante
    el entrenamiento y restaura el valor anterior al terminar.
    """
    _check_args(model, task, config)
    tc = config or Seq2SeqTrainConfig()
    old_threads = torch.get_num_threads()
    if tc.num_threads is not None:
        torch.set_num_threads(tc.num_threads)
    try:
        torch.manual_seed(tc.seed)
        rng = np.random.default_rng(tc.seed)
        batches = (task.batch(tc.batch_size, rng) for _ in itertools.count())
        res = train(model, batches, lambda m, b: m.loss(*b, label_smoothing=tc.label_smoothing),
                    tc.trainer_config(show_progress))
    finally:
        torch.set_num_threads(old_threads)
    out = Seq2SeqResult(config=asdict(tc), seconds=res.seconds)
    for start in range(0, res.steps, tc.log_every):  # pérdida media de cada tramo
        chunk = res.losses[start : start + tc.log_every]
        out.steps.append(start + len(chunk))
        out.losses.append(sum(chunk) / len(chunk))
    return out


@torch.no_grad()
def exact_match(
    model: TransformerModel,
    task,
    pairs: list[tuple[str, str]],
    batch_size: int = 500,
    num_beams: int = 1,
) -> tuple[float, list[tuple[str, str, str]]]:
    """Exactitud de coincidencia exacta (*exact match*) de la salida generada.

    Returns
    -------
    accuracy : float
        Fracción de pares cuya predicción coincide exactamente con el destino.
    predictions : list of (fuente, esperado, predicho)
    """
    model.eval()
    preds: list[tuple[str, str, str]] = []
    max_out = task.max_tgt_len() + 2
    for i in range(0, len(pairs), batch_size):
        chunk = pairs[i : i + batch_size]
        src = task.encode_sources([s for s, _ in chunk])
        out = model.generate(src, max_len=max_out, num_beams=num_beams)
        for (s, t), ids in zip(chunk, out, strict=True):
            preds.append((s, t, task.tgt_vocab.decode(ids)))
    acc = float(np.mean([t == p for _, t, p in preds])) if preds else 0.0
    return acc, preds


def train_dates_model(
    model_config: dict,
    train_config: dict,
    num_threads: int | None = None,
    show_progress: bool = True,
    seed: int = 0,
):
    """Construye y entrena el modelo de fechas del capítulo 5.

    Parameters
    ----------
    model_config : dict
        Argumentos de :class:`labcode.models.seq2seq.TransformerConfig` salvo los tamaños de
        vocabulario
        (los del capítulo: :data:`labcode.book.presets.DATES_MODEL_CONFIG`).
    train_config : dict
        Argumentos de :class:`Seq2SeqTrainConfig`
        (:data:`labcode.book.presets.DATES_TRAIN_CONFIG`).
    num_threads : int, opcional
        Por defecto :func:`labcode.utils.runtime.default_num_threads`.

    Returns
    -------
    model : TransformerModel
    task : labcode.data.seq2seq.DateTask
    result : Seq2SeqResult
    """
    from labcode.data.seq2seq import DateTask

    task = DateTask(seed=0)
    num_threads = default_num_threads() if num_threads is None else num_threads
    torch.manual_seed(checks.seed(seed))
    model = TransformerModel(
        TransformerConfig(len(task.src_vocab), len(task.tgt_vocab), **model_config)
    )
    tc = Seq2SeqTrainConfig(**{**train_config, "seed": seed, "num_threads": num_threads})
    result = train_seq2seq(model, task, tc, show_progress=show_progress)
    return model, task, result
