"""Bloques del Transformer en PyTorch: atención multi-cabeza, FFN, encoder y decoder.

Cada clase implementa un único concepto, al estilo de nanoGPT:

- :class:`MultiHeadAttention`: atención multi-cabeza con proyecciones
  ``q_proj``, ``k_proj``, ``v_proj`` y ``out_proj``.
- :class:`FeedForward`: red *position-wise* de dos capas (``fc1`` y ``fc2``).
- :class:`TransformerEncoderBlock`: autoatención + FFN con residuales y LayerNorm.
- :class:`TransformerDecoderBlock`: autoatención enmascarada + atención cruzada + FFN.
- :func:`labcode.nn.masks.causal_mask` y :func:`labcode.nn.masks.padding_mask`: máscaras
  booleanas (de :mod:`labcode.nn.masks`).

El núcleo de la atención sale del registro :data:`labcode.nn.attention.ATTENTION_FUNCTIONS`
(``attn_implementation="sdpa"``, ``"eager"``, ``"sliding_window"`` o ``"linear"``).

Convención de máscaras (la misma que :mod:`labcode.numpy_ref.attention`): una
máscara booleana con ``True`` donde la consulta **puede** atender a la clave.
Debe poder difundirse (*broadcast*) a la forma ``(B, nh, Tq, Tk)``.

Notación de formas: ``B`` lote, ``T`` longitud, ``C = d_model``, ``nh`` número de
cabezas, ``hs = C // nh`` tamaño de cada cabeza.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from labcode.nn.attention import ATTENTION_FUNCTIONS, check_attn_implementation
from labcode.nn.masks import causal_mask as causal_mask  # reexportada
from labcode.nn.masks import padding_mask as padding_mask  # reexportada
from labcode.utils import checks
from labcode.utils.errors import LabcodeRuntimeError, LabcodeTypeError, LabcodeValueError

# Los nombres importados de módulos inferiores siguen disponibles aquí, pero se
# documentan (y se listan en __all__) solo donde se definen.
__all__ = [
    "MultiHeadAttention",
    "FeedForward",
    "TransformerEncoderBlock",
    "TransformerDecoderBlock",
    "ACTIVATIONS",
]

#: Nombres de activación admitidos por :class:`FeedForward`.
ACTIVATIONS = ("relu", "gelu", "gelu_tanh")


# ---------------------------------------------------------------------------
# Atención multi-cabeza
# ---------------------------------------------------------------------------


def _check_last_dim(name: str, x: torch.Tensor, d_model: int) -> None:
    if not isinstance(x, torch.Tensor):
        raise LabcodeTypeError(
            f"{name}: se esperaba un torch.Tensor; se recibió {type(x).__name__}."
        )
    if x.dim() not in (2, 3):
        raise LabcodeValueError(
            f"{name}: se esperaba un tensor (B, T, {d_model}) o (T, {d_model}); "
            f"se recibió la forma {tuple(x.shape)}."
        )
    if x.shape[-1] != d_model:
        raise LabcodeValueError(
            f"{name}: la última dimensión debe ser d_model={d_model}; "
            f"se recibió la forma {tuple(x.shape)}."
        )


class MultiHeadAttention(nn.Module):
    """Atención multi-cabeza (*multi-head attention*).

    Parameters
    ----------
    d_model : int
        Dimensión del modelo ``C``.
    num_heads : int
        Número de cabezas ``nh``; debe dividir a ``d_model``.
    dropout : float, opcional
        Probabilidad de *dropout* sobre los pesos de atención (solo en entrenamiento).
    bias : bool, opcional
        Si las proyecciones lineales llevan sesgo.
    attn_implementation : str, opcional
        Clave de :data:`labcode.nn.attention.ATTENTION_FUNCTIONS` (``"sdpa"`` por defecto).
    sliding_window : int, opcional
        Radio de la ventana si ``attn_implementation="sliding_window"``.

    Notes
    -----
    Submódulos: ``q_proj``, ``k_proj``, ``v_proj`` y ``out_proj`` (``nn.Linear(C, C)``).

    ``forward`` comprueba tipos y formas (metadatos, sin sincronizar), no los valores de
    la máscara: una consulta sin ninguna clave visible da NaN. Para comprobarlo una vez,
    usa :func:`labcode.nn.masks.check_mask_rows`.
    """

    def __init__(self, d_model: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 attn_implementation: str = "sdpa", sliding_window: int | None = None):
        super().__init__()
        checks.positive_int("MultiHeadAttention: d_model", d_model)
        checks.positive_int("MultiHeadAttention: num_heads", num_heads)
        checks.probability("MultiHeadAttention: dropout", dropout)
        if d_model % num_heads != 0:
            raise LabcodeValueError(
                f"MultiHeadAttention: d_model ({d_model}) debe ser divisible entre "
                f"num_heads ({num_heads}); se recibió un resto de {d_model % num_heads}."
            )
        self.attn_implementation = check_attn_implementation(
            "MultiHeadAttention", attn_implementation, sliding_window)
        self.sliding_window = sliding_window
        self.d_model = d_model
        self.num_heads = num_heads
        self.head_dim = d_model // num_heads
        self.dropout = dropout
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def _check_inputs(self, query, key, value) -> None:
        """Tipos, ``dtype`` y formas de ``query``, ``key`` y ``value`` (solo metadatos)."""
        want = self.q_proj.weight.dtype
        for name, t in (("query", query), ("key", key), ("value", value)):
            _check_last_dim(f"MultiHeadAttention ({name})", t, self.d_model)
            if t.dtype != want and not torch.is_autocast_enabled(t.device.type):
                raise LabcodeTypeError(
                    f"MultiHeadAttention: {name} tiene dtype={t.dtype} pero los pesos son "
                    f"{want}. Convierte la entrada con x.to({want}) (por ejemplo x.float()) o "
                    f"el módulo con .to({t.dtype}) si es un tipo de coma flotante."
                )
        if not (query.dim() == key.dim() == value.dim()):
            raise LabcodeValueError(
                "MultiHeadAttention: query, key y value deben tener el mismo número de "
                f"dimensiones; se recibieron {query.dim()}, {key.dim()} y {value.dim()}."
            )
        if key.shape[:-2] != value.shape[:-2] or key.shape[-2] != value.shape[-2] or \
                query.shape[:-2] != key.shape[:-2]:
            raise LabcodeValueError(
                "MultiHeadAttention: formas incompatibles: query "
                f"{tuple(query.shape)}, key {tuple(key.shape)}, value {tuple(value.shape)} "
                "(se esperaba el mismo B y el mismo Tk en key y value)."
            )

    def _check_mask(self, mask, B: int, Tq: int, Tk: int) -> None:
        if not isinstance(mask, torch.Tensor):
            raise LabcodeTypeError(
                f"MultiHeadAttention: la máscara debe ser un torch.Tensor booleano; "
                f"se recibió {type(mask).__name__}."
            )
        if mask.dtype != torch.bool:
            raise LabcodeTypeError(
                "MultiHeadAttention: la máscara debe ser booleana (True = puede atender); "
                f"se recibió dtype={mask.dtype}."
            )
        target = (B, self.num_heads, Tq, Tk)
        try:
            if mask.dim() > 4 or torch.broadcast_shapes(tuple(mask.shape), target) != target:
                raise LabcodeRuntimeError
        except RuntimeError:
            raise LabcodeValueError(
                "MultiHeadAttention: la máscara debe poder difundirse a (B, nh, Tq, Tk) = "
                f"{target}; se recibió la forma {tuple(mask.shape)}."
            ) from None

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        return x.view(B, T, self.num_heads, self.head_dim).transpose(1, 2)  # (B, nh, T, hs)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor | None = None,
        value: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Aplica la atención multi-cabeza.

        Parameters
        ----------
        query : torch.Tensor
            Consultas ``(B, Tq, C)`` o ``(Tq, C)``.
        key, value : torch.Tensor, opcional
            Claves y valores ``(B, Tk, C)``; por defecto, ``query`` (autoatención).
        mask : torch.Tensor, opcional
            Booleana, difundible a ``(B, nh, Tq, Tk)``; ``True`` = puede atender.
        output_attentions : bool, opcional
            Si es ``True`` calcula y devuelve los pesos de atención explícitamente.

        Returns
        -------
        output : torch.Tensor
            ``(B, Tq, C)`` (o ``(Tq, C)`` si la entrada no tenía lote).
        weights : torch.Tensor o None
            ``(B, nh, Tq, Tk)`` (o ``(nh, Tq, Tk)``) si ``output_attentions``; si no, ``None``.
        """
        key = query if key is None else key
        value = key if value is None else value
        self._check_inputs(query, key, value)
        unbatched = query.dim() == 2
        if unbatched:
            query, key, value = query[None], key[None], value[None]
        B, Tq, C = query.shape
        if mask is not None:
            self._check_mask(mask, B, Tq, key.shape[1])
            mask = mask.to(query.device)
        q = self._split_heads(self.q_proj(query))  # (B, nh, Tq, hs)
        k = self._split_heads(self.k_proj(key))  # (B, nh, Tk, hs)
        v = self._split_heads(self.v_proj(value))  # (B, nh, Tk, hs)
        attend = ATTENTION_FUNCTIONS[self.attn_implementation]
        y, weights = attend(q, k, v, mask, dropout=self.dropout if self.training else 0.0,
                            output_attentions=output_attentions, window=self.sliding_window)
        out = self.out_proj(y.transpose(1, 2).contiguous().view(B, Tq, C))  # (B, Tq, C)
        if unbatched:
            out, weights = out[0], (None if weights is None else weights[0])
        return out, weights


