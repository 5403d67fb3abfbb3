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
  valores, *KV cache*), :meth:`GPT.from_hf` y :meth:`GPT.from_pretrained`.
- :func:`encoder_block_from_gpt_block`: copia un bloque de GPT en un
  :class:`labcode.nn.blocks.TransformerEncoderBlock` pre-LN para mostrar que ambos
  calculan lo mismo con una máscara causal.

Notación de formas: ``B`` lote, ``T`` longitud, ``C = n_embd``, ``nh`` cabezas,
``hs = C // nh``, ``V`` vocabulario, ``P`` longitud ya guardada en la caché.
"""

from __future__ import annotations

import math
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from labcode.utils import checks
from labcode.utils.checks import token_ids
from labcode.utils.errors import (
    CheckpointError,
    LabcodeRuntimeError,
    LabcodeTypeError,
    LabcodeValueError,
)

__all__ = [
    "GPTConfig",
    "CausalSelfAttention",
    "MLP",
    "Block",
    "GPT",
    "KVCache",
    "encoder_block_from_gpt_block",
    "measure_tokens_per_second",
    "hf_hub_reachable",
]

#: Caché de un modelo, con una pareja ``(k, v)`` por capa, cada una ``(B, nh, P, hs)``.
KVCache = list[tuple[torch.Tensor, torch.Tensor]]


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
    """

    vocab_size: int = 50257
    n_positions: int = 1024
    n_embd: int = 768
    n_layer: int = 12
    n_head: int = 12
    dropout: float = 0.0
    layer_norm_epsilon: float = 1e-5
    bias: bool = True

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
    ``(C -> 3C)``; ``c_proj`` mezcla las cabezas ``(C -> C)``. El núcleo es
    :func:`torch.nn.functional.scaled_dot_product_attention`: con ``is_causal``
    para el *prompt* y sin máscara para un único token nuevo con caché (que ya
    puede ver todo lo anterior).
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.n_head = config.n_head
        self.n_embd = config.n_embd
        self.dropout = config.dropout
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(
        self,
        x: torch.Tensor,
        past: tuple[torch.Tensor, torch.Tensor] | None = None,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, ...]:
        """Aplica la atención.

        Parameters
        ----------
        x : torch.Tensor
            ``(B, T, C)``: los ``T`` tokens nuevos.
        past : tuple of torch.Tensor, optional
            ``(k, v)`` de los ``P`` tokens anteriores, cada uno ``(B, nh, P, hs)``.
        need_weights : bool
            Si es ``True``, la atención se calcula de forma explícita (softmax de
            ``q kᵀ / √hs`` con la máscara causal) y se devuelven también los pesos.

        Returns
        -------
        y : torch.Tensor
            ``(B, T, C)``.
        present : tuple of torch.Tensor
            ``(k, v)`` con los ``P + T`` tokens, para el paso siguiente.
        weights : torch.Tensor
            Sólo si ``need_weights``: ``(B, nh, T, P + T)``; cada fila suma 1.
        """
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)  # 3 x (B, T, C)
        hs = C // self.n_head
        q = q.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        P = 0
        if past is not None:
            P = past[0].shape[2]
            k = torch.cat((past[0], k), dim=2)  # (B, nh, P + T, hs)
            v = torch.cat((past[1], v), dim=2)  # (B, nh, P + T, hs)
        p = self.dropout if self.training else 0.0
        if need_weights:
            # Atención explícita: la consulta i (posición P + i) ve las claves j <= P + i.
            allowed = torch.ones(T, P + T, dtype=torch.bool, device=x.device).tril(diagonal=P)
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(hs)  # (B, nh, T, P + T)
            w = scores.masked_fill(~allowed, float("-inf")).softmax(dim=-1)
            y = F.dropout(w, p=p, training=self.training) @ v  # (B, nh, T, hs)
            y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C)
            return self.resid_dropout(self.c_proj(y)), (k, v), w
        if P == 0:
            # Prompt completo: máscara causal implícita (triangular inferior).
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=T > 1)
        elif T == 1:
            # Un token nuevo con caché: puede ver todas las posiciones guardadas.
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p)
        else:
            # Varios tokens nuevos tras la caché: la consulta i (posición P + i)
            # ve las claves j <= P + i. is_causal alinearía mal (arriba a la izquierda).
            allowed = torch.ones(T, P + T, dtype=torch.bool, device=x.device).tril(diagonal=P)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, dropout_p=p)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C)
        return self.resid_dropout(self.c_proj(y)), (k, v)


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

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon, bias=config.bias)
        self.mlp = MLP(config)

    def forward(
        self,
        x: torch.Tensor,
        past: tuple[torch.Tensor, torch.Tensor] | None = None,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, ...]:
        """``(B, T, C) -> (B, T, C)``; devuelve también la caché ``(k, v)`` de la capa
        (y los pesos de atención ``(B, nh, T, P + T)`` si ``need_weights``)."""
        out = self.attn(self.ln_1(x), past, need_weights=need_weights)
        x = x + out[0]
        x = x + self.mlp(self.ln_2(x))
        return (x, *out[1:])


