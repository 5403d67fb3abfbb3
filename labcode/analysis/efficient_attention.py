"""Atención eficiente: ventana deslizante y atención lineal, con sus medidas de coste.

Los núcleos viven en :mod:`labcode.nn.attention` (donde también están registrados en
``ATTENTION_FUNCTIONS`` para enchufarlos en un modelo); aquí se reexportan y se miden.

La atención completa calcula una matriz de puntuaciones ``(n, n)``: tiempo y
memoria crecen como ``n²``. :mod:`labcode.nn.attention` implementa, en PyTorch y al
estilo de nanoGPT, dos alternativas clásicas, que este módulo mide:

- :func:`labcode.nn.attention.sliding_window_attention`: cada consulta sólo mira a las
  claves que están a distancia ``<= window`` (atención local, como la de Longformer,
  Beltagy et al., 2020). Se calcula **por bloques** de consultas, sin construir
  nunca la matriz ``n x n``: coste ``O(n·w·d)`` en tiempo y ``O(n·w)`` en
  memoria. Con ``window >= n - 1`` es exactamente la atención completa.
- :func:`labcode.nn.attention.linear_attention`: atención con núcleo (*kernel*) de
  Katharopoulos et al. (2020), ``sim(q, k) = φ(q)·φ(k)`` con ``φ(x) = elu(x) + 1``.
  Reordenar el producto, ``φ(Q) (φ(K)ᵀ V)``, da coste ``O(n·d²)``. No es una aproximación de
  la softmax sino **otra** atención: coincide exactamente con su propia forma
  cuadrática (:func:`labcode.nn.attention.linear_attention_naive`), no con la softmax.

Convenciones: ``q``, ``k`` y ``v`` son tensores ``(..., n, d)`` de coma flotante
(típicamente ``(B, nh, T, hs)``) con las mismas dimensiones de lote; ``causal``
impide mirar al futuro (la clave ``j`` sólo es visible para la consulta ``i`` si
``j <= i``).

Además, :func:`torch_peak_memory` y :func:`numpy_peak_memory` miden la memoria pico
de una llamada (el tiempo, :func:`labcode.utils.timing.time_call`),
:func:`measure_attention_costs` lo hace para varias longitudes y
:func:`window_embedding_similarity` mide cuánto cambia la salida de un codificador
entrenado al enchufarle la ventana deslizante del registro.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch

# Reexportados (``as``): los núcleos viven en nn.attention y nn.masks; el capítulo 12
# y las pruebas los importan también desde aquí.
from labcode.nn.attention import elu_feature_map as elu_feature_map
from labcode.nn.attention import full_attention as full_attention
from labcode.nn.attention import linear_attention as linear_attention
from labcode.nn.attention import linear_attention_naive as linear_attention_naive
from labcode.nn.attention import sliding_window_attention as sliding_window_attention
from labcode.nn.masks import sliding_window_mask as sliding_window_mask
from labcode.utils.checks import int_at_least
from labcode.utils.checks import seed as _check_seed
from labcode.utils.errors import LabcodeValueError
from labcode.utils.timing import time_call

# Los nombres importados de módulos inferiores siguen disponibles aquí, pero se
# documentan (y se listan en __all__) solo donde se definen.
__all__ = [
    "mean_pooled_embeddings",
    "measure_attention_costs",
    "numpy_peak_memory",
    "relative_error",
    "torch_peak_memory",
    "window_embedding_similarity",
]


# --- Validación -----------------------------------------------------------------------


# --- Medidas ---------------------------------------------------------------------------------


def relative_error(approx: torch.Tensor | np.ndarray, exact: torch.Tensor | np.ndarray) -> float:
    """Error relativo en norma de Frobenius: ``‖approx - exact‖ / ‖exact‖``.

    Raises
    ------
    ValueError
        Si las formas no coinciden o ``exact`` es todo ceros.
    """
    a = torch.as_tensor(approx, dtype=torch.float64)
    e = torch.as_tensor(exact, dtype=torch.float64)
    if a.shape != e.shape:
        raise LabcodeValueError(
            f"relative_error: las formas deben coincidir; se recibió {tuple(a.shape)} y "
            f"{tuple(e.shape)}."
        )
    norm = torch.linalg.vector_norm(e).item()
    if norm == 0:
        raise LabcodeValueError("relative_error: la referencia es todo ceros (norma 0).")
    return torch.linalg.vector_norm(a - e).item() / norm


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Silencia el ``stderr`` del proceso (descriptor 2) mientras dura el bloque.

    El perfilador de PyTorch (Kineto) escribe desde C++ líneas de registro
    («profiler_start»...) que, en un cuaderno, aparecerían como salida de la celda.
    """
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # sin descriptor 2 (entornos raros): no se toca nada
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def torch_peak_memory(fn: Callable[[], Any]) -> int:
    """Memoria pico (bytes) que reservan los tensores de PyTorch en CPU durante ``fn()``.

    Usa el perfilador de PyTorch con ``profile_memory=True``: suma en orden
    temporal cada reserva (+) y liberación (-) del asignador y devuelve el
    máximo de esa suma. Los tensores que ya existían antes de la llamada no
    cuentan; el resultado que devuelve ``fn`` sí (se reserva durante la llamada).
    """
    from torch.profiler import ProfilerActivity, profile

    with _quiet_native_stderr(), profile(
        activities=[ProfilerActivity.CPU], profile_memory=True
    ) as prof:
        fn()
    events = [
        (e.start_ns(), e.nbytes())
        for e in prof.profiler.kineto_results.events()
        if e.name() == "[memory]"
    ]
    events.sort(key=lambda t: t[0])
    current = peak = 0
    for _, nbytes in events:
        current += nbytes
        peak = max(peak, current)
    return int(peak)


