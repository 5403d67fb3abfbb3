"""Atención eficiente: ventana deslizante y atención lineal, con sus medidas de coste.

La atención completa calcula una matriz de puntuaciones ``(n, n)``: tiempo y
memoria crecen como ``n²``. Este módulo implementa, en PyTorch y al estilo de
nanoGPT, dos alternativas clásicas:

- :func:`sliding_window_attention`: cada consulta sólo mira a las claves que
  están a distancia ``<= window`` (atención local, como la de Longformer,
  Beltagy et al., 2020). Se calcula **por bloques** de consultas, sin construir
  nunca la matriz ``n x n``: coste ``O(n·w·d)`` en tiempo y ``O(n·w)`` en
  memoria. Con ``window >= n - 1`` es exactamente la atención completa.
- :func:`linear_attention`: atención con núcleo (*kernel*) de Katharopoulos et al.
  (2020), ``sim(q, k) = φ(q)·φ(k)`` con ``φ(x) = elu(x) + 1``. Reordenar el
  producto, ``φ(Q) (φ(K)ᵀ V)``, da coste ``O(n·d²)``. No es una aproximación de
  la softmax sino **otra** atención: coincide exactamente con su propia forma
  cuadrática (:func:`linear_attention_naive`), no con la softmax.

Convenciones: ``q``, ``k`` y ``v`` son tensores ``(..., n, d)`` de coma flotante
(típicamente ``(B, nh, T, hs)``) con las mismas dimensiones de lote; ``causal``
impide mirar al futuro (la clave ``j`` sólo es visible para la consulta ``i`` si
``j <= i``).

Además, :func:`time_callable`, :func:`torch_peak_memory` y
:func:`numpy_peak_memory` miden tiempo y memoria pico de una llamada, y
:func:`measure_attention_costs` lo hace para varias longitudes.
"""

from __future__ import annotations

import contextlib
import math
import operator
import os
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from labcode.utils.checks import finite_tensor, flag, mask_length
from labcode.utils.checks import seed as _check_seed
from labcode.utils.errors import LabcodeTypeError, LabcodeValueError

__all__ = [
    "elu_feature_map",
    "full_attention",
    "linear_attention",
    "linear_attention_naive",
    "measure_attention_costs",
    "numpy_peak_memory",
    "relative_error",
    "sliding_window_attention",
    "sliding_window_mask",
    "time_callable",
    "torch_peak_memory",
]


# --- Validación -----------------------------------------------------------------------


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool):
        raise LabcodeTypeError(
            f"{name} debe ser un entero >= {minimum}; se recibió el booleano {value}."
        )
    try:
        ivalue = operator.index(value)
    except TypeError:
        raise LabcodeTypeError(
            f"{name} debe ser un entero >= {minimum}; se recibió {value!r} "
            f"(de tipo {type(value).__name__})."
        ) from None
    if ivalue < minimum:
        raise LabcodeValueError(f"{name} debe ser un entero >= {minimum}; se recibió {ivalue}.")
    return ivalue


def _check_qkv(q: Any, k: Any, v: Any) -> None:
    """Comprueba tipos y formas de ``q, k, v`` con mensajes claros."""
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, torch.Tensor):
            raise LabcodeTypeError(
                f"{name} debe ser un torch.Tensor (..., n, d); se recibió {type(t).__name__}."
            )
        if t.ndim < 2:
            raise LabcodeValueError(
                f"{name} debe tener al menos 2 dimensiones (..., n, d); se recibió la forma "
                f"{tuple(t.shape)}."
            )
        if not t.is_floating_point():
            raise LabcodeValueError(f"{name} debe ser de coma flotante; se recibió {t.dtype}.")
        if t.shape[-2] == 0 or t.shape[-1] == 0:
            raise LabcodeValueError(
                f"{name} no puede tener tamaño nulo (n >= 1 y d >= 1); se recibió la forma "
                f"{tuple(t.shape)}."
            )
        finite_tensor(name, t)
    if q.shape[-1] != k.shape[-1]:
        raise LabcodeValueError(
            f"q y k deben tener la misma dimensión d (última); se recibió q {tuple(q.shape)} "
            f"y k {tuple(k.shape)}."
        )
    if k.shape[:-1] != v.shape[:-1]:
        raise LabcodeValueError(
            f"k y v deben tener las mismas formas salvo la última dimensión; se recibió "
            f"k {tuple(k.shape)} y v {tuple(v.shape)}."
        )
    if q.shape[:-2] != k.shape[:-2]:
        raise LabcodeValueError(
            f"q, k y v deben tener las mismas dimensiones de lote (...); se recibió "
            f"q {tuple(q.shape)} y k {tuple(k.shape)}."
        )