# ---------------------------------------------------------------------------
# Modelo completo
# ---------------------------------------------------------------------------


def _hf_key_map(n_layer: int) -> list[tuple[str, str, bool]]:
    """Correspondencia explícita ``(clave nuestra, clave de HF, trasponer)``.

    Las capas de GPT-2 en HF son ``Conv1D`` con el peso guardado como
    ``(entrada, salida)``; ``nn.Linear`` lo guarda como ``(salida, entrada)``.
    """
    rows = [
        ("transformer.wte.weight", "transformer.wte.weight", False),
        ("transformer.wpe.weight", "transformer.wpe.weight", False),
    ]
    for i in range(n_layer):
        p = f"transformer.h.{i}."
        for ln in ("ln_1", "ln_2"):
            rows.append((f"{p}{ln}.weight", f"{p}{ln}.weight", False))
            rows.append((f"{p}{ln}.bias", f"{p}{ln}.bias", False))
        for lin in ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"):
            rows.append((f"{p}{lin}.weight", f"{p}{lin}.weight", True))
            rows.append((f"{p}{lin}.bias", f"{p}{lin}.bias", False))
    rows.append(("transformer.ln_f.weight", "transformer.ln_f.weight", False))
    rows.append(("transformer.ln_f.bias", "transformer.ln_f.bias", False))
    return rows


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
                h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
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

    def _run(
        self,
        input_ids: torch.Tensor,
        past: KVCache | None,
        last_only: bool,
        attentions: list[torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, KVCache]:
        B, T = input_ids.shape
        P = 0 if past is None else past[0][0].shape[2]
        pos = torch.arange(P, P + T, dtype=torch.long, device=input_ids.device)  # (T,)
        x = self.transformer.wte(input_ids) + self.transformer.wpe(pos)  # (B, T, C)
        x = self.transformer.drop(x)
        present: KVCache = []
        need_weights = attentions is not None
        for i, block in enumerate(self.transformer.h):
            out = block(x, None if past is None else past[i], need_weights=need_weights)
            x, kv = out[0], out[1]
            present.append(kv)
            if need_weights:
                attentions.append(out[2])  # (B, nh, T, P + T)
        if last_only:
            x = x[:, -1:, :]  # (B, 1, C): sólo hace falta el último token
        x = self.transformer.ln_f(x)
        return self.lm_head(x), present  # (B, T, V) o (B, 1, V)

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
            inferiores: atención causal). Se calculan de forma explícita, sin
            :func:`torch.nn.functional.scaled_dot_product_attention`.

        Returns
        -------
        torch.Tensor or tuple
            Logits ``(B, T, V)``; la fila ``t`` sólo depende de los tokens ``0..t``
            (y la lista de pesos si se pide).

        Raises
        ------
        TypeError
            Si ``input_ids`` no es un tensor de enteros.
        ValueError
            Si no es 2D, está vacío, supera el contexto o tiene ids fuera del vocabulario.
        """
        self._check_input_ids(input_ids)
        attentions: list[torch.Tensor] | None = [] if output_attentions else None
        logits, _ = self._run(input_ids, None, last_only=False, attentions=attentions)
        return (logits, attentions) if output_attentions else logits

    def forward_cached(
        self, input_ids: torch.Tensor, past_key_values: KVCache | None = None
    ) -> tuple[torch.Tensor, KVCache]:
        """Como :meth:`forward`, pero reutiliza y devuelve la caché de claves y valores.

        Parameters
        ----------
        input_ids : torch.Tensor
            Los ``T`` tokens nuevos ``(B, T)``.
        past_key_values : list of tuple, optional
            Caché de los ``P`` tokens anteriores: una pareja ``(k, v)`` por capa, cada
            tensor de forma ``(B, nh, P, hs)``.

        Returns
        -------
        logits : torch.Tensor
            ``(B, T, V)`` para los tokens nuevos.
        present : list of tuple
            Caché con ``P + T`` posiciones (una pareja ``(k, v)`` por capa).
        """
        P = 0
        if past_key_values is not None:
            if len(past_key_values) != self.config.n_layer:
                raise LabcodeValueError(
                    f"GPT: la caché debe tener una pareja (k, v) por capa ({self.config.n_layer}); "
                    f"se recibieron {len(past_key_values)}."
                )
            P = past_key_values[0][0].shape[2]
        self._check_input_ids(input_ids, past_length=P)
        return self._run(input_ids, past_key_values, last_only=False)

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
    ) -> torch.Tensor:
        """Genera ``max_new_tokens`` tokens de forma autorregresiva.

        Parameters
        ----------
        input_ids : torch.Tensor
            *Prompt* ``(B, T)`` (todas las filas con la misma longitud, sin relleno).
        max_new_tokens : int
            Tokens nuevos (``>= 0``); ``T + max_new_tokens`` no puede superar ``n_positions``.
        temperature : float
            Divide los logits antes de la softmax (``> 0``); sólo influye al muestrear.
        top_k : int, optional
            Si se da (``>= 1``), sólo se muestrea entre los ``top_k`` tokens más probables.
        do_sample : bool
            ``False``: decodificación voraz (*greedy*, ``argmax``); ``True``: muestreo.
        use_cache : bool
            ``True``: tras el *prompt*, cada paso procesa sólo el token nuevo y
            reutiliza las claves y valores guardados (*KV cache*). ``False``:
            cada paso recalcula la secuencia entera.
        generator : torch.Generator, optional
            Generador aleatorio para que el muestreo sea reproducible.

        Returns
        -------
        torch.Tensor
            ``(B, T + max_new_tokens)``: el *prompt* seguido de los tokens nuevos.

        Raises
        ------
        ValueError
            Si los argumentos no son válidos o la secuencia final supera el contexto.
        """
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int):
            raise LabcodeTypeError(
                f"GPT.generate: max_new_tokens debe ser un entero; se recibió {max_new_tokens!r}."
            )
        if max_new_tokens < 0:
            raise LabcodeValueError(
                f"GPT.generate: max_new_tokens debe ser >= 0; se recibió {max_new_tokens}."
            )
        if not isinstance(temperature, (int, float)) or not temperature > 0:
            raise LabcodeValueError(
                f"GPT.generate: temperature debe ser un número > 0; se recibió {temperature!r}."
            )
        if top_k is not None and (
            isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1
        ):
            raise LabcodeValueError(
                f"GPT.generate: top_k debe ser None o un entero >= 1; se recibió {top_k!r}."
            )
        self._check_input_ids(input_ids, extra=max_new_tokens, check_values=True)
        out = input_ids
        past: KVCache | None = None
        next_input = input_ids
        for _ in range(max_new_tokens):
            if use_cache:
                logits, past = self._run(next_input, past, last_only=True)
            else:
                logits, _ = self._run(out, None, last_only=True)
            logits = logits[:, -1, :]  # (B, V)
            next_id = self._pick(logits, temperature, top_k, do_sample, generator)  # (B, 1)
            out = torch.cat((out, next_id), dim=1)
            next_input = next_id
        return out

    @staticmethod
    def _pick(
        logits: torch.Tensor,
        temperature: float,
        top_k: int | None,
        do_sample: bool,
        generator: torch.Generator | None,
    ) -> torch.Tensor:
        """Elige el siguiente token a partir de los logits ``(B, V)``; devuelve ``(B, 1)``."""
        if not do_sample:
            return logits.argmax(dim=-1, keepdim=True)
        logits = logits / temperature
        if top_k is not None:
            k = min(top_k, logits.shape[-1])
            kth = torch.topk(logits, k, dim=-1).values[:, -1:]  # (B, 1)
            logits = logits.masked_fill(logits < kth, float("-inf"))
        probs = logits.softmax(dim=-1)
        return torch.multinomial(probs, num_samples=1, generator=generator)

    # -- pesos de Hugging Face -------------------------------------------

    @classmethod
    def from_hf(cls, hf_model: nn.Module) -> GPT:
        """Copia un ``transformers.GPT2LMHeadModel`` (o ``GPT2Model``).

        Las claves se recorren una a una (lista explícita en ``_hf_key_map``); los pesos
        ``Conv1D`` de HF se trasponen al copiarlos en ``nn.Linear``.

        Parameters
        ----------
        hf_model : transformers.GPT2LMHeadModel
            Modelo de HF (con pesos aleatorios o preentrenados).

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
        hf_config = getattr(hf_model, "config", None)
        if hf_config is None or getattr(hf_config, "model_type", None) != "gpt2":
            raise LabcodeTypeError(
                "GPT.from_hf: se esperaba un transformers.GPT2LMHeadModel o GPT2Model; "
                f"se recibió {type(hf_model).__name__}."
            )
        unsupported = {
            "activation_function": ("gelu_new", "gelu_pytorch_tanh"),
            "scale_attn_weights": (True,),
            "scale_attn_by_inverse_layer_idx": (False,),
            "reorder_and_upcast_attn": (False,),
            "add_cross_attention": (False,),
        }
        for name, ok in unsupported.items():
            value = getattr(hf_config, name, ok[0])
            if value not in ok:
                raise LabcodeValueError(
                    f"GPT.from_hf: la opción {name}={value!r} de la configuración de HF no está "
                    f"implementada (se admite {ok})."
                )
        n_inner = getattr(hf_config, "n_inner", None)
        if n_inner is not None and n_inner != 4 * hf_config.n_embd:
            raise LabcodeValueError(
                f"GPT.from_hf: n_inner={n_inner} no implementado (se admite 4 * n_embd)."
            )
        config = GPTConfig(
            vocab_size=hf_config.vocab_size,
            n_positions=hf_config.n_positions,
            n_embd=hf_config.n_embd,
            n_layer=hf_config.n_layer,
            n_head=hf_config.n_head,
            dropout=float(hf_config.resid_pdrop),
            layer_norm_epsilon=hf_config.layer_norm_epsilon,
            bias=True,
        )
        hf_sd = hf_model.state_dict()
        is_lm = "transformer.wte.weight" in hf_sd  # GPT2LMHeadModel; si no, GPT2Model

        def hf_key(key: str) -> str:
            return key if is_lm else key.removeprefix("transformer.")

        ref = hf_sd[hf_key("transformer.wte.weight")]
        model = cls(config).to(device=ref.device, dtype=ref.dtype)
        own = model.state_dict()
        copied = set()
        with torch.no_grad():
            for ours, theirs, transpose in _hf_key_map(config.n_layer):
                src = hf_sd[hf_key(theirs)]
                if transpose:
                    src = src.t()
                if own[ours].shape != src.shape:
                    raise LabcodeValueError(
                        f"GPT.from_hf: forma incompatible en {ours}: {tuple(own[ours].shape)} "
                        f"frente a {tuple(src.shape)} en HF ({theirs})."
                    )
                own[ours].copy_(src)
                copied.add(ours)
        lm = hf_sd.get("lm_head.weight")
        if lm is not None and not torch.equal(lm, ref):
            raise LabcodeValueError(
                "GPT.from_hf: lm_head no está atado a wte en el modelo de HF; "
                "este GPT sólo admite pesos atados (como GPT-2)."
            )
        missing = set(own) - copied - {"lm_head.weight"}
        if missing:  # pragma: no cover - protege contra cambios en el mapa
            raise LabcodeRuntimeError(f"GPT.from_hf: claves sin copiar: {sorted(missing)}")
        return model.eval()

    @classmethod
    def from_pretrained(cls, name_or_path: str, **hf_kwargs) -> GPT:
        """Carga GPT-2 preentrenado con ``transformers`` y lo copia con :meth:`from_hf`.

        Parameters
        ----------
        name_or_path : str
            Nombre en el Hub de Hugging Face (``"gpt2"``, ``"gpt2-medium"``...)
            o carpeta local con ``config.json`` y los pesos.
        **hf_kwargs
            Argumentos para ``GPT2LMHeadModel.from_pretrained``. Siempre se
            cargan pesos safetensors sin código remoto (``use_safetensors=True``,
            ``trust_remote_code=False``): no se pueden cambiar.

        Raises
        ------
        labcode.hf.pretrained.ModelNotAvailableError
            Si no se pueden obtener los pesos (sin conexión, carpeta sin
            safetensors o sólo con pesos *pickle*).
        labcode.utils.errors.CheckpointError
            Si la carpeta no es de GPT-2, está dañada o le faltan o sobran pesos.
        """
        from pathlib import Path

        from transformers import GPT2LMHeadModel

        from labcode.hf import pretrained
        from labcode.utils.errors import short_reason
        from labcode.utils.runtime import quiet_transformers

        for key, value in pretrained.SAFE_LOAD_KWARGS.items():
            if hf_kwargs.get(key, value) != value:
                raise LabcodeValueError(
                    f"GPT.from_pretrained: {key}={hf_kwargs[key]!r} no está permitido; labcode "
                    f"sólo carga con {key}={value!r}."
                )
        hf_kwargs.update(pretrained.SAFE_LOAD_KWARGS)
        local = Path(str(name_or_path)).expanduser()
        if local.is_dir():
            spec = pretrained.ModelSpec(local.name, "local", str(local.resolve()), "decoder")
            folder = pretrained.local_model_dir(spec)  # config, tipo de modelo y safetensors
            if pretrained.read_config(folder).get("model_type") != "gpt2":
                raise CheckpointError(
                    f"GPT.from_pretrained: {folder} no es un modelo GPT-2 (model_type="
                    f"{pretrained.read_config(folder).get('model_type')!r}); para Llama usa "
                    "labcode.models.llama.Llama.from_pretrained."
                )
        try:
            with quiet_transformers():
                hf_model, info = GPT2LMHeadModel.from_pretrained(
                    name_or_path, output_loading_info=True, **hf_kwargs
                )
        except OSError as err:
            raise pretrained.ModelNotAvailableError(
                f"GPT.from_pretrained: no se pudo cargar {name_or_path!r} con "
                "transformers (¿sin conexión al Hub de Hugging Face o HF_HUB_OFFLINE=1?, "
                f"¿carpeta sin pesos safetensors?). Detalle: {short_reason(err)}"
            ) from None
        pretrained.check_loading_info(info, Path(str(name_or_path)), "GPT.from_pretrained")
        return cls.from_hf(hf_model)


