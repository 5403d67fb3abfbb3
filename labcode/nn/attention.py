"""Un solo punto de extensión para la atención: :data:`ATTENTION_FUNCTIONS`.

Como ``ALL_ATTENTION_FUNCTIONS`` de Hugging Face (``modeling_llama.py``): cada modelo
(:class:`labcode.nn.blocks.MultiHeadAttention`, GPT, Llama y BERT) proyecta ``q``, ``k`` y
``v`` y llama a ``ATTENTION_FUNCTIONS[config.attn_implementation]``. Todas las funciones
tienen la misma firma::

    fn(q, k, v, mask=None, *, scale=None, dropout=0.0, is_causal=False,
       output_attentions=False, window=None) -> (y, pesos o None)

- ``q`` ``(B, nh, Tq, hs)``, ``k`` ``(B, nh, Tk, hs)``, ``v`` ``(B, nh, Tk, hv)``.
- ``mask``: booleana, difundible a ``(B, nh, Tq, Tk)``, ``True`` = se atiende
  (la convención de :mod:`labcode.nn.masks`).
- ``is_causal``: la consulta ``i`` (posición ``Tk - Tq + i``, detrás de la caché) solo
  ve las claves ``j <= Tk - Tq + i``; se combina con ``mask``.
- ``scale``: ``None`` = ``1 / √hs``. ``dropout``: probabilidad sobre los pesos (el
  llamador pasa 0 fuera del entrenamiento).
- ``output_attentions``: si es ``True`` se devuelven los pesos ``(B, nh, Tq, Tk)``.
- ``window``: radio de la ventana (solo ``"sliding_window"``).

Implementaciones: ``"sdpa"`` (núcleo fusionado de PyTorch), ``"eager"`` (la explícita,
que devuelve los pesos), ``"sliding_window"`` (atención local por bloques) y ``"linear"``
(Katharopoulos et al., 2020). Los núcleos de ventana deslizante y lineal también se
pueden llamar sueltos (:func:`sliding_window_attention`, :func:`linear_attention`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from labcode.nn.masks import causal_mask, sliding_window_mask
from labcode.utils import checks
from labcode.utils.errors import LabcodeTypeError, LabcodeValueError

__all__ = [
    "ATTENTION_FUNCTIONS",
    "check_attn_implementation",
    "eager_attention",
    "elu_feature_map",
    "full_attention",
    "linear_attention",
    "linear_attention_naive",
    "linear_attention_fn",
    "sdpa_attention",
    "set_attn_implementation",
    "sliding_window_attention",
    "sliding_window_attention_fn",
]

Weights = torch.Tensor | None


def _visible(mask, is_causal: bool, Tq: int, Tk: int, device) -> torch.Tensor | None:
    """La máscara efectiva: ``mask`` combinada con la causal (alineada abajo a la derecha)."""
    if not is_causal:
        return mask
    causal = causal_mask(Tq, device=device, past=Tk - Tq)  # (Tq, Tk)
    return causal if mask is None else mask & causal


def _scaled_scores(q: torch.Tensor, k: torch.Tensor, scale: float | None) -> torch.Tensor:
    scores = q @ k.transpose(-2, -1)  # (B, nh, Tq, Tk)
    return scores / math.sqrt(q.shape[-1]) if scale is None else scores * scale


# --- Las cuatro implementaciones del registro --------------------------------------------


def eager_attention(q, k, v, mask=None, *, scale=None, dropout=0.0, is_causal=False,
                    output_attentions=False, window=None) -> tuple[torch.Tensor, Weights]:
    """Atención explícita: ``softmax(q kᵀ · scale)`` con la máscara, y ``@ v``.

    Construye la matriz de pesos ``(B, nh, Tq, Tk)`` y la devuelve si
    ``output_attentions``. Una fila sin ninguna clave visible da NaN.
    """
    scores = _scaled_scores(q, k, scale)  # (B, nh, Tq, Tk)
    visible = _visible(mask, is_causal, q.shape[-2], k.shape[-2], q.device)
    if visible is not None:
        scores = scores.masked_fill(~visible, float("-inf"))
    weights = scores.softmax(dim=-1)  # (B, nh, Tq, Tk)
    y = F.dropout(weights, p=dropout, training=dropout > 0) @ v  # (B, nh, Tq, hv)
    return y, (weights if output_attentions else None)


def sdpa_attention(q, k, v, mask=None, *, scale=None, dropout=0.0, is_causal=False,
                   output_attentions=False, window=None) -> tuple[torch.Tensor, Weights]:
    """:func:`torch.nn.functional.scaled_dot_product_attention` (núcleo fusionado).

    No calcula los pesos: con ``output_attentions=True`` usa :func:`eager_attention`
    (como Hugging Face). Sin máscara, con ``Tq == Tk`` usa ``is_causal`` del núcleo;
    con un único token nuevo tras la caché no hace falta máscara (ve todo lo anterior).
    """
    if output_attentions:
        return eager_attention(q, k, v, mask, scale=scale, dropout=dropout,
                               is_causal=is_causal, output_attentions=True)
    Tq, Tk = q.shape[-2], k.shape[-2]
    if is_causal and mask is None and Tq == Tk:
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, is_causal=Tq > 1,
                                           scale=scale)
    elif is_causal and mask is None and Tq == 1:
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, scale=scale)
    else:
        visible = _visible(mask, is_causal, Tq, Tk, q.device)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=visible, dropout_p=dropout,
                                           scale=scale)
    return y, None


def _band(Tq: int, Tk: int, window: int, device) -> torch.Tensor:
    """``(Tq, Tk)``: la consulta ``i`` (posición ``Tk - Tq + i``) ve ``|pos - j| <= window``."""
    qi = torch.arange(Tk - Tq, Tk, device=device)[:, None]
    kj = torch.arange(Tk, device=device)[None, :]
    return (qi - kj).abs() <= window


def _key_mask(mask) -> torch.Tensor | None:
    """La máscara como ``(..., Tk)`` si solo depende de la clave (p. ej. de relleno)."""
    if mask is None or mask.dim() < 2 or mask.shape[-2] != 1:
        return None
    return mask[..., 0, :]


def sliding_window_attention_fn(q, k, v, mask=None, *, scale=None, dropout=0.0,
                                is_causal=False, output_attentions=False,
                                window=None) -> tuple[torch.Tensor, Weights]:
    """Atención local (``|i - j| <= window``) con la firma del registro.

    Sin *dropout*, sin pesos y con ``mask`` ausente o solo de claves (relleno ``(B, 1, 1,
    T)``) usa el núcleo por bloques, sin construir la matriz ``n x n``; en otro caso
    (caché KV, máscara general) usa la forma explícita con la máscara de banda.
    """
    if window is None:
        raise LabcodeValueError(
            "sliding_window: falta el radio de la ventana (window, p. ej. sliding_window=32 "
            "en la configuración del modelo)."
        )
    Tq, Tk = q.shape[-2], k.shape[-2]
    keys = _key_mask(mask)
    if Tq == Tk and dropout == 0 and not output_attentions and (mask is None or keys is not None):
        return _sliding_blocks(q, k, v, window, is_causal, None, scale, keys), None
    band = _band(Tq, Tk, window, q.device)
    return eager_attention(q, k, v, band if mask is None else mask & band, scale=scale,
                           dropout=dropout, is_causal=is_causal,
                           output_attentions=output_attentions)


def linear_attention_fn(q, k, v, mask=None, *, scale=None, dropout=0.0, is_causal=False,
                        output_attentions=False, window=None) -> tuple[torch.Tensor, Weights]:
    """Atención lineal ``φ(q)·φ(k)`` con la firma del registro (``scale`` y ``dropout``
    no intervienen: la normalización es la suma de cada fila).

    Solo admite máscaras de claves (relleno, ``(B, 1, 1, T)``): las claves ocultas no
    suman ni al numerador ni al denominador. Con ``Tq == Tk`` y sin pesos usa el núcleo
    ``O(n·d²)``; si no (caché KV o ``output_attentions``), la forma cuadrática.
    """
    keys = _key_mask(mask)
    if mask is not None and keys is None:
        raise LabcodeValueError(
            "linear: la atención lineal solo admite máscaras de claves (relleno) con forma "
            f"(B, 1, 1, T); se recibió la forma {tuple(mask.shape)}."
        )
    fk = elu_feature_map(k)
    if keys is not None:
        fk = fk * keys[..., :, None].to(fk.dtype)  # (B, nh|1, Tk, d)
    Tq, Tk = q.shape[-2], k.shape[-2]
    if Tq == Tk and not output_attentions:
        return _linear_core(elu_feature_map(q), fk, v, is_causal, 64), None
    a = elu_feature_map(q) @ fk.transpose(-2, -1)  # (B, nh, Tq, Tk)
    if is_causal:
        a = a * causal_mask(Tq, device=q.device, past=Tk - Tq).to(a.dtype)
    weights = a / a.sum(-1, keepdim=True)
    return weights @ v, (weights if output_attentions else None)


#: Registro de implementaciones, que se llaman como
#: ``ATTENTION_FUNCTIONS[nombre](q, k, v, mask, ...)``.
#: Para añadir otra, regístrala aquí con la misma firma.
ATTENTION_FUNCTIONS: dict[str, Callable[..., tuple[torch.Tensor, Weights]]] = {
    "sdpa": sdpa_attention,
    "eager": eager_attention,
    "sliding_window": sliding_window_attention_fn,
    "linear": linear_attention_fn,
}


def check_attn_implementation(who: str, name, window=None) -> str:
    """Comprueba una vez (en ``__init__`` o en la configuración) el nombre y la ventana."""
    if not isinstance(name, str) or name not in ATTENTION_FUNCTIONS:
        raise LabcodeValueError(
            f"{who}: attn_implementation debe ser una de {sorted(ATTENTION_FUNCTIONS)}; "
            f"se recibió {name!r}."
        )
    if window is not None:
        checks.nonnegative_int(f"{who}: sliding_window", window)
    if name == "sliding_window" and window is None:
        raise LabcodeValueError(
            f"{who}: attn_implementation='sliding_window' necesita sliding_window (el radio "
            "de la ventana, un entero >= 0)."
        )
    return name


def set_attn_implementation(model: nn.Module, name: str,
                            sliding_window: int | None = None) -> nn.Module:
    """Cambia la atención de todos los módulos de ``model`` (como HF
    ``model.set_attn_implementation``); actualiza también ``model.config`` si lo tiene.

    Devuelve el propio ``model``.
    """
    check_attn_implementation("set_attn_implementation", name, sliding_window)
    found = False
    for module in model.modules():
        if hasattr(module, "attn_implementation") and isinstance(module, nn.Module):
            module.attn_implementation, module.sliding_window = name, sliding_window
            found = True
    config = getattr(model, "config", None)
    if hasattr(config, "attn_implementation"):
        config.attn_implementation, config.sliding_window = name, sliding_window
    if not found:
        raise LabcodeTypeError(
            f"set_attn_implementation: {type(model).__name__} no tiene módulos de atención "
            "con attn_implementation."
        )
    return model


# --- Validación de los núcleos sueltos -------------------------------------------------------


def _check_qkv(q, k, v) -> None:
    """Comprueba tipos y formas de ``q, k, v`` con mensajes claros (solo en las funciones
    públicas sueltas: el registro no valida en cada ``forward``)."""
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
        checks.finite_tensor(name, t)
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


def _check_mask(mask, target: tuple[int, ...], causal: bool = False) -> torch.Tensor:
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
    # Solo en CPU: en GPU leer el resultado obligaría a sincronizar.
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


# --- Núcleos sueltos (con validación) ---------------------------------------------------------


def full_attention(q, k, v, causal: bool = False, mask: torch.Tensor | None = None):
    """Atención softmax de libro de texto: construye la matriz ``(n_q, n_k)`` entera.

    ``softmax(q kᵀ / √d) v``, con la máscara causal y/o ``mask`` (booleana,
    ``True`` = visible, difundible a ``(..., n_q, n_k)``). Devuelve ``(..., n_q, d_v)``.

    Raises
    ------
    TypeError, ValueError
        Si las entradas no son tensores de coma flotante con formas compatibles.
    """
    _check_qkv(q, k, v)
    causal = checks.flag("causal", causal)
    n_q, n_k = q.shape[-2], k.shape[-2]
    if causal and n_q != n_k:
        raise LabcodeValueError(
            f"causal=True necesita n_q == n_k; se recibió n_q = {n_q} y n_k = {n_k}."
        )
    if mask is not None:
        target = (*torch.broadcast_shapes(q.shape[:-2], k.shape[:-2]), n_q, n_k)
        mask = _check_mask(mask, target, causal=causal).to(q.device)
        causal = False
    scale = 1.0 / math.sqrt(q.shape[-1])
    return eager_attention(q, k, v, mask, scale=scale, is_causal=causal)[0]


def sliding_window_attention(q, k, v, window: int, causal: bool = False,
                             block_size: int | None = None) -> torch.Tensor:
    """Atención local: la consulta ``i`` solo atiende a las claves con ``|i - j| <= window``.

    Se procesa por bloques de ``block_size`` consultas; cada bloque solo lee las
    ``block_size + 2·window`` claves que puede ver (``block_size + window`` si es
    causal). Nunca se construye la matriz ``n x n``: el tensor de puntuaciones
    más grande es ``(..., n/b, b, b + 2w)``, es decir, ``O(n·w)``.

    Parameters
    ----------
    q, k, v:
        ``(..., n, d)`` y ``(..., n, d_v)`` (autoatención: la misma ``n``).
    window:
        Radio de la ventana (>= 0). Con ``window >= n - 1`` el resultado es la
        atención completa; con ``window = 0`` cada posición solo se mira a sí misma.
    causal:
        Si es ``True``, solo claves ``i - window <= j <= i``.
    block_size:
        Consultas por bloque; ``None`` usa ``max(16, min(window, 256))`` (acotado por ``n``).

    Returns
    -------
    torch.Tensor
        ``(..., n, d_v)``, igual (salvo redondeo) a :func:`full_attention` con la
        máscara :func:`labcode.nn.masks.sliding_window_mask`.
    """
    _check_qkv(q, k, v)
    causal = checks.flag("causal", causal)
    _check_self_attention(q, k, "sliding_window_attention")
    window = checks.nonnegative_int("window", window)
    if block_size is not None:
        block_size = checks.positive_int("block_size", block_size)
    return _sliding_blocks(q, k, v, window, causal, block_size)


def _sliding_blocks(q, k, v, window: int, causal: bool, block_size: int | None,
                    scale: float | None = None, keys: torch.Tensor | None = None):
    """Núcleo por bloques de :func:`sliding_window_attention` (sin validar).

    ``keys`` (opcional, ``(..., n)`` booleana) oculta claves (relleno).
    """
    n = q.shape[-2]
    window = min(window, n - 1)  # más allá de n - 1 no cambia nada
    b = min(block_size or max(16, min(window, 256)), n)
    left, right = window, (0 if causal else window)
    span = b + left + right  # claves que ve un bloque de b consultas
    nb = -(-n // b)  # número de bloques (redondeo hacia arriba)
    pad_q = nb * b - n
    lead = q.shape[:-2]
    qb = F.pad(q, (0, 0, 0, pad_q)).reshape(*lead, nb, b, q.shape[-1])  # (..., nb, b, d)
    # claves con relleno a ambos lados y ventanas de `span` cada `b` posiciones
    kw = F.pad(k, (0, 0, left, right + pad_q)).unfold(-2, span, b).transpose(-2, -1)
    vw = F.pad(v, (0, 0, left, right + pad_q)).unfold(-2, span, b).transpose(-2, -1)
    # posición absoluta de cada consulta y de cada clave de la ventana
    start = torch.arange(nb, device=q.device).view(nb, 1, 1) * b  # (nb, 1, 1)
    qi = start + torch.arange(b, device=q.device).view(1, b, 1)  # (nb, b, 1)
    kj = start - left + torch.arange(span, device=q.device).view(1, 1, span)  # (nb, 1, span)
    visible = ((qi - kj).abs() <= window) & (kj >= 0) & (kj < n)  # (nb, b, span)
    if causal:
        visible = visible & (kj <= qi)
    if keys is not None:  # (..., n) -> (..., nb, 1, span)
        kp = F.pad(keys, (left, right + pad_q), value=False).unfold(-1, span, b)
        visible = visible & kp.unsqueeze(-2)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    att = (qb @ kw.transpose(-2, -1)) * scale  # (..., nb, b, span)
    att = F.softmax(att.masked_fill(~visible, float("-inf")), dim=-1)
    att = torch.nan_to_num(att, nan=0.0)  # filas de relleno (todas -inf): 0
    y = att @ vw  # (..., nb, b, d_v)
    return y.reshape(*lead, nb * b, v.shape[-1])[..., :n, :]  # (..., n, d_v)


def elu_feature_map(x: torch.Tensor) -> torch.Tensor:
    """``φ(x) = elu(x) + 1``: positivo, así que las «similitudes» ``φ(q)·φ(k)`` son > 0."""
    return F.elu(x) + 1.0


def linear_attention_naive(q, k, v, causal: bool = False) -> torch.Tensor:
    """Forma cuadrática de la atención lineal: ``A = φ(Q) φ(K)ᵀ`` normalizada por filas.

    Construye la matriz ``(n, n)`` a propósito, para comprobar que
    :func:`linear_attention` calcula exactamente lo mismo sin ella. Devuelve ``(..., n, d_v)``.
    """
    _check_qkv(q, k, v)
    n = _check_self_attention(q, k, "linear_attention_naive")
    a = elu_feature_map(q) @ elu_feature_map(k).transpose(-2, -1)  # (..., n, n)
    if causal:
        a = a * sliding_window_mask(n, causal=True).to(a.dtype)
    return (a @ v) / a.sum(-1, keepdim=True)


def linear_attention(q, k, v, causal: bool = False, chunk_size: int = 64) -> torch.Tensor:
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
    """
    _check_qkv(q, k, v)
    causal = checks.flag("causal", causal)
    _check_self_attention(q, k, "linear_attention")
    chunk_size = checks.positive_int("chunk_size", chunk_size)
    return _linear_core(elu_feature_map(q), elu_feature_map(k), v, causal, chunk_size)


