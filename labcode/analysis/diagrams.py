"""Diagramas de arquitectura dibujados con Matplotlib a partir de la configuración.

Cada función devuelve una :class:`matplotlib.figure.Figure` (fondo blanco y
líneas oscuras, legible también con el tema oscuro del libro) y no llama a
``plt.show()``. Los tamaños que aparecen escritos (``d_model``, cabezas,
capas...) salen del objeto de configuración que se le pasa
(:class:`labcode.models.seq2seq.TransformerConfig`, :class:`labcode.models.gpt.GPTConfig`,
:class:`labcode.models.bert.BertConfig`, :class:`labcode.models.vit.ViTConfig`...), y las
máscaras y el reparto en cabezas se calculan con las funciones de
:mod:`labcode.numpy_ref.attention`: si el código cambia, el dibujo cambia con él.

Diagramas:

- :func:`encoder_decoder_diagram`: la pila codificador-decodificador.
- :func:`multi_head_diagram`: proyecciones Q/K/V, dividir → atender → unir, con formas.
- :func:`masks_diagram`: máscaras de relleno, causal y combinada como rejillas.
- :func:`families_diagram`: BERT, GPT y T5 y a qué atiende cada uno.
- :func:`norm_placement_diagram`: bloque post-LN frente a pre-LN.
- :func:`kv_cache_diagram`: la caché KV a lo largo de los pasos de decodificación.
- :func:`vit_diagram`: un ViT (parches → tokens → ``[CLS]``).
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch, Rectangle

__all__ = [
    "ModelSizes",
    "model_sizes",
    "figure_texts",
    "encoder_decoder_diagram",
    "multi_head_diagram",
    "masks_diagram",
    "families_diagram",
    "norm_placement_diagram",
    "kv_cache_diagram",
    "vit_diagram",
]

#: Colores (paleta apta para daltónicos, sobre fondo blanco).
COLORS = {
    "self": "#9ecae1",  # autoatención bidireccional
    "causal": "#fdae6b",  # autoatención causal (enmascarada)
    "cross": "#a1d99b",  # atención cruzada
    "norm": "#e0e0e0",
    "ffn": "#dadaeb",
    "embed": "#fff7bc",
    "out": "#fcbba1",
    "cached": "#bdbdbd",
    "new": "#fd8d3c",
}
_INK = "#222222"

# Atributos equivalentes en las distintas configuraciones del paquete.
_ALIASES = {
    "d_model": ("d_model", "n_embd", "hidden_size"),
    "num_heads": ("num_heads", "n_head", "num_attention_heads"),
    "num_layers": ("num_layers", "n_layer", "num_hidden_layers"),
    "d_ff": ("d_ff", "intermediate_size", "n_inner"),
}


@dataclass(frozen=True)
class ModelSizes:
    """Tamaños comunes a todas las configuraciones (los que muestran los diagramas)."""

    d_model: int
    num_heads: int
    num_layers: int
    d_ff: int
    num_decoder_layers: int

    @property
    def d_head(self) -> int:
        """Dimensión de cada cabeza, ``d_model // num_heads``."""
        return self.d_model // self.num_heads


def _first_attr(config, names: tuple[str, ...]):
    for name in names:
        value = getattr(config, name, None)
        if value is not None:
            return value
    return None


def model_sizes(config) -> ModelSizes:
    """Lee ``d_model``, cabezas, capas y ``d_ff`` de cualquier configuración del paquete.

    Acepta :class:`~labcode.models.seq2seq.TransformerConfig`,
    :class:`~labcode.models.gpt.GPTConfig`,
    :class:`~labcode.models.bert.BertConfig`, :class:`~labcode.models.vit.ViTConfig` y las
    configuraciones de ``transformers`` con los mismos nombres. En GPT, sin
    ``d_ff`` explícito, la FFN mide ``4 · n_embd`` (como en :class:`labcode.models.gpt.MLP`).

    Raises
    ------
    TypeError
        Si a la configuración le falta ``d_model``, el número de cabezas o de capas.
    """
    values = {key: _first_attr(config, names) for key, names in _ALIASES.items()}
    missing = [k for k in ("d_model", "num_heads", "num_layers") if values[k] is None]
    if missing:
        raise TypeError(
            f"model_sizes: la configuración {type(config).__name__} no tiene {missing}; "
            "se esperaba un TransformerConfig, GPTConfig, BertConfig o ViTConfig."
        )
    d_ff = values["d_ff"] if values["d_ff"] is not None else 4 * values["d_model"]
    dec = getattr(config, "num_decoder_layers", None) or values["num_layers"]
    return ModelSizes(int(values["d_model"]), int(values["num_heads"]),
                      int(values["num_layers"]), int(d_ff), int(dec))


