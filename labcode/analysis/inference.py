"""Inferencia eficiente: el techo (*roofline*) de la decodificación y la cuantización.

Generar un token con lote 1 lee **todos** los pesos una vez y hace unas dos
operaciones por peso: la velocidad la limita el ancho de banda de memoria, no
la capacidad de cálculo. Este módulo da las piezas para medirlo:

- :func:`measure_bandwidth` y :func:`measure_matmul_flops`: el ancho de banda
  (copia y *triad* al estilo STREAM) y los FLOP/s de un producto de matrices en
  esta máquina, con :mod:`labcode.utils.timing` (``torch.utils.benchmark.Timer``,
  con un hilo).
- :func:`step_cost`: bytes leídos y FLOPs de una pasada (un paso de
  decodificación o un *prefill*), calculados a partir del propio modelo
  (:class:`labcode.models.gpt.GPT` o :class:`labcode.models.llama.Llama`, cuantizado o no).
- :func:`roofline_time` y :func:`decode_ceiling`: lo que predice el modelo del
  techo.
- :func:`time_calls` y :func:`batch_throughput`: tokens por segundo medidos
  frente al tamaño del lote.
- :class:`Int8Linear` y :func:`quantize_int8`: cuantización de los pesos a 8 bits
  (solo pesos, una escala por canal de salida), y :func:`perplexity` y
  :func:`logit_error` para medir lo que cuesta en calidad.

La decodificación especulativa y la caché estática están en
:mod:`labcode.models.decoding`; la medición completa, en
:func:`labcode.book.inference_bench.bench_inference`.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from labcode.utils.checks import nonnegative_int, positive_int
from labcode.utils.runtime import trim_heap
from labcode.utils.timing import time_autorange, time_interleaved

__all__ = [
    "INT8_MODES",
    "Int8Linear",
    "StepCost",
    "batch_throughput",
    "decode_ceiling",
    "generate_tokens_per_second",
    "logit_error",
    "logit_stats",
    "measure_bandwidth",
    "measure_matmul_flops",
    "model_shape",
    "perplexity",
    "quantize_int8",
    "with_int8_mode",
    "roofline_time",
    "step_cost",
    "time_calls",
]


# --- Medidas de la máquina ---------------------------------------------------------


#: Hilos de las medidas de este módulo: uno, como ``Timer`` por defecto, para que las
#: cifras del capítulo 13 no dependan de cuántos núcleos tenga la máquina.
_NUM_THREADS = 1


def _median_seconds(fn: Callable[[], object], min_run_time: float) -> float:
    """Mediana de segundos por llamada de ``fn`` (:func:`labcode.utils.timing.time_autorange`)."""
    return time_autorange(fn, min_run_time, num_threads=_NUM_THREADS).median_s


def measure_bandwidth(n_bytes: int = 2**27, min_run_time: float = 0.5) -> dict[str, float]:
    """Ancho de banda de memoria (bytes/s) con dos núcleos de STREAM.

    - *copy*: ``a = b`` lee ``n`` bytes y escribe ``n`` (cuenta ``2n``).
    - *triad*: ``a = b + 3 c`` lee ``2n`` y escribe ``n`` (cuenta ``3n``).

    Parameters
    ----------
    n_bytes : int
        Tamaño de cada vector en bytes (por defecto 128 MiB, mucho más que la caché
        de la CPU: si los vectores cupieran en caché se mediría la caché).
    min_run_time : float
        Segundos mínimos de medida de cada núcleo
        (``torch.utils.benchmark.Timer.blocked_autorange``).

    Returns
    -------
    dict
        ``{"copy": B/s, "triad": B/s, "n_bytes": n_bytes}``.
    """
    n = positive_int("measure_bandwidth: n_bytes", n_bytes) // 4
    if n < 1024:
        raise ValueError(f"measure_bandwidth: n_bytes debe ser >= 4096; se recibió {n_bytes}.")
    a, b, c = torch.empty(n), torch.rand(n), torch.rand(n)
    t_copy = _median_seconds(lambda: a.copy_(b), min_run_time)
    t_triad = _median_seconds(lambda: torch.add(b, c, alpha=3.0, out=a), min_run_time)
    return {"copy": 2 * 4 * n / t_copy, "triad": 3 * 4 * n / t_triad, "n_bytes": 4 * n}


def measure_matmul_flops(n: int = 1024, min_run_time: float = 0.5) -> float:
    """FLOP/s de un producto de matrices ``(n, n) @ (n, n)`` en float32 (``2 n³`` FLOPs)."""
    n = positive_int("measure_matmul_flops: n", n)
    a, b = torch.rand(n, n), torch.rand(n, n)
    t = _median_seconds(lambda: a @ b, min_run_time)
    return 2 * n**3 / t


# --- Coste de una pasada ------------------------------------------------------------


@dataclass(frozen=True)
class ModelShape:
    """Lo que hace falta saber de la atención para contar la caché KV."""

    n_layer: int
    n_head: int
    n_kv_head: int
    head_dim: int


def model_shape(model: nn.Module) -> ModelShape:
    """Capas, cabezas de consulta, cabezas de claves/valores y tamaño de cabeza.

    Admite :class:`labcode.models.gpt.GPT` (``n_kv_head = n_head``) y
    :class:`labcode.models.llama.Llama` (con GQA, ``num_key_value_heads`` cabezas K/V).
    """
    cfg = getattr(model, "config", None)
    if hasattr(cfg, "n_layer") and hasattr(cfg, "head_size"):
        return ModelShape(cfg.n_layer, cfg.n_head, cfg.n_head, cfg.head_size)
    if hasattr(cfg, "num_hidden_layers") and hasattr(cfg, "num_key_value_heads"):
        return ModelShape(cfg.num_hidden_layers, cfg.num_attention_heads,
                          cfg.num_key_value_heads, cfg.head_dim)
    raise TypeError(
        "model_shape: se esperaba un labcode.models.gpt.GPT o un labcode.models.llama.Llama; "
        f"se recibió {type(model).__name__}."
    )


@dataclass(frozen=True)
class StepCost:
    """Bytes y FLOPs de una pasada por el modelo (sumando todas las filas del lote).

    Attributes
    ----------
    weight_bytes : int
        Pesos leídos una vez por pasada (capas lineales, normas, cabeza de salida).
    embedding_bytes : int
        Filas de las tablas de embeddings leídas (una por token y tabla no atada).
    kv_bytes : int
        Claves y valores leídos de la caché.
    flops : int
        Multiplicaciones y sumas de las capas lineales (``2`` por peso y token) y de
        la atención (``q kᵀ`` y ``w v``).
    tokens : int
        Tokens producidos o procesados por la pasada (``batch_size * new_tokens``).
    """

    weight_bytes: int
    embedding_bytes: int
    kv_bytes: int
    flops: int
    tokens: int

    @property
    def bytes(self) -> int:
        """Bytes totales leídos."""
        return self.weight_bytes + self.embedding_bytes + self.kv_bytes

    @property
    def intensity(self) -> float:
        """Intensidad aritmética, en FLOPs por byte leído."""
        return self.flops / self.bytes

    @property
    def bytes_per_token(self) -> float:
        return self.bytes / self.tokens

    @property
    def flops_per_token(self) -> float:
        return self.flops / self.tokens

    def as_dict(self) -> dict[str, float]:
        return {**asdict(self), "bytes": self.bytes, "intensity": self.intensity,
                "bytes_per_token": self.bytes_per_token, "flops_per_token": self.flops_per_token}


def _nbytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


def _weights_and_matmul_params(model: nn.Module, rows: int) -> tuple[int, int, int]:
    """``(bytes de pesos, bytes de embeddings leídos, pesos de producto por token)``."""
    seen: set[int] = set()
    weight_bytes = emb_bytes = matmul_params = 0
    linear_weights = {id(m.weight) for m in model.modules() if isinstance(m, nn.Linear)}
    for module in model.modules():
        if isinstance(module, nn.Embedding):
            if id(module.weight) not in linear_weights:  # no atada: solo se leen filas
                emb_bytes += rows * module.weight.shape[1] * module.weight.element_size()
                seen.add(id(module.weight))
            continue  # atada: la cuenta entera la capa de salida
        if isinstance(module, (nn.Linear, Int8Linear)):
            matmul_params += module.in_features * module.out_features
        for t in (*module.parameters(recurse=False), *module.buffers(recurse=False)):
            if id(t) not in seen:
                seen.add(id(t))
                weight_bytes += _nbytes(t)
    return weight_bytes, emb_bytes, matmul_params


def step_cost(model: nn.Module, new_tokens: int = 1, context_len: int | None = None,
              batch_size: int = 1) -> StepCost:
    """Bytes leídos y FLOPs de una pasada con ``new_tokens`` tokens nuevos por fila.

    Un paso de decodificación es ``new_tokens=1`` con ``context_len`` posiciones
    ya vistas (incluida la nueva); un *prefill* de ``T`` tokens es
    ``new_tokens=context_len=T``. Se cuenta a partir del modelo:

    - pesos: cada tensor de parámetros o *buffers* de las capas (una vez, también
      los atados) con su tamaño real en bytes: un modelo cuantizado cuenta 1 byte
      por peso más sus escalas;
    - embeddings no atados: una fila por token;
    - caché KV: ``2 · capas · cabezas K/V · hs · context_len`` valores por fila;
    - FLOPs: ``2`` por peso de producto y token, y ``4 · capas · cabezas · hs`` por
      cada pareja (consulta, clave) de la atención causal.

    Las operaciones elemento a elemento (normas, activaciones, softmax) no se cuentan.
    """
    new_tokens = positive_int("step_cost: new_tokens", new_tokens)
    batch_size = positive_int("step_cost: batch_size", batch_size)
    context_len = new_tokens if context_len is None else context_len
    if positive_int("step_cost: context_len", context_len) < new_tokens:
        raise ValueError(
            f"step_cost: context_len ({context_len}) incluye los tokens nuevos y no puede ser "
            f"menor que new_tokens ({new_tokens})."
        )
    shape = model_shape(model)
    tokens = batch_size * new_tokens
    weight_bytes, emb_bytes, matmul_params = _weights_and_matmul_params(model, tokens)
    elem = next(p for p in model.parameters() if p.is_floating_point()).element_size()
    kv_values = 2 * shape.n_layer * shape.n_kv_head * shape.head_dim * context_len
    past = context_len - new_tokens
    pairs = new_tokens * past + new_tokens * (new_tokens + 1) // 2  # (consulta, clave) causales
    attn_flops = 4 * shape.n_layer * shape.n_head * shape.head_dim * pairs
    return StepCost(
        weight_bytes=weight_bytes,
        embedding_bytes=emb_bytes,
        kv_bytes=batch_size * kv_values * elem,
        flops=tokens * 2 * matmul_params + batch_size * attn_flops,
        tokens=tokens,
    )


def roofline_time(cost: StepCost, bandwidth: float, peak_flops: float) -> float:
    """Tiempo mínimo (s) que permite el techo: ``max(bytes / ancho de banda, FLOPs / pico)``."""
    if not (bandwidth > 0 and peak_flops > 0):
        raise ValueError(
            "roofline_time: bandwidth y peak_flops deben ser > 0; se recibió "
            f"{bandwidth!r} y {peak_flops!r}."
        )
    return max(cost.bytes / bandwidth, cost.flops / peak_flops)


def decode_ceiling(cost: StepCost, bandwidth: float) -> float:
    """Techo de tokens/s si el paso solo está limitado por la memoria: ``ancho de banda ÷
    bytes por token``."""
    if not bandwidth > 0:
        raise ValueError(f"decode_ceiling: bandwidth debe ser > 0; se recibió {bandwidth!r}.")
    return bandwidth / cost.bytes_per_token


# --- Medir tokens por segundo -------------------------------------------------------


def time_calls(fns: dict[str, Callable[[], object]], repeats: int = 3,
               warmup: int = 1) -> dict[str, float]:
    """Mediana de segundos por llamada de cada función, con repeticiones intercaladas
    (:func:`labcode.utils.timing.time_interleaved`, con un hilo)."""
    warmup = nonnegative_int("time_calls: warmup", warmup)
    times = time_interleaved(fns, repeats, warmup, num_threads=_NUM_THREADS)
    return {name: t.median_s for name, t in times.items()}


@torch.inference_mode()
def batch_throughput(
    model: nn.Module,
    batch_sizes: Sequence[int] = (1, 2, 4, 8, 16, 32),
    context_len: int = 16,
    min_run_time: float = 0.3,
    seed: int = 0,
    progress: Callable | None = None,
) -> list[dict[str, float]]:
    """Tokens/s de un paso de decodificación con caché de :class:`labcode.models.gpt.GPT`
    frente al tamaño del lote.

    Para cada lote ``B`` se procesa un *prompt* de ``context_len - 1`` tokens y se
    cronometra (``torch.utils.benchmark.Timer.blocked_autorange``, mediana) el paso siguiente,
    ``model.forward_cached(token, caché)``: lo mismo que hace ``generate`` en cada
    token, sin el *prefill*.

    Returns
    -------
    list of dict
        Una fila por lote: ``batch_size``, ``step_s`` (segundos por paso),
        ``tokens_per_s`` (``B / step_s``), ``flops_per_s`` (FLOPs de
        :func:`step_cost` entre ``step_s``) e ``intensity`` (FLOP/byte).
    """
    if not hasattr(model, "forward_cached"):
        raise TypeError("batch_throughput: se esperaba un labcode.models.gpt.GPT "
                        "(con forward_cached); "
                        f"se recibió {type(model).__name__}.")
    context_len = positive_int("batch_throughput: context_len", context_len)
    if context_len < 2:
        raise ValueError("batch_throughput: context_len debe ser >= 2.")
    vocab = model.config.vocab_size
    g = torch.Generator().manual_seed(seed)
    rows = []
    for b in progress(batch_sizes) if progress else batch_sizes:
        b = positive_int("batch_throughput: batch_size", b)
        prompt = torch.randint(0, vocab, (b, context_len), generator=g)
        _, past = model.forward_cached(prompt[:, :-1])
        tok = prompt[:, -1:]
        step_s = _median_seconds(lambda tok=tok, past=past: model.forward_cached(tok, past),
                                 min_run_time)
        cost = step_cost(model, 1, context_len, batch_size=b)
        rows.append({"batch_size": b, "step_s": step_s, "tokens_per_s": b / step_s,
                     "flops_per_s": cost.flops / step_s, "intensity": cost.intensity})
    return rows


def generate_tokens_per_second(model: nn.Module, prompt: torch.Tensor, new_tokens: int,
                               repeats: int = 3, warmup: int = 1) -> float:
    """Tokens/s de ``model.generate(prompt, new_tokens)`` (voraz, con caché), contando
    todas las filas y con el *prefill* incluido (mediana de :func:`time_calls`)."""
    new_tokens = positive_int("generate_tokens_per_second: new_tokens", new_tokens)
    t = time_calls({"g": lambda: model.generate(prompt, new_tokens)}, repeats=repeats,
                   warmup=warmup)["g"]
    return prompt.shape[0] * new_tokens / t


# --- Cuantización int8 de los pesos -------------------------------------------------


def _has_int8pack_mm() -> bool:
    return hasattr(torch, "_weight_int8pack_mm")


def _fbgemm_available() -> bool:
    engines = torch.backends.quantized.supported_engines
    return ("fbgemm" in engines or "x86" in engines) and hasattr(torch.ops.quantized,
                                                                 "linear_dynamic")


#: Modos de :class:`Int8Linear`.
INT8_MODES = ("dynamic", "weight_only")


class Int8Linear(nn.Module):
    """Capa lineal con pesos int8 y una escala float32 por canal de salida.

    ``W ≈ escala[:, None] · W_int8`` con ``escala = max|W_fila| / 127``: el error
    de cada peso es como mucho ``escala / 2``. Dos formas de hacer el producto:

    - ``mode="weight_only"`` (por defecto): las activaciones no se cuantizan. El
      producto lo hace ``torch._weight_int8pack_mm``, que convierte cada peso
      dentro del núcleo, sin crear la matriz descuantizada; en CPU ese núcleo es
      rápido en bf16, así que la entrada float32 se redondea a bf16 (error
      relativo ``<= 2⁻⁹``) y las escalas se aplican después en float32.
    - ``mode="dynamic"`` (CPU con FBGEMM): además, las activaciones se cuantizan a
      8 bits sobre la marcha (una escala por tensor, rango reducido a 7 bits para
      no desbordar el acumulador) y el producto es int8 × int8 con
      ``torch.ops.quantized.linear_dynamic``. Los pesos son los mismos int8 con
      las mismas escalas. Es el núcleo de CPU más rápido, pero los valores
      atípicos (*outliers*) de las activaciones de un LLM lo hacen muy impreciso.

    Parameters
    ----------
    weight_int8 : torch.Tensor
        ``(salida, entrada)`` int8.
    scales : torch.Tensor
        ``(salida,)`` en coma flotante.
    bias : torch.Tensor, optional
        ``(salida,)``.
    mode : {"dynamic", "weight_only"}
        ``"dynamic"`` solo si FBGEMM está disponible (si no, se usa ``"weight_only"``).
    """

    def __init__(self, weight_int8: torch.Tensor, scales: torch.Tensor,
                 bias: torch.Tensor | None = None, mode: str = "weight_only") -> None:
        super().__init__()
        if weight_int8.dtype != torch.int8 or weight_int8.dim() != 2:
            raise ValueError("Int8Linear: weight_int8 debe ser una matriz int8 (salida, entrada).")
        if scales.shape != (weight_int8.shape[0],):
            raise ValueError(
                f"Int8Linear: se esperaba una escala por fila ({weight_int8.shape[0]}); "
                f"se recibió la forma {tuple(scales.shape)}."
            )
        if mode not in INT8_MODES:
            raise ValueError(f"Int8Linear: mode debe ser uno de {INT8_MODES}; se recibió {mode!r}.")
        self.out_features, self.in_features = weight_int8.shape
        self.mode = mode if (mode == "weight_only" or _fbgemm_available()) else "weight_only"
        self.register_buffer("weight_int8", weight_int8.contiguous())
        self.register_buffer("scales", scales.contiguous())
        self.bias = None if bias is None else nn.Parameter(bias.detach().clone(),
                                                            requires_grad=False)
        self._packed = None  # pesos empaquetados para FBGEMM (se crean al primer uso)
        self._unit = None  # escalas unidad en bf16 para torch._weight_int8pack_mm

    @classmethod
    def from_linear(cls, linear: nn.Linear, mode: str = "weight_only") -> Int8Linear:
        """Cuantiza los pesos de ``linear`` (por filas, simétrico, sin punto cero)."""
        if not isinstance(linear, nn.Linear):
            raise TypeError(f"Int8Linear.from_linear: se esperaba un nn.Linear; se recibió "
                            f"{type(linear).__name__}.")
        w = linear.weight.detach().float()
        lo, hi = torch.aminmax(w, dim=1)  # sin el temporal de w.abs()
        scales = torch.maximum(-lo, hi).clamp(min=1e-12) / 127.0  # (out,)
        # Un solo temporal float32 del tamaño de w (la cabeza de un LLM ocupa >100 MB).
        q = (w / scales[:, None]).round_().clamp_(-127, 127).to(torch.int8)
        return cls(q, scales.to(linear.weight.dtype), linear.bias, mode=mode)

    def dequantized_weight(self) -> torch.Tensor:
        """Los pesos reconstruidos ``escala · W_int8`` ``(salida, entrada)``."""
        return self.weight_int8.to(self.scales.dtype) * self.scales[:, None]

    def _fbgemm_weight(self):
        if self._packed is None:
            zero = torch.zeros(self.out_features, dtype=torch.long)
            with warnings.catch_warnings():  # los tensores cuantizados de torch.ao están en desuso
                warnings.simplefilter("ignore")
                qw = torch._make_per_channel_quantized_tensor(
                    self.weight_int8.cpu(), self.scales.double().cpu(), zero, 0)
            bias = None if self.bias is None else self.bias.detach().float().cpu()
            self._packed = torch.ops.quantized.linear_prepack(qw, bias)
        return self._packed

    def _weight_only(self, x2: torch.Tensor) -> torch.Tensor:
        """``x2 @ (escala · W_int8)ᵀ`` sin crear la matriz descuantizada."""
        if not _has_int8pack_mm():  # pragma: no cover - versiones antiguas de torch
            return F.linear(x2, self.weight_int8.to(x2.dtype)) * self.scales.to(x2.dtype)
        # El núcleo rápido de CPU trabaja en bf16: las activaciones se redondean a bf16
        # (error relativo <= 2⁻⁹) y las escalas se aplican después, en la precisión de x.
        half = x2.dtype if x2.dtype in (torch.bfloat16, torch.float16) else torch.bfloat16
        key = (half, x2.device)
        if self._unit is None or self._unit[0] != key:
            self._unit = (key, torch.ones(self.out_features, dtype=half, device=x2.device))
        y = torch._weight_int8pack_mm(x2.to(half), self.weight_int8, self._unit[1])
        return y.to(x2.dtype).mul_(self.scales.to(x2.dtype))  # en el sitio: la cabeza ocupa mucho

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x2 = x.reshape(-1, shape[-1]).contiguous()  # (N, entrada)
        if self.mode == "dynamic" and x2.device.type == "cpu" and x2.dtype == torch.float32:
            y = torch.ops.quantized.linear_dynamic(x2, self._fbgemm_weight(), True)
        else:
            y = self._weight_only(x2)
            if self.bias is not None:
                y = y + self.bias.to(y.dtype)
        return y.reshape(*shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, {self.mode}"


def quantize_int8(model: nn.Module, mode: str = "weight_only", inplace: bool = False) -> nn.Module:
    """Sustituye cada ``nn.Linear`` del modelo por un :class:`Int8Linear`.

    Los embeddings siguen en coma flotante (de ellos solo se lee una fila por
    token); si la cabeza de salida estaba atada a los embeddings, la cabeza se
    cuantiza por separado y los embeddings se conservan (en la copia, comparten
    memoria con el original). Devuelve una copia (o el mismo modelo con
    ``inplace=True``) en modo evaluación.
    """
    if not isinstance(model, nn.Module):
        raise TypeError("quantize_int8: se esperaba un nn.Module; se recibió "
                        f"{type(model).__name__}.")
    if mode not in INT8_MODES:
        raise ValueError(f"quantize_int8: mode debe ser uno de {INT8_MODES}; se recibió {mode!r}.")
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError("quantize_int8: el modelo no tiene capas nn.Linear que cuantizar.")
    if inplace:
        for parent in list(model.modules()):
            for name, child in list(parent.named_children()):
                if isinstance(child, nn.Linear):
                    setattr(parent, name, Int8Linear.from_linear(child, mode=mode))
                    trim_heap()  # los temporales float32 de cada capa
        return model.eval()
    # Copia: deepcopy pone cada nn.Linear ya cuantizada en su sitio (memo) y nunca copia
    # sus pesos en float32; los pesos atados (embeddings = cabeza) se comparten con el
    # original. Así la copia solo ocupa lo que ocupan los int8.
    memo: dict[int, Any] = {id(m.weight): m.weight for m in linears}
    for m in linears:
        memo[id(m)] = Int8Linear.from_linear(m, mode=mode)
        trim_heap()
    return copy.deepcopy(model, memo=memo).eval()


def with_int8_mode(model: nn.Module, mode: str) -> nn.Module:
    """Copia de un modelo ya cuantizado con :func:`quantize_int8` que usa otro ``mode``.

    Los dos modos usan los mismos int8 y las mismas escalas: la copia comparte todos
    los tensores con ``model`` (solo cambia cómo se hace el producto), así que no
    ocupa otra vez los pesos.
    """
    if mode not in INT8_MODES:
        raise ValueError(f"with_int8_mode: mode debe ser uno de {INT8_MODES}; se recibió {mode!r}.")
    layers = [m for m in model.modules() if isinstance(m, Int8Linear)]
    if not layers:
        raise ValueError("with_int8_mode: el modelo no tiene capas Int8Linear (usa quantize_int8).")
    memo: dict[int, Any] = {id(t): t for t in [*model.parameters(), *model.buffers()]}
    for m in layers:
        memo[id(m)] = Int8Linear(m.weight_int8, m.scales, m.bias, mode=mode)
    return copy.deepcopy(model, memo=memo).eval()


# --- Calidad ------------------------------------------------------------------------


def _logits(model: nn.Module, ids: torch.Tensor) -> torch.Tensor:
    out = model(ids)
    return out[0] if isinstance(out, tuple) else out


@torch.inference_mode()
def perplexity(model: nn.Module, ids: torch.Tensor, window: int = 256) -> float:
    """Perplejidad de ``model`` sobre la secuencia ``ids`` ``(N,)``, en ventanas
    consecutivas de ``window`` tokens (sin solapamiento): ``exp`` de la
    entropía cruzada media de los ``N - ceil(N / window)`` tokens predichos."""
    window = positive_int("perplexity: window", window)
    if ids.dim() != 1 or ids.numel() < 2:
        raise ValueError(
            f"perplexity: se esperaba un tensor 1D con al menos 2 tokens; se recibió la forma "
            f"{tuple(ids.shape)}."
        )
    total, count = 0.0, 0
    for start in range(0, ids.numel() - 1, window):
        chunk = ids[start:start + window][None]  # (1, T)
        if chunk.shape[1] < 2:
            break
        logits = _logits(model, chunk).float()  # (1, T, V)
        loss = F.cross_entropy(logits[0, :-1], chunk[0, 1:], reduction="sum")
        total += float(loss)
        count += chunk.shape[1] - 1
    return math.exp(total / count)


@torch.inference_mode()
def logit_error(model: nn.Module, reference: nn.Module, ids: torch.Tensor) -> dict[str, float]:
    """Error de los logits de ``model`` frente a ``reference`` en ``ids`` ``(B, T)``:
    máximo y medio absolutos, la escala típica de los logits de referencia
    (desviación típica) y la fracción de posiciones con el mismo ``argmax``."""
    return logit_stats(_logits(model, ids).float(), _logits(reference, ids).float())


def logit_stats(a: torch.Tensor, b: torch.Tensor) -> dict[str, float]:
    """Lo que devuelve :func:`logit_error` a partir de los logits ya calculados
    (``a`` frente a la referencia ``b``, misma forma ``(..., V)``)."""
    if a.shape != b.shape:
        raise ValueError(f"logit_stats: formas distintas {tuple(a.shape)} y {tuple(b.shape)}.")
    diff = (a - b).abs_()
    return {"max_abs": float(diff.max()), "mean_abs": float(diff.mean()),
            "ref_std": float(b.std()),
            "argmax_agree": float((a.argmax(-1) == b.argmax(-1)).float().mean())}
