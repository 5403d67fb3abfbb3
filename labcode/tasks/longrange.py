"""Dependencias a larga distancia: LSTM frente a Transformer con los mismos parámetros.

El capítulo «Transformers frente a RNN» compara una LSTM y un encoder
Transformer de tamaño parecido en una tarea cuya respuesta depende de un
*token* lejano. Este módulo reúne:

- :class:`labcode.data.longrange.LongRangeTask` (los datos): secuencias de
  *tokens* «distractores» con un único *token* clave a ``distance`` pasos del final.
- :class:`TransformerClassifier`: *embedding* + posición sinusoidal + bloques
  :class:`labcode.nn.blocks.TransformerEncoderBlock`; lee la última posición.
- :func:`build_matched_models`: una LSTM (:class:`labcode.nn.rnn.LSTMClassifier`)
  y un Transformer con un número de parámetros parecido (por defecto, a menos
  de un 10 %).
- :func:`train_and_eval`, :func:`accuracy_vs_distance`: entrenamiento con un
  presupuesto fijo de pasos y exactitud en un conjunto de prueba aparte.
- :func:`complexity_table`: la tabla 1 de Vaswani et al. (2017) evaluada para
  unos ``n`` y ``d`` concretos.
- :func:`crossover_length`: dónde se cruzan dos curvas de tiempo medidas.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from labcode.data.longrange import LongRangeTask
from labcode.nn.blocks import TransformerEncoderBlock
from labcode.nn.params import num_parameters
from labcode.nn.positional import SinusoidalPositionalEncoding
from labcode.nn.rnn import LSTMClassifier, LSTMConfig
from labcode.train import TrainConfig, train
from labcode.utils.checks import positive_int
from labcode.utils.checks import seed as _check_seed
from labcode.utils.errors import LabcodeTypeError, LabcodeValueError
from labcode.utils.runtime import progress as _progress

__all__ = [
    "TransformerClassifier",
    "build_matched_models",
    "TrainEvalResult",
    "train_and_eval",
    "accuracy_vs_distance",
    "complexity_table",
    "crossover_length",
    "time_models_vs_length",
]


# ---------------------------------------------------------------------------
# Modelos
# ---------------------------------------------------------------------------


class TransformerClassifier(nn.Module):
    """Encoder Transformer para clasificar secuencias leyendo la última posición.

    *Embedding* ``(B, T) -> (B, T, C)`` + codificación sinusoidal (sin
    parámetros) + ``num_layers`` bloques pre-LN + LayerNorm final + cabeza lineal
    sobre la salida de la última posición (la misma posición en la que «lee» la
    LSTM su último estado).

    Parameters
    ----------
    vocab_size, num_classes:
        Tamaño del vocabulario y número de clases.
    d_model, num_heads, d_ff, num_layers:
        Dimensiones del encoder.
    max_len:
        Longitud máxima admitida (tamaño de la tabla sinusoidal).
    dropout:
        *Dropout* de los bloques.
    """

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        d_model: int = 32,
        num_heads: int = 2,
        d_ff: int = 64,
        num_layers: int = 1,
        max_len: int = 2048,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.vocab_size = positive_int("vocab_size", vocab_size)
        self.max_len = positive_int("max_len", max_len)
        self.embedding = nn.Embedding(vocab_size, positive_int("d_model", d_model))
        self.pos = SinusoidalPositionalEncoding(d_model, max_len)
        self.blocks = nn.ModuleList(
            TransformerEncoderBlock(d_model, num_heads, d_ff, dropout=dropout, norm_first=True)
            for _ in range(positive_int("num_layers", num_layers))
        )
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, positive_int("num_classes", num_classes))

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Índices ``(B, T)`` → *logits* ``(B, num_classes)``."""
        if not isinstance(idx, torch.Tensor) or idx.ndim != 2:
            shape = tuple(idx.shape) if isinstance(idx, torch.Tensor) else type(idx).__name__
            raise LabcodeValueError(
                f"idx debe ser un tensor de enteros (B, T); se recibió {shape}."
            )
        if idx.shape[1] > self.max_len:
            raise LabcodeValueError(
                f"la secuencia tiene {idx.shape[1]} tokens y max_len es {self.max_len}."
            )
        x = self.pos(self.embedding(idx.long()))  # (B, T, C)
        for block in self.blocks:
            x = block(x)  # (B, T, C)
        return self.head(self.norm(x[:, -1]))  # (B, num_classes)


