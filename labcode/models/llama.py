"""Un decodificador moderno desde cero: la arquitectura Llama.

Frente al GPT-2 del libro cambian cuatro piezas:

- :class:`RMSNorm` en lugar de LayerNorm (sólo reescala, sin centrar ni sesgo).
- Posiciones rotatorias (RoPE, :class:`RotaryEmbedding`): se giran las
  consultas y las claves según su posición, con la convención ``rotate_half``
  de Hugging Face (la primera mitad de cada cabeza hace de parte "real").
- Una MLP SwiGLU (:class:`LlamaMLP`): ``down(silu(gate(x)) * up(x))``.
- Atención con consultas agrupadas (*grouped-query attention*, GQA): hay
  ``num_key_value_heads < num_attention_heads`` cabezas de claves/valores y
  cada una la comparten ``num_attention_heads // num_key_value_heads`` cabezas
  de consulta (:func:`repeat_kv`). La caché de claves y valores
  (:class:`labcode.nn.cache.KVCache`) guarda sólo las cabezas compartidas.

Los nombres de los parámetros copian los de ``LlamaForCausalLM`` de
transformers (``model.embed_tokens``, ``model.layers.0.self_attn.q_proj``,
``model.norm``, ``lm_head``...), de modo que ``load_state_dict`` encaja clave a
clave: :meth:`Llama.from_hf` copia un modelo de transformers y
:func:`labcode.hf.models.load_llama` lee SmolLM2-135M-Instruct de la caché de
:mod:`labcode.hf.pretrained`. La caché KV es :class:`labcode.nn.cache.KVCache`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from labcode.nn.attention import ATTENTION_FUNCTIONS, check_attn_implementation
from labcode.nn.cache import KVCache
from labcode.sampling import check_sampling, generate_tokens
from labcode.utils import checks
from labcode.utils.checks import token_ids
from labcode.utils.errors import LabcodeTypeError, LabcodeValueError

__all__ = [
    "Llama",
    "LlamaAttention",
    "LlamaConfig",
    "LlamaDecoderLayer",
    "LlamaMLP",
    "LlamaModel",
    "RMSNorm",
    "RotaryEmbedding",
    "apply_rotary_pos_emb",
    "repeat_kv",
    "rotate_half",
]


def _is_int_at_least(value: Any, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


@dataclass
class LlamaConfig:
    """Hiperparámetros de un Llama. Los valores por defecto son los de
    SmolLM2-135M (30 capas, 9 cabezas de consulta y 3 de claves/valores)."""

    vocab_size: int = 49152
    hidden_size: int = 576
    intermediate_size: int = 1536
    num_hidden_layers: int = 30
    num_attention_heads: int = 9
    num_key_value_heads: int = 3
    head_dim: int | None = None  # None: hidden_size // num_attention_heads
    max_position_embeddings: int = 8192
    rms_norm_eps: float = 1e-5
    rope_theta: float = 100000.0
    tie_word_embeddings: bool = True
    attention_bias: bool = False
    mlp_bias: bool = False
    initializer_range: float = 0.02
    attn_implementation: str = "sdpa"  # clave de labcode.nn.attention.ATTENTION_FUNCTIONS
    sliding_window: int | None = None  # radio, si attn_implementation="sliding_window"

    def __post_init__(self) -> None:
        for name in (
            "vocab_size",
            "hidden_size",
            "intermediate_size",
            "num_hidden_layers",
            "num_attention_heads",
            "num_key_value_heads",
            "max_position_embeddings",
        ):
            value = getattr(self, name)
            if not _is_int_at_least(value, 1):
                raise LabcodeValueError(
                    f"LlamaConfig.{name} debe ser un entero >= 1; se recibió {value!r}."
                )
        if self.num_attention_heads % self.num_key_value_heads:
            raise LabcodeValueError(
                "num_attention_heads debe ser múltiplo de num_key_value_heads (cada cabeza de "
                f"claves/valores se comparte entre un grupo de consultas); se recibió "
                f"{self.num_attention_heads} y {self.num_key_value_heads}."
            )
        if self.head_dim is None:
            if self.hidden_size % self.num_attention_heads:
                raise LabcodeValueError(
                    "hidden_size debe ser múltiplo de num_attention_heads si no se da head_dim; "
                    f"se recibió {self.hidden_size} y {self.num_attention_heads}."
                )
            self.head_dim = self.hidden_size // self.num_attention_heads
        if self.head_dim < 2 or self.head_dim % 2:
            raise LabcodeValueError(
                f"head_dim debe ser par (RoPE gira parejas); se recibió {self.head_dim}."
            )
        if not (self.rms_norm_eps > 0 and self.rope_theta > 0):
            raise LabcodeValueError("rms_norm_eps y rope_theta deben ser positivos.")
        check_attn_implementation("LlamaConfig", self.attn_implementation, self.sliding_window)

    @property
    def n_rep(self) -> int:
        """Cabezas de consulta que comparten cada cabeza de claves/valores."""
        return self.num_attention_heads // self.num_key_value_heads

    @classmethod
    def from_hf(cls, config: Any) -> LlamaConfig:
        """Traduce un ``transformers.LlamaConfig`` (o su ``config.json`` como dict).

        Raises
        ------
        ValueError
            Si no es un Llama o usa algo que este módulo no implementa
            (escalado de RoPE, otra activación).
        """
        d: Mapping[str, Any] = config if isinstance(config, Mapping) else config.to_dict()
        if d.get("model_type", "llama") != "llama":
            raise LabcodeValueError(
                "Se esperaba una configuración de tipo 'llama'; se recibió "
                f"{d.get('model_type')!r}."
            )
        if d.get("hidden_act", "silu") != "silu":
            raise LabcodeValueError(
                f"Sólo se implementa SwiGLU con silu; hidden_act={d['hidden_act']!r}."
            )
        rope = d.get("rope_parameters") or d.get("rope_scaling") or {}
        rope_type = rope.get("rope_type", rope.get("type", "default"))
        if rope_type != "default":
            raise LabcodeValueError(
                f"Sólo se implementa RoPE sin escalado; rope_type={rope_type!r}."
            )
        theta = rope.get("rope_theta", d.get("rope_theta", 10000.0))
        names = {f.name for f in fields(cls)} - {"rope_theta", "attn_implementation",
                                                 "sliding_window"}
        kwargs = {k: d[k] for k in names if d.get(k) is not None}
        return cls(rope_theta=float(theta), **kwargs)


class RMSNorm(nn.Module):
    """Normalización por la raíz cuadrática media: ``w * x / sqrt(mean(x²) + eps)``.

    Se calcula en float32 aunque ``x`` venga en media precisión (como en HF).
    """

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        x32 = x.to(torch.float32)
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x32.to(dtype)


class RotaryEmbedding(nn.Module):
    """Cosenos y senos de RoPE para unas posiciones.

    La pareja ``i`` de cada cabeza (``i`` y ``i + hs/2`` en la convención
    ``rotate_half``) gira con la frecuencia ``theta ** (-2i / hs)``.
    """

    def __init__(self, head_dim: int, theta: float) -> None:
        super().__init__()
        self.head_dim = head_dim
        self.theta = theta

    def inv_freq(self, device: torch.device | None = None) -> torch.Tensor:
        """Frecuencias ``(hs/2,)``, siempre en float32 (también si el modelo está en bf16)."""
        exponents = torch.arange(0, self.head_dim, 2, dtype=torch.int64, device=device).float()
        return 1.0 / (self.theta ** (exponents / self.head_dim))

    def forward(
        self, positions: torch.Tensor, dtype: torch.dtype
    ) -> tuple[torch.Tensor, torch.Tensor]:
        inv_freq = self.inv_freq(positions.device)  # (hs/2,)
        freqs = positions.float()[:, None] * inv_freq[None, :]  # (T, hs/2)
        emb = torch.cat((freqs, freqs), dim=-1)  # (T, hs)
        return emb.cos().to(dtype), emb.sin().to(dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """``(x1, x2) -> (-x2, x1)`` sobre las dos mitades de la última dimensión."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary_pos_emb(
    q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gira consultas ``(B, nh, T, hs)`` y claves ``(B, nkv, T, hs)``.

    ``cos`` y ``sin`` tienen forma ``(T, hs)`` y se difunden sobre ``B`` y las cabezas.
    """
    return q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin


def repeat_kv(x: torch.Tensor, n_rep: int) -> torch.Tensor:
    """``(B, nkv, T, hs) -> (B, nkv * n_rep, T, hs)``: la cabeza de consulta ``h``
    usa la cabeza de claves/valores ``h // n_rep``."""
    if n_rep == 1:
        return x
    B, nkv, T, hs = x.shape
    return x[:, :, None].expand(B, nkv, n_rep, T, hs).reshape(B, nkv * n_rep, T, hs)


