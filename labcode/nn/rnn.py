"""La línea base recurrente: RNN y LSTM, y cómo medir sus límites.

Antes del Transformer, las secuencias se procesaban con redes recurrentes
(*recurrent neural networks*, RNN) y, sobre todo, con LSTM (*long short-term
memory*; Hochreiter y Schmidhuber, 1997). Este módulo reúne lo que el libro
necesita para compararlas con la atención:

- Capas de secuencia con la misma interfaz ``(B, T, C) -> (B, T, H)``:
  :class:`RecurrentLayer` (RNN simple, GRU o LSTM) y :class:`SelfAttentionLayer`
  (una capa de autoatención mínima sobre ``nn.MultiheadAttention``).
- Modelos pequeños sobre *tokens*: :class:`LSTMEncoder` (*embedding* + LSTM) y
  :class:`LSTMClassifier` (+ cabeza lineal), configurados con
  :class:`LSTMConfig`. Aceptan secuencias con relleno (*padding*).
- Medidas: :func:`time_forward_backward` (tiempo de una pasada hacia delante y
  hacia atrás), :func:`benchmark_sequence_lengths` (ese tiempo en función de la
  longitud) y :func:`gradient_norm_vs_distance` (norma de
  ``∂h_T/∂x_t`` en función de la distancia ``T - t``).

Todas las capas usan ``batch_first=True``: la primera dimensión es el lote.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from labcode.nn.params import num_parameters
from labcode.utils.checks import positive_int
from labcode.utils.checks import seed as _check_seed
from labcode.utils.errors import LabcodeTypeError, LabcodeValueError
from labcode.utils.timing import Timing, time_call

__all__ = [
    "RecurrentLayer",
    "SelfAttentionLayer",
    "LSTMConfig",
    "LSTMEncoder",
    "LSTMClassifier",
    "time_forward_backward",
    "benchmark_sequence_lengths",
    "gradient_norm_vs_distance",
]

_CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


# ---------------------------------------------------------------------------
# Validación
# ---------------------------------------------------------------------------


def _probability(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise LabcodeTypeError(f"{name} debe ser un número en [0, 1); se recibió {value!r}.")
    if not 0.0 <= float(value) < 1.0:
        raise LabcodeValueError(f"{name} debe estar en [0, 1); se recibió {value}.")
    return float(value)


def _check_float_sequence(x, size: int, who: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise LabcodeTypeError(
            f"{who} espera un torch.Tensor (B, T, {size}); se recibió {type(x).__name__}."
        )
    if x.ndim != 3:
        raise LabcodeValueError(
            f"{who} espera un tensor 3D (B, T, {size}); se recibió la forma {tuple(x.shape)}."
        )
    if x.shape[-1] != size:
        raise LabcodeValueError(
            f"{who}: la última dimensión debe ser {size}; se recibió la forma {tuple(x.shape)}."
        )
    if not x.is_floating_point():
        raise LabcodeTypeError(
            f"{who} espera un tensor de coma flotante; se recibió dtype {x.dtype}. "
            "¿Pasaste índices de tokens? Usa LSTMEncoder para eso."
        )


def _check_idx(idx, vocab_size: int) -> None:
    if not isinstance(idx, torch.Tensor):
        raise LabcodeTypeError(
            f"idx debe ser un torch.Tensor (B, T); se recibió {type(idx).__name__}.")
    if idx.ndim != 2:
        raise LabcodeValueError(
            f"idx debe tener forma (B, T); se recibió la forma {tuple(idx.shape)}.")
    if idx.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8, torch.int8):
        raise LabcodeTypeError(
            f"idx debe contener enteros (índices); se recibió dtype {idx.dtype}.")
    if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= vocab_size):
        raise LabcodeValueError(
            f"los índices deben estar en [0, vocab_size={vocab_size}); "
            f"se recibió el rango [{int(idx.min())}, {int(idx.max())}]."
        )


def _module_device(module: nn.Module) -> torch.device:
    for p in module.parameters():
        return p.device
    for b in module.buffers():
        return b.device
    return torch.device("cpu")


def _first_tensor(out) -> torch.Tensor:
    """La salida principal de un módulo (las RNN de PyTorch devuelven tuplas)."""
    while isinstance(out, (tuple, list)):
        if not out:
            raise LabcodeValueError("el módulo devolvió una tupla vacía; se esperaba un tensor.")
        out = out[0]
    if not isinstance(out, torch.Tensor):
        raise LabcodeTypeError(
            f"se esperaba que el módulo devolviera un tensor; devolvió {type(out).__name__}."
        )
    return out


# ---------------------------------------------------------------------------
# Capas de secuencia: (B, T, C) -> (B, T, H)
# ---------------------------------------------------------------------------


class RecurrentLayer(nn.Module):
    """Una RNN de PyTorch que devuelve sólo las salidas ``(B, T, H)``.

    Parameters
    ----------
    input_size:
        Dimensión ``C`` de cada vector de entrada.
    hidden_size:
        Dimensión ``H`` del estado oculto (por defecto, ``input_size``).
    cell:
        ``"rnn"`` (Elman, con ``tanh``), ``"gru"`` o ``"lstm"``.
    num_layers:
        Capas recurrentes apiladas.
    bidirectional:
        Si es ``True`` la salida tiene ``2 H`` columnas.
    dropout:
        *Dropout* entre capas (sólo con ``num_layers > 1``).

    Raises
    ------
    ValueError
        Si ``cell`` no es uno de los tres tipos o un tamaño no es positivo.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int | None = None,
        cell: str = "lstm",
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
    ):
        super().__init__()
        if cell not in _CELLS:
            raise LabcodeValueError(f"cell debe ser uno de {sorted(_CELLS)}; se recibió {cell!r}.")
        self.input_size = positive_int("input_size", input_size)
        self.hidden_size = positive_int(
            "hidden_size", input_size if hidden_size is None else hidden_size
        )
        self.cell = cell
        self.rnn = _CELLS[cell](
            self.input_size,
            self.hidden_size,
            num_layers=positive_int("num_layers", num_layers),
            bidirectional=bool(bidirectional),
            dropout=_probability("dropout", dropout) if num_layers > 1 else 0.0,
            batch_first=True,
        )
        self.output_size = self.hidden_size * (2 if bidirectional else 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` ``(B, T, C)`` → salidas de la última capa ``(B, T, H)``."""
        _check_float_sequence(x, self.input_size, "RecurrentLayer")
        out, _ = self.rnn(x)  # (B, T, H * dirs)
        return out


class SelfAttentionLayer(nn.Module):
    """Capa mínima de autoatención (*self-attention*) ``(B, T, C) -> (B, T, C)``.

    Envuelve ``nn.MultiheadAttention`` con ``query = key = value = x``. Sirve de
    término de comparación frente a las RNN en el capítulo de motivación; la
    atención se construye paso a paso en los capítulos siguientes.

    Parameters
    ----------
    d_model:
        Dimensión ``C`` de entrada y de salida.
    num_heads:
        Número de cabezas (``d_model`` debe ser divisible entre él).
    causal:
        Si es ``True``, cada posición sólo atiende a las anteriores y a sí misma.
    dropout:
        *Dropout* sobre los pesos de atención.
    """

    def __init__(
        self, d_model: int, num_heads: int = 1, causal: bool = False, dropout: float = 0.0
    ):
        super().__init__()
        self.d_model = positive_int("d_model", d_model)
        self.num_heads = positive_int("num_heads", num_heads)
        if self.d_model % self.num_heads:
            raise LabcodeValueError(
                f"d_model debe ser divisible entre num_heads; se recibió d_model={d_model} "
                f"y num_heads={num_heads}."
            )
        self.causal = bool(causal)
        self.attn = nn.MultiheadAttention(
            self.d_model, self.num_heads, dropout=_probability("dropout", dropout),
            batch_first=True,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` ``(B, T, C)`` → ``(B, T, C)``."""
        _check_float_sequence(x, self.d_model, "SelfAttentionLayer")
        mask = None
        if self.causal:
            t = x.shape[1]
            # True = posición futura, prohibida (convención de nn.MultiheadAttention).
            mask = torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1)
        out, _ = self.attn(x, x, x, attn_mask=mask, need_weights=False)
        return out


# ---------------------------------------------------------------------------
# Modelos sobre tokens
# ---------------------------------------------------------------------------


@dataclass
class LSTMConfig:
    """Hiperparámetros de :class:`LSTMEncoder` y :class:`LSTMClassifier`.

    Parameters
    ----------
    vocab_size:
        Tamaño del vocabulario (índices en ``[0, vocab_size)``).
    num_classes:
        Número de clases de la cabeza de clasificación (sólo el clasificador).
    embed_dim, hidden_size, num_layers:
        Dimensiones del *embedding* y de la LSTM.
    bidirectional:
        LSTM bidireccional (la representación tiene ``2 * hidden_size``).
    dropout:
        *Dropout* sobre los *embeddings*, entre capas y antes de la cabeza.
    pad_idx:
        Índice del *token* de relleno, o ``None``. Si se indica, su *embedding*
        es cero y las longitudes se deducen de la máscara ``idx != pad_idx``
        (relleno a la derecha) cuando no se pasan explícitamente.
    pooling:
        Cómo resumir la secuencia: ``"last"`` (último estado oculto válido) o
        ``"mean"`` (media de las salidas válidas).
    """

    vocab_size: int
    num_classes: int = 2
    embed_dim: int = 64
    hidden_size: int = 128
    num_layers: int = 1
    bidirectional: bool = False
    dropout: float = 0.0
    pad_idx: int | None = None
    pooling: str = "last"

    def __post_init__(self) -> None:
        for name in ("vocab_size", "num_classes", "embed_dim", "hidden_size", "num_layers"):
            positive_int(name, getattr(self, name))
        _probability("dropout", self.dropout)
        if self.pooling not in ("last", "mean"):
            raise LabcodeValueError(
                f"pooling debe ser 'last' o 'mean'; se recibió {self.pooling!r}."
            )
        if self.pad_idx is not None and not 0 <= self.pad_idx < self.vocab_size:
            raise LabcodeValueError(
                f"pad_idx debe estar en [0, vocab_size={self.vocab_size}); "
                f"se recibió {self.pad_idx}."
            )

    @property
    def output_size(self) -> int:
        """Dimensión de la representación de la secuencia."""
        return self.hidden_size * (2 if self.bidirectional else 1)


class LSTMEncoder(nn.Module):
    """*Embedding* + LSTM: índices ``(B, T)`` → salidas ``(B, T, H')`` y resumen ``(B, H')``.

    ``H' = hidden_size`` (o ``2 * hidden_size`` si es bidireccional). Las
    posiciones de relleno no influyen en el resumen: se empaquetan las
    secuencias con ``pack_padded_sequence``.
    """

    def __init__(self, config: LSTMConfig):
        super().__init__()
        if not isinstance(config, LSTMConfig):
            raise LabcodeTypeError(
                f"se esperaba un LSTMConfig; se recibió {type(config).__name__}."
            )
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embed_dim, config.pad_idx)
        self.drop = nn.Dropout(config.dropout)
        self.lstm = nn.LSTM(
            config.embed_dim,
            config.hidden_size,
            num_layers=config.num_layers,
            bidirectional=config.bidirectional,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            batch_first=True,
        )

    def _lengths(self, idx: torch.Tensor, lengths) -> torch.Tensor | None:
        b, t = idx.shape
        if lengths is None:
            if self.config.pad_idx is None:
                return None
            lengths = (idx != self.config.pad_idx).sum(dim=1)
        lengths = torch.as_tensor(lengths, dtype=torch.long).cpu()
        if lengths.shape != (b,):
            raise LabcodeValueError(
                f"lengths debe tener forma ({b},), una longitud por secuencia; "
                f"se recibió {tuple(lengths.shape)}."
            )
        if int(lengths.min()) < 1 or int(lengths.max()) > t:
            raise LabcodeValueError(
                f"cada longitud debe estar en [1, T={t}]; se recibió mínimo {int(lengths.min())} "
                f"y máximo {int(lengths.max())} (¿hay secuencias formadas sólo por relleno?)."
            )
        return lengths

    def forward(
        self, idx: torch.Tensor, lengths: torch.Tensor | Sequence[int] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Codifica un lote de secuencias de índices.

        Parameters
        ----------
        idx:
            Tensor de enteros ``(B, T)``.
        lengths:
            Longitudes reales ``(B,)`` (opcional; ver ``LSTMConfig.pad_idx``).

        Returns
        -------
        outputs, summary
            ``outputs`` ``(B, T, H')`` (ceros en las posiciones de relleno) y
            ``summary`` ``(B, H')`` según ``config.pooling``.

        Raises
        ------
        ValueError, TypeError
            Si ``idx`` no es un tensor entero 2D con índices en el vocabulario o
            si ``lengths`` no encaja.
        """
        _check_idx(idx, self.config.vocab_size)
        b, t = idx.shape
        lens = self._lengths(idx, lengths)
        emb = self.drop(self.embedding(idx.long()))  # (B, T, E)
        if lens is None:
            outputs, (h_n, _) = self.lstm(emb)  # (B, T, H'), (L * dirs, B, H)
        else:
            packed = pack_padded_sequence(emb, lens, batch_first=True, enforce_sorted=False)
            packed_out, (h_n, _) = self.lstm(packed)
            outputs, _ = pad_packed_sequence(packed_out, batch_first=True, total_length=t)
        if self.config.pooling == "last":
            if self.config.bidirectional:
                summary = torch.cat([h_n[-2], h_n[-1]], dim=-1)  # (B, 2H)
            else:
                summary = h_n[-1]  # (B, H)
        else:
            if lens is None:
                summary = outputs.mean(dim=1)
            else:
                mask = torch.arange(t, device=idx.device)[None, :] < lens.to(idx.device)[:, None]
                summary = (outputs * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        return outputs, summary


class LSTMClassifier(nn.Module):
    """Clasificador de secuencias: :class:`LSTMEncoder` + *dropout* + ``nn.Linear``.

    ``forward(idx, lengths=None)`` devuelve los *logits* ``(B, num_classes)``.
    """

    def __init__(self, config: LSTMConfig):
        super().__init__()
        self.config = config
        self.encoder = LSTMEncoder(config)
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.output_size, config.num_classes)

    def forward(
        self, idx: torch.Tensor, lengths: torch.Tensor | Sequence[int] | None = None
    ) -> torch.Tensor:
        """Índices ``(B, T)`` → *logits* ``(B, num_classes)``."""
        _, summary = self.encoder(idx, lengths)  # (B, H')
        return self.head(self.drop(summary))  # (B, num_classes)

    def num_parameters(self) -> int:
        """Número de parámetros entrenables (:func:`labcode.nn.params.num_parameters`)."""
        return num_parameters(self, only_trainable=True)


# ---------------------------------------------------------------------------
# Medidas
# ---------------------------------------------------------------------------


def time_forward_backward(
    module: nn.Module,
    x: torch.Tensor | tuple[torch.Tensor, ...],
    repeats: int = 5,
    warmup: int = 1,
    backward: bool = True,
) -> Timing:
    """Mide el tiempo de ``module(x)`` (y, si se pide, de ``.sum().backward()``).

    Parameters
    ----------
    module:
        Cualquier ``nn.Module``; si devuelve una tupla se usa su primer tensor.
    x:
        Entrada (o tupla de entradas, que se pasan como ``module(*x)``).
    repeats:
        Repeticiones medidas.
    warmup:
        Repeticiones previas sin medir (reservas de memoria, cachés...).
    backward:
        Si es ``True`` mide hacia delante + hacia atrás; si es ``False``, sólo
        hacia delante y sin grafo (``torch.no_grad``).

    Returns
    -------
    labcode.utils.timing.Timing
        Con ``times_s``, ``median_s`` y ``min_s`` (medido con
        :func:`labcode.utils.timing.time_call`).

    Raises
    ------
    ValueError
        Si ``repeats < 1`` o ``warmup < 0``.
    """
    if not isinstance(module, nn.Module):
        raise LabcodeTypeError(f"module debe ser un nn.Module; se recibió {type(module).__name__}.")
    args = x if isinstance(x, tuple) else (x,)

    def step() -> None:
        if not backward:
            with torch.no_grad():
                module(*args)
            return
        _first_tensor(module(*args)).float().sum().backward()
        module.zero_grad(set_to_none=True)
        for a in args:
            if isinstance(a, torch.Tensor):
                a.grad = None

    return time_call(step, repeats=repeats, warmup=warmup)


def benchmark_sequence_lengths(
    layers: Mapping[str, nn.Module],
    lengths: Sequence[int],
    batch_size: int = 8,
    repeats: int = 5,
    backward: bool = True,
    seed: int = 0,
    progress: Callable | None = None,
) -> dict[str, np.ndarray]:
    """Tiempo mínimo de cada capa ``(B, T, C) -> ...`` para cada longitud ``T``.

    Parameters
    ----------
    layers:
        ``{nombre: módulo}``; todos deben aceptar la misma ``C`` (se toma de
        ``input_size`` o ``d_model`` del primer módulo que lo tenga).
    lengths:
        Longitudes de secuencia a medir.
    batch_size, repeats, backward:
        Ver :func:`time_forward_backward`.
    seed:
        Semilla de las entradas aleatorias.
    progress:
        Envoltorio opcional de barra de progreso (p. ej. ``labcode.utils.runtime.progress``).

    Returns
    -------
    dict
        ``{"length": array de T, nombre: array de segundos (mínimo de las repeticiones)}``.
    """
    if not layers:
        raise LabcodeValueError(
            "layers está vacío; se esperaba al menos un módulo {nombre: módulo}."
        )
    lengths = [positive_int("cada longitud", t) for t in lengths]
    if not lengths:
        raise LabcodeValueError("lengths está vacío; se esperaba al menos una longitud.")
    dims = {
        getattr(m, "input_size", None) or getattr(m, "d_model", None) for m in layers.values()
    } - {None}
    if len(dims) != 1:
        raise LabcodeValueError(
            "no se pudo deducir una única dimensión de entrada común a las capas "
            f"(atributos input_size / d_model); se encontraron {sorted(dims)}."
        )
    c = dims.pop()
    gen = torch.Generator().manual_seed(_check_seed(seed))
    result: dict[str, np.ndarray] = {"length": np.array(lengths)}
    times: dict[str, list[float]] = {name: [] for name in layers}
    iterator = progress(lengths) if progress is not None else lengths
    for t in iterator:
        x_cpu = torch.randn(batch_size, t, c, generator=gen)
        for name, layer in layers.items():
            x = x_cpu.to(_module_device(layer)).requires_grad_(backward)
            times[name].append(time_forward_backward(layer, x, repeats, 1, backward).min_s)
    for name, values in times.items():
        result[name] = np.array(values)
    return result


def gradient_norm_vs_distance(
    module: nn.Module,
    seq_len: int,
    d_model: int,
    batch_size: int = 4,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Norma de Frobenius de ``∂h_T/∂x_t`` en función de la distancia ``T - t``.

    Se alimenta el módulo con ``x ~ N(0, 1)`` de forma ``(B, T, C)``, se toma la
    salida de la última posición ``h_T`` (``(B, H)``) y se calcula la jacobiana
    de ``h_T`` respecto a cada ``x_t`` (una pasada hacia atrás por componente
    de ``h_T``). Mide cuánto puede influir un *token* lejano en la
    representación final: en una RNN decae con la distancia; en la atención el
    camino es de longitud 1 para cualquier distancia.

    Parameters
    ----------
    module:
        Capa ``(B, T, C) -> (B, T, H)`` que trate cada elemento del lote por
        separado (RNN, LSTM, atención...). Se evalúa en modo ``eval()``.
    seq_len:
        Longitud ``T``.
    d_model:
        Dimensión ``C`` de la entrada.
    batch_size:
        Secuencias aleatorias sobre las que se promedia la norma.
    seed:
        Semilla de las entradas.

    Returns
    -------
    distances, norms
        ``distances = [0, 1, ..., T-1]`` (``0`` es la propia última posición) y
        ``norms[k]`` la media sobre el lote de ``||∂h_T/∂x_{T-k}||_F``.

    Raises
    ------
    ValueError
        Si la salida no es ``(B, T, H)``.
    """
    if not isinstance(module, nn.Module):
        raise LabcodeTypeError(f"module debe ser un nn.Module; se recibió {type(module).__name__}.")
    seq_len = positive_int("seq_len", seq_len)
    d_model = positive_int("d_model", d_model)
    batch_size = positive_int("batch_size", batch_size)
    dtype = next((p.dtype for p in module.parameters()), torch.float32)
    gen = torch.Generator().manual_seed(_check_seed(seed))
    x = torch.randn(batch_size, seq_len, d_model, generator=gen, dtype=dtype)
    x = x.to(_module_device(module)).requires_grad_(True)  # (B, T, C)
    was_training = module.training
    module.eval()
    try:
        sq = _squared_jacobian_norms(module, x)  # (B, T)
    finally:
        module.train(was_training)
    norms = sq.sqrt().mean(0).cpu().numpy()  # (T,), índice = posición t
    return np.arange(seq_len), norms[::-1].copy()


def _squared_jacobian_norms(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``||∂h_T/∂x_t||_F²`` por secuencia y posición ``t``: una pasada hacia atrás por
    componente de ``h_T``."""
    batch_size, seq_len, _ = x.shape
    out = _first_tensor(module(x))
    if out.ndim != 3 or out.shape[:2] != (batch_size, seq_len):
        raise LabcodeValueError(
            f"se esperaba que el módulo devolviera (B={batch_size}, T={seq_len}, H); "
            f"devolvió la forma {tuple(out.shape)}."
        )
    h_last = out[:, -1, :]  # (B, H)
    sq = torch.zeros(batch_size, seq_len, device=x.device, dtype=torch.float64)
    for j in range(h_last.shape[-1]):
        (g,) = torch.autograd.grad(h_last[:, j].sum(), x, retain_graph=True)  # (B, T, C)
        sq += g.double().pow(2).sum(-1)
    return sq