def figure_texts(fig: Figure) -> list[str]:
    """Todos los textos visibles de una figura (para las pruebas y el texto alternativo)."""
    return [t.get_text() for t in fig.findobj(plt.Text) if t.get_text().strip()]


# ---------------------------------------------------------------------------
# Primitivas de dibujo
# ---------------------------------------------------------------------------


def _canvas(width: float, height: float, xlim, ylim, ax=None):
    if ax is None:
        fig, ax = plt.subplots(figsize=(width, height), layout="constrained")
    else:
        fig = ax.figure
    fig.patch.set_facecolor("white")
    ax.set_facecolor("white")
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("auto")
    ax.axis("off")
    return fig, ax


def _box(ax, x, y, w, h, text, color="white", fontsize=8.5, weight="normal"):
    """Caja con el texto centrado; ``(x, y)`` es la esquina inferior izquierda."""
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.08",
                                facecolor=color, edgecolor=_INK, linewidth=1.0))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=fontsize,
            color=_INK, weight=weight)


def _arrow(ax, x0, y0, x1, y1, style="-|>", color=_INK, rad=0.0, lw=1.1):
    ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                arrowprops=dict(arrowstyle=style, color=color, lw=lw,
                                connectionstyle=f"arc3,rad={rad}", shrinkA=0, shrinkB=0))


def _residual(ax, x, y0, y1, offset=0.25):
    """Conexión residual: sale por debajo de una subcapa y entra en la suma."""
    ax.plot([x, x - offset, x - offset], [y0, y0, y1], color=_INK, lw=1.0)
    _arrow(ax, x - offset, y1, x, y1)


def _grid(ax, mask, title, row_labels=None, col_labels=None, color="#3182bd"):
    """Dibuja una máscara booleana como rejilla: celda llena = puede atender."""
    mask = np.asarray(mask, dtype=bool)
    n_rows, n_cols = mask.shape
    ax.set_xlim(-0.5, n_cols - 0.5)
    ax.set_ylim(n_rows - 0.5, -0.5)
    for i in range(n_rows):
        for j in range(n_cols):
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, edgecolor=_INK, lw=0.6,
                                   facecolor=color if mask[i, j] else "white"))
            ax.text(j, i, "✓" if mask[i, j] else "✗", ha="center", va="center", fontsize=8,
                    color="white" if mask[i, j] else "#888888")
    ax.set_xticks(range(n_cols), col_labels or [str(j) for j in range(n_cols)], fontsize=7)
    ax.set_yticks(range(n_rows), row_labels or [str(i) for i in range(n_rows)], fontsize=7)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_facecolor("white")
    ax.set_title(title, fontsize=9, color=_INK)


def _block_groups(sublayers, norm_first: bool) -> list[list[tuple[str, str, float]]]:
    """Cajas de cada subcapa con su normalización, en el orden post-LN o pre-LN."""
    groups = []
    for text, color in sublayers:
        if norm_first:
            groups.append([("LayerNorm", COLORS["norm"], 0.4), (text, color, 0.75),
                           ("Sumar (+)", "white", 0.4)])
        else:
            groups.append([(text, color, 0.75),
                           ("Sumar y normalizar (Add & Norm)", COLORS["norm"], 0.45)])
    return groups


def _draw_stack(ax, x, y, w, groups, gap=0.24) -> tuple[dict[str, tuple], float]:
    """Apila las cajas hacia arriba con flechas y conexiones residuales.

    Devuelve ``{texto: (x, y, h)}`` de cada caja y la ``y`` libre por encima.
    """
    boxes: dict[str, tuple] = {}
    for group in groups:
        y_in = y - gap / 2
        for text, color, h in group:
            _box(ax, x, y, w, h, text, color)
            boxes.setdefault(text, (x, y, h))
            _arrow(ax, x + w / 2, y + h, x + w / 2, y + h + gap)
            last = (y, h)
            y += h + gap
        ax.plot([x + w / 2, x - 0.3, x - 0.3], [y_in, y_in, last[0] + last[1] / 2],
                color="#555555", lw=0.9)
        _arrow(ax, x - 0.3, last[0] + last[1] / 2, x, last[0] + last[1] / 2, color="#555555")
    return boxes, y