class LlamaAttention(nn.Module):
    """Atención causal con consultas agrupadas (GQA) y RoPE; el núcleo sale del registro
    :data:`labcode.nn.attention.ATTENTION_FUNCTIONS` (``config.attn_implementation``)."""

    def __init__(self, config: LlamaConfig, layer_idx: int) -> None:
        super().__init__()
        self.layer_idx = layer_idx
        self.n_head = config.num_attention_heads
        self.n_kv_head = config.num_key_value_heads
        self.head_dim = config.head_dim
        self.attn_implementation = config.attn_implementation
        self.sliding_window = config.sliding_window
        bias = config.attention_bias
        C, hs = config.hidden_size, config.head_dim
        self.q_proj = nn.Linear(C, self.n_head * hs, bias=bias)
        self.k_proj = nn.Linear(C, self.n_kv_head * hs, bias=bias)
        self.v_proj = nn.Linear(C, self.n_kv_head * hs, bias=bias)
        self.o_proj = nn.Linear(self.n_head * hs, C, bias=bias)

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        kv_cache: KVCache | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(B, T, C) -> (B, T, C)`` y los pesos ``(B, nh, T, S)`` con ``S = past + T``
        (o ``None`` si no se piden)."""
        B, T, _ = x.shape  # (B, T, C)
        nh, nkv, hs = self.n_head, self.n_kv_head, self.head_dim
        q = self.q_proj(x).view(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
        k = self.k_proj(x).view(B, T, nkv, hs).transpose(1, 2)  # (B, nkv, T, hs)
        v = self.v_proj(x).view(B, T, nkv, hs).transpose(1, 2)  # (B, nkv, T, hs)
        q, k = apply_rotary_pos_emb(q, k, cos, sin)
        if kv_cache is not None:
            k, v = kv_cache.update(self.layer_idx, k, v)  # (B, nkv, S, hs), S = past + T
        k = repeat_kv(k, nh // nkv)  # (B, nh, S, hs)
        v = repeat_kv(v, nh // nkv)  # (B, nh, S, hs)
        attend = ATTENTION_FUNCTIONS[self.attn_implementation]
        y, w = attend(q, k, v, None, is_causal=True, output_attentions=output_attentions,
                      window=self.sliding_window)  # (B, nh, T, hs)
        y = y.transpose(1, 2).reshape(B, T, nh * hs)  # (B, T, nh*hs)
        return self.o_proj(y), w  # (B, T, C)


class LlamaMLP(nn.Module):
    """MLP SwiGLU: ``down_proj(silu(gate_proj(x)) * up_proj(x))``."""

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        C, H, bias = config.hidden_size, config.intermediate_size, config.mlp_bias
        self.gate_proj = nn.Linear(C, H, bias=bias)
        self.up_proj = nn.Linear(C, H, bias=bias)
        self.down_proj = nn.Linear(H, C, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))  # (B, T, C)


class LlamaDecoderLayer(nn.Module):
    """Bloque pre-norma: ``x + attn(norm(x))`` y después ``x + mlp(norm(x))``."""

    def __init__(self, config: LlamaConfig, layer_idx: int) -> None:
        super().__init__()
        self.self_attn = LlamaAttention(config, layer_idx)
        self.mlp = LlamaMLP(config)
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        kv_cache: KVCache | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(B, T, C) -> (B, T, C)`` y los pesos de atención (o ``None``)."""
        a, w = self.self_attn(self.input_layernorm(x), cos, sin, kv_cache, output_attentions)
        x = x + a
        x = x + self.mlp(self.post_attention_layernorm(x))
        return x, w  # (B, T, C)


