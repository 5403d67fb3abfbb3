"""Un mini-GPT «cervantino»: modelo de lenguaje por caracteres sobre el *Quijote*.

- :func:`load_quijote_text`: lee ``quijote/pg2000.txt`` (copia local, caché o
  descarga comprobada: :func:`labcode.data.registry.fetch`) y quita la
  cabecera y el pie de Project Gutenberg (:func:`strip_gutenberg`).
- :class:`CharTokenizer`: un token por carácter.
- :func:`train_val_split`, :func:`get_batch`: datos de entrenamiento.
- :func:`train_char_gpt`: entrena un :class:`labcode.models.gpt.GPT` desde cero y
  devuelve el modelo y el historial de pérdidas.
- :func:`sample_text`: genera texto con la caché KV de :meth:`labcode.models.gpt.GPT.generate`.

El tamaño del entrenamiento depende del perfil (:func:`labcode.utils.config.get_profile`):
``quick`` (CPU, un par de minutos) o ``full`` (GPU, modelo y entrenamiento mayores).
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from labcode.data.registry import GUTENBERG_URL, fetch
from labcode.models.gpt import GPT, GPTConfig
from labcode.utils import checks
from labcode.utils.checks import seed as _check_seed
from labcode.utils.config import DataNotFoundError, get_profile
from labcode.utils.errors import LabcodeTypeError, LabcodeValueError

__all__ = [
    "GUTENBERG_URL",
    "strip_gutenberg",
    "load_quijote_text",
    "CharTokenizer",
    "train_val_split",
    "get_batch",
    "CharGPTTrainConfig",
    "CharGPTResult",
    "default_train_config",
    "estimate_loss",
    "train_char_gpt",
    "sample_text",
    "data_help_message",
]

_START = "*** START OF"
_END = "*** END OF"


def data_help_message() -> str:
    """Instrucciones (en español) para conseguir el texto del *Quijote*."""
    return (
        "No se encontró el texto del Quijote. Con conexión a Internet se descarga solo de "
        f"Project Gutenberg ({GUTENBERG_URL}); sin ella, define LABCODE_DATA con una "
        "carpeta que contenga quijote/pg2000.txt (por ejemplo LABCODE_DATA=../shared/data) "
        "o LABCODE_DATA_URL con la URL base de una réplica."
    )


def strip_gutenberg(text: str) -> str:
    """Quita la cabecera y el pie de Project Gutenberg.

    Conserva lo que hay entre la línea ``*** START OF ...`` y la línea
    ``*** END OF ...`` (ambas excluidas); normaliza los finales de línea a ``\\n``
    y elimina la marca BOM.

    Raises
    ------
    ValueError
        Si no aparecen las marcas de inicio y fin.
    """
    if not isinstance(text, str):
        raise LabcodeTypeError(
            f"strip_gutenberg: se esperaba str; se recibió {type(text).__name__}."
        )
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    start = text.find(_START)
    end = text.find(_END)
    if start < 0 or end < 0 or end < start:
        raise LabcodeValueError(
            "strip_gutenberg: no se encontraron las marcas '*** START OF' y '*** END OF' "
            "de Project Gutenberg en el texto."
        )
    body_start = text.find("\n", start)
    body_start = len(text) if body_start < 0 else body_start + 1
    return text[body_start:end].strip() + "\n"


def load_quijote_text(path: str | Path | None = None) -> str:
    """Texto del *Quijote* sin cabecera ni pie de Project Gutenberg.

    Parameters
    ----------
    path : str or Path, optional
        Fichero a leer; por defecto ``fetch("quijote/pg2000.txt")`` (copia local,
        caché o descarga de Project Gutenberg comprobada con su hash).

    Raises
    ------
    DataNotFoundError
        Si no existe el fichero y no se puede descargar (el mensaje explica cómo
        conseguirlo).
    """
    path = Path(fetch("quijote/pg2000.txt") if path is None else path)
    if not path.is_file():
        raise DataNotFoundError(f"{data_help_message()} Detalle: no existe {path}.")
    return strip_gutenberg(path.read_text(encoding="utf-8-sig"))


class CharTokenizer:
    """Tokenizador por caracteres: cada carácter distinto del texto es un token.

    Parameters
    ----------
    text : str
        Texto del que se extrae el vocabulario (ordenado por código Unicode).
    """

    def __init__(self, text: str):
        if not isinstance(text, str) or not text:
            raise LabcodeValueError("CharTokenizer: se esperaba un texto no vacío.")
        self.chars: list[str] = sorted(set(text))
        self.stoi = {c: i for i, c in enumerate(self.chars)}

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> torch.Tensor:
        """Texto -> tensor ``(len(text),)`` de ``torch.long``.

        Raises
        ------
        ValueError
            Si el texto tiene caracteres que no están en el vocabulario.
        """
        if not isinstance(text, str):
            raise LabcodeTypeError(
                "CharTokenizer.encode: se esperaba un texto (str); se recibió "
                f"{type(text).__name__}."
            )
        unknown = sorted(set(text) - self.stoi.keys())
        if unknown:
            raise LabcodeValueError(
                f"CharTokenizer: caracteres fuera del vocabulario: {unknown[:10]!r}."
            )
        return torch.tensor([self.stoi[c] for c in text], dtype=torch.long)

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str:
        """Identificadores -> texto."""
        if isinstance(ids, torch.Tensor):
            if ids.is_floating_point() or ids.dtype == torch.bool or ids.dim() > 1:
                raise LabcodeTypeError(
                    "CharTokenizer.decode: se esperaba un tensor 1D de enteros; se recibió "
                    f"dtype={ids.dtype}, forma {tuple(ids.shape)}."
                )
            ids = ids.tolist()
        if isinstance(ids, (str, bytes)):
            raise LabcodeTypeError(
                "CharTokenizer.decode: se esperaba una lista de enteros, no un texto."
            )
        try:
            ids = list(ids)
        except TypeError:
            raise LabcodeTypeError(
                f"CharTokenizer.decode: se esperaba una lista de enteros; se recibió "
                f"{type(ids).__name__}."
            ) from None
        bad = [i for i in ids if isinstance(i, bool) or not isinstance(i, numbers.Integral)]
        if bad:
            raise LabcodeTypeError(
                f"CharTokenizer.decode: los ids deben ser enteros; se recibió {bad[0]!r}."
            )
        out = [i for i in ids if not 0 <= i < self.vocab_size]
        if out:
            raise LabcodeValueError(
                f"CharTokenizer: hay ids fuera de [0, {self.vocab_size - 1}] "
                f"(por ejemplo {out[0]}); "
                "los índices negativos no cuentan desde el final."
            )
        return "".join(self.chars[i] for i in ids)


def train_val_split(
    ids: torch.Tensor, val_fraction: float = 0.1
) -> tuple[torch.Tensor, torch.Tensor]:
    """Divide una secuencia: el primer ``1 - val_fraction`` para entrenar, el resto para validar.

    La validación es el **final** del libro (texto que el modelo no ve).
    """
    if not 0.0 < val_fraction < 1.0:
        raise LabcodeValueError(
            f"train_val_split: val_fraction debe estar en (0, 1); se recibió {val_fraction}."
        )
    if ids.dim() != 1:
        raise LabcodeValueError(
            f"train_val_split: se esperaba un tensor 1D; se recibió la forma {tuple(ids.shape)}."
        )
    n = int(round(len(ids) * (1.0 - val_fraction)))
    return ids[:n], ids[n:]


def get_batch(
    data: torch.Tensor,
    block_size: int,
    batch_size: int,
    generator: torch.Generator | None = None,
    device: str | torch.device = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lote aleatorio de ventanas: entradas ``x`` y objetivos ``y`` desplazados un carácter.

    Returns
    -------
    x, y : torch.Tensor
        ``(batch_size, block_size)`` cada uno; ``y[:, t] = x[:, t + 1]``.
    """
    if len(data) <= block_size:
        raise LabcodeValueError(
            f"get_batch: los datos ({len(data)} tokens) deben ser más largos que "
            f"block_size ({block_size})."
        )
    ix = torch.randint(len(data) - block_size, (batch_size,), generator=generator)
    x = torch.stack([data[i : i + block_size] for i in ix.tolist()])  # (B, T)
    y = torch.stack([data[i + 1 : i + 1 + block_size] for i in ix.tolist()])  # (B, T)
    return x.to(device), y.to(device)