def _frame(ax, x, y0, y1, w, label, left=True):
    ax.add_patch(Rectangle((x - 0.45, y0 - 0.12), w + 0.6, y1 - y0, fill=False,
                           edgecolor="#666666", lw=1.0, ls="--"))
    tx = x - 0.6 if left else x + w + 0.3
    ax.text(tx, (y0 + y1) / 2, label, ha="right" if left else "left", va="center",
            fontsize=10, weight="bold", color=_INK)


def encoder_decoder_diagram(config) -> Figure:
    """Pila codificador-decodificador con residuales, normalización y tres atenciones.

    Parameters
    ----------
    config : TransformerConfig
        Configuración del modelo (de ella salen ``d_model``, cabezas, capas,
        ``d_ff`` y si es pre-LN o post-LN, ``norm_first``).
    """
    s = model_sizes(config)
    norm_first = bool(getattr(config, "norm_first", False))
    fig, ax = _canvas(8.6, 9.6, (-1.8, 11.2), (-0.6, 15.4))  # ylim se ajusta al final
    w, xe, xd = 3.2, 0.6, 6.2
    enc_sub = [(f"Autoatención multi-cabeza\n(bidireccional, h = {s.num_heads})", COLORS["self"]),
               (f"FFN (d_ff = {s.d_ff})", COLORS["ffn"])]
    dec_sub = [(f"Autoatención enmascarada\n(causal, h = {s.num_heads})", COLORS["causal"]),
               ("Atención cruzada\n(Q: decodificador; K, V: codificador)", COLORS["cross"]),
               (f"FFN (d_ff = {s.d_ff})", COLORS["ffn"])]
    for x, who in ((xe, "fuente"), (xd, "destino (desplazado)")):
        ax.text(x + w / 2, -0.35, f"ids {who}", ha="center", fontsize=8.5, color=_INK)
        _arrow(ax, x + w / 2, -0.1, x + w / 2, 0.3)
        _box(ax, x, 0.3, w, 0.75, f"Embedding + posición\n(d_model = {s.d_model})", COLORS["embed"])
        _arrow(ax, x + w / 2, 1.05, x + w / 2, 1.6)
    _, enc_top = _draw_stack(ax, xe, 1.6, w, _block_groups(enc_sub, norm_first))
    _frame(ax, xe, 1.6, enc_top, w, f"× {s.num_layers}", left=True)
    dec_boxes, dec_top = _draw_stack(ax, xd, 1.6, w, _block_groups(dec_sub, norm_first))
    _frame(ax, xd, 1.6, dec_top, w, f"× {s.num_decoder_layers}", left=False)
    if norm_first:
        _box(ax, xe, enc_top, w, 0.4, "LayerNorm final", COLORS["norm"])
        _box(ax, xd, dec_top, w, 0.4, "LayerNorm final", COLORS["norm"])
        _arrow(ax, xd + w / 2, dec_top + 0.4, xd + w / 2, dec_top + 0.64)
        enc_top, dec_top = enc_top + 0.4, dec_top + 0.64
    ax.text(xe + w / 2, enc_top + 0.15, "memoria (B, n_fuente, d_model)", ha="center",
            fontsize=8, color=_INK)
    cx, cy, ch = dec_boxes["Atención cruzada\n(Q: decodificador; K, V: codificador)"]
    _arrow(ax, xe + w, enc_top - 0.2, cx, cy + ch / 2, rad=-0.25, color="#238b45", lw=1.6)
    _box(ax, xd, dec_top, w, 0.5, "Lineal → softmax", COLORS["out"])
    ax.text(xd + w / 2, dec_top + 0.8, "probabilidades del siguiente token", ha="center",
            fontsize=8.5, color=_INK)
    top = dec_top + 1.3
    ax.text(xe + w / 2, top + 0.7, "Codificador (encoder)", ha="center", fontsize=11, weight="bold")
    ax.text(xd + w / 2, top + 0.7, "Decodificador (decoder)", ha="center", fontsize=11,
            weight="bold")
    ax.set_ylim(-0.6, top + 1.2)
    fig.set_size_inches(8.6, 0.62 * (top + 1.8))
    ax.text(4.7, top, f"d_model = {s.d_model} · h = {s.num_heads} (d_head = {s.d_head}) · "
            f"d_ff = {s.d_ff} · {'pre-LN' if norm_first else 'post-LN'}", ha="center",
            fontsize=9, color=_INK)
    return fig