def _check_mask(mask: Any, target: tuple[int, ...], causal: bool = False) -> torch.Tensor:
    """Máscara booleana difundible a ``target`` (combinada con la causal si ``causal``)
    sin filas completamente ocultas."""
    if not isinstance(mask, torch.Tensor):
        raise LabcodeTypeError(
            f"mask debe ser un torch.Tensor booleano; se recibió {type(mask).__name__}."
        )
    if mask.dtype != torch.bool:
        raise LabcodeValueError(
            f"mask debe ser booleana (True = visible); se recibió {mask.dtype}."
        )
    try:
        full = torch.broadcast_shapes(tuple(mask.shape), target)
    except RuntimeError:
        full = None
    if full != target:
        raise LabcodeValueError(
            f"mask de forma {tuple(mask.shape)} no se puede difundir a las puntuaciones "
            f"(..., n_q, n_k) = {target}; por ejemplo, usa una máscara {target[-2:]}."
        )
    if causal:
        mask = mask & sliding_window_mask(target[-1], causal=True).to(mask.device)
    # Sólo en CPU: en GPU leer el resultado obligaría a sincronizar.
    if mask.device.type == "cpu" and not bool(mask.expand(target).any(dim=-1).all()):
        raise LabcodeValueError(
            "mask tiene una consulta sin ninguna clave visible (una fila toda False): la "
            "softmax daría NaN. Cada consulta debe poder ver al menos una clave."
        )
    return mask


def _check_self_attention(q: torch.Tensor, k: torch.Tensor, what: str) -> int:
    if q.shape[-2] != k.shape[-2]:
        raise LabcodeValueError(
            f"{what} es autoatención: q y k deben tener la misma longitud n; se recibió "
            f"n_q = {q.shape[-2]} y n_k = {k.shape[-2]}."
        )
    return q.shape[-2]


# --- Atención completa (referencia) ----------------------------------------------------


def sliding_window_mask(n: int, window: int | None = None, causal: bool = False) -> torch.Tensor:
    """Máscara booleana ``(n, n)``: ``True`` donde la consulta ``i`` puede ver la clave ``j``.

    Parameters
    ----------
    n:
        Longitud de la secuencia.
    window:
        Radio de la ventana: ``|i - j| <= window``. ``None`` = sin límite.
    causal:
        Si es ``True``, además ``j <= i``.

    Raises
    ------
    ValueError, TypeError
        Si ``n < 1`` o ``window < 0``.
    """
    n = mask_length("n", _check_int("n", n, 1))
    causal = flag("causal", causal)
    i = torch.arange(n).unsqueeze(1)  # (n, 1)
    j = torch.arange(n).unsqueeze(0)  # (1, n)
    mask = torch.ones(n, n, dtype=torch.bool)
    if window is not None:
        window = _check_int("window", window, 0)
        mask &= (i - j).abs() <= window
    if causal:
        mask &= j <= i
    return mask