def _linear_core(fq, fk, v, causal: bool, chunk_size: int) -> torch.Tensor:
    """Núcleo de :func:`linear_attention` sobre ``φ(q)`` y ``φ(k)`` ya calculados."""
    if not causal:
        s = fk.transpose(-2, -1) @ v  # (..., d, d_v)
        z = fk.sum(-2)  # (..., d)
        num = fq @ s  # (..., n, d_v)
        den = (fq * z.unsqueeze(-2)).sum(-1, keepdim=True)  # (..., n, 1)
        return num / den
    lead = torch.broadcast_shapes(fq.shape[:-2], fk.shape[:-2])
    s = fq.new_zeros(*lead, fq.shape[-1], v.shape[-1])  # estado (..., d, d_v)
    z = fq.new_zeros(*lead, fq.shape[-1])  # (..., d)
    outs = []
    n = fq.shape[-2]
    for a in range(0, n, chunk_size):
        e = min(a + chunk_size, n)
        fqc, fkc, vc = fq[..., a:e, :], fk[..., a:e, :], v[..., a:e, :]  # (..., c, ·)
        tri = causal_mask(e - a, device=fq.device).to(fq.dtype)  # (c, c)
        local = (fqc @ fkc.transpose(-2, -1)) * tri  # (..., c, c)
        num = fqc @ s + local @ vc  # (..., c, d_v)
        den = (fqc * z.unsqueeze(-2)).sum(-1, keepdim=True) + local.sum(-1, keepdim=True)
        outs.append(num / den)
        s = s + fkc.transpose(-2, -1) @ vc
        z = z + fkc.sum(-2)
    return torch.cat(outs, dim=-2)  # (..., n, d_v)