def _heads_of(obj) -> tuple[int, int]:
    d_model = _first_attr(obj, _ALIASES["d_model"])
    heads = _first_attr(obj, _ALIASES["num_heads"])
    if d_model is None or heads is None:
        raise TypeError(f"{type(obj).__name__} no tiene d_model y num_heads.")
    return int(d_model), int(heads)


def _split_owner(n: int, d_model: int, num_heads: int, direct: bool) -> np.ndarray:
    """Cabeza a la que va cada elemento de una matriz ``(n, d_model)`` al dividirla."""
    from labcode.numpy_ref.attention import split_heads

    idx = np.arange(n * d_model).reshape(1, n, d_model)
    parts = (idx.reshape(1, num_heads, n, d_model // num_heads) if direct
             else split_heads(idx, num_heads))  # (1, h, n, d_head)
    owner = np.empty(n * d_model, dtype=int)
    for head in range(num_heads):
        owner[parts[0, head].ravel()] = head
    return owner.reshape(n, d_model)


def _split_panel(ax, owner, title, note):
    n, d_model = owner.shape
    cmap = plt.get_cmap("tab10")
    for i in range(n):
        for j in range(d_model):
            ax.add_patch(Rectangle((j, n - 1 - i), 1, 1, facecolor=cmap(owner[i, j] % 10),
                                   edgecolor="white", lw=0.8))
            ax.text(j + 0.5, n - 0.5 - i, str(owner[i, j]), ha="center", va="center",
                    fontsize=7, color="white")
    ax.set_xlim(-1.6, d_model + 0.1)
    ax.set_ylim(-1.6, n + 0.9)
    for i in range(n):
        ax.text(-0.2, n - 0.5 - i, f"pos {i}", ha="right", va="center", fontsize=7)
    ax.text(d_model / 2, n + 0.3, title, ha="center", fontsize=8.5, weight="bold")
    ax.text(d_model / 2, -0.7, note, ha="center", va="center", fontsize=7.5)
    ax.axis("off")


def _mha_steps(b, n, d, h, dh) -> list[tuple[str, str, str]]:
    return [
        ("X", f"(B, n, d_model) = ({b}, {n}, {d})", COLORS["embed"]),
        ("Q = X·W_Q,  K = X·W_K,  V = X·W_V", f"cada una ({b}, {n}, {d}); W: ({d}, {d})",
         COLORS["self"]),
        ("dividir: reshape (B, n, h, d_head) y trasponer", f"({b}, {n}, {h}, {dh}) → "
         f"({b}, {h}, {n}, {dh})", COLORS["ffn"]),
        ("atender en cada cabeza: softmax(Q·Kᵀ / √d_head)", f"pesos ({b}, {h}, {n}, {n})",
         COLORS["causal"]),
        ("pesos · V", f"({b}, {h}, {n}, {dh})", COLORS["causal"]),
        ("unir: trasponer y reshape", f"({b}, {n}, {h}, {dh}) → ({b}, {n}, {d})", COLORS["ffn"]),
        ("salida = concat · W_O", f"({b}, {n}, {d}); W_O: ({d}, {d})", COLORS["out"]),
    ]


def multi_head_diagram(config, n: int = 4, batch: int = 2) -> Figure:
    """Proyecciones Q/K/V y el camino dividir → atender → unir, con las formas escritas.

    A la derecha, qué cabeza recibe cada elemento de una matriz ``(n, d_model)``
    al dividirla bien (``reshape (n, h, d_head)`` y trasponer, con
    :func:`labcode.numpy_ref.attention.split_heads`) y con el error típico del
    ``reshape`` directo a ``(h, n, d_head)``.

    Parameters
    ----------
    config : objeto con ``d_model`` y ``num_heads``
        Por ejemplo :class:`~labcode.numpy_ref.attention.MultiHeadAttentionNumPy` o
        :class:`~labcode.models.seq2seq.TransformerConfig`.
    n, batch : int
        Longitud y lote de ejemplo para escribir las formas.
    """
    d, h = _heads_of(config)
    if d % h:
        raise ValueError(f"multi_head_diagram: d_model={d} no es divisible por num_heads={h}.")
    dh = d // h
    fig = plt.figure(figsize=(11.5, 6.2), layout="constrained", facecolor="white")
    left, right = fig.subfigures(1, 2, width_ratios=[1.15, 1])
    _, ax = _canvas(0, 0, (0, 10), (-0.3, 7.4), ax=left.subplots())
    for k, (title, shape, color) in enumerate(_mha_steps(batch, n, d, h, dh)):
        y = 6.6 - k * 1.0
        _box(ax, 0.3, y, 9.4, 0.62, f"{title}\n{shape}", color, fontsize=8.5)
        if k:
            _arrow(ax, 5.0, y + 1.0, 5.0, y + 0.62)
    ax.text(5.0, 7.35, f"d_model = {d}, h = {h} cabezas, d_head = d_model / h = {dh}",
            ha="center", fontsize=9.5, weight="bold")
    axes = right.subplots(2, 1)
    good = _split_owner(n, d, h, direct=False)
    bad = _split_owner(n, d, h, direct=True)
    mixed = sorted({int(i) for i in np.nonzero(bad == 0)[0]})
    _split_panel(axes[0], good, "Bien: reshape (n, h, d_head) y trasponer",
                 f"cada cabeza recibe {dh} columnas de TODAS las posiciones")
    _split_panel(axes[1], bad, "Mal: reshape directo a (h, n, d_head)",
                 f"la cabeza 0 recibe solo las posiciones {mixed}: mezcla tokens")
    right.suptitle("Cabeza que recibe cada elemento de X (una frase)", fontsize=9.5)
    return fig


def masks_diagram(n: int = 5, length: int = 3, tokens=None) -> Figure:
    """Máscaras de relleno, causal y combinada como rejillas ``(consultas, claves)``.

    Se calculan con :func:`labcode.numpy_ref.attention.length_mask` y
    :func:`labcode.numpy_ref.attention.causal_mask` (celda llena = puede atender).

    Parameters
    ----------
    n : int
        Longitud con relleno.
    length : int
        Tokens reales de la frase (el resto es relleno).
    tokens : list of str, optional
        Etiquetas de las posiciones (por defecto ``t0, t1, ..., <pad>``).
    """
    from labcode.numpy_ref.attention import causal_mask, length_mask

    pad = np.broadcast_to(length_mask([length], n)[0], (n, n))  # (n, n)
    causal = causal_mask(n)
    if tokens is None:
        tokens = [f"t{i}" if i < length else "<pad>" for i in range(n)]
    if len(tokens) != n:
        raise ValueError(f"masks_diagram: se esperaban {n} etiquetas; se recibieron {len(tokens)}.")
    fig, axes = plt.subplots(1, 3, figsize=(11, 4.0), layout="constrained", facecolor="white")
    _grid(axes[0], pad, f"Relleno (padding): {length} tokens reales de {n}", tokens, tokens)
    _grid(axes[1], causal, "Causal: cada consulta ve su pasado", tokens, tokens, "#e6550d")
    _grid(axes[2], pad & causal, "Combinada (relleno Y causal)", tokens, tokens, "#756bb1")
    for ax in axes:
        ax.set_xlabel("clave (key)", fontsize=8)
        ax.set_ylabel("consulta (query)", fontsize=8)
    return fig


def _family_column(ax, title, stack, sizes_text, objective):
    _canvas(0, 0, (0, 10), (2.0, 10), ax=ax)
    ax.text(5, 9.4, title, ha="center", fontsize=10, weight="bold")
    y = 6.9
    for text, color in stack:
        _box(ax, 1.0, y, 8.0, 1.1, text, color, fontsize=8.5)
        y -= 1.7
    ax.text(5, 3.6, sizes_text, ha="center", fontsize=8)
    ax.text(5, 2.7, objective, ha="center", fontsize=8, style="italic")


def families_diagram(bert_config, gpt_config, t5_config, n: int = 5) -> Figure:
    """BERT (solo codificador), GPT (solo decodificador) y T5 (codificador-decodificador).

    Arriba, la pila de cada familia con sus tamaños (leídos de cada
    configuración); abajo, a qué posiciones atiende cada consulta: todo
    (BERT), solo el pasado (GPT), y en T5 el pasado de la salida más toda la
    entrada (atención cruzada).

    Parameters
    ----------
    bert_config, gpt_config, t5_config
        Configuraciones (``BertConfig``, ``GPTConfig`` y una con codificador y
        decodificador: ``TransformerConfig`` o ``transformers.T5Config``).
    n : int
        Longitud de las rejillas de ejemplo.
    """
    from labcode.numpy_ref.attention import causal_mask

    b, g, t = model_sizes(bert_config), model_sizes(gpt_config), model_sizes(t5_config)
    fig = plt.figure(figsize=(12, 6.4), layout="constrained", facecolor="white")
    top, bottom = fig.subfigures(2, 1, height_ratios=[0.8, 1])
    axes = top.subplots(1, 3)
    _family_column(axes[0], "BERT: solo codificador",
                   [(f"Codificador × {b.num_layers}\n(bidireccional)", COLORS["self"])],
                   f"d_model = {b.d_model}, h = {b.num_heads}, capas = {b.num_layers}",
                   "objetivo: rellenar [MASK] (MLM)")
    _family_column(axes[1], "GPT: solo decodificador",
                   [(f"Decodificador × {g.num_layers}\n(causal, sin atención cruzada)",
                     COLORS["causal"])],
                   f"d_model = {g.d_model}, h = {g.num_heads}, capas = {g.num_layers}",
                   "objetivo: predecir el siguiente token")
    _family_column(axes[2], "T5: codificador-decodificador",
                   [(f"Codificador × {t.num_layers}\n(bidireccional)", COLORS["self"]),
                    (f"Decodificador × {t.num_decoder_layers}\n(causal + atención cruzada)",
                     COLORS["cross"])],
                   f"d_model = {t.d_model}, h = {t.num_heads}, "
                   f"capas = {t.num_layers} + {t.num_decoder_layers}",
                   "objetivo: texto a texto")
    grids = bottom.subplots(1, 4)
    full = np.ones((n, n), dtype=bool)
    _grid(grids[0], full, "BERT: cada token ve todos", color=COLORS_GRID["self"])
    _grid(grids[1], causal_mask(n), "GPT: solo el pasado", color=COLORS_GRID["causal"])
    _grid(grids[2], causal_mask(n), "T5, decodificador: su pasado", color=COLORS_GRID["causal"])
    _grid(grids[3], full, "T5, atención cruzada:\ntoda la entrada", color=COLORS_GRID["cross"])
    for ax in grids:
        ax.set_xlabel("clave", fontsize=8)
        ax.set_ylabel("consulta", fontsize=8)
    grids[3].set_xlabel("clave (posición de la entrada)", fontsize=8)
    return fig


COLORS_GRID = {"self": "#3182bd", "causal": "#e6550d", "cross": "#31a354"}


def _residual_block(ax, x, order, title):
    """Un bloque vertical (de abajo arriba) con su conexión residual de x a la suma."""
    ax.text(x + 1.6, 7.5, title, ha="center", fontsize=10, weight="bold")
    ax.text(x + 1.6, 0.2, "x (entrada del bloque)", ha="center", fontsize=8.5)
    y = 1.0
    _arrow(ax, x + 1.6, 0.5, x + 1.6, y)
    add_y = None
    for text, color in order:
        _box(ax, x, y, 3.2, 0.8, text, color)
        if text.startswith("Sumar"):
            add_y = y + 0.4
        _arrow(ax, x + 1.6, y + 0.8, x + 1.6, y + 1.4)
        y += 1.4
    ax.text(x + 1.6, y + 0.1, "salida", ha="center", fontsize=8.5)
    ax.plot([x + 1.6, x - 0.4, x - 0.4], [0.75, 0.75, add_y], color="#555555", lw=1.2)
    _arrow(ax, x - 0.4, add_y, x, add_y, color="#555555")
    ax.text(x - 0.5, (0.75 + add_y) / 2, "residual", rotation=90, ha="right", va="center",
            fontsize=8, color="#555555")


def norm_placement_diagram(config=None) -> Figure:
    """Bloque post-LN (el artículo original) frente a pre-LN (GPT-2 y casi todos hoy).

    Parameters
    ----------
    config : objeto con ``norm_first``, optional
        Si se da, se señala cuál de los dos usa el modelo del capítulo.
    """
    fig, ax = _canvas(9.0, 4.6, (-1.2, 11.5), (0, 8.0))
    post = [("Subcapa\n(atención o FFN)", COLORS["self"]), ("Sumar (+)", "white"),
            ("LayerNorm", COLORS["norm"])]
    pre = [("LayerNorm", COLORS["norm"]), ("Subcapa\n(atención o FFN)", COLORS["self"]),
           ("Sumar (+)", "white")]
    _residual_block(ax, 0.6, post, "Post-LN: x + subcapa, luego normalizar")
    _residual_block(ax, 7.0, pre, "Pre-LN: normalizar, subcapa, x + …")
    ax.text(2.2, 6.95, "LayerNorm(x + Subcapa(x))", ha="center", fontsize=8.5, family="monospace")
    ax.text(8.6, 6.95, "x + Subcapa(LayerNorm(x))", ha="center", fontsize=8.5, family="monospace")
    if config is not None and hasattr(config, "norm_first"):
        x = 8.6 if config.norm_first else 2.2
        ax.text(x, 6.4, "↑ el modelo de este capítulo", ha="center", fontsize=8.5,
                color="#b30000", weight="bold")
    return fig


def kv_cache_diagram(config, prompt_len: int = 4, new_tokens: int = 3,
                     bytes_per_value: int = 4) -> Figure:
    """La caché KV a lo largo de los pasos de decodificación.

    Cada fila es un paso (``forward_cached``) y cada columna una posición: en
    gris, las claves y valores que ya estaban en la caché; en naranja, lo que
    se calcula en ese paso. Debajo, la memoria de la caché por token, calculada
    con la configuración: ``2 · capas · d_model`` valores.

    Parameters
    ----------
    config : GPTConfig (u otra configuración con d_model, cabezas y capas)
    prompt_len, new_tokens : int
        Longitud del *prompt* y tokens generados en el dibujo.
    bytes_per_value : int
        Bytes por número (4 en ``float32``).
    """
    s = model_sizes(config)
    total = prompt_len + new_tokens
    fig, ax = _canvas(10.5, 1.2 + 0.8 * (new_tokens + 1), (-4.6, total + 4.6),
                      (-1.9, new_tokens + 1.4))
    for step in range(new_tokens + 1):
        row = new_tokens - step
        known = prompt_len + step  # posiciones con K, V tras este paso
        for pos in range(total):
            if pos < known - (prompt_len if step == 0 else 1):
                color, text = COLORS["cached"], "K,V"
            elif pos < known:
                color, text = COLORS["new"], "q,k,v"
            else:
                color, text = "white", ""
            ax.add_patch(Rectangle((pos, row), 0.92, 0.8, facecolor=color, edgecolor=_INK,
                                   lw=0.7))
            ax.text(pos + 0.46, row + 0.4, text, ha="center", va="center", fontsize=7)
        label = "paso 0: prompt" if step == 0 else f"paso {step}"
        ax.text(-0.3, row + 0.4, label, ha="right", va="center", fontsize=8.5)
        queries = prompt_len if step == 0 else 1
        ax.text(total + 0.2, row + 0.4, f"{queries} consulta(s) × {known} claves",
                ha="left", va="center", fontsize=8)
    for pos in range(total):
        ax.text(pos + 0.46, new_tokens + 1.05, str(pos), ha="center", fontsize=7)
    ax.text(total / 2, new_tokens + 1.3, "posición", ha="center", va="bottom", fontsize=8)
    per_token = 2 * s.num_layers * s.d_model * bytes_per_value
    ax.text(total / 2, -0.6, f"caché por capa: K y V de forma (B, h, P, d_head) = "
            f"(1, {s.num_heads}, P, {s.d_head})", ha="center", fontsize=8.5)
    ax.text(total / 2, -1.3, f"por token: 2 × {s.num_layers} capas × {s.d_model} = "
            f"{2 * s.num_layers * s.d_model} números = {per_token / 1024:.0f} KiB "
            f"con {bytes_per_value} bytes", ha="center", fontsize=8.5)
    return fig


def _vit_image(ax, config, image):
    size, p = config.image_size, config.patch_size
    img = np.zeros((size, size)) if image is None else np.asarray(image, dtype=float)
    if img.ndim == 3:
        img = img.mean(axis=0) if img.shape[0] == config.in_channels else img.mean(axis=-1)
    if img.shape != (size, size):
        raise ValueError(f"vit_diagram: la imagen debe medir {(size, size)}; "
                         f"se recibió {img.shape}.")
    ax.imshow(img, cmap="gray_r", extent=(0, size, size, 0))
    per_side = size // p
    for k in range(per_side + 1):
        ax.axhline(k * p, color="#e6550d", lw=1.2)
        ax.axvline(k * p, color="#e6550d", lw=1.2)
    for r in range(per_side):
        for c in range(per_side):
            ax.text(c * p + p / 2, r * p + p / 2, str(r * per_side + c), ha="center",
                    va="center", fontsize=7 if per_side <= 6 else 5, color="#08519c",
                    weight="bold", bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none",
                                             alpha=0.85))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"imagen {size}×{size} → {per_side * per_side} parches de {p}×{p}", fontsize=9)


