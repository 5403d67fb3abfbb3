"""GPT (*decoder-only*): la arquitectura de GPT-2 al estilo de nanoGPT.

Los nombres de los parámetros reproducen los de Hugging Face
(``transformers.GPT2LMHeadModel``) para que los pesos se copien clave a clave::

    transformer.wte, transformer.wpe              embeddings de token y de posición
    transformer.h[i].ln_1, .attn.c_attn, .attn.c_proj
    transformer.h[i].ln_2, .mlp.c_fc, .mlp.c_proj
    transformer.ln_f                              LayerNorm final
    lm_head                                       atado (*tied*) a transformer.wte

- :class:`GPTConfig`: hiperparámetros (``dataclass``).
- :class:`CausalSelfAttention`, :class:`MLP`, :class:`Block`: las piezas.
- :class:`GPT`: el modelo completo, con :meth:`GPT.generate` (caché de claves y
  valores, :class:`labcode.nn.cache.KVCache`) y :meth:`GPT.from_hf` (para cargar
  GPT-2 del Hub, :func:`labcode.hf.models.load_gpt`).
- :func:`encoder_block_from_gpt_block`: copia un bloque de GPT en un
  :class:`labcode.nn.blocks.TransformerEncoderBlock` pre-LN para mostrar que ambos
  calculan lo mismo con una máscara causal.

Notación de formas: ``B`` lote, ``T`` longitud, ``C = n_embd``, ``nh`` cabezas,
``hs = C // nh``, ``V`` vocabulario, ``P`` longitud ya guardada en la caché.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from labcode.nn.attention import ATTENTION_FUNCTIONS, check_attn_implementation
from labcode.nn.cache import KVCache
from labcode.sampling import check_sampling, generate_tokens
from labcode.utils import checks
from labcode.utils.checks import token_ids
from labcode.utils.errors import (
    LabcodeTypeError,
    LabcodeValueError,
)

__all__ = [
    "GPTConfig",
    "CausalSelfAttention",
    "MLP",
    "Block",
    "GPT",
    "encoder_block_from_gpt_block",
]


@dataclass
class GPTConfig:
    """Hiperparámetros de :class:`GPT` (los valores por defecto son los de GPT-2 *small*).

    Parameters
    ----------
    vocab_size : int
        Tamaño del vocabulario ``V`` (GPT-2: 50 257).
    n_positions : int
        Longitud máxima de contexto (``block_size`` en nanoGPT).
    n_embd : int
        Dimensión del modelo ``C``.
    n_layer : int
        Número de bloques.
    n_head : int
        Número de cabezas; debe dividir a ``n_embd``.
    dropout : float
        *Dropout* de embeddings, atención y ramas residuales.
    layer_norm_epsilon : float
        ``eps`` de las LayerNorm.
    bias : bool
        Sesgos en las capas lineales y en las LayerNorm (GPT-2: ``True``).
    attn_implementation : str
        Clave de :data:`labcode.nn.attention.ATTENTION_FUNCTIONS` (``"sdpa"`` por defecto).
    sliding_window : int, optional
        Radio de la ventana si ``attn_implementation="sliding_window"``.
    """

    vocab_size: int = 50257
    n_positions: int = 1024
    n_embd: int = 768
    n_layer: int = 12
    n_head: int = 12
    dropout: float = 0.0
    layer_norm_epsilon: float = 1e-5
    bias: bool = True
    attn_implementation: str = "sdpa"
    sliding_window: int | None = None

    def __post_init__(self) -> None:
        for name in ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise LabcodeValueError(
                    f"GPTConfig: {name} debe ser un entero >= 1; se recibió {value!r}."
                )
        if self.n_embd % self.n_head != 0:
            raise LabcodeValueError(
                f"GPTConfig: n_embd ({self.n_embd}) debe ser divisible entre n_head "
                f"({self.n_head}); se recibió un resto de {self.n_embd % self.n_head}."
            )
        checks.probability("GPTConfig: dropout", self.dropout)
        checks.positive_float("GPTConfig: layer_norm_epsilon", self.layer_norm_epsilon)
        check_attn_implementation("GPTConfig", self.attn_implementation, self.sliding_window)

    @property
    def block_size(self) -> int:
        """Alias de ``n_positions`` (el nombre que usa nanoGPT)."""
        return self.n_positions

    @property
    def head_size(self) -> int:
        """Tamaño de cada cabeza ``hs = n_embd // n_head``."""
        return self.n_embd // self.n_head


