"""Un mini-GPT «cervantino»: modelo de lenguaje por caracteres sobre el *Quijote*.

- :func:`train_char_gpt`: entrena un :class:`labcode.models.gpt.GPT` desde cero
  (con el bucle común :func:`labcode.train.train`) y devuelve el modelo y el
  historial de pérdidas.
- :func:`estimate_loss`: pérdida media con lotes fijos.
- :func:`sample_text`: genera texto con la caché KV de :meth:`labcode.models.gpt.GPT.generate`.

El texto y el tokenizador están en :mod:`labcode.data.quijote`; la configuración
del capítulo según el perfil (``quick`` o ``full``), en
:func:`labcode.book.presets.default_train_config`.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import asdict, dataclass, field, fields, replace

import torch
import torch.nn.functional as F

from labcode.data.quijote import get_batch, load_quijote_text, train_val_split
from labcode.data.tokenizer import CharTokenizer
from labcode.models.gpt import GPT, GPTConfig
from labcode.train import TrainConfig, train
from labcode.utils import checks
from labcode.utils.checks import seed as _check_seed
from labcode.utils.errors import LabcodeTypeError

__all__ = [
    "CharGPTTrainConfig",
    "CharGPTResult",
    "estimate_loss",
    "train_char_gpt",
    "sample_text",
]


@dataclass
class CharGPTTrainConfig:
    """Hiperparámetros del entrenamiento de :func:`train_char_gpt`.

    Los valores por defecto son los del perfil ``quick``: 800 pasos, unos 100 s en dos
    núcleos. ``max_seconds`` es un límite de tiempo de seguridad para máquinas más
    lentas: si se alcanza antes que ``max_steps``, el entrenamiento se detiene (y queda
    anotado en el historial). El ritmo de
    aprendizaje sigue un calentamiento lineal y un decaimiento coseno según la
    fracción completada, la mayor entre la de pasos y la de tiempo, así que
    también termina con el ritmo mínimo si manda el reloj.
    """

    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    block_size: int = 64
    dropout: float = 0.0
    batch_size: int = 32
    max_steps: int = 800
    learning_rate: float = 2e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = 50
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    eval_interval: int = 100
    eval_iters: int = 10
    max_seconds: float | None = 140.0
    val_fraction: float = 0.1
    seed: int = 0
    device: str | None = None

    def __post_init__(self) -> None:
        for name in ("n_layer", "n_head", "n_embd", "block_size", "batch_size", "max_steps",
                     "eval_interval", "eval_iters"):
            checks.positive_int(f"CharGPTTrainConfig: {name}", getattr(self, name))
        checks.nonnegative_int("CharGPTTrainConfig: warmup_steps", self.warmup_steps)
        checks.probability("CharGPTTrainConfig: dropout", self.dropout)
        checks.positive_float("CharGPTTrainConfig: learning_rate", self.learning_rate)
        checks.finite_float("CharGPTTrainConfig: min_lr_ratio", self.min_lr_ratio,
                            low=0.0, high=1.0)
        checks.finite_float("CharGPTTrainConfig: weight_decay", self.weight_decay, low=0.0)
        checks.finite_float("CharGPTTrainConfig: grad_clip (0 = sin recorte)", self.grad_clip,
                            low=0.0)
        if self.max_seconds is not None:
            checks.positive_float("CharGPTTrainConfig: max_seconds", self.max_seconds)
        checks.finite_float("CharGPTTrainConfig: val_fraction", self.val_fraction, low=0.0,
                            high=1.0, low_open=True, high_open=True)
        checks.seed(self.seed, "CharGPTTrainConfig: seed")


@dataclass
class CharGPTResult:
    """Lo que devuelve :func:`train_char_gpt`."""

    model: GPT
    tokenizer: CharTokenizer
    config: CharGPTTrainConfig
    history: dict = field(default_factory=dict)

    def summary(self) -> dict:
        """Resumen serializable (sin el modelo)."""
        h = self.history
        return {
            "config": asdict(self.config),
            "parameters": self.model.num_parameters(),
            "steps": h["steps_done"],
            "seconds": h["seconds"],
            "device": h["device"],
            "final_train_loss": h["train_loss"][-1],
            "final_val_loss": h["val_loss"][-1],
            "stopped_by_time": h["stopped_by_time"],
        }


@torch.no_grad()
def estimate_loss(
    model: GPT,
    splits: dict[str, torch.Tensor],
    block_size: int,
    batch_size: int,
    eval_iters: int,
    seed: int = 1234,
    device: str | torch.device = "cpu",
) -> dict[str, float]:
    """Pérdida media (entropía cruzada, nats por carácter) en cada partición.

    Usa siempre los mismos lotes (semilla fija) para que las curvas sean comparables.
    """
    was_training = model.training
    model.eval()
    out = {}
    for name, data in splits.items():
        g = torch.Generator().manual_seed(_check_seed(seed))
        losses = []
        for _ in range(eval_iters):
            x, y = get_batch(data, block_size, batch_size, generator=g, device=device)
            logits = model(x)
            losses.append(F.cross_entropy(logits.flatten(0, 1), y.flatten()).item())
        out[name] = sum(losses) / len(losses)
    model.train(was_training)
    return out


def _lm_loss(model: GPT, batch) -> torch.Tensor:
    """Entropía cruzada del siguiente carácter en cada posición del lote ``(x, y)``."""
    x, y = batch
    return F.cross_entropy(model(x).flatten(0, 1), y.flatten())


def _trainer_config(cfg: CharGPTTrainConfig) -> TrainConfig:
    """Calentamiento lineal y coseno desde el paso 0 hasta ``min_lr_ratio``.

    El coseno avanza con la fracción completada, la mayor entre la de pasos y
    la de tiempo (``max_seconds``).
    """
    return TrainConfig(
        steps=cfg.max_steps, lr=cfg.learning_rate, warmup=cfg.warmup_steps,
        min_lr_ratio=cfg.min_lr_ratio, cosine_from_start=True, max_seconds=cfg.max_seconds,
        weight_decay=cfg.weight_decay, betas=(0.9, 0.99), grad_clip=cfg.grad_clip,
        eval_every=cfg.eval_interval,
    )


def train_char_gpt(
    text: str | None = None,
    config: CharGPTTrainConfig | None = None,
    **overrides,
) -> CharGPTResult:
    """Entrena un :class:`~labcode.models.gpt.GPT` por caracteres desde cero.

    Parameters
    ----------
    text : str, optional
        Texto de entrenamiento; por defecto :func:`labcode.data.quijote.load_quijote_text`.
    config : CharGPTTrainConfig, optional
        Por defecto ``CharGPTTrainConfig()`` (la del perfil ``quick``; la del perfil
        activo es :func:`labcode.book.presets.default_train_config`).
    **overrides
        Campos de ``config`` a cambiar (p. ej. ``max_steps=100``).

    Returns
    -------
    CharGPTResult
        ``model`` (en modo evaluación), ``tokenizer`` y ``history`` con ``step``,
        ``train_loss``, ``val_loss`` (cada ``eval_interval`` pasos y al final),
        ``lr``, ``batch_loss``, ``seconds``, ``steps_done``, ``device``,
        ``stopped_by_time`` y el tamaño de cada partición. Sin ``text`` ni el
        fichero del *Quijote*, lanza ``DataNotFoundError``.
    """
    cfg = config if config is not None else CharGPTTrainConfig()
    unknown = set(overrides) - {f.name for f in fields(cfg)}
    if unknown:
        raise LabcodeTypeError(f"train_char_gpt: parámetros desconocidos {sorted(unknown)}.")
    cfg = replace(cfg, **overrides)
    device = cfg.device or ("cuda" if torch.cuda.is_available() else "cpu")
    text = load_quijote_text() if text is None else text
    torch.manual_seed(cfg.seed)
    tok = CharTokenizer(text)
    ids = torch.tensor(tok.encode(text), dtype=torch.long)
    train_ids, val_ids = train_val_split(ids, cfg.val_fraction)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, n_positions=cfg.block_size,
                          n_embd=cfg.n_embd, n_layer=cfg.n_layer, n_head=cfg.n_head,
                          dropout=cfg.dropout)).to(device)
    hist: dict = {"step": [], "train_loss": [], "val_loss": [],
                  "train_chars": len(train_ids), "val_chars": len(val_ids)}

    def evaluate(step: int) -> None:
        losses = estimate_loss(model, {"train": train_ids, "val": val_ids}, cfg.block_size,
                               cfg.batch_size, cfg.eval_iters, device=device)
        hist["step"].append(step)
        hist["train_loss"].append(losses["train"])
        hist["val_loss"].append(losses["val"])

    g = torch.Generator().manual_seed(cfg.seed)
    batches = (get_batch(train_ids, cfg.block_size, cfg.batch_size, generator=g, device=device)
               for _ in itertools.count())
    start = time.perf_counter()
    evaluate(0)
    res = train(model, batches, _lm_loss, _trainer_config(cfg), evaluate=evaluate)
    hist.update(batch_loss=res.losses, lr=res.lrs, seconds=time.perf_counter() - start,
                steps_done=res.steps, device=str(device), stopped_by_time=res.stopped_by_time)
    return CharGPTResult(model=model, tokenizer=tok, config=cfg, history=hist)


@torch.no_grad()
def sample_text(
    model: GPT,
    tokenizer: CharTokenizer,
    prompt: str,
    max_new_tokens: int = 300,
    temperature: float = 0.8,
    top_k: int | None = None,
    seed: int = 0,
) -> str:
    """Continúa ``prompt`` con el modelo (muestreo con la caché KV de ``GPT.generate``).

    Si el texto supera el contexto del modelo (``n_positions``), la generación
    sigue en ventanas: se conserva la última mitad del contexto como nuevo
    *prompt* y se vuelve a llenar la caché (ventana deslizante).

    Returns
    -------
    str
        ``prompt`` seguido del texto generado.
    """
    device = next(model.parameters()).device
    g = torch.Generator(device=device).manual_seed(_check_seed(seed))
    ids = torch.tensor([tokenizer.encode(prompt)], dtype=torch.long, device=device)  # (1, T)
    ctx = model.config.n_positions
    keep = max(1, ctx // 2)
    remaining = max_new_tokens
    out = ids
    while remaining > 0:
        window = out[:, -keep:] if out.shape[1] > keep else out
        n = min(remaining, ctx - window.shape[1])
        new = model.generate(window, n, temperature=temperature, top_k=top_k,
                             do_sample=True, use_cache=True, generator=g)
        out = torch.cat((out, new[:, window.shape[1]:]), dim=1)
        remaining -= n
    return tokenizer.decode(out[0].cpu())