def vit_diagram(config, image=None) -> Figure:
    """Un ViT: la imagen se corta en parches, cada parche es un token y ``[CLS]`` clasifica.

    Parameters
    ----------
    config : ViTConfig
        De ella salen el tamaño de imagen y de parche, ``d_model``, cabezas,
        capas y número de clases.
    image : array_like, optional
        Una imagen ``(image_size, image_size)`` que dibujar debajo de la rejilla.
    """
    s = model_sizes(config)
    p, c = config.patch_size, config.in_channels
    num_patches = (config.image_size // p) ** 2
    fig = plt.figure(figsize=(10.5, 4.2), layout="constrained", facecolor="white")
    ax_img, ax = fig.subplots(1, 2, width_ratios=[1, 2.3])
    _vit_image(ax_img, config, image)
    shown = list(range(num_patches)) if num_patches <= 8 else [0, 1, 2, None, num_patches - 1]
    labels = ["[CLS]"] + ["…" if k is None else f"p{k}" for k in shown]
    for i, lab in enumerate(labels):
        color = COLORS["out"] if lab == "[CLS]" else COLORS["embed"]
        _box(ax, 0.3 + i * 1.25, 1.0, 1.05, 0.9, lab, color, fontsize=7.5)
        _arrow(ax, 0.82 + i * 1.25, 1.9, 0.82 + i * 1.25, 3.0)
    width = 0.3 + len(labels) * 1.25
    right = max(width, 9.5) + 0.4
    _canvas(0, 0, (0, right), (0, 9.2), ax=ax)
    ax.text(right / 2, 0.35, f"{num_patches} parches aplanados ({p}·{p}·{c} = {p * p * c} "
            f"valores) → lineal a d_model = {s.d_model}; + [CLS]; + posición "
            f"({num_patches + 1} posiciones)", ha="center", fontsize=8)
    _box(ax, 0.3, 3.0, width - 0.5, 1.6, f"Codificador Transformer × {s.num_layers}\n"
         f"(h = {s.num_heads}, d_ff = {s.d_ff}, atención bidireccional)", COLORS["self"])
    _arrow(ax, 0.82, 4.6, 0.82, 5.6)
    _box(ax, 0.3, 5.6, 1.05, 0.9, "[CLS]", COLORS["out"], fontsize=7.5)
    _arrow(ax, 1.35, 6.05, 3.2, 6.05)
    _box(ax, 3.2, 5.6, 5.2, 0.9, f"LayerNorm → lineal → {config.num_classes} clases",
         COLORS["ffn"])
    ax.text(right / 2, 8.6, "Solo la salida de [CLS] decide la clase: resume la imagen "
            "atendiendo a todos los parches", ha="center", fontsize=8.5)
    return fig
