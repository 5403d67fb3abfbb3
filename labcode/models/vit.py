"""Vision Transformer (ViT) pequeño, entrenable en CPU, y líneas base para comparar.

Idea de :cite:`dosovitskiy2020image` («una imagen vale 16x16 palabras»): se corta
la imagen en parches cuadrados que no se solapan, cada parche se aplana y se
proyecta linealmente a ``d_model`` (un «token»), se antepone un *token* de clase
(``[CLS]``), se suman posiciones aprendidas y se aplica un encoder Transformer
pre-LN con GELU. La clasificación se hace con la salida final del ``[CLS]``.

Piezas:

- :func:`patchify` / :func:`unpatchify`: imagen ``(B, C, H, W)`` ↔ parches ``(B, N, C*P*P)``.
- :class:`PatchEmbedding`: proyección de parches, con una convolución de paso
  ``P`` (``method="conv"``) o con :func:`patchify` + ``nn.Linear`` (``method="linear"``);
  ambas son la misma operación (:func:`copy_patch_weights` copia los pesos).
- :class:`ViTConfig` y :class:`ViT`: el modelo completo, construido con
  :class:`labcode.nn.blocks.TransformerEncoderBlock` y
  :class:`labcode.nn.positional.LearnedPositionalEmbedding`.
- El *attention rollout* :cite:`abnar2020quantifying` de sus mapas está en
  :func:`labcode.analysis.attention_maps.attention_rollout`.
- :func:`load_digits_dataset`: los dígitos 8x8 de scikit-learn (1797 imágenes).
- :class:`MLPBaseline` y :class:`SmallCNN`: líneas base; :func:`train_model`,
  :func:`train_vit` y :func:`evaluate_accuracy`: un mismo bucle para los tres.

Notación de formas: ``B`` lote, ``C`` canales, ``H, W`` alto y ancho, ``P`` lado
del parche, ``N = (H/P)(W/P)`` número de parches, ``T = N + 1`` longitud de la
secuencia con el ``[CLS]``, ``D = d_model``, ``nh`` cabezas.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from labcode.nn.blocks import TransformerEncoderBlock
from labcode.nn.positional import LearnedPositionalEmbedding
from labcode.utils.errors import LabcodeTypeError, LabcodeValueError
from labcode.utils.runtime import progress

__all__ = [
    "patchify",
    "unpatchify",
    "PatchEmbedding",
    "copy_patch_weights",
    "ViTConfig",
    "ViT",
    "DigitsData",
    "load_digits_dataset",
    "MLPBaseline",
    "SmallCNN",
    "TrainConfig",
    "TrainHistory",
    "evaluate_accuracy",
    "train_model",
    "train_vit",
    "count_parameters",
    "VIT_DIGITS_CONFIG",
    "VIT_DIGITS_TRAIN_CONFIG",
]


# ---------------------------------------------------------------------------
# Comprobaciones
# ---------------------------------------------------------------------------


def _check_positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise LabcodeValueError(f"{name} debe ser un entero positivo; se recibió {value!r}.")
    return int(value)


def _check_images(
    name: str, images, in_channels: int | None = None, image_size: int | None = None
) -> torch.Tensor:
    if not isinstance(images, torch.Tensor):
        raise LabcodeTypeError(
            f"{name}: se esperaba un torch.Tensor (B, C, H, W); se recibió "
            f"{type(images).__name__}."
        )
    if images.dim() != 4:
        hint = " (para una sola imagen use images[None]; sin canal, images.unsqueeze(1))"
        raise LabcodeValueError(
            f"{name}: se esperaban imágenes con forma (B, C, H, W); se recibió la forma "
            f"{tuple(images.shape)}{hint}."
        )
    if in_channels is not None and images.shape[1] != in_channels:
        raise LabcodeValueError(
            f"{name}: se esperaban {in_channels} canal(es) (B, {in_channels}, H, W); se "
            f"recibió la forma {tuple(images.shape)}."
        )
    if image_size is not None and tuple(images.shape[2:]) != (image_size, image_size):
        raise LabcodeValueError(
            f"{name}: se esperaban imágenes de {image_size}x{image_size}; se recibió la "
            f"forma {tuple(images.shape)}."
        )
    if not images.is_floating_point():
        raise LabcodeTypeError(
            f"{name}: se esperaban imágenes de tipo float; se recibió {images.dtype} "
            "(use images.float())."
        )
    return images


def _check_divisible(name: str, size: int, patch_size: int) -> None:
    if size % patch_size != 0:
        raise LabcodeValueError(
            f"{name}: el tamaño de la imagen ({size}) debe ser divisible por el tamaño del "
            f"parche ({patch_size}); {size} % {patch_size} = {size % patch_size}."
        )


# ---------------------------------------------------------------------------
# Parches
# ---------------------------------------------------------------------------


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Corta las imágenes en parches cuadrados sin solape y los aplana.

    Los parches se recorren por filas (de izquierda a derecha y de arriba abajo),
    y cada parche se aplana en el orden ``(C, P, P)`` —el mismo que
    ``torch.nn.functional.unfold`` y que los pesos de una ``nn.Conv2d``—, de modo
    que ``conv.weight.reshape(D, -1)`` actúa directamente sobre cada fila.

    Parameters
    ----------
    images : torch.Tensor
        Imágenes ``(B, C, H, W)`` de tipo float.
    patch_size : int
        Lado ``P`` del parche; debe dividir a ``H`` y a ``W``.

    Returns
    -------
    torch.Tensor
        Parches ``(B, N, C*P*P)`` con ``N = (H/P)*(W/P)``.

    Raises
    ------
    TypeError
        Si ``images`` no es un tensor float.
    ValueError
        Si la forma no es ``(B, C, H, W)`` o ``P`` no divide a ``H`` o a ``W``.
    """
    p = _check_positive_int("patch_size", patch_size)
    images = _check_images("patchify", images)
    B, C, H, W = images.shape
    _check_divisible("patchify (alto)", H, p)
    _check_divisible("patchify (ancho)", W, p)
    x = images.reshape(B, C, H // p, p, W // p, p)  # (B, C, gh, P, gw, P)
    x = x.permute(0, 2, 4, 1, 3, 5)  # (B, gh, gw, C, P, P)
    return x.reshape(B, (H // p) * (W // p), C * p * p)  # (B, N, C*P*P)


def unpatchify(
    patches: torch.Tensor, patch_size: int, image_size: int | tuple[int, int], in_channels: int = 1
) -> torch.Tensor:
    """Inversa de :func:`patchify`: recompone las imágenes a partir de los parches.

    Parameters
    ----------
    patches : torch.Tensor
        ``(B, N, C*P*P)``.
    patch_size : int
        Lado ``P`` del parche.
    image_size : int o (int, int)
        ``H`` (y ``W``) de la imagen original.
    in_channels : int
        Número de canales ``C``.

    Returns
    -------
    torch.Tensor
        ``(B, C, H, W)``.

    Raises
    ------
    ValueError
        Si la forma de ``patches`` no corresponde a esos tamaños.
    """
    p = _check_positive_int("patch_size", patch_size)
    H, W = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    C = _check_positive_int("in_channels", in_channels)
    _check_divisible("unpatchify (alto)", H, p)
    _check_divisible("unpatchify (ancho)", W, p)
    gh, gw = H // p, W // p
    if not isinstance(patches, torch.Tensor) or patches.dim() != 3 or tuple(
        patches.shape[1:]
    ) != (gh * gw, C * p * p):
        shape = tuple(patches.shape) if isinstance(patches, torch.Tensor) else patches
        raise LabcodeValueError(
            f"unpatchify: se esperaban parches (B, {gh * gw}, {C * p * p}); se recibió {shape}."
        )
    B = patches.shape[0]
    x = patches.reshape(B, gh, gw, C, p, p).permute(0, 3, 1, 4, 2, 5)  # (B, C, gh, P, gw, P)
    return x.reshape(B, C, H, W)


class PatchEmbedding(nn.Module):
    """Proyección lineal de parches: ``(B, C, H, W)`` → ``(B, N, D)``.

    Dos implementaciones de la misma operación:

    - ``method="conv"`` (la habitual): ``nn.Conv2d(C, D, kernel_size=P, stride=P)``.
      Con paso igual al tamaño del núcleo, la convolución ve cada parche una sola vez
      y calcula exactamente ``W · vec(parche) + b``.
    - ``method="linear"``: :func:`patchify` y después ``nn.Linear(C*P*P, D)``; es la
      descripción literal del artículo.

    Parameters
    ----------
    image_size : int
        Lado de la imagen (cuadrada).
    patch_size : int
        Lado del parche; debe dividir a ``image_size``.
    in_channels : int
        Canales de la imagen.
    d_model : int
        Dimensión ``D`` de cada *token*.
    method : {"conv", "linear"}
        Implementación.

    Raises
    ------
    ValueError
        Si algún tamaño no es un entero positivo, ``patch_size`` no divide a
        ``image_size`` o ``method`` no es válido.
    """

    def __init__(
        self,
        image_size: int,
        patch_size: int,
        in_channels: int,
        d_model: int,
        method: str = "conv",
    ):
        super().__init__()
        self.image_size = _check_positive_int("image_size", image_size)
        self.patch_size = _check_positive_int("patch_size", patch_size)
        self.in_channels = _check_positive_int("in_channels", in_channels)
        self.d_model = _check_positive_int("d_model", d_model)
        _check_divisible("PatchEmbedding", self.image_size, self.patch_size)
        if method not in ("conv", "linear"):
            raise LabcodeValueError(
                f"PatchEmbedding: method debe ser 'conv' o 'linear'; se recibió {method!r}."
            )
        self.method = method
        self.grid_size = self.image_size // self.patch_size
        self.num_patches = self.grid_size**2
        self.patch_dim = self.in_channels * self.patch_size**2
        if method == "conv":
            self.proj = nn.Conv2d(
                self.in_channels, self.d_model, kernel_size=self.patch_size, stride=self.patch_size
            )
        else:
            self.proj = nn.Linear(self.patch_dim, self.d_model)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` → ``(B, N, D)`` (parches en orden de filas)."""
        images = _check_images(
            "PatchEmbedding", images, in_channels=self.in_channels, image_size=self.image_size
        )
        if self.method == "conv":
            x = self.proj(images)  # (B, D, gh, gw)
            return x.flatten(2).transpose(1, 2)  # (B, N, D)
        return self.proj(patchify(images, self.patch_size))  # (B, N, D)

    def extra_repr(self) -> str:
        return (
            f"image_size={self.image_size}, patch_size={self.patch_size}, "
            f"num_patches={self.num_patches}, method={self.method!r}"
        )


@torch.no_grad()
def copy_patch_weights(src: PatchEmbedding, dst: PatchEmbedding) -> PatchEmbedding:
    """Copia los pesos de ``src`` en ``dst`` (entre ``"conv"`` y ``"linear"``).

    El núcleo de la convolución ``(D, C, P, P)`` aplanado es la matriz ``(D, C*P*P)``
    de la capa lineal.

    Returns
    -------
    PatchEmbedding
        ``dst``, con los pesos copiados.

    Raises
    ------
    ValueError
        Si los dos módulos no tienen los mismos tamaños.
    """
    for attr in ("image_size", "patch_size", "in_channels", "d_model"):
        if getattr(src, attr) != getattr(dst, attr):
            raise LabcodeValueError(
                f"copy_patch_weights: {attr} distinto ({getattr(src, attr)} frente a "
                f"{getattr(dst, attr)})."
            )
    dst.proj.weight.copy_(src.proj.weight.reshape(dst.proj.weight.shape))
    dst.proj.bias.copy_(src.proj.bias)
    return dst


# ---------------------------------------------------------------------------
# ViT
# ---------------------------------------------------------------------------


@dataclass
class ViTConfig:
    """Hiperparámetros del :class:`ViT`.

    Los valores por defecto son los del capítulo (dígitos 8x8, parches 2x2 → 16
    parches + ``[CLS]``). ViT-B/16 sería ``image_size=224, patch_size=16,
    in_channels=3, d_model=768, num_heads=12, num_layers=12, d_ff=3072``.
    """

    image_size: int = 8
    patch_size: int = 2
    in_channels: int = 1
    num_classes: int = 10
    d_model: int = 64
    num_heads: int = 4
    num_layers: int = 4
    d_ff: int = 128
    dropout: float = 0.0
    layer_norm_eps: float = 1e-6

    def __post_init__(self) -> None:
        for name in (
            "image_size", "patch_size", "in_channels", "num_classes",
            "d_model", "num_heads", "num_layers", "d_ff",
        ):
            _check_positive_int(f"ViTConfig.{name}", getattr(self, name))
        _check_divisible("ViTConfig", self.image_size, self.patch_size)
        if self.d_model % self.num_heads != 0:
            raise LabcodeValueError(
                f"ViTConfig: d_model ({self.d_model}) debe ser divisible por num_heads "
                f"({self.num_heads})."
            )
        if not 0.0 <= float(self.dropout) < 1.0:
            raise LabcodeValueError(
                f"ViTConfig.dropout debe estar en [0, 1); se recibió {self.dropout}."
            )

    @property
    def num_patches(self) -> int:
        """``N = (image_size / patch_size)²``."""
        return (self.image_size // self.patch_size) ** 2

    @property
    def seq_len(self) -> int:
        """``T = N + 1`` (parches más el ``[CLS]``)."""
        return self.num_patches + 1


class ViT(nn.Module):
    """Vision Transformer :cite:`dosovitskiy2020image` para clasificar imágenes.

    ``logits = head(LN(encoder(pos + [CLS; patch_embed(x)]))[:, 0])``, con un encoder
    pre-LN de GELU (:class:`labcode.nn.blocks.TransformerEncoderBlock` con
    ``norm_first=True``), como en el artículo.

    Parameters
    ----------
    config : ViTConfig
        Hiperparámetros.

    Attributes
    ----------
    patch_embed : PatchEmbedding
    cls_token : nn.Parameter
        ``(1, 1, D)``.
    pos_embed : LearnedPositionalEmbedding
        ``T = N + 1`` posiciones (la 0 es la del ``[CLS]``); la tabla es
        ``pos_embed.wpe.weight`` ``(T, D)``.
    blocks : nn.ModuleList
        ``num_layers`` bloques encoder.
    norm : nn.LayerNorm
        LayerNorm final.
    head : nn.Linear
        ``D`` → ``num_classes``.
    """

    def __init__(self, config: ViTConfig):
        super().__init__()
        if not isinstance(config, ViTConfig):
            raise LabcodeTypeError(
                f"ViT: se esperaba un ViTConfig; se recibió {type(config).__name__}."
            )
        self.config = c = config
        self.patch_embed = PatchEmbedding(c.image_size, c.patch_size, c.in_channels, c.d_model)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, c.d_model))
        self.pos_embed = LearnedPositionalEmbedding(c.seq_len, c.d_model, dropout=c.dropout)
        self.blocks = nn.ModuleList(
            TransformerEncoderBlock(
                c.d_model, c.num_heads, c.d_ff, dropout=c.dropout, norm_first=True,
                activation="gelu", layer_norm_eps=c.layer_norm_eps,
            )
            for _ in range(c.num_layers)
        )
        self.norm = nn.LayerNorm(c.d_model, eps=c.layer_norm_eps)
        self.head = nn.Linear(c.d_model, c.num_classes)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        nn.init.zeros_(self.head.weight)  # como en el artículo: cabeza inicializada a cero
        nn.init.zeros_(self.head.bias)

    def tokens(self, images: torch.Tensor) -> torch.Tensor:
        """Secuencia de entrada al encoder: ``(B, C, H, W)`` → ``(B, N + 1, D)``."""
        x = self.patch_embed(images)  # (B, N, D)
        cls = self.cls_token.expand(x.shape[0], -1, -1)  # (B, 1, D)
        x = torch.cat([cls, x], dim=1)  # (B, N + 1, D)
        return self.pos_embed(x)  # (B, T, D)

    def forward(
        self, images: torch.Tensor, return_attention: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Clasifica un lote de imágenes.

        Parameters
        ----------
        images : torch.Tensor
            ``(B, C, H, W)`` float, con ``C = in_channels`` y ``H = W = image_size``.
        return_attention : bool
            Si es ``True`` devuelve también los pesos de atención de cada capa.

        Returns
        -------
        logits : torch.Tensor
            ``(B, num_classes)``.
        attentions : list[torch.Tensor]
            Sólo si ``return_attention``: una matriz ``(B, nh, T, T)`` por capa.

        Raises
        ------
        TypeError, ValueError
            Si las imágenes no son un tensor float ``(B, C, H, W)`` del tamaño esperado.
        """
        x = self.tokens(images)  # (B, T, D)
        attentions = []
        for block in self.blocks:
            if return_attention:
                x, w = block(x, output_attentions=True)  # w: (B, nh, T, T)
                attentions.append(w)
            else:
                x = block(x)
        cls_out = self.norm(x)[:, 0]  # (B, D)
        logits = self.head(cls_out)  # (B, num_classes)
        return (logits, attentions) if return_attention else logits

    @torch.no_grad()
    def attention_maps(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Pesos de atención de cada capa (modo evaluación): lista de ``(B, nh, T, T)``."""
        was_training = self.training
        self.eval()
        try:
            _, att = self(images, return_attention=True)
        finally:
            self.train(was_training)
        return att

    def position_similarity(self) -> torch.Tensor:
        """Similitud coseno entre las posiciones de los parches (sin el ``[CLS]``).

        Returns
        -------
        torch.Tensor
            ``(gh, gw, gh, gw)``: el elemento ``[i, j]`` es el mapa de similitud de la
            posición del parche ``(i, j)`` con las de todos los demás.
        """
        g = self.patch_embed.grid_size
        pe = self.pos_embed.wpe.weight.detach()[1:]  # (N, D)
        pe = F.normalize(pe, dim=-1)
        return (pe @ pe.T).reshape(g, g, g, g)

    def num_parameters(self) -> int:
        """Número de parámetros entrenables."""
        return count_parameters(self)


# ---------------------------------------------------------------------------
# Datos: dígitos de scikit-learn
# ---------------------------------------------------------------------------


@dataclass
class DigitsData:
    """Dígitos 8x8 separados en entrenamiento y prueba (tensores de PyTorch).

    ``x_*`` son ``(n, 1, 8, 8)`` float32 normalizados; ``y_*`` son ``(n,)`` int64;
    ``raw_*`` son las imágenes originales (0..16) para dibujarlas.
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    raw_train: np.ndarray
    raw_test: np.ndarray
    mean: float
    std: float

    @property
    def num_classes(self) -> int:
        return 10


def load_digits_dataset(
    test_size: float = 0.25, seed: int = 0, n_samples: int | None = None
) -> DigitsData:
    """Carga los dígitos de ``sklearn.datasets.load_digits`` (incluidos; sin descargas).

    1797 imágenes 8x8 en escala de grises (valores 0..16) de 10 clases. Se separan
    de forma estratificada y se normalizan con la media y la desviación típica
    (escalares) del conjunto de entrenamiento.

    Parameters
    ----------
    test_size : float
        Fracción para prueba, en ``(0, 1)``.
    seed : int
        Semilla de la separación.
    n_samples : int, opcional
        Si se da, usa sólo una submuestra estratificada de ese tamaño (pruebas rápidas).

    Returns
    -------
    DigitsData

    Raises
    ------
    ValueError
        Si ``test_size`` o ``n_samples`` no son válidos.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    if not isinstance(test_size, (float, int)) or not 0.0 < float(test_size) < 1.0:
        raise LabcodeValueError(f"test_size debe estar en (0, 1); se recibió {test_size!r}.")
    digits = load_digits()
    images, labels = digits.images.astype(np.float32), digits.target.astype(np.int64)
    if n_samples is not None:
        n = _check_positive_int("n_samples", n_samples)
        if not 20 <= n <= len(labels):
            raise LabcodeValueError(
                f"n_samples debe estar entre 20 y {len(labels)}; se recibió {n}."
            )
        if n < len(labels):
            images, _, labels, _ = train_test_split(
                images, labels, train_size=n, stratify=labels, random_state=seed
            )
    raw_tr, raw_te, y_tr, y_te = train_test_split(
        images, labels, test_size=float(test_size), stratify=labels, random_state=seed
    )
    mean, std = float(raw_tr.mean()), float(raw_tr.std())

    def to_tensor(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy((a - mean) / std).float().unsqueeze(1)  # (n, 1, 8, 8)

    return DigitsData(
        x_train=to_tensor(raw_tr), y_train=torch.from_numpy(y_tr),
        x_test=to_tensor(raw_te), y_test=torch.from_numpy(y_te),
        raw_train=raw_tr, raw_test=raw_te, mean=mean, std=std,
    )


# ---------------------------------------------------------------------------
# Líneas base
# ---------------------------------------------------------------------------


class MLPBaseline(nn.Module):
    """Perceptrón multicapa sobre los píxeles aplanados (no sabe qué píxeles son vecinos).

    Parameters
    ----------
    image_size, in_channels, num_classes : int
    hidden : int
        Neuronas de cada capa oculta.
    dropout : float
    """

    def __init__(
        self, image_size: int = 8, in_channels: int = 1, num_classes: int = 10,
        hidden: int = 128, dropout: float = 0.1,
    ):
        super().__init__()
        self.image_size = _check_positive_int("image_size", image_size)
        self.in_channels = _check_positive_int("in_channels", in_channels)
        d_in = self.in_channels * self.image_size**2
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(d_in, hidden), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(hidden, _check_positive_int("num_classes", num_classes)),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` → ``(B, num_classes)``."""
        images = _check_images("MLPBaseline", images, self.in_channels, self.image_size)
        return self.net(images)


class SmallCNN(nn.Module):
    """CNN pequeña: dos convoluciones 3x3, *max-pooling* y una capa lineal.

    Parameters
    ----------
    in_channels, num_classes : int
    channels : tuple[int, int]
        Canales de las dos convoluciones.
    image_size : int
        Lado de la imagen (par).
    dropout : float
    """

    def __init__(
        self, in_channels: int = 1, num_classes: int = 10, channels: tuple[int, int] = (16, 32),
        image_size: int = 8, dropout: float = 0.1,
    ):
        super().__init__()
        self.in_channels = _check_positive_int("in_channels", in_channels)
        self.image_size = _check_positive_int("image_size", image_size)
        _check_divisible("SmallCNN", self.image_size, 2)
        c1, c2 = channels
        side = self.image_size // 2
        self.features = nn.Sequential(
            nn.Conv2d(self.in_channels, c1, 3, padding=1), nn.ReLU(),
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),  # (B, c2, H/2, W/2)
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Dropout(dropout),
            nn.Linear(c2 * side * side, _check_positive_int("num_classes", num_classes)),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` → ``(B, num_classes)``."""
        images = _check_images("SmallCNN", images, self.in_channels, self.image_size)
        return self.classifier(self.features(images))


def count_parameters(model: nn.Module) -> int:
    """Número de parámetros entrenables de ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# ---------------------------------------------------------------------------
# Entrenamiento
# ---------------------------------------------------------------------------


@dataclass
class TrainConfig:
    """Configuración del bucle de entrenamiento (AdamW, calentamiento + coseno).

    Parameters
    ----------
    epochs, batch_size : int
    lr, weight_decay : float
    warmup_epochs : int
        Épocas de calentamiento lineal de la tasa de aprendizaje.
    label_smoothing : float
    shift : int
        Aumento de datos: desplazamiento aleatorio de hasta ``shift`` píxeles
        (con relleno de ceros) en cada lote; 0 lo desactiva.
    seed : int
    num_threads : int, opcional
        Hilos de PyTorch. Por defecto 1: con modelos diminutos y lotes pequeños
        la sincronización entre hilos cuesta más de lo que ahorra. ``None`` usa
        :func:`labcode.models.seq2seq.default_num_threads`.
    """

    epochs: int = 30
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 0.05
    warmup_epochs: int = 2
    label_smoothing: float = 0.0
    shift: int = 0
    seed: int = 0
    num_threads: int | None = 1

    def __post_init__(self) -> None:
        _check_positive_int("TrainConfig.epochs", self.epochs)
        _check_positive_int("TrainConfig.batch_size", self.batch_size)
        if not self.lr > 0:
            raise LabcodeValueError(f"TrainConfig.lr debe ser positivo; se recibió {self.lr}.")
        if isinstance(self.shift, bool) or not isinstance(self.shift, int) or self.shift < 0:
            raise LabcodeValueError(
                f"TrainConfig.shift debe ser un entero >= 0; se recibió {self.shift!r}."
            )


@dataclass
class TrainHistory:
    """Resultado de :func:`train_model`: pérdida y exactitud de prueba por época."""

    loss: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    seconds: float = 0.0
    num_parameters: int = 0

    @property
    def final_accuracy(self) -> float:
        return self.test_accuracy[-1] if self.test_accuracy else float("nan")

    def as_dict(self) -> dict:
        return asdict(self) | {"final_accuracy": self.final_accuracy}


@torch.no_grad()
def evaluate_accuracy(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 512
) -> float:
    """Exactitud (fracción de aciertos) de ``model`` sobre ``(x, y)`` en modo evaluación."""
    if len(x) != len(y):
        raise LabcodeValueError(
            "evaluate_accuracy: x e y deben tener la misma longitud; se recibió "
            f"{len(x)} y {len(y)}."
        )
    was_training = model.training
    model.eval()
    correct = 0
    for i in range(0, len(x), batch_size):
        correct += (model(x[i : i + batch_size]).argmax(-1) == y[i : i + batch_size]).sum().item()
    model.train(was_training)
    return correct / max(1, len(x))


def _random_shift(x: torch.Tensor, shift: int, gen: torch.Generator) -> torch.Tensor:
    """Desplaza cada imagen del lote hasta ``shift`` píxeles (relleno con el fondo)."""
    B, _, H, W = x.shape
    background = x.amin()
    padded = F.pad(x, (shift, shift, shift, shift), value=float(background))
    dx = torch.randint(0, 2 * shift + 1, (B,), generator=gen)
    dy = torch.randint(0, 2 * shift + 1, (B,), generator=gen)
    rows = (dy[:, None] + torch.arange(H)[None])  # (B, H)
    cols = (dx[:, None] + torch.arange(W)[None])  # (B, W)
    idx_b = torch.arange(B)[:, None, None]
    out = padded[idx_b, :, rows[:, :, None], cols[:, None, :]]  # (B, H, W, C)
    return out.permute(0, 3, 1, 2).contiguous()


def train_model(
    model: nn.Module,
    data: DigitsData,
    train_config: TrainConfig | None = None,
    show_progress: bool = True,
    eval_every: int = 1,
) -> TrainHistory:
    """Entrena ``model`` (ViT, MLP o CNN) con el mismo bucle y mide la exactitud de prueba.

    AdamW, calentamiento lineal y decaimiento coseno por paso, entropía cruzada y
    (opcionalmente) desplazamientos aleatorios como aumento de datos.

    Parameters
    ----------
    model : nn.Module
        Cualquier clasificador ``(B, 1, 8, 8) → (B, 10)``.
    data : DigitsData
        De :func:`load_digits_dataset`.
    train_config : TrainConfig, opcional
    show_progress : bool
        Barra de progreso (:func:`labcode.utils.runtime.progress`).
    eval_every : int
        Cada cuántas épocas se mide la exactitud de prueba (siempre en la última).

    Returns
    -------
    TrainHistory
        Pérdida media por época, exactitud de prueba, segundos de entrenamiento
        (sin contar las evaluaciones) y número de parámetros.
    """
    from labcode.models.seq2seq import default_num_threads

    tc = train_config or TrainConfig()
    if not isinstance(data, DigitsData):
        raise LabcodeTypeError(
            f"train_model: se esperaba un DigitsData; se recibió {type(data).__name__}."
        )
    torch.set_num_threads(tc.num_threads or default_num_threads())
    gen = torch.Generator().manual_seed(tc.seed)
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.dim() < 2 or "pos_embed" in name or "cls_token" in name else decay).append(p)
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": tc.weight_decay},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=tc.lr,
    )
    n = len(data.x_train)
    steps_per_epoch = math.ceil(n / tc.batch_size)
    total, warmup = tc.epochs * steps_per_epoch, tc.warmup_epochs * steps_per_epoch

    def lr_at(step: int) -> float:
        if step < warmup:
            return tc.lr * (step + 1) / warmup
        frac = (step - warmup) / max(1, total - warmup)
        return tc.lr * 0.5 * (1.0 + math.cos(math.pi * frac))

    hist = TrainHistory(num_parameters=count_parameters(model))
    step = 0
    extra = {} if show_progress else {"disable": True}
    bar = progress(range(tc.epochs), desc=type(model).__name__, unit="época", **extra)
    for epoch in bar:
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(n, generator=gen)
        total_loss = 0.0
        for i in range(0, n, tc.batch_size):
            idx = perm[i : i + tc.batch_size]
            xb, yb = data.x_train[idx], data.y_train[idx]
            if tc.shift:
                xb = _random_shift(xb, tc.shift, gen)
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            loss = F.cross_entropy(model(xb), yb, label_smoothing=tc.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total_loss += loss.item() * len(idx)
            step += 1
        hist.seconds += time.perf_counter() - t0
        hist.loss.append(total_loss / n)
        if (epoch + 1) % eval_every == 0 or epoch == tc.epochs - 1:
            hist.test_accuracy.append(evaluate_accuracy(model, data.x_test, data.y_test))
            if show_progress and hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{hist.loss[-1]:.3f}", acc=f"{hist.test_accuracy[-1]:.3f}")
    model.eval()
    return hist


#: Configuración del capítulo 11.
VIT_DIGITS_CONFIG = ViTConfig()
#: Entrenamiento del capítulo 11.
VIT_DIGITS_TRAIN_CONFIG = TrainConfig()


def train_vit(
    config: ViTConfig | None = None,
    train_config: TrainConfig | None = None,
    data: DigitsData | None = None,
    show_progress: bool = True,
    eval_every: int = 1,
) -> tuple[ViT, TrainHistory, DigitsData]:
    """Crea un :class:`ViT` y lo entrena sobre los dígitos con :func:`train_model`.

    Parameters
    ----------
    config : ViTConfig, opcional
        Por defecto :data:`VIT_DIGITS_CONFIG`.
    train_config : TrainConfig, opcional
        Por defecto :data:`VIT_DIGITS_TRAIN_CONFIG`.
    data : DigitsData, opcional
        Por defecto ``load_digits_dataset()``.
    show_progress : bool
    eval_every : int

    Returns
    -------
    (ViT, TrainHistory, DigitsData)
    """
    config = config or VIT_DIGITS_CONFIG
    tc = train_config or VIT_DIGITS_TRAIN_CONFIG
    data = data if data is not None else load_digits_dataset(seed=tc.seed)
    torch.manual_seed(tc.seed)
    model = ViT(config)
    hist = train_model(model, data, tc, show_progress=show_progress, eval_every=eval_every)
    return model, hist, data