def full_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    causal: bool = False,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Atención softmax de libro de texto: construye la matriz ``(n_q, n_k)`` entera.

    ``softmax(q kᵀ / √d) v``, con la máscara causal y/o ``mask`` (booleana,
    ``True`` = visible, difundible a ``(..., n_q, n_k)``).

    Returns
    -------
    torch.Tensor
        ``(..., n_q, d_v)``.

    Raises
    ------
    TypeError, ValueError
        Si las entradas no son tensores de coma flotante con formas compatibles.
    """
    _check_qkv(q, k, v)
    causal = flag("causal", causal)
    n_q, n_k = q.shape[-2], k.shape[-2]
    att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]))  # (..., n_q, n_k)
    if causal:
        if n_q != n_k:
            raise LabcodeValueError(
                f"causal=True necesita n_q == n_k; se recibió n_q = {n_q} y n_k = {n_k}."
            )
    visible = None
    if mask is not None:
        visible = _check_mask(mask, tuple(att.shape), causal=causal)
    elif causal:
        visible = sliding_window_mask(n_q, causal=True)
    if visible is not None:
        att = att.masked_fill(~visible.to(att.device), float("-inf"))
    att = F.softmax(att, dim=-1)  # (..., n_q, n_k)
    return att @ v  # (..., n_q, d_v)


# --- Atención de ventana deslizante (por bloques) ------------------------------------------


def sliding_window_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    window: int,
    causal: bool = False,
    block_size: int | None = None,
) -> torch.Tensor:
    """Atención local: la consulta ``i`` sólo atiende a las claves con ``|i - j| <= window``.

    Se procesa por bloques de ``block_size`` consultas; cada bloque sólo lee las
    ``block_size + 2·window`` claves que puede ver (``block_size + window`` si es
    causal). Nunca se construye la matriz ``n x n``: el tensor de puntuaciones
    más grande es ``(..., n/b, b, b + 2w)``, es decir, ``O(n·w)``.

    Parameters
    ----------
    q, k, v:
        ``(..., n, d)`` y ``(..., n, d_v)`` (autoatención: la misma ``n``).
    window:
        Radio de la ventana (>= 0). Con ``window >= n - 1`` el resultado es la
        atención completa; con ``window = 0`` cada posición sólo se mira a sí misma.
    causal:
        Si es ``True``, sólo claves ``i - window <= j <= i``.
    block_size:
        Consultas por bloque; ``None`` usa ``max(16, min(window, 256))`` (acotado por ``n``).

    Returns
    -------
    torch.Tensor
        ``(..., n, d_v)``, igual (salvo redondeo) a :func:`full_attention` con la
        máscara :func:`sliding_window_mask`.

    Raises
    ------
    TypeError, ValueError
        Si las entradas no son válidas, ``window < 0`` o ``block_size < 1``.
    """
    _check_qkv(q, k, v)
    causal = flag("causal", causal)
    n = _check_self_attention(q, k, "sliding_window_attention")
    window = _check_int("window", window, 0)
    window = min(window, n - 1)  # más allá de n - 1 no cambia nada
    if block_size is None:
        block_size = max(16, min(window, 256))
    b = min(_check_int("block_size", block_size, 1), n)
    left, right = window, (0 if causal else window)
    span = b + left + right  # claves que ve un bloque de b consultas
    nb = -(-n // b)  # número de bloques (redondeo hacia arriba)
    pad_q = nb * b - n
    lead = q.shape[:-2]

    qb = F.pad(q, (0, 0, 0, pad_q)).reshape(*lead, nb, b, q.shape[-1])  # (..., nb, b, d)
    # claves con relleno a ambos lados y ventanas de `span` cada `b` posiciones
    kp = F.pad(k, (0, 0, left, right + pad_q))  # (..., left + nb*b + right, d)
    vp = F.pad(v, (0, 0, left, right + pad_q))
    kw = kp.unfold(-2, span, b).transpose(-2, -1)  # (..., nb, span, d)
    vw = vp.unfold(-2, span, b).transpose(-2, -1)  # (..., nb, span, d_v)

    # posición absoluta de cada consulta y de cada clave de la ventana
    start = torch.arange(nb).view(nb, 1, 1) * b  # (nb, 1, 1)
    qi = start + torch.arange(b).view(1, b, 1)  # (nb, b, 1)
    kj = start - left + torch.arange(span).view(1, 1, span)  # (nb, 1, span)
    visible = ((qi - kj).abs() <= window) & (kj >= 0) & (kj < n)  # (nb, b, span)
    if causal:
        visible &= kj <= qi

    att = (qb @ kw.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]))  # (..., nb, b, span)
    att = att.masked_fill(~visible, float("-inf"))
    att = F.softmax(att, dim=-1)
    att = torch.nan_to_num(att, nan=0.0)  # filas de relleno (todas -inf): 0
    y = att @ vw  # (..., nb, b, d_v)
    return y.reshape(*lead, nb * b, v.shape[-1])[..., :n, :]  # (..., n, d_v)


# --- Atención lineal (Katharopoulos et al., 2020) -------------------------------------------


def elu_feature_map(x: torch.Tensor) -> torch.Tensor:
    """``φ(x) = elu(x) + 1``: positivo, así que las «similitudes» ``φ(q)·φ(k)`` son > 0."""
    return F.elu(x) + 1.0


def linear_attention_naive(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False
) -> torch.Tensor:
    """Forma cuadrática de la atención lineal: ``A = φ(Q) φ(K)ᵀ`` normalizada por filas.

    Construye la matriz ``(n, n)`` a propósito, para comprobar que
    :func:`linear_attention` calcula exactamente lo mismo sin ella.

    Returns
    -------
    torch.Tensor
        ``(..., n, d_v)``.
    """
    _check_qkv(q, k, v)
    n = _check_self_attention(q, k, "linear_attention_naive")
    a = elu_feature_map(q) @ elu_feature_map(k).transpose(-2, -1)  # (..., n, n)
    if causal:
        a = a * sliding_window_mask(n, causal=True).to(a.dtype)
    return (a @ v) / a.sum(-1, keepdim=True)


def linear_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    causal: bool = False,
    chunk_size: int = 64,
) -> torch.Tensor:
    """Atención lineal con ``φ(x) = elu(x) + 1`` en ``O(n·d²)``.

    No causal: ``y_i = φ(q_i)ᵀ S / φ(q_i)ᵀ z`` con ``S = Σ_j φ(k_j) v_jᵀ`` (d x d_v)
    y ``z = Σ_j φ(k_j)``, comunes a todas las consultas.

    Causal: las sumas son prefijos. Para no guardar una matriz ``d x d_v`` por
    posición, se recorre la secuencia por trozos de ``chunk_size``: dentro del
    trozo se usa la forma cuadrática con máscara (``c x c``) y el estado ``S, z``
    acumula los trozos anteriores (como un RNN). Coste ``O(n·c·d + n·d²)``.

    Returns
    -------
    torch.Tensor
        ``(..., n, d_v)``, igual (salvo redondeo) a :func:`linear_attention_naive`.

    Raises
    ------
    TypeError, ValueError
        Si las entradas no son válidas o ``chunk_size < 1``.
    """
    _check_qkv(q, k, v)
    causal = flag("causal", causal)
    n = _check_self_attention(q, k, "linear_attention")
    chunk_size = _check_int("chunk_size", chunk_size, 1)
    fq, fk = elu_feature_map(q), elu_feature_map(k)  # (..., n, d)
    if not causal:
        s = fk.transpose(-2, -1) @ v  # (..., d, d_v)
        z = fk.sum(-2)  # (..., d)
        num = fq @ s  # (..., n, d_v)
        den = (fq * z.unsqueeze(-2)).sum(-1, keepdim=True)  # (..., n, 1)
        return num / den
    lead = q.shape[:-2]
    s = q.new_zeros(*lead, q.shape[-1], v.shape[-1])  # estado (..., d, d_v)
    z = q.new_zeros(*lead, q.shape[-1])  # (..., d)
    outs = []
    for a in range(0, n, chunk_size):
        e = min(a + chunk_size, n)
        fqc, fkc, vc = fq[..., a:e, :], fk[..., a:e, :], v[..., a:e, :]  # (..., c, ·)
        tri = sliding_window_mask(e - a, causal=True).to(q.dtype)  # (c, c)
        local = (fqc @ fkc.transpose(-2, -1)) * tri  # (..., c, c)
        num = fqc @ s + local @ vc  # (..., c, d_v)
        den = (fqc * z.unsqueeze(-2)).sum(-1, keepdim=True) + local.sum(-1, keepdim=True)
        outs.append(num / den)
        s = s + fkc.transpose(-2, -1) @ vc
        z = z + fkc.sum(-2)
    return torch.cat(outs, dim=-2)  # (..., n, d_v)


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


def time_callable(fn: Callable[[], Any], repeats: int = 3, warmup: int = 1) -> float:
    """Tiempo mínimo (s) de ``repeats`` llamadas a ``fn()`` tras ``warmup`` llamadas."""
    repeats = _check_int("repeats", repeats, 1)
    for _ in range(_check_int("warmup", warmup, 0)):
        fn()
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


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
    lengths = [_check_int("cada longitud", n, 1) for n in lengths]
    if not lengths:
        raise LabcodeValueError("lengths está vacío; se esperaba al menos una longitud.")
    d = _check_int("d", d, 1)
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
                out[name]["seconds"][i] = time_callable(call, repeats)
                if memory:
                    out[name]["peak_bytes"][i] = torch_peak_memory(call)
    return out