def numpy_peak_memory(fn: Callable[[], Any]) -> int:
    """Memoria pico (bytes) que reserva NumPy durante ``fn()``, medida con ``tracemalloc``.

    NumPy informa de sus reservas de datos a ``tracemalloc``; PyTorch no (para
    eso está :func:`torch_peak_memory`).
    """
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return int(max(peak - base, 0))


def _bind(fn: Callable[..., Any], *args: Any) -> Callable[[], Any]:
    return lambda: fn(*args)


def measure_attention_costs(
    fns: dict[str, Callable[[torch.Tensor, torch.Tensor, torch.Tensor], Any]],
    lengths: Sequence[int],
    d: int = 64,
    repeats: int = 3,
    memory: bool = True,
    seed: int = 0,
    show_progress: bool = True,
) -> dict[str, dict[str, np.ndarray]]:
    """Tiempo (mínimo de ``repeats``) y memoria pico de varias atenciones según ``n``.

    Parameters
    ----------
    fns:
        ``{nombre: fn(q, k, v)}``; ``q, k, v`` son ``(1, 1, n, d)`` aleatorios (float32).
    lengths:
        Longitudes ``n`` a medir.
    memory:
        Si es ``True``, mide también la memoria pico con :func:`torch_peak_memory`.

    Returns
    -------
    dict
        ``{"n": array, nombre: {"seconds": array, "peak_bytes": array}}``
        (``peak_bytes`` lleno de NaN si ``memory=False``).
    """
    from labcode.utils.runtime import progress

    if not fns:
        raise LabcodeValueError("fns está vacío; se esperaba {nombre: función(q, k, v)}.")
    lengths = [int_at_least("cada longitud", n, 1) for n in lengths]
    if not lengths:
        raise LabcodeValueError("lengths está vacío; se esperaba al menos una longitud.")
    d = int_at_least("d", d, 1)
    gen = torch.Generator().manual_seed(_check_seed(seed))
    out: dict[str, Any] = {"n": np.array(lengths)}
    for name in fns:
        out[name] = {
            "seconds": np.full(len(lengths), np.nan),
            "peak_bytes": np.full(len(lengths), np.nan),
        }
    with torch.no_grad():
        for i, n in enumerate(progress(lengths, desc="longitudes", disable=not show_progress)):
            q, k, v = (torch.randn(1, 1, n, d, generator=gen) for _ in range(3))
            for name, fn in fns.items():
                call = _bind(fn, q, k, v)
                out[name]["seconds"][i] = time_call(call, repeats).min_s
                if memory:
                    out[name]["peak_bytes"][i] = torch_peak_memory(call)
    return out


# --- La ventana dentro de un modelo entrenado ---------------------------------------------


def mean_pooled_embeddings(model: torch.nn.Module, input_ids: torch.Tensor,
                           attention_mask: torch.Tensor) -> torch.Tensor:
    """Incrustación de frase de un codificador: media de los estados ocultos de los *tokens*
    reales (``attention_mask == 1``), normalizada a norma 1 (como all-MiniLM-L6-v2).

    Devuelve ``(B, C)``.
    """
    with torch.no_grad():
        h = model(input_ids, attention_mask)  # (B, T, C)
    m = attention_mask.to(h.dtype).unsqueeze(-1)  # (B, T, 1)
    pooled = (h * m).sum(1) / m.sum(1)  # (B, C)
    return torch.nn.functional.normalize(pooled, dim=-1)


def window_embedding_similarity(
    model: torch.nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    windows: Sequence[int],
) -> dict[str, np.ndarray]:
    """Cuánto cambian las incrustaciones de frase de ``model`` con atención de ventana.

    Calcula las incrustaciones (:func:`mean_pooled_embeddings`) con la atención completa
    (``"sdpa"``) y con ``"sliding_window"`` de :data:`labcode.nn.attention.ATTENTION_FUNCTIONS`
    para cada radio de ``windows``, en **todas** las capas, y las compara. Al terminar,
    ``model`` vuelve a la atención que tenía.

    Parameters
    ----------
    model:
        Un codificador de labcode con ``config.attn_implementation`` (p. ej.
        :class:`labcode.models.bert.BertEncoder`).
    input_ids, attention_mask:
        Lote ``(B, T)`` tokenizado con relleno (1 = *token* real).
    windows:
        Radios de la ventana (enteros >= 0).

    Returns
    -------
    dict
        ``"window"``, ``"mean_cos"`` y ``"min_cos"`` (similitud coseno media y mínima con
        la incrustación completa, sobre las ``B`` frases) y ``"max_abs_diff"``
        (diferencia máxima en valor absoluto entre incrustaciones), un valor por radio.
    """
    from labcode.nn.attention import set_attn_implementation

    windows = [int_at_least("cada radio", w, 0) for w in windows]
    config = model.config
    before = (config.attn_implementation, config.sliding_window)
    out: dict[str, list[float]] = {"mean_cos": [], "min_cos": [], "max_abs_diff": []}
    try:
        set_attn_implementation(model, "sdpa")
        full = mean_pooled_embeddings(model, input_ids, attention_mask)  # (B, C)
        for w in windows:
            set_attn_implementation(model, "sliding_window", sliding_window=w)
            emb = mean_pooled_embeddings(model, input_ids, attention_mask)
            cos = (emb * full).sum(-1)  # (B,): ambas tienen norma 1
            out["mean_cos"].append(cos.mean().item())
            out["min_cos"].append(cos.min().item())
            out["max_abs_diff"].append((emb - full).abs().max().item())
    finally:
        set_attn_implementation(model, *before)
    return {"window": np.array(windows), **{k: np.array(v) for k, v in out.items()}}