def _closest_lstm_hidden(vocab: int, embed: int, classes: int, target: int) -> int:
    """El ``hidden_size`` de una LSTM de una capa con el recuento más cercano a ``target``."""

    def count(h: int) -> int:  # embedding + LSTM (2 sesgos) + cabeza
        return vocab * embed + 4 * h * (embed + h + 2) + h * classes + classes

    return min(range(1, 8 * embed + 1), key=lambda h: abs(count(h) - target))


def build_matched_models(
    d_model: int = 32,
    vocab_size: int = 16,
    num_classes: int = 8,
    num_heads: int = 2,
    d_ff: int | None = None,
    num_layers: int = 1,
    max_len: int = 2048,
    tolerance: float = 0.10,
    seed: int = 0,
) -> tuple[LSTMClassifier, TransformerClassifier]:
    """Una LSTM y un Transformer con un número de parámetros parecido.

    Primero el Transformer (``d_ff = 2 d_model`` por defecto); después, la LSTM de
    una capa (``embed_dim = d_model``) con el recuento de parámetros más cercano.

    Parameters
    ----------
    d_model:
        Dimensión del Transformer y del *embedding* de la LSTM.
    vocab_size, num_classes:
        Vocabulario y clases (los de :class:`labcode.data.longrange.LongRangeTask`).
    num_heads, d_ff, num_layers, max_len:
        Ver :class:`TransformerClassifier`.
    tolerance:
        Diferencia relativa máxima admitida entre los dos recuentos.
    seed:
        Semilla de la inicialización.

    Returns
    -------
    lstm, transformer
        :class:`labcode.nn.rnn.LSTMClassifier` y :class:`TransformerClassifier`.
        Si no se logra igualar los recuentos dentro de ``tolerance``, lanza ``ValueError``.
    """
    d_model = positive_int("d_model", d_model)
    d_ff = 2 * d_model if d_ff is None else positive_int("d_ff", d_ff)
    if isinstance(tolerance, bool) or not isinstance(tolerance, numbers.Real) or tolerance <= 0:
        raise LabcodeValueError(f"tolerance debe ser un número > 0; se recibió {tolerance!r}.")
    if d_model % positive_int("num_heads", num_heads):
        raise LabcodeValueError(
            f"d_model debe ser divisible entre num_heads; se recibió d_model={d_model} "
            f"y num_heads={num_heads}."
        )
    torch.manual_seed(_check_seed(seed))
    transformer = TransformerClassifier(vocab_size, num_classes, d_model, num_heads, d_ff,
                                        num_layers, max_len)
    target = num_parameters(transformer)
    hidden = _closest_lstm_hidden(vocab_size, d_model, num_classes, target)
    torch.manual_seed(_check_seed(seed))
    lstm = LSTMClassifier(LSTMConfig(vocab_size=vocab_size, num_classes=num_classes,
                                     embed_dim=d_model, hidden_size=hidden))
    got = num_parameters(lstm)
    if abs(got - target) > tolerance * target:
        raise LabcodeValueError(
            f"no se pudo igualar el número de parámetros dentro de un {tolerance:.0%}: "
            f"Transformer {target}, mejor LSTM {got} (hidden_size={hidden})."
        )
    return lstm, transformer


# ---------------------------------------------------------------------------
# Entrenamiento y evaluación
# ---------------------------------------------------------------------------


@dataclass
class TrainEvalResult:
    """Resultado de :func:`train_and_eval`."""

    accuracy: float
    losses: list[float]
    seconds: float
    steps: int


