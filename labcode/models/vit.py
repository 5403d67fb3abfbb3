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
- :class:`MLPBaseline` y :class:`SmallCNN`: líneas base.

Los datos (dígitos 8x8 de scikit-learn) están en :mod:`labcode.data.digits` y la
receta de entrenamiento (:func:`labcode.tasks.vit.train_vit`) en :mod:`labcode.tasks.vit`.

Notación de formas: ``B`` lote, ``C`` canales, ``H, W`` alto y ancho, ``P`` lado
del parche, ``N = (H/P)(W/P)`` número de parches, ``T = N + 1`` longitud de la
secuencia con el ``[CLS]``, ``D = d_model``, ``nh`` cabezas.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from labcode.nn.blocks import TransformerEncoderBlock
from labcode.nn.params import num_parameters
from labcode.nn.positional import LearnedPositionalEmbedding
from labcode.utils.checks import positive_int
from labcode.utils.errors import LabcodeTypeError, LabcodeValueError

__all__ = [
    "patchify",
    "unpatchify",
    "PatchEmbedding",
    "copy_patch_weights",
    "ViTConfig",
    "ViT",
    "MLPBaseline",
    "SmallCNN",
]


# ---------------------------------------------------------------------------
# Comprobaciones
# ---------------------------------------------------------------------------


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
    p = positive_int("patch_size", patch_size)
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
    p = positive_int("patch_size", patch_size)
    H, W = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    C = positive_int("in_channels", in_channels)
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
        self.image_size = positive_int("image_size", image_size)
        self.patch_size = positive_int("patch_size", patch_size)
        self.in_channels = positive_int("in_channels", in_channels)
        self.d_model = positive_int("d_model", d_model)
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
            positive_int(f"ViTConfig.{name}", getattr(self, name))
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
    pos_embed : labcode.nn.positional.LearnedPositionalEmbedding
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
        self, images: torch.Tensor, output_attentions: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Clasifica un lote de imágenes.

        Parameters
        ----------
        images : torch.Tensor
            ``(B, C, H, W)`` float, con ``C = in_channels`` y ``H = W = image_size``.
        output_attentions : bool
            Si es ``True`` devuelve también los pesos de atención de cada capa.

        Returns
        -------
        logits : torch.Tensor
            ``(B, num_classes)``.
        attentions : list[torch.Tensor]
            Sólo si ``output_attentions``: una matriz ``(B, nh, T, T)`` por capa.

        Raises
        ------
        TypeError, ValueError
            Si las imágenes no son un tensor float ``(B, C, H, W)`` del tamaño esperado.
        """
        x = self.tokens(images)  # (B, T, D)
        attentions = []
        for block in self.blocks:
            if output_attentions:
                x, w = block(x, output_attentions=True)  # w: (B, nh, T, T)
                attentions.append(w)
            else:
                x = block(x)
        cls_out = self.norm(x)[:, 0]  # (B, D)
        logits = self.head(cls_out)  # (B, num_classes)
        return (logits, attentions) if output_attentions else logits

    @torch.no_grad()
    def attention_maps(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Pesos de atención de cada capa (modo evaluación): lista de ``(B, nh, T, T)``."""
        was_training = self.training
        self.eval()
        try:
            _, att = self(images, output_attentions=True)
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
        """Número de parámetros (:func:`labcode.nn.params.num_parameters`)."""
        return num_parameters(self)

    def no_weight_decay(self) -> set[str]:
        """Parámetros sin *weight decay* además de sesgos y normas (convención de timm).

        :func:`labcode.train.param_groups` lo consulta: las posiciones aprendidas y
        el ``[CLS]`` no se empujan hacia cero.
        """
        return {"pos_embed", "cls_token"}


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
        self.image_size = positive_int("image_size", image_size)
        self.in_channels = positive_int("in_channels", in_channels)
        d_in = self.in_channels * self.image_size**2
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(d_in, hidden), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(hidden, positive_int("num_classes", num_classes)),
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
        self.in_channels = positive_int("in_channels", in_channels)
        self.image_size = positive_int("image_size", image_size)
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
            nn.Linear(c2 * side * side, positive_int("num_classes", num_classes)),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` → ``(B, num_classes)``."""
        images = _check_images("SmallCNN", images, self.in_channels, self.image_size)
        return self.classifier(self.features(images))