class LlamaModel(nn.Module):
    """Embeddings, pila de bloques y normalización final (sin la cabeza)."""

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(
            LlamaDecoderLayer(config, i) for i in range(config.num_hidden_layers)
        )
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.rotary_emb = RotaryEmbedding(config.head_dim, config.rope_theta)

    def run(
        self,
        input_ids: torch.Tensor,
        kv_cache: KVCache | None = None,
        output_attentions: bool = False,
        n_layers: int | None = None,
    ) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
        """Estados ocultos normalizados ``(B, T, C)`` y los pesos de cada capa (o ``None``).

        ``n_layers``: usar solo las primeras capas (borrador de la decodificación
        especulativa). No valida: lo hacen los puntos de entrada públicos.
        """
        T = input_ids.shape[1]
        past = 0 if kv_cache is None else kv_cache.seq_len()
        x = self.embed_tokens(input_ids)  # (B, T, C)
        positions = torch.arange(past, past + T, device=input_ids.device)  # (T,)
        cos, sin = self.rotary_emb(positions, x.dtype)  # (T, hs) cada uno
        attentions = []
        for layer in self.layers[:n_layers]:
            x, w = layer(x, cos, sin, kv_cache, output_attentions)  # w: (B, nh, T, S)
            attentions.append(w)
        return self.norm(x), attentions  # (B, T, C)

    def forward(
        self,
        input_ids: torch.Tensor,
        kv_cache: KVCache | None = None,
        output_attentions: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Estados ocultos normalizados ``(B, T, C)`` (y, si se piden, los pesos
        de atención de cada capa, cada uno ``(B, nh, T, S)``)."""
        x, attentions = self.run(input_ids, kv_cache, output_attentions)
        return (x, attentions) if output_attentions else x


class Llama(nn.Module):
    """Modelo de lenguaje causal con arquitectura Llama (``LlamaForCausalLM``)."""

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        if not isinstance(config, LlamaConfig):
            raise LabcodeTypeError(
                f"Se esperaba un LlamaConfig; se recibió {type(config).__name__}."
            )
        self.config = config
        self.model = LlamaModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.apply(self._init_weights)
        if config.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight

    def _init_weights(self, module: nn.Module) -> None:
        std = self.config.initializer_range
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=std)

    def _check_input_ids(self, input_ids: Any, past: int = 0, extra: int = 0,
                         check_values: bool | None = None) -> None:
        token_ids(input_ids, who="Llama", vocab_size=self.config.vocab_size,
                  max_positions=self.config.max_position_embeddings,
                  limit_name="max_position_embeddings", past=past, extra=extra,
                  check_values=check_values)

    def logits(self, input_ids: torch.Tensor, kv_cache: KVCache | None = None) -> torch.Tensor:
        """Logits ``(B, T, V)`` sin validar (el paso de ``generate``)."""
        return self.lm_head(self.model.run(input_ids, kv_cache)[0])

    def forward(
        self,
        input_ids: torch.Tensor,
        kv_cache: KVCache | None = None,
        output_attentions: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Logits del siguiente token en cada posición.

        Parameters
        ----------
        input_ids:
            ``(B, T)`` enteros en ``[0, vocab_size)`` (los valores se miran solo en CPU).
        kv_cache:
            Si se da, se usa y se amplía (las posiciones continúan tras lo guardado).
        output_attentions:
            Si es ``True`` devuelve también los pesos de atención de cada capa:
            una lista de ``num_hidden_layers`` tensores ``(B, nh, T, S)`` con
            ``S`` = posiciones en caché + ``T`` (calculados de forma explícita).

        Returns
        -------
        torch.Tensor or tuple
            ``(B, T, vocab_size)`` (y la lista de pesos si se pide).
        """
        self._check_input_ids(input_ids, 0 if kv_cache is None else kv_cache.seq_len())
        x, attentions = self.model.run(input_ids, kv_cache, output_attentions)
        logits = self.lm_head(x)  # (B, T, V)
        return (logits, attentions) if output_attentions else logits

    def new_cache(self) -> KVCache:
        """Una caché vacía para este modelo."""
        return KVCache(self.config.num_hidden_layers)

    @torch.no_grad()
    def generate(
        self,
        input_ids: torch.Tensor,
        max_new_tokens: int,
        do_sample: bool = False,
        temperature: float = 1.0,
        top_k: int | None = None,
        use_cache: bool = True,
        eos_token_id: int | None = None,
        generator: torch.Generator | None = None,
        top_p: float | None = None,
        repetition_penalty: float = 1.0,
    ) -> torch.Tensor:
        """Continúa ``input_ids`` ``(B, T)`` (sin relleno) con hasta ``max_new_tokens`` tokens.

        ``do_sample=False``: decodificación voraz (``argmax``); ``True``: muestreo con
        ``temperature``, ``top_k``, ``top_p`` y ``generator``
        (:func:`labcode.sampling.sample_next_token`); ``repetition_penalty`` (1.0 = ninguna)
        en ambos casos. ``use_cache`` reutiliza claves y valores
        (:class:`labcode.nn.cache.KVCache`): cada
        paso procesa solo el último token, con el mismo resultado. Con ``eos_token_id``,
        una fila que lo genera queda terminada (se rellena con él) y la generación acaba
        cuando todas han terminado. Devuelve ``(B, T + n)`` con ``n <= max_new_tokens``.

        Raises
        ------
        ValueError
            Forma, longitud, ids, ``temperature``, ``top_k`` o ``max_new_tokens`` no válidos.
        """
        checks.nonnegative_int("max_new_tokens", max_new_tokens)
        check_sampling(temperature, top_k, top_p, repetition_penalty)
        self._check_input_ids(input_ids, extra=max_new_tokens, check_values=True)
        cache = self.new_cache() if use_cache else None

        def next_logits(ids: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
            return self.logits(new if use_cache else ids, cache)[:, -1, :].float()  # (B, V)

        was_training = self.training
        self.eval()
        try:
            return generate_tokens(
                next_logits, input_ids, max_new_tokens, eos_token_id=eos_token_id,
                do_sample=do_sample, temperature=temperature, top_k=top_k, top_p=top_p,
                repetition_penalty=repetition_penalty, generator=generator)
        finally:
            self.train(was_training)

    @classmethod
    def from_hf(cls, hf_model: nn.Module, share: bool = False) -> Llama:
        """Copia un ``transformers.LlamaForCausalLM`` (mismo dtype y dispositivo).

        Con ``share=True`` no copia: el modelo se construye sin pesos (dispositivo
        ``meta``) y sus parámetros son los mismos tensores de ``hf_model`` (las claves
        coinciden una a una). Ocupa la mitad de memoria; cambiar unos pesos cambia los
        del otro.

        Raises
        ------
        TypeError
            Si ``hf_model`` no es un modelo causal de arquitectura Llama.
        """
        config = getattr(hf_model, "config", None)
        if getattr(config, "model_type", None) != "llama" or not hasattr(hf_model, "lm_head"):
            raise LabcodeTypeError(
                "Se esperaba un LlamaForCausalLM de transformers; se recibió "
                f"{type(hf_model).__name__} (model_type={getattr(config, 'model_type', None)!r})."
            )
        if share:
            with torch.device("meta"):
                model = cls(LlamaConfig.from_hf(config))
            model.load_state_dict(hf_model.state_dict(), strict=True, assign=True)
            if model.config.tie_word_embeddings:
                model.lm_head.weight = model.model.embed_tokens.weight  # vuelve a atarlos
            return model.eval()
        model = cls(LlamaConfig.from_hf(config))
        model.load_state_dict(hf_model.state_dict(), strict=True)
        p = next(hf_model.parameters())
        return model.to(device=p.device, dtype=p.dtype).eval()
