"""Figuras compartidas por todos los capítulos (un único sitio).

Todas las funciones devuelven la figura o los ejes de Matplotlib para que el
capítulo pueda retocarlos; ninguna llama a ``plt.show()``.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

from labcode.utils.errors import LabcodeValueError

#: Mapa de colores por defecto para pesos de atención (perceptualmente uniforme).
ATTENTION_CMAP = "viridis"


def use_book_style() -> None:
    """Estilo común de las figuras del libro (tamaño, rejilla, resolución)."""
    mpl.rcParams.update(
        {
            "figure.figsize": (6.4, 4.0),
            "figure.dpi": 110,
            "savefig.dpi": 110,
            "axes.grid": False,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "font.size": 10,
            "axes.titlesize": 11,
            "figure.constrained_layout.use": True,
        }
    )


def _as_2d(weights) -> np.ndarray:
    arr = np.asarray(weights, dtype=float)
    if arr.ndim != 2:
        raise LabcodeValueError(
            f"se esperaba una matriz 2D (n_q, n_k); se recibió la forma {arr.shape}."
        )
    return arr


def attention_heatmap(
    weights,
    x_labels: Sequence[str] | None = None,
    y_labels: Sequence[str] | None = None,
    ax: plt.Axes | None = None,
    title: str | None = None,
    annotate: bool | None = None,
    fmt: str = ".2f",
    cmap: str = ATTENTION_CMAP,
    vmin: float | None = 0.0,
    vmax: float | None = None,
    colorbar: bool = True,
    xlabel: str = "clave (key)",
    ylabel: str = "consulta (query)",
) -> plt.Axes:
    """Mapa de calor de una matriz de atención (filas = consultas, columnas = claves).

    Parameters
    ----------
    weights:
        Matriz ``(n_q, n_k)`` (NumPy o tensor de PyTorch).
    x_labels, y_labels:
        Etiquetas de claves y consultas (por defecto ``y_labels = x_labels``).
    annotate:
        Escribe el valor en cada celda. Por defecto, sólo si la matriz es
        pequeña (≤ 12 × 12).
    """
    if hasattr(weights, "detach"):
        weights = weights.detach().cpu().numpy()
    w = _as_2d(weights)
    n_q, n_k = w.shape
    if x_labels is not None and len(x_labels) != n_k:
        raise LabcodeValueError(f"x_labels tiene {len(x_labels)} etiquetas; se esperaban {n_k}.")
    if y_labels is None and x_labels is not None and n_q == n_k:
        y_labels = x_labels
    if y_labels is not None and len(y_labels) != n_q:
        raise LabcodeValueError(f"y_labels tiene {len(y_labels)} etiquetas; se esperaban {n_q}.")
    if ax is None:
        _, ax = plt.subplots(figsize=(0.55 * n_k + 2.2, 0.5 * n_q + 1.4))
    im = ax.imshow(w, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    if x_labels is not None:
        ax.set_xticks(range(n_k), x_labels, rotation=45, ha="right")
    if y_labels is not None:
        ax.set_yticks(range(n_q), y_labels)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if annotate is None:
        annotate = n_q <= 12 and n_k <= 12
    if annotate:
        _annotate_cells(ax, w, fmt, im.get_clim())
    if colorbar:
        ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return ax



def _annotate_cells(ax: plt.Axes, w: np.ndarray, fmt: str, clim: tuple[float, float]) -> None:
    """Escribe el valor de cada celda, en negro sobre las claras y en blanco sobre las oscuras."""
    lo, hi = clim
    mid = lo + 0.5 * (hi - lo)
    for i, j in np.ndindex(*w.shape):
        ax.text(j, i, format(w[i, j], fmt), ha="center", va="center", fontsize=8,
                color="black" if w[i, j] > mid else "white")


def heads_grid(
    weights,
    labels: Sequence[str] | None = None,
    ncols: int = 4,
    titles: Sequence[str] | None = None,
    annotate: bool = False,
    suptitle: str | None = None,
) -> plt.Figure:
    """Todas las cabezas de una capa, lado a lado.

    ``weights`` tiene forma ``(num_heads, n_q, n_k)``.
    """
    if hasattr(weights, "detach"):
        weights = weights.detach().cpu().numpy()
    w = np.asarray(weights, dtype=float)
    if w.ndim != 3:
        raise LabcodeValueError(
            f"se esperaba un array (num_heads, n_q, n_k); se recibió la forma {w.shape}."
        )
    h = w.shape[0]
    ncols = max(1, min(ncols, h))
    nrows = int(np.ceil(h / ncols))
    side = 2.2 if labels is None else 0.32 * len(labels) + 1.6
    fig, axes = plt.subplots(nrows, ncols, figsize=(side * ncols, side * nrows), squeeze=False)
    for idx, ax in enumerate(axes.flat):
        if idx >= h:
            ax.axis("off")
            continue
        attention_heatmap(
            w[idx],
            x_labels=labels,
            ax=ax,
            annotate=annotate,
            colorbar=False,
            vmax=1.0,
            title=titles[idx] if titles else f"cabeza {idx}",
            xlabel="",
            ylabel="",
        )
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def matrix_heatmap(
    matrix,
    ax: plt.Axes | None = None,
    title: str | None = None,
    xlabel: str = "",
    ylabel: str = "",
    cmap: str = "RdBu_r",
    symmetric: bool = True,
) -> plt.Axes:
    """Mapa de calor de una matriz cualquiera (tabla posicional, pesos...)."""
    if hasattr(matrix, "detach"):
        matrix = matrix.detach().cpu().numpy()
    m = _as_2d(matrix)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    if symmetric:
        lim = float(np.abs(m).max()) or 1.0
        im = ax.imshow(m, cmap=cmap, vmin=-lim, vmax=lim, aspect="auto")
    else:
        im = ax.imshow(m, cmap=cmap, aspect="auto")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return ax


def mask_heatmap(
    mask,
    x_labels: Sequence[str] | None = None,
    y_labels: Sequence[str] | None = None,
    ax: plt.Axes | None = None,
    title: str | None = None,
    xlabel: str = "clave (key)",
    ylabel: str = "consulta (query)",
) -> plt.Axes:
    """Máscara booleana ``(n_q, n_k)``: celdas oscuras = puede atender (``True``).

    Cada celda prohibida (``False``) lleva además una «×» para que la figura se
    entienda también en blanco y negro.
    """
    if hasattr(mask, "detach"):
        mask = mask.detach().cpu().numpy()
    m = np.asarray(mask)
    if m.ndim != 2 or m.dtype != bool:
        raise LabcodeValueError(
            "mask_heatmap: se esperaba una máscara booleana 2D (n_q, n_k); se recibió "
            f"forma {m.shape} y dtype {m.dtype}."
        )
    n_q, n_k = m.shape
    if ax is None:
        _, ax = plt.subplots(figsize=(0.4 * n_k + 1.6, 0.4 * n_q + 1.2))
    ax.imshow(m, cmap="Blues", vmin=-0.3, vmax=1.0, aspect="equal")
    for i, j in zip(*np.nonzero(~m), strict=True):
        ax.text(j, i, "×", ha="center", va="center", fontsize=8, color="0.45")
    if x_labels is not None:
        ax.set_xticks(range(n_k), x_labels, rotation=45, ha="right")
    if y_labels is None and x_labels is not None and n_q == n_k:
        y_labels = x_labels
    if y_labels is not None:
        ax.set_yticks(range(n_q), y_labels)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return ax


def grouped_barh(
    labels: Sequence[str],
    series: dict[str, Sequence[float]],
    ax: plt.Axes | None = None,
    title: str | None = None,
    xlabel: str = "",
    annotate: bool = True,
    fmt: str = "{:g}",
) -> plt.Axes:
    """Barras horizontales agrupadas: una fila por etiqueta, una barra por serie.

    Parameters
    ----------
    labels:
        Etiquetas de las filas (de arriba abajo).
    series:
        ``{nombre de la serie: valores}``, cada uno con ``len(labels)`` valores.
    annotate:
        Escribe el valor al final de cada barra.
    """
    n = len(labels)
    for name, values in series.items():
        if len(values) != n:
            raise LabcodeValueError(
                f"grouped_barh: la serie {name!r} tiene {len(values)} valores; "
                f"se esperaban {n} (uno por etiqueta)."
            )
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 0.3 * n * max(1, len(series)) + 1.2))
    k = max(1, len(series))
    height = 0.8 / k
    y = np.arange(n)
    for idx, (name, values) in enumerate(series.items()):
        pos = y - 0.4 + height * (idx + 0.5)
        bars = ax.barh(pos, values, height=height * 0.95, label=name,
                       hatch=[None, "//", "..", "xx"][idx % 4])
        if annotate:
            for bar, v in zip(bars, values, strict=True):
                ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, " " + fmt.format(v),
                        va="center", fontsize=8)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    if title:
        ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    return ax


def loss_curves(
    steps: Sequence[float],
    curves: dict[str, Sequence[float]],
    ax: plt.Axes | None = None,
    title: str | None = None,
    xlabel: str = "paso de entrenamiento",
    ylabel: str = "pérdida (entropía cruzada)",
) -> plt.Axes:
    """Curvas de pérdida (entrenamiento, validación...) frente al paso.

    ``curves`` es ``{nombre: valores}``, cada uno con ``len(steps)`` valores. Cada
    curva usa un marcador distinto para leerse también en blanco y negro.
    """
    if ax is None:
        _, ax = plt.subplots()
    markers = ["o", "s", "^", "D"]
    for idx, (name, values) in enumerate(curves.items()):
        if len(values) != len(steps):
            raise LabcodeValueError(
                f"loss_curves: la curva {name!r} tiene {len(values)} valores; "
                f"se esperaban {len(steps)}."
            )
        ax.plot(steps, values, marker=markers[idx % 4], markersize=4, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    ax.legend()
    return ax


def confusion_matrix_plot(
    cm,
    labels: Sequence[str] = ("negativa", "positiva"),
    ax: plt.Axes | None = None,
    title: str | None = None,
    xlabel: str = "clase predicha",
    ylabel: str = "clase verdadera",
) -> plt.Axes:
    """Matriz de confusión ``(k, k)`` (filas = clase verdadera) con los recuentos escritos.

    Cada celda lleva el recuento y el porcentaje de su fila, para leerse también
    en blanco y negro.
    """
    m = np.asarray(cm)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] != len(labels):
        raise LabcodeValueError(
            "confusion_matrix_plot: se esperaba una matriz cuadrada "
            f"({len(labels)}, {len(labels)}); se recibió forma {m.shape}."
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(4.2, 3.6))
    rows = m.sum(axis=1, keepdims=True)
    frac = np.divide(m, rows, out=np.zeros(m.shape, dtype=float), where=rows > 0)
    ax.imshow(frac, cmap="Blues", vmin=0.0, vmax=1.0)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            color = "white" if frac[i, j] > 0.6 else "black"
            ax.text(j, i, f"{int(m[i, j])}\n({100 * frac[i, j]:.0f} %)", ha="center",
                    va="center", color=color, fontsize=10)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return ax


# ---------------------------------------------------------------------------
# Capítulo 11 (ViT): parches, posiciones aprendidas y atención sobre imágenes
# ---------------------------------------------------------------------------


def image_patches(image, patch_size: int, title: str | None = None) -> plt.Figure:
    """Imagen en escala de grises ``(H, W)`` junto a sus parches ``P x P`` separados.

    A la izquierda, la imagen con la rejilla de parches y su índice (orden de
    filas); a la derecha, los parches sueltos en ese mismo orden.
    """
    img = np.asarray(image, dtype=float)
    p = int(patch_size)
    if img.ndim != 2 or img.shape[0] % p or img.shape[1] % p:
        raise LabcodeValueError(
            "image_patches: se esperaba una imagen (H, W) con H y W divisibles por "
            f"patch_size={p}; se recibió forma {img.shape}."
        )
    gh, gw = img.shape[0] // p, img.shape[1] // p
    fig = plt.figure(figsize=(8.0, 3.8))
    sub = fig.subfigures(1, 2, width_ratios=[1, 1.2])
    ax = sub[0].subplots()
    ax.imshow(img, cmap="gray_r")
    for k in range(1, gh):
        ax.axhline(k * p - 0.5, color="tab:red", lw=1.5)
    for k in range(1, gw):
        ax.axvline(k * p - 0.5, color="tab:red", lw=1.5)
    for i in range(gh):
        for j in range(gw):
            ax.text(j * p - 0.35, i * p - 0.2, str(i * gw + j), color="tab:red", fontsize=8,
                    va="top", ha="left")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title or f"imagen y rejilla de {gh}x{gw} parches")
    axes = sub[1].subplots(gh, gw, gridspec_kw={"wspace": 0.08, "hspace": 0.08})
    vmin, vmax = img.min(), img.max()
    for i in range(gh):
        for j in range(gw):
            a = np.atleast_1d(axes).reshape(gh, gw)[i, j]
            a.imshow(img[i * p:(i + 1) * p, j * p:(j + 1) * p], cmap="gray_r", vmin=vmin,
                     vmax=vmax)
            a.set_xticks([])
            a.set_yticks([])
            for spine in a.spines.values():  # marco completo: se ven también los parches vacíos
                spine.set_visible(True)
                spine.set_color("0.6")
            a.set_title(str(i * gw + j), fontsize=7, pad=1)
    sub[1].suptitle("parches (tokens) en orden", fontsize=10)
    return fig


def position_similarity_grid(sim, title: str | None = None) -> plt.Figure:
    """Figura clásica de ViT: similitud coseno de la posición de cada parche con las demás.

    ``sim`` tiene forma ``(gh, gw, gh, gw)``; el recuadro ``(i, j)`` muestra la
    similitud de la posición del parche ``(i, j)`` con todas las posiciones,
    dibujada sobre la rejilla de parches.
    """
    s = np.asarray(sim, dtype=float)
    if s.ndim != 4 or s.shape[:2] != s.shape[2:]:
        raise LabcodeValueError(
            "position_similarity_grid: se esperaba una forma (gh, gw, gh, gw); "
            f"se recibió {s.shape}."
        )
    gh, gw = s.shape[:2]
    fig, axes = plt.subplots(gh, gw, figsize=(1.15 * gw + 1.0, 1.15 * gh),
                             squeeze=False)
    im = None
    for i in range(gh):
        for j in range(gw):
            im = axes[i, j].imshow(s[i, j], cmap=ATTENTION_CMAP, vmin=-1.0, vmax=1.0)
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
        axes[i, 0].set_ylabel(f"fila {i + 1}", fontsize=8)
    for j in range(gw):
        axes[-1, j].set_xlabel(f"col. {j + 1}", fontsize=8)
    fig.colorbar(im, ax=axes, shrink=0.8, label="similitud coseno")
    if title:
        fig.suptitle(title)
    return fig


def attention_on_images(images, maps, labels: Sequence[str] | None = None,
                        alpha: float = 0.55) -> plt.Figure:
    """Dígitos (fila de arriba) y su mapa de atención ``(gh, gw)`` (abajo).

    ``images`` es ``(n, H, W)`` y ``maps`` ``(n, gh, gw)`` (por ejemplo, la atención
    del ``[CLS]`` sobre los parches); cada mapa se amplía al tamaño de la imagen y
    el trazo del dígito se dibuja encima como contorno (``alpha`` fija el nivel del
    contorno como fracción del rango de intensidades).
    """
    imgs = np.asarray(images, dtype=float)
    m = np.asarray(maps, dtype=float)
    if imgs.ndim != 3 or m.ndim != 3 or len(imgs) != len(m):
        raise LabcodeValueError(
            "attention_on_images: se esperaban images (n, H, W) y maps (n, gh, gw) con el "
            f"mismo n; se recibió {imgs.shape} y {m.shape}."
        )
    n, H, W = imgs.shape
    fig, axes = plt.subplots(2, n, figsize=(1.5 * n, 3.3), squeeze=False)
    for k in range(n):
        axes[0, k].imshow(imgs[k], cmap="gray_r")
        if labels is not None:
            axes[0, k].set_title(str(labels[k]), fontsize=9)
        up = np.kron(m[k], np.ones((H // m.shape[1], W // m.shape[2])))
        axes[1, k].imshow(up, cmap="inferno")
        # el trazo del dígito, como contorno sobre el mapa de atención
        level = imgs[k].min() + alpha * (imgs[k].max() - imgs[k].min())
        axes[1, k].contour(imgs[k], levels=[level], colors="cyan", linewidths=1.2)
        for a in axes[:, k]:
            a.set_xticks([])
            a.set_yticks([])
    axes[0, 0].set_ylabel("imagen", fontsize=9)
    axes[1, 0].set_ylabel("atención", fontsize=9)
    return fig