@dataclass
class CharGPTTrainConfig:
    """Hiperparámetros del entrenamiento de :func:`train_char_gpt`.

    ``max_seconds`` es un límite de tiempo: si se alcanza antes que ``max_steps``,
    el entrenamiento se detiene (y queda anotado en el historial). El ritmo de
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
    max_steps: int = 1200
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


def default_train_config(profile: str | None = None) -> CharGPTTrainConfig:
    """Configuración según el perfil: ``quick`` (CPU, < 3 min) o ``full`` (GPU, más grande)."""
    profile = get_profile() if profile is None else profile
    if profile == "quick":
        return CharGPTTrainConfig()
    if profile == "full":
        return CharGPTTrainConfig(
            n_layer=6, n_head=6, n_embd=384, block_size=256, dropout=0.2, batch_size=64,
            max_steps=5000, learning_rate=1e-3, warmup_steps=100, eval_interval=250,
            eval_iters=50, max_seconds=None,
        )
    raise LabcodeValueError(f"default_train_config: perfil desconocido {profile!r} (quick o full).")


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


def _lr_at(step: int, done: float, cfg: CharGPTTrainConfig) -> float:
    """Calentamiento lineal y después decaimiento coseno hasta ``min_lr_ratio``.

    ``done`` es la fracción completada del entrenamiento (pasos o tiempo), en ``[0, 1]``.
    """
    if step < cfg.warmup_steps:
        return cfg.learning_rate * (step + 1) / cfg.warmup_steps
    coeff = 0.5 * (1.0 + math.cos(math.pi * min(1.0, done)))
    return cfg.learning_rate * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * coeff)


def train_char_gpt(
    text: str | None = None,
    config: CharGPTTrainConfig | None = None,
    **overrides,
) -> CharGPTResult:
    """Entrena un :class:`~labcode.models.gpt.GPT` por caracteres desde cero.

    Parameters
    ----------
    text : str, optional
        Texto de entrenamiento; por defecto :func:`load_quijote_text`.
    config : CharGPTTrainConfig, optional
        Por defecto :func:`default_train_config` del perfil activo.
    **overrides
        Campos de ``config`` a cambiar (p. ej. ``max_steps=100``).

    Returns
    -------
    CharGPTResult
        ``model`` (en modo evaluación), ``tokenizer`` y ``history`` con
        ``step``, ``train_loss``, ``val_loss`` (evaluados cada ``eval_interval``
        pasos y al final), ``lr``, ``seconds``, ``steps_done``, ``device``,
        ``stopped_by_time`` y el tamaño de cada partición.

    Raises
    ------
    DataNotFoundError
        Si ``text`` es ``None`` y no está el fichero del *Quijote*.
    """
    from labcode.utils.runtime import progress

    cfg = config if config is not None else default_train_config()
    if overrides:
        unknown = set(overrides) - set(asdict(cfg))
        if unknown:
            raise LabcodeTypeError(f"train_char_gpt: parámetros desconocidos {sorted(unknown)}.")
        cfg = CharGPTTrainConfig(**{**asdict(cfg), **overrides})
    device = cfg.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if text is None:
        text = load_quijote_text()

    torch.manual_seed(cfg.seed)
    tok = CharTokenizer(text)
    train_ids, val_ids = train_val_split(tok.encode(text), cfg.val_fraction)
    model = GPT(
        GPTConfig(
            vocab_size=tok.vocab_size, n_positions=cfg.block_size, n_embd=cfg.n_embd,
            n_layer=cfg.n_layer, n_head=cfg.n_head, dropout=cfg.dropout,
        )
    ).to(device)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.learning_rate, betas=(0.9, 0.99),
    )
    g = torch.Generator().manual_seed(cfg.seed)
    splits = {"train": train_ids, "val": val_ids}
    hist: dict = {"step": [], "train_loss": [], "val_loss": [], "lr": [],
                  "batch_loss": [], "train_chars": len(train_ids), "val_chars": len(val_ids)}

    def evaluate(step: int) -> None:
        losses = estimate_loss(model, splits, cfg.block_size, cfg.batch_size, cfg.eval_iters,
                               device=device)
        hist["step"].append(step)
        hist["train_loss"].append(losses["train"])
        hist["val_loss"].append(losses["val"])

    start = time.perf_counter()
    stopped_by_time = False
    step = 0
    model.train()
    bar = progress(range(cfg.max_steps), desc="entrenando", unit="paso")
    for step in bar:
        if step % cfg.eval_interval == 0:
            evaluate(step)
        done = step / cfg.max_steps
        if cfg.max_seconds is not None:
            done = max(done, (time.perf_counter() - start) / cfg.max_seconds)
        lr = _lr_at(step, done, cfg)
        for group in opt.param_groups:
            group["lr"] = lr
        x, y = get_batch(train_ids, cfg.block_size, cfg.batch_size, generator=g, device=device)
        logits = model(x)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        hist["batch_loss"].append(loss.item())
        hist["lr"].append(lr)
        if hasattr(bar, "set_postfix"):
            bar.set_postfix(loss=f"{hist['batch_loss'][-1]:.3f}", refresh=False)
        if cfg.max_seconds is not None and time.perf_counter() - start > cfg.max_seconds:
            stopped_by_time = step + 1 < cfg.max_steps
            break
    steps_done = step + 1
    evaluate(steps_done)
    hist["seconds"] = time.perf_counter() - start
    hist["steps_done"] = steps_done
    hist["device"] = str(device)
    hist["stopped_by_time"] = stopped_by_time
    return CharGPTResult(model=model.eval(), tokenizer=tok, config=cfg, history=hist)


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
    ids = tokenizer.encode(prompt).to(device)[None]  # (1, T)
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
