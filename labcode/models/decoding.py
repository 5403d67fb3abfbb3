"""Decodificación más rápida sin cambiar el resultado: especulativa y con caché estática.

- :class:`TruncatedLlama`: las primeras capas de un :class:`labcode.models.llama.Llama`
  con su norma final y su cabeza compartidas: un borrador (*draft*) gratuito, sin
  entrenar ni descargar nada (la idea de salida temprana de LayerSkip).
- :func:`speculative_generate`: decodificación especulativa voraz. El borrador
  propone ``k`` tokens, el modelo grande (verificador) los comprueba todos en una
  sola pasada y se acepta el prefijo que coincide con su propio ``argmax``, más
  un token suyo. El texto es el mismo que el de la decodificación voraz del
  verificador; solo cambia cuántas pasadas del modelo grande hacen falta.
- :class:`StaticCacheGPT`: generación voraz de :class:`labcode.models.gpt.GPT` con una
  caché de claves y valores **preasignada** (formas fijas en cada paso), lo que
  permite compilar el paso con ``torch.compile(mode="reduce-overhead")`` y
  capturarlo como grafo CUDA (*CUDA graph*) en una GPU. En CPU el mismo código
  se ejecuta sin compilar (*eager*) y da los mismos tokens.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from labcode.models.gpt import GPT
from labcode.models.llama import Llama
from labcode.nn.cache import KVCache
from labcode.utils.checks import positive_int

__all__ = [
    "StaticCacheGPT",
    "TruncatedLlama",
    "crop_cache",
    "draft_agreement",
    "expected_speedup",
    "speculative_generate",
]


# --- Borrador: las primeras capas del propio modelo ---------------------------------


class TruncatedLlama(nn.Module):
    """Las ``n_layers`` primeras capas de ``model`` seguidas de su norma final y su cabeza.

    No copia pesos: comparte los módulos de ``model``. Tiene la misma interfaz que
    :class:`labcode.models.llama.Llama` para generar (``forward(input_ids, kv_cache)``,
    ``new_cache()`` y ``generate``).
    """

    def __init__(self, model: Llama, n_layers: int) -> None:
        super().__init__()
        if not isinstance(model, Llama):
            raise TypeError("TruncatedLlama: se esperaba un labcode.models.llama.Llama; "
                            f"se recibió "
                            f"{type(model).__name__}.")
        total = model.config.num_hidden_layers
        if not 1 <= positive_int("TruncatedLlama: n_layers", n_layers) <= total:
            raise ValueError(f"TruncatedLlama: n_layers debe estar entre 1 y {total}; "
                             f"se recibió {n_layers}.")
        self.base = model
        self.n_layers = n_layers
        self.config = model.config

    def new_cache(self) -> KVCache:
        return KVCache(self.n_layers)

    def _check_input_ids(self, *args: Any, **kwargs: Any) -> None:
        self.base._check_input_ids(*args, **kwargs)

    def logits(self, input_ids: torch.Tensor, kv_cache: KVCache | None = None) -> torch.Tensor:
        """Logits ``(B, T, V)`` sin validar, con las primeras ``n_layers`` capas."""
        x, _ = self.base.model.run(input_ids, kv_cache, n_layers=self.n_layers)
        return self.base.lm_head(x)  # (B, T, V)

    def forward(self, input_ids: torch.Tensor, kv_cache: KVCache | None = None) -> torch.Tensor:
        """Logits ``(B, T, V)`` usando solo las primeras ``n_layers`` capas."""
        self._check_input_ids(input_ids, 0 if kv_cache is None else kv_cache.seq_len())
        return self.logits(input_ids, kv_cache)

    generate = Llama.generate


# --- Decodificación especulativa ----------------------------------------------------


@torch.inference_mode()
def draft_agreement(target: nn.Module, draft: nn.Module, ids: torch.Tensor,
                    start: int = 1) -> float:
    """Fracción de posiciones ``t >= start`` de ``ids`` ``(1, N)`` en las que el borrador
    y el verificador eligen el mismo ``argmax`` para el token siguiente.

    Con ``ids`` = la salida voraz del verificador, es la probabilidad ``α`` de que
    el verificador acepte un token propuesto (con el mismo contexto), y se obtiene
    con una sola pasada de cada modelo.
    """
    if ids.dim() != 2 or ids.shape[0] != 1 or not 0 <= start < ids.shape[1] - 1:
        raise ValueError("draft_agreement: se esperaba ids (1, N) y 0 <= start < N - 1; se "
                         f"recibió la forma {tuple(ids.shape)} y start={start}.")
    a = target(ids)[0, start:-1].argmax(-1)
    b = draft(ids)[0, start:-1].argmax(-1)
    return float((a == b).float().mean())


def expected_speedup(alpha: float, k: int, cost_ratio: float) -> float:
    """Aceleración esperada de la decodificación especulativa (Leviathan et al., 2023).

    Si cada token propuesto se acepta con probabilidad ``alpha`` (independiente), una
    ronda produce en media ``(1 - alpha^(k+1)) / (1 - alpha)`` tokens y cuesta ``k``
    pasadas del borrador (cada una ``cost_ratio`` veces una del verificador) más una
    del verificador.
    """
    if not 0 <= alpha <= 1 or cost_ratio < 0:
        raise ValueError(f"expected_speedup: alpha en [0, 1] y cost_ratio >= 0; se recibió "
                         f"{alpha} y {cost_ratio}.")
    k = positive_int("expected_speedup: k", k)
    tokens = k + 1 if alpha == 1 else (1 - alpha ** (k + 1)) / (1 - alpha)
    return tokens / (k * cost_ratio + 1)



def crop_cache(cache: KVCache, length: int) -> None:
    """Recorta en el sitio una :class:`labcode.nn.cache.KVCache` a sus ``length`` primeras
    posiciones (descarta las de los tokens rechazados)."""
    cache.crop(length)


def _check_speculative(target: nn.Module, input_ids: torch.Tensor, max_new_tokens: int,
                       k: int) -> None:
    positive_int("speculative_generate: k", k)
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or \
            max_new_tokens < 0:
        raise ValueError("speculative_generate: max_new_tokens debe ser un entero >= 0; "
                         f"se recibió {max_new_tokens!r}.")
    if not isinstance(input_ids, torch.Tensor) or input_ids.dim() != 2 or input_ids.shape[0] != 1:
        raise ValueError(
            "speculative_generate: se esperaba un prompt (1, T) (un solo texto: la cantidad "
            "de tokens aceptados cambia de una fila a otra); se recibió "
            f"{getattr(input_ids, 'shape', type(input_ids).__name__)}."
        )
    target._check_input_ids(input_ids, extra=max_new_tokens + k + 1)


@torch.inference_mode()
def speculative_generate(target: nn.Module, draft: nn.Module, input_ids: torch.Tensor,
                         max_new_tokens: int, k: int = 4) -> tuple[torch.Tensor, dict[str, Any]]:
    """Decodificación especulativa voraz (Leviathan et al., 2023; Chen et al., 2023).

    En cada ronda el borrador genera ``k`` tokens de forma voraz; el verificador
    procesa el último token aceptado y los ``k`` propuestos en **una** pasada
    (``k + 1`` posiciones) y acepta los propuestos mientras coincidan con su
    ``argmax``; en la primera discrepancia se queda con su propio token (y si
    acepta todos, añade uno más). Las cachés de ambos modelos se recortan a lo
    aceptado.

    Parameters
    ----------
    target, draft : Llama or TruncatedLlama
        Modelos con la interfaz de :class:`labcode.models.llama.Llama` y el mismo vocabulario.
    input_ids : torch.Tensor
        *Prompt* ``(1, T)``.
    max_new_tokens : int
        Tokens nuevos.
    k : int
        Tokens que propone el borrador en cada ronda (``>= 1``).

    Returns
    -------
    ids : torch.Tensor
        ``(1, T + max_new_tokens)``: igual a ``target.generate(input_ids, max_new_tokens)``.
    stats : dict
        ``rounds`` (pasadas del verificador tras el *prompt*), ``proposed``,
        ``accepted`` y ``acceptance`` (aceptados / propuestos).
    """
    _check_speculative(target, input_ids, max_new_tokens, k)
    t_cache, d_cache = target.new_cache(), draft.new_cache()
    logits = target.logits(input_ids, t_cache)[:, -1]  # (1, V); t_cache: todo menos el último
    ids = torch.cat((input_ids, logits.argmax(-1, keepdim=True)), dim=1)
    stats = {"rounds": 0, "proposed": 0, "accepted": 0}
    n_prompt = input_ids.shape[1]
    while ids.shape[1] - n_prompt < max_new_tokens:
        n = ids.shape[1]
        step = ids[:, d_cache.seq_len():]  # lo que el borrador aún no ha visto
        proposal = []
        for _ in range(k):
            nxt = draft.logits(step, d_cache)[:, -1].argmax(-1, keepdim=True)  # (1, 1)
            proposal.append(nxt)
            step = nxt
        proposal = torch.cat(proposal, dim=1)  # (1, k)
        step = torch.cat((ids[:, -1:], proposal), dim=1)  # (1, k + 1)
        verify = target.logits(step, t_cache)  # (1, k + 1, V)
        best = verify[0].argmax(-1)  # (k + 1,): lo que el verificador elegiría tras cada uno
        agree = (best[:k] == proposal[0]).long().cumprod(0)
        n_acc = int(agree.sum())
        ids = torch.cat((ids, proposal[:, :n_acc], best[n_acc].view(1, 1)), dim=1)
        crop_cache(t_cache, n + n_acc)  # todos los tokens de ids salvo el último
        crop_cache(d_cache, n + n_acc)
        stats["rounds"] += 1
        stats["proposed"] += k
        stats["accepted"] += n_acc
    stats["acceptance"] = stats["accepted"] / max(stats["proposed"], 1)
    return ids[:, : n_prompt + max_new_tokens], stats


# --- Caché estática para GPT ----------------------------------------------------------


class StaticCacheGPT(nn.Module):
    """Generación voraz de un :class:`labcode.models.gpt.GPT` con la caché KV preasignada.

    La caché dinámica de :meth:`labcode.models.gpt.GPT.generate` concatena claves y valores en cada
    paso: la forma de los tensores cambia y cada paso reserva memoria. Aquí hay
    dos tensores fijos por capa, ``(B, nh, max_len, hs)``; el paso escribe la
    posición ``pos`` con ``index_copy_`` y atiende a todas las posiciones con una
    máscara ``j <= pos``. Todas las formas son iguales en todos los pasos, de
    modo que :meth:`step` se puede compilar con
    ``torch.compile(mode="reduce-overhead")`` y reproducir como grafo CUDA.

    Parameters
    ----------
    model : GPT
        El modelo (se comparten sus módulos).
    max_len : int
        Posiciones de la caché (``<= n_positions``).
    batch_size : int
        Filas del lote.
    """

    def __init__(self, model: GPT, max_len: int, batch_size: int = 1) -> None:
        super().__init__()
        if not isinstance(model, GPT):
            raise TypeError(f"StaticCacheGPT: se esperaba un labcode.models.gpt.GPT; se recibió "
                            f"{type(model).__name__}.")
        cfg = model.config
        if not 1 <= positive_int("StaticCacheGPT: max_len", max_len) <= cfg.n_positions:
            raise ValueError(f"StaticCacheGPT: max_len debe estar entre 1 y n_positions "
                             f"({cfg.n_positions}); se recibió {max_len}.")
        self.model = model
        self.max_len = max_len
        ref = model.lm_head.weight
        shape = (cfg.n_layer, positive_int("StaticCacheGPT: batch_size", batch_size),
                 cfg.n_head, max_len, cfg.head_size)
        self.register_buffer("k_cache", torch.zeros(shape, dtype=ref.dtype, device=ref.device))
        self.register_buffer("v_cache", torch.zeros(shape, dtype=ref.dtype, device=ref.device))
        self.register_buffer("positions", torch.arange(max_len, device=ref.device))
        # Posición del paso actual: siempre el mismo tensor (misma dirección en un grafo CUDA).
        self.register_buffer("pos", torch.zeros(1, dtype=torch.long, device=ref.device))
        self._compiled = None

    @torch.inference_mode()
    def prefill(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Procesa el *prompt* ``(B, T)`` con la caché dinámica y la copia en la estática;
        devuelve los logits del último token ``(B, V)``."""
        B, T = input_ids.shape
        if B != self.k_cache.shape[1] or T >= self.max_len:
            raise ValueError(
                f"StaticCacheGPT.prefill: se esperaba un lote de {self.k_cache.shape[1]} filas "
                f"y menos de {self.max_len} tokens; se recibió {tuple(input_ids.shape)}."
            )
        logits, present = self.model.forward_cached(input_ids)
        for i, (k, v) in enumerate(present):
            self.k_cache[i, :, :, :T] = k
            self.v_cache[i, :, :, :T] = v
        return logits[:, -1]

    def step(self, token: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """Un paso con formas fijas: ``token`` ``(B, 1)`` en la posición ``pos`` ``(1,)``;
        devuelve los logits ``(B, V)``."""
        m = self.model
        x = m.transformer.wte(token) + m.transformer.wpe(pos)  # (B, 1, C)
        B, C = x.shape[0], x.shape[2]
        nh = m.config.n_head
        hs = C // nh
        mask = (self.positions <= pos).view(1, 1, 1, -1)  # (1, 1, 1, max_len)
        for i, block in enumerate(m.transformer.h):
            q, k, v = block.attn.c_attn(block.ln_1(x)).split(C, dim=2)  # 3 x (B, 1, C)
            q = q.view(B, 1, nh, hs).transpose(1, 2)  # (B, nh, 1, hs)
            self.k_cache[i].index_copy_(2, pos, k.view(B, 1, nh, hs).transpose(1, 2))
            self.v_cache[i].index_copy_(2, pos, v.view(B, 1, nh, hs).transpose(1, 2))
            y = F.scaled_dot_product_attention(q, self.k_cache[i], self.v_cache[i],
                                               attn_mask=mask)  # (B, nh, 1, hs)
            x = x + block.attn.c_proj(y.transpose(1, 2).reshape(B, 1, C))
            x = x + block.mlp(block.ln_2(x))
        return m.lm_head(m.transformer.ln_f(x))[:, -1]  # (B, V)

    def compile(self, mode: str = "reduce-overhead") -> StaticCacheGPT:
        """Compila :meth:`step` con ``torch.compile`` (en GPU, ``reduce-overhead``
        captura el paso como grafo CUDA). La primera llamada tarda en compilar."""
        self._compiled = torch.compile(self.step, mode=mode, fullgraph=True)
        return self

    @torch.inference_mode()
    def generate(self, input_ids: torch.Tensor, max_new_tokens: int) -> torch.Tensor:
        """Generación voraz: los mismos tokens que ``model.generate(input_ids, max_new_tokens)``."""
        T = input_ids.shape[1]
        if T + max_new_tokens > self.max_len:
            raise ValueError(f"StaticCacheGPT.generate: {T} + {max_new_tokens} tokens no caben "
                             f"en la caché de {self.max_len} posiciones.")
        self.model._check_input_ids(input_ids, extra=max_new_tokens)
        if max_new_tokens == 0:
            return input_ids
        step = self._compiled or self.step
        out = [input_ids, self.prefill(input_ids).argmax(-1, keepdim=True)]
        for t in range(T, T + max_new_tokens - 1):
            self.pos.fill_(t)
            out.append(step(out[-1], self.pos).argmax(-1, keepdim=True))
        return torch.cat(out, dim=1)