# ---------------------------------------------------------------------------
# Red feed-forward
# ---------------------------------------------------------------------------


class FeedForward(nn.Module):
    """Red *feed-forward* por posición: ``fc2(dropout(act(fc1(x))))``.

    Parameters
    ----------
    d_model : int
        Dimensión de entrada y salida.
    d_ff : int
        Dimensión oculta (típicamente ``4 * d_model``).
    dropout : float, opcional
        *Dropout* tras la activación.
    activation : {"relu", "gelu", "gelu_tanh"}
        ``"gelu_tanh"`` es la aproximación con tangente hiperbólica de GPT-2.

    Notes
    -----
    Submódulos: ``fc1 = nn.Linear(d_model, d_ff)`` y ``fc2 = nn.Linear(d_ff, d_model)``.
    """

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0, activation: str = "relu"):
        super().__init__()
        checks.positive_int("FeedForward: d_model", d_model)
        checks.positive_int("FeedForward: d_ff", d_ff)
        checks.probability("FeedForward: dropout", dropout)
        if not isinstance(activation, str) or activation not in ACTIVATIONS:
            raise LabcodeValueError(
                f"FeedForward: activación desconocida; se esperaba una de {ACTIVATIONS}, "
                f"se recibió {activation!r}."
            )
        self.activation = activation
        self.d_model = d_model
        self.fc1 = nn.Linear(d_model, d_ff)
        self.fc2 = nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)

    def act(self, x: torch.Tensor) -> torch.Tensor:
        if self.activation == "relu":
            return F.relu(x)
        if self.activation == "gelu":
            return F.gelu(x)
        return F.gelu(x, approximate="tanh")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(…, d_model) -> (…, d_model)``, independiente en cada posición."""
        if x.shape[-1] != self.d_model:
            raise LabcodeValueError(
                f"FeedForward: la última dimensión debe ser d_model={self.d_model}; "
                f"se recibió la forma {tuple(x.shape)}."
            )
        return self.fc2(self.dropout(self.act(self.fc1(x))))  # (B, T, C)


# ---------------------------------------------------------------------------
# Bloques encoder y decoder
# ---------------------------------------------------------------------------


class TransformerEncoderBlock(nn.Module):
    """Bloque encoder: autoatención multi-cabeza + FFN, con residuales y LayerNorm.

    Post-LN (``norm_first=False``, el artículo original)::

        x = norm1(x + dropout(self_attn(x)))
        x = norm2(x + dropout(ffn(x)))

    Pre-LN (``norm_first=True``, GPT-2 y la mayoría de modelos actuales)::

        x = x + dropout(self_attn(norm1(x)))
        x = x + dropout(ffn(norm2(x)))

    Parameters
    ----------
    d_model, num_heads, d_ff : int
        Dimensiones del modelo, número de cabezas y dimensión oculta de la FFN.
    dropout : float
        *Dropout* en la atención, en la FFN y en cada rama residual.
    norm_first : bool
        ``True`` para pre-LN; ``False`` para post-LN.
    activation : {"relu", "gelu", "gelu_tanh"}
        Activación de la FFN.
    layer_norm_eps : float
        ``eps`` de las LayerNorm.
    bias : bool
        Sesgo en las proyecciones de la atención.
    attn_implementation, sliding_window :
        La atención del registro (ver :class:`MultiHeadAttention`).

    Notes
    -----
    Submódulos: ``self_attn``, ``ffn``, ``norm1``, ``norm2``, ``dropout1``, ``dropout2``.
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        d_ff: int,
        dropout: float = 0.1,
        norm_first: bool = False,
        activation: str = "relu",
        layer_norm_eps: float = 1e-5,
        bias: bool = True,
        attn_implementation: str = "sdpa",
        sliding_window: int | None = None,
    ):
        super().__init__()
        checks.positive_float("layer_norm_eps", layer_norm_eps)
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, num_heads, dropout=dropout, bias=bias,
                                            attn_implementation=attn_implementation,
                                            sliding_window=sliding_window)
        self.ffn = FeedForward(d_model, d_ff, dropout=dropout, activation=activation)
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def _sa(self, x, mask, output_attentions):
        y, w = self.self_attn(x, mask=mask, output_attentions=output_attentions)
        return self.dropout1(y), w

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None, output_attentions: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Aplica el bloque.

        Parameters
        ----------
        x : torch.Tensor
            ``(B, T, C)`` o ``(T, C)``.
        mask : torch.Tensor, opcional
            Booleana difundible a ``(B, nh, T, T)``, p. ej. :func:`labcode.nn.masks.padding_mask`.
        output_attentions : bool
            Si es ``True`` devuelve también los pesos de autoatención ``(B, nh, T, T)``.

        Returns
        -------
        torch.Tensor o (torch.Tensor, torch.Tensor)
            ``x`` con la misma forma que la entrada (y los pesos si se piden).
        """
        if self.norm_first:
            y, w = self._sa(self.norm1(x), mask, output_attentions)
            x = x + y
            x = x + self.dropout2(self.ffn(self.norm2(x)))
        else:
            y, w = self._sa(x, mask, output_attentions)
            x = self.norm1(x + y)
            x = self.norm2(x + self.dropout2(self.ffn(x)))
        return (x, w) if output_attentions else x


class TransformerDecoderBlock(nn.Module):
    """Bloque decoder: autoatención enmascarada + atención cruzada + FFN.

    Post-LN (``norm_first=False``)::

        x = norm1(x + dropout(self_attn(x, mask=self_mask)))
        x = norm2(x + dropout(cross_attn(x, memory, memory, mask=memory_mask)))
        x = norm3(x + dropout(ffn(x)))

    Pre-LN (``norm_first=True``) normaliza la entrada de cada subcapa en lugar de
    la salida de la suma residual. Los parámetros son los de
    :class:`TransformerEncoderBlock`; la atención cruzada usa la misma implementación
    del registro que la autoatención.

    Notes
    -----
    Submódulos: ``self_attn``, ``cross_attn``, ``ffn``, ``norm1``, ``norm2``, ``norm3``.
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        d_ff: int,
        dropout: float = 0.1,
        norm_first: bool = False,
        activation: str = "relu",
        layer_norm_eps: float = 1e-5,
        bias: bool = True,
        attn_implementation: str = "sdpa",
        sliding_window: int | None = None,
    ):
        super().__init__()
        checks.positive_float("layer_norm_eps", layer_norm_eps)
        self.norm_first = norm_first
        kw = dict(dropout=dropout, bias=bias, attn_implementation=attn_implementation,
                  sliding_window=sliding_window)
        self.self_attn = MultiHeadAttention(d_model, num_heads, **kw)
        self.cross_attn = MultiHeadAttention(d_model, num_heads, **kw)
        self.ffn = FeedForward(d_model, d_ff, dropout=dropout, activation=activation)
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm3 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor,
        self_mask: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
        output_attentions: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Aplica el bloque.

        Parameters
        ----------
        x : torch.Tensor
            Secuencia destino ``(B, T, C)``.
        memory : torch.Tensor
            Salida del encoder ``(B, S, C)``.
        self_mask : torch.Tensor, opcional
            Difundible a ``(B, nh, T, T)``; normalmente causal y de relleno.
        memory_mask : torch.Tensor, opcional
            Difundible a ``(B, nh, T, S)``; normalmente el relleno de la fuente.
        output_attentions : bool
            Si es ``True`` devuelve también ``{"self": (B, nh, T, T), "cross": (B, nh, T, S)}``.

        Returns
        -------
        torch.Tensor o (torch.Tensor, dict)
            ``x`` con forma ``(B, T, C)`` (y los pesos si se piden).
        """
        if self.norm_first:
            h = self.norm1(x)
            y, w_self = self.self_attn(h, mask=self_mask, output_attentions=output_attentions)
            x = x + self.dropout1(y)
            y, w_cross = self.cross_attn(self.norm2(x), memory, memory, mask=memory_mask,
                                         output_attentions=output_attentions)
            x = x + self.dropout2(y)
            x = x + self.dropout3(self.ffn(self.norm3(x)))
        else:
            y, w_self = self.self_attn(x, mask=self_mask, output_attentions=output_attentions)
            x = self.norm1(x + self.dropout1(y))
            y, w_cross = self.cross_attn(
                x, memory, memory, mask=memory_mask, output_attentions=output_attentions
            )
            x = self.norm2(x + self.dropout2(y))
            x = self.norm3(x + self.dropout3(self.ffn(x)))
        if output_attentions:
            return x, {"self": w_self, "cross": w_cross}
        return x