# ---------------------------------------------------------------------------
# Piezas
# ---------------------------------------------------------------------------


class CausalSelfAttention(nn.Module):
    """Autoatención causal multi-cabeza con caché opcional de claves y valores.

    ``c_attn`` calcula ``q``, ``k`` y ``v`` con una sola capa lineal
    ``(C -> 3C)``; ``c_proj`` mezcla las cabezas ``(C -> C)``. El núcleo sale del
    registro :data:`labcode.nn.attention.ATTENTION_FUNCTIONS`
    (``config.attn_implementation``) con ``is_causal=True``.
    """

    def __init__(self, config: GPTConfig, layer_idx: int = 0):
        super().__init__()
        self.layer_idx = layer_idx
        self.n_head = config.n_head
        self.n_embd = config.n_embd
        self.dropout = config.dropout
        self.attn_implementation = config.attn_implementation
        self.sliding_window = config.sliding_window
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(
        self, x: torch.Tensor, cache: KVCache | None = None, output_attentions: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(B, T, C) -> (B, T, C)`` y los pesos ``(B, nh, T, P + T)`` (o ``None``).

        Con ``cache`` (:class:`labcode.nn.cache.KVCache`, ``P`` posiciones guardadas) se
        añaden las claves y valores nuevos y se atiende a todas las posiciones.
        """
        B, T, C = x.shape
        hs = C // self.n_head
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)  # 3 x (B, T, C)
        q, k, v = (t.view(B, T, self.n_head, hs).transpose(1, 2) for t in (q, k, v))
        if cache is not None:
            k, v = cache.update(self.layer_idx, k, v)  # (B, nh, P + T, hs)
        attend = ATTENTION_FUNCTIONS[self.attn_implementation]
        y, w = attend(q, k, v, None, dropout=self.dropout if self.training else 0.0,
                      is_causal=True, output_attentions=output_attentions,
                      window=self.sliding_window)  # (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C)
        return self.resid_dropout(self.c_proj(y)), w


class MLP(nn.Module):
    """Red *feed-forward* de GPT-2: ``c_proj(gelu_tanh(c_fc(x)))`` con ``C -> 4C -> C``."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.gelu(self.c_fc(x), approximate="tanh")  # (B, T, 4C)
        return self.dropout(self.c_proj(x))  # (B, T, C)


class Block(nn.Module):
    """Bloque pre-LN de GPT-2: ``x + attn(ln_1(x))`` y después ``x + mlp(ln_2(x))``."""

    def __init__(self, config: GPTConfig, layer_idx: int = 0):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon, bias=config.bias)
        self.attn = CausalSelfAttention(config, layer_idx)
        self.ln_2 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon, bias=config.bias)
        self.mlp = MLP(config)

    def forward(
        self, x: torch.Tensor, cache: KVCache | None = None, output_attentions: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(B, T, C) -> (B, T, C)`` y los pesos de atención (o ``None``)."""
        a, w = self.attn(self.ln_1(x), cache, output_attentions)
        x = x + a
        x = x + self.mlp(self.ln_2(x))
        return x, w


# ---------------------------------------------------------------------------
# Modelo completo
# ---------------------------------------------------------------------------


class GPT(nn.Module):
    """Modelo de lenguaje GPT-2 (solo decoder).

    Parameters
    ----------
    config : GPTConfig
        Hiperparámetros.

    Notes
    -----
    ``lm_head.weight`` es el mismo tensor que ``transformer.wte.weight``
    (pesos atados, como en GPT-2). La inicialización es la de GPT-2/nanoGPT:
    normal con desviación 0.02 y ``0.02 / sqrt(2 n_layer)`` en las proyecciones
    que llegan a la corriente residual.
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise LabcodeTypeError(
                f"GPT: se esperaba un GPTConfig; se recibió {type(config).__name__}."
            )
        self.config = config
        self.transformer = nn.ModuleDict(
            dict(
                wte=nn.Embedding(config.vocab_size, config.n_embd),
                wpe=nn.Embedding(config.n_positions, config.n_embd),
                drop=nn.Dropout(config.dropout),
                h=nn.ModuleList([Block(config, i) for i in range(config.n_layer)]),
                ln_f=nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon, bias=config.bias),
            )
        )
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # pesos atados
        self.apply(self._init_weights)
        std = 0.02 / math.sqrt(2 * config.n_layer)
        for name, param in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(param, mean=0.0, std=std)
        # Los pesos de las capas lineales de los bloques se guardan en memoria en el orden
        # (entrada, salida), el mismo de las capas Conv1D de GPT-2. La forma lógica sigue
        # siendo la de nn.Linear, (salida, entrada): sólo cambian los strides. Al generar
        # token a token en CPU, el producto vector-matriz es así claramente más rápido.
        for block in self.transformer.h:
            for lin in (block.attn.c_attn, block.attn.c_proj, block.mlp.c_fc, block.mlp.c_proj):
                lin.weight = nn.Parameter(lin.weight.detach().t().contiguous().t())

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    # -- utilidades -------------------------------------------------------

    def num_parameters(self, non_embedding: bool = False) -> int:
        """Número de parámetros (los atados se cuentan una vez).

        Con ``non_embedding=True`` se descuentan los embeddings de posición
        (los de token sí cuentan: son también la capa de salida).
        """
        n = sum(p.numel() for p in self.parameters())
        if non_embedding:
            n -= self.transformer.wpe.weight.numel()
        return n

    def _check_input_ids(self, input_ids, past_length: int = 0, extra: int = 0,
                         check_values: bool | None = None) -> None:
        token_ids(input_ids, who="GPT", vocab_size=self.config.vocab_size,
                  max_positions=self.config.n_positions, limit_name="n_positions",
                  past=past_length, extra=extra, check_values=check_values)

    # -- pasada hacia delante --------------------------------------------

    def _forward(
        self, input_ids: torch.Tensor, cache: KVCache | None = None,
        output_attentions: bool = False, last_only: bool = False,
    ) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
        """Logits ``(B, T, V)`` (``(B, 1, V)`` si ``last_only``) y los pesos de cada capa.

        No valida: lo hacen los puntos de entrada públicos, una vez.
        """
        B, T = input_ids.shape
        P = 0 if cache is None else cache.seq_len()
        pos = torch.arange(P, P + T, dtype=torch.long, device=input_ids.device)  # (T,)
        x = self.transformer.wte(input_ids) + self.transformer.wpe(pos)  # (B, T, C)
        x = self.transformer.drop(x)
        attentions = []
        for block in self.transformer.h:
            x, w = block(x, cache, output_attentions)  # w: (B, nh, T, P + T) o None
            attentions.append(w)
        if last_only:
            x = x[:, -1:, :]  # (B, 1, C): solo hace falta el último token
        x = self.transformer.ln_f(x)
        return self.lm_head(x), attentions  # (B, T, V) o (B, 1, V)

    def forward(
        self, input_ids: torch.Tensor, output_attentions: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Logits del siguiente token en cada posición.

        Parameters
        ----------
        input_ids : torch.Tensor
            Enteros ``(B, T)`` con ``T <= n_positions`` y valores en ``[0, V)``.
        output_attentions : bool
            Si es ``True`` devuelve también los pesos de atención de cada capa,
            una lista de ``n_layer`` tensores ``(B, nh, T, T)`` (triangulares
            inferiores: atención causal), calculados de forma explícita.

        Returns
        -------
        torch.Tensor or tuple
            Logits ``(B, T, V)``; la fila ``t`` solo depende de los tokens ``0..t``
            (y la lista de pesos si se pide).

        Raises
        ------
        TypeError
            Si ``input_ids`` no es un tensor de enteros.
        ValueError
            Si no es 2D, está vacío, supera el contexto o tiene ids fuera del vocabulario
            (los valores se miran solo en CPU: en GPU obligaría a sincronizar).
        """
        self._check_input_ids(input_ids)
        logits, attentions = self._forward(input_ids, None, output_attentions)
        return (logits, attentions) if output_attentions else logits

    def forward_cached(
        self, input_ids: torch.Tensor, past_key_values: KVCache | None = None
    ) -> tuple[torch.Tensor, KVCache]:
        """Como :meth:`forward`, pero reutiliza y devuelve la caché de claves y valores.

        Parameters
        ----------
        input_ids : torch.Tensor
            Los ``T`` tokens nuevos ``(B, T)``.
        past_key_values : KVCache, optional
            Caché de los ``P`` tokens anteriores (:class:`labcode.nn.cache.KVCache`; la
            pareja ``(k, v)`` de la capa ``i`` es ``cache[i]``, cada tensor
            ``(B, nh, P, hs)``). No se modifica.

        Returns
        -------
        logits : torch.Tensor
            ``(B, T, V)`` para los tokens nuevos.
        present : KVCache
            Caché nueva con ``P + T`` posiciones.
        """
        if past_key_values is not None and (not isinstance(past_key_values, KVCache)
                                            or len(past_key_values) != self.config.n_layer):
            raise LabcodeValueError(
                f"GPT: la caché debe ser una KVCache con una pareja (k, v) por capa "
                f"({self.config.n_layer}); se recibió {type(past_key_values).__name__}."
            )
        cache = KVCache(self.config.n_layer) if past_key_values is None else past_key_values.copy()
        self._check_input_ids(input_ids, past_length=cache.seq_len())
        return self._forward(input_ids, cache)[0], cache

    # -- generación -------------------------------------------------------

    @torch.inference_mode()
    def generate(
        self,
        input_ids: torch.Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        do_sample: bool = False,
        use_cache: bool = True,
        generator: torch.Generator | None = None,
        top_p: float | None = None,
        repetition_penalty: float = 1.0,
    ) -> torch.Tensor:
        """Genera ``max_new_tokens`` tokens de forma autorregresiva.

        ``input_ids`` es el *prompt* ``(B, T)`` (filas de la misma longitud, sin relleno) y
        ``T + max_new_tokens`` no puede superar ``n_positions``. Con ``do_sample=False``,
        decodificación voraz (``argmax``); con ``True``, muestreo con ``temperature``,
        ``top_k``, ``top_p`` y ``generator`` (:func:`labcode.sampling.sample_next_token`).
        ``repetition_penalty`` (1.0 = ninguna) se aplica en ambos casos. ``use_cache``:
        tras el *prompt*, cada paso procesa solo el token nuevo y reutiliza las claves y
        valores guardados (:class:`labcode.nn.cache.KVCache`); ``False`` recalcula la
        secuencia entera (mismo resultado). Devuelve ``(B, T + max_new_tokens)``.

        Raises
        ------
        ValueError
            Si los argumentos no son válidos o la secuencia final supera el contexto.
        """
        checks.nonnegative_int("GPT.generate: max_new_tokens", max_new_tokens)
        check_sampling(temperature, top_k, top_p, repetition_penalty)
        self._check_input_ids(input_ids, extra=max_new_tokens, check_values=True)
        cache = KVCache(self.config.n_layer) if use_cache else None

        def next_logits(ids: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
            logits, _ = self._forward(new if use_cache else ids, cache, last_only=True)
            return logits[:, -1, :]  # (B, V)

        return generate_tokens(next_logits, input_ids, max_new_tokens, do_sample=do_sample,
                               temperature=temperature, top_k=top_k, top_p=top_p,
                               repetition_penalty=repetition_penalty, generator=generator)

    # -- pesos de Hugging Face -------------------------------------------

    @classmethod
    def from_hf(cls, hf_model: nn.Module, share: bool = False) -> GPT:
        """Copia un ``transformers.GPT2LMHeadModel`` (o ``GPT2Model``) clave a clave.

        Los pesos ``Conv1D`` de HF se trasponen al copiarlos en ``nn.Linear``
        (:func:`labcode.models.hf_import.gpt_from_hf`). Con ``share=True`` no copia:
        usa los mismos tensores que ``hf_model`` (la mitad de memoria). Para cargar
        GPT-2 desde el Hub o una carpeta, :func:`labcode.hf.models.load_gpt`.

        Returns
        -------
        GPT
            Un modelo nuevo en modo evaluación, en el mismo dispositivo y tipo que ``hf_model``.

        Raises
        ------
        TypeError
            Si ``hf_model`` no es un modelo GPT-2 de HF.
        ValueError
            Si usa una variante de GPT-2 que este modelo no implementa.
        """
        from labcode.models.hf_import import gpt_from_hf

        return gpt_from_hf(hf_model, cls, share=share)


# ---------------------------------------------------------------------------
# «Los mismos bloques»
# ---------------------------------------------------------------------------


def encoder_block_from_gpt_block(block: Block):
    """Copia un :class:`Block` de GPT en un ``TransformerEncoderBlock`` pre-LN.

    El bloque devuelto (``norm_first=True``, ``activation="gelu_tanh"``,
    ``dropout=0``) con la máscara :func:`labcode.nn.masks.causal_mask` calcula
    exactamente lo mismo que ``block``: un bloque de GPT es un bloque encoder
    pre-LN con atención causal.

    Parameters
    ----------
    block : Block
        Un bloque de :class:`GPT` (con sesgos).

    Returns
    -------
    labcode.nn.blocks.TransformerEncoderBlock
        En modo evaluación, en el mismo dispositivo y tipo que ``block``.
    """
    from labcode.nn.blocks import TransformerEncoderBlock

    if not isinstance(block, Block):
        raise LabcodeTypeError(
            f"encoder_block_from_gpt_block: se esperaba un labcode.models.gpt.Block; "
            f"se recibió {type(block).__name__}."
        )
    if block.attn.c_attn.bias is None:
        raise LabcodeValueError(
            "encoder_block_from_gpt_block: el bloque no tiene sesgos (bias=False) y "
            "FeedForward de labcode.nn.blocks siempre los tiene."
        )
    C = block.attn.n_embd
    d_ff = block.mlp.c_fc.out_features
    ref = block.attn.c_attn.weight
    enc = TransformerEncoderBlock(
        C,
        block.attn.n_head,
        d_ff,
        dropout=0.0,
        norm_first=True,
        activation="gelu_tanh",
        layer_norm_eps=block.ln_1.eps,
    ).to(device=ref.device, dtype=ref.dtype)
    with torch.no_grad():
        wq, wk, wv = block.attn.c_attn.weight.split(C, dim=0)  # 3 x (C, C)
        bq, bk, bv = block.attn.c_attn.bias.split(C, dim=0)  # 3 x (C,)
        for proj, w, b in ((enc.self_attn.q_proj, wq, bq), (enc.self_attn.k_proj, wk, bk),
                           (enc.self_attn.v_proj, wv, bv)):
            proj.weight.copy_(w)
            proj.bias.copy_(b)
        enc.self_attn.out_proj.load_state_dict(block.attn.c_proj.state_dict())
        enc.ffn.fc1.load_state_dict(block.mlp.c_fc.state_dict())
        enc.ffn.fc2.load_state_dict(block.mlp.c_proj.state_dict())
        enc.norm1.load_state_dict(block.ln_1.state_dict())
        enc.norm2.load_state_dict(block.ln_2.state_dict())
    return enc.eval()