def train_and_eval(
    model: nn.Module,
    task: LongRangeTask,
    steps: int = 300,
    batch_size: int = 64,
    lr: float = 3e-3,
    n_test: int = 1000,
    clip: float = 1.0,
    seed: int = 0,
    show_progress: bool = True,
) -> TrainEvalResult:
    """Entrena ``model`` en ``task`` con un presupuesto fijo y mide la exactitud.

    AdamW con tasa constante ``lr``, recorte de la norma del gradiente a
    ``clip`` y lotes nuevos en cada paso (datos infinitos). La exactitud se
    calcula sobre :meth:`labcode.data.longrange.LongRangeTask.test_set`, que no se usa para
    entrenar.

    Parameters
    ----------
    model:
        Clasificador ``(B, T) -> (B, num_keys)`` (p. ej. de :func:`build_matched_models`).
    task:
        La tarea.
    steps, batch_size, lr:
        Presupuesto de entrenamiento.
    n_test:
        Tamaño del conjunto de prueba.
    clip:
        Norma máxima del gradiente.
    seed:
        Semilla de los lotes de entrenamiento.
    show_progress:
        Barra de progreso (:func:`labcode.utils.runtime.progress`).

    Returns
    -------
    TrainEvalResult
        ``accuracy`` en ``[0, 1]``, ``losses`` por paso, ``seconds`` de entrenamiento.
    """
    if not isinstance(model, nn.Module):
        raise LabcodeTypeError(f"model debe ser un nn.Module; se recibió {type(model).__name__}.")
    if not isinstance(task, LongRangeTask):
        raise LabcodeTypeError(f"task debe ser un LongRangeTask; se recibió {type(task).__name__}.")
    steps = positive_int("steps", steps)
    batch_size = positive_int("batch_size", batch_size)
    n_test = positive_int("n_test", n_test)
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not lr > 0:
        raise LabcodeValueError(f"lr debe ser un número > 0; se recibió {lr!r}.")
    gen = torch.Generator().manual_seed(_check_seed(seed))
    batches = (task.sample(batch_size, gen) for _ in itertools.count())  # (B, T), (B,)
    cfg = TrainConfig(steps=steps, lr=float(lr), schedule="constant", grad_clip=clip,
                      desc=type(model).__name__, show_progress=show_progress)
    res = train(model, batches, lambda m, b: F.cross_entropy(m(b[0]), b[1]), cfg)
    idx, y = task.test_set(n_test)
    correct = 0
    with torch.no_grad():
        for i in range(0, n_test, 250):
            correct += int((model(idx[i : i + 250]).argmax(-1) == y[i : i + 250]).sum())
    return TrainEvalResult(correct / n_test, res.losses, res.seconds, steps)


def accuracy_vs_distance(
    distances: Sequence[int],
    d_model: int = 32,
    vocab_size: int = 16,
    num_keys: int | None = None,
    steps: int = 300,
    batch_size: int = 64,
    lr: float = 3e-3,
    n_test: int = 1000,
    seed: int = 0,
    show_progress: bool = True,
    **model_kwargs,
) -> dict[str, np.ndarray | int]:
    """Entrena una LSTM y un Transformer emparejados para cada distancia.

    Para cada ``d`` en ``distances`` se crea ``LongRangeTask(vocab_size, d,
    seq_len=d + 1, num_keys)`` y dos modelos nuevos con
    :func:`build_matched_models` (misma semilla), que se entrenan con el mismo
    presupuesto.

    Returns
    -------
    dict
        ``distance``, ``lstm_acc``, ``transformer_acc``, ``lstm_s``,
        ``transformer_s`` (arrays) y ``lstm_params``, ``transformer_params``,
        ``chance``.
    """
    distances = [positive_int("cada distancia", d) for d in distances]
    if not distances:
        raise LabcodeValueError("distances está vacío; se esperaba al menos una distancia.")
    out: dict[str, list] = {k: [] for k in ("lstm_acc", "transformer_acc", "lstm_s",
                                            "transformer_s")}  # fmt: skip
    nparams = {}
    chance = 0.0
    iterator = _progress(distances, desc="distancias", disable=not show_progress)
    for d in iterator:
        task = LongRangeTask(vocab_size, d, num_keys=num_keys, seed=seed)
        chance = task.chance
        lstm, tr = build_matched_models(
            d_model, vocab_size, task.num_keys, max_len=max(d + 1, 16), seed=seed,
            **model_kwargs,
        )
        for name, model in (("lstm", lstm), ("transformer", tr)):
            res = train_and_eval(model, task, steps, batch_size, lr, n_test, seed=seed,
                                 show_progress=False)  # fmt: skip
            out[f"{name}_acc"].append(res.accuracy)
            out[f"{name}_s"].append(res.seconds)
            nparams[name] = num_parameters(model)
    result: dict[str, np.ndarray | int] = {"distance": np.array(distances)}
    result.update({k: np.array(v) for k, v in out.items()})
    result["lstm_params"] = nparams["lstm"]
    result["transformer_params"] = nparams["transformer"]
    result["chance"] = chance
    return result


# ---------------------------------------------------------------------------
# Complejidad teórica y cruce de curvas medidas
# ---------------------------------------------------------------------------