# ---------------------------------------------------------------------------
# «Los mismos bloques»
# ---------------------------------------------------------------------------


def encoder_block_from_gpt_block(block: Block):
    """Copia un :class:`Block` de GPT en un ``TransformerEncoderBlock`` pre-LN.

    El bloque devuelto (``norm_first=True``, ``activation="gelu_tanh"``,
    ``dropout=0``) con la máscara :func:`labcode.nn.blocks.causal_mask` calcula
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


# ---------------------------------------------------------------------------
# Medir la velocidad de generación
# ---------------------------------------------------------------------------


def measure_tokens_per_second(
    generate_fns: dict[str, Callable[[], object]],
    new_tokens: int,
    batch_size: int = 1,
    repeats: int = 3,
    warmup: int = 1,
) -> dict[str, dict]:
    """Tokens generados por segundo de varias funciones de generación.

    Las repeticiones se intercalan (A, B, C, A, B, C...) para que una carga
    variable de la máquina afecte a todos los métodos por igual; se informa de
    la mediana.

    Parameters
    ----------
    generate_fns : dict
        ``{nombre: función sin argumentos}``; cada llamada genera ``new_tokens``
        tokens por fila del lote.
    new_tokens : int
        Tokens nuevos por fila en cada llamada.
    batch_size : int
        Filas del lote (los tokens/s cuentan todas las filas).
    repeats : int
        Repeticiones cronometradas (``>= 1``).
    warmup : int
        Llamadas previas sin cronometrar (``>= 0``).

    Returns
    -------
    dict
        ``{nombre: {"seconds": mediana (s), "tokens_per_s": ..., "all_seconds": [...]}}``.
    """
    from labcode.utils.timing import time_interleaved

    times = time_interleaved(generate_fns, repeats=repeats, warmup=warmup)
    return {
        name: {"seconds": t.median_s, "all_seconds": list(t.times_s),
               "tokens_per_s": new_tokens * batch_size / t.median_s}
        for name, t in times.items()
    }


def hf_hub_reachable(timeout: float = 2.0) -> bool:
    """¿Se puede descargar del Hub de Hugging Face ahora mismo?

    Devuelve ``False`` sin intentar conectar si ``HF_HUB_OFFLINE`` o
    ``TRANSFORMERS_OFFLINE`` están activadas; si no, prueba a abrir una conexión
    con ``huggingface.co:443`` durante como mucho ``timeout`` segundos.
    """
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on"):
            return False
    try:
        socket.create_connection(("huggingface.co", 443), timeout=timeout).close()
    except OSError:
        return False
    return True