def complexity_table(n: int, d: int) -> list[dict[str, object]]:
    """Tabla 1 de Vaswani et al. (2017) evaluada para una longitud ``n`` y dimensión ``d``.

    Returns
    -------
    list of dict
        Una fila por tipo de capa con ``capa``, ``coste`` (fórmula), ``ops`` (número
        aproximado de multiplicaciones por capa), ``secuenciales`` y ``camino``
        (longitud máxima del camino entre dos posiciones).
    """
    n, d = positive_int("n", n), positive_int("d", d)
    return [
        {"capa": "autoatención", "coste": "O(n²·d)", "ops": n * n * d,
         "secuenciales": 1, "camino": 1},
        {"capa": "recurrente", "coste": "O(n·d²)", "ops": n * d * d,
         "secuenciales": n, "camino": n},
    ]  # fmt: skip


def crossover_length(lengths, t_a, t_b) -> float | None:
    """Primera longitud en la que la curva ``t_a`` pasa a ser más lenta (o más rápida) que ``t_b``.

    Interpola en escala logarítmica el cociente ``t_a / t_b`` entre las dos
    longitudes medidas en las que cruza 1.

    Parameters
    ----------
    lengths:
        Longitudes medidas (crecientes).
    t_a, t_b:
        Tiempos de cada modelo en esas longitudes.

    Returns
    -------
    float or None
        La longitud estimada del primer cruce, o ``None`` si el cociente no cruza 1.
    """
    n = np.asarray(lengths, dtype=float)
    a, b = np.asarray(t_a, dtype=float), np.asarray(t_b, dtype=float)
    if not (n.shape == a.shape == b.shape) or n.ndim != 1 or n.size < 2:
        raise LabcodeValueError(
            "lengths, t_a y t_b deben ser vectores 1D de la misma longitud (>= 2); se "
            f"recibieron formas {n.shape}, {a.shape}, {b.shape}."
        )
    if np.any(n <= 0) or np.any(a <= 0) or np.any(b <= 0):
        raise LabcodeValueError("las longitudes y los tiempos deben ser positivos.")
    r = np.log(a / b)
    for i in range(len(r) - 1):
        if r[i] == 0:
            return float(n[i])
        if r[i] * r[i + 1] < 0:
            frac = r[i] / (r[i] - r[i + 1])
            return float(math.exp(math.log(n[i]) + frac * (math.log(n[i + 1]) - math.log(n[i]))))
    return None


def time_models_vs_length(
    models: dict[str, nn.Module],
    lengths: Sequence[int],
    vocab_size: int = 16,
    batch_size: int = 8,
    repeats: int = 2,
    seed: int = 0,
    show_progress: bool = True,
    passes: int = 2,
) -> dict[str, np.ndarray]:
    """Tiempo mínimo de *forward* + *backward* de clasificadores sobre *tokens* según ``T``.

    Parameters
    ----------
    models:
        ``{nombre: modelo (B, T) -> (B, K)}``.
    lengths:
        Longitudes ``T`` a medir.
    vocab_size, batch_size:
        Entradas aleatorias ``(batch_size, T)`` con índices en ``[0, vocab_size)``.
    repeats:
        Repeticiones de cada medida en cada pasada.
    passes:
        Pasadas completas por todas las longitudes; se guarda el mínimo de todas
        las repeticiones. Repartir las repeticiones en pasadas separadas en el
        tiempo evita que una ráfaga de carga de otro proceso estropee un punto.

    Returns
    -------
    dict
        ``{"length": array, nombre: array de segundos}``.
    """
    from labcode.nn.rnn import time_forward_backward

    if not models:
        raise LabcodeValueError("models está vacío; se esperaba {nombre: modelo}.")
    lengths = [positive_int("cada longitud", t) for t in lengths]
    if not lengths:
        raise LabcodeValueError("lengths está vacío; se esperaba al menos una longitud.")
    gen = torch.Generator().manual_seed(_check_seed(seed))
    batch_size = positive_int("batch_size", batch_size)
    inputs = [torch.randint(0, vocab_size, (batch_size, t), generator=gen) for t in lengths]
    best = {k: np.full(len(lengths), np.inf) for k in models}
    todo = [(p, i) for p in range(positive_int("passes", passes)) for i in range(len(lengths))]
    for _, i in _progress(todo, desc="longitudes", disable=not show_progress):
        for name, model in models.items():
            t_min = time_forward_backward(model, inputs[i], repeats, 1).min_s
            best[name][i] = min(best[name][i], t_min)
    out = {"length": np.array(lengths)}
    out.update(best)
    return out
