"""Elegir el siguiente *token* a partir de los logits, escrito una vez.

Lo usan :meth:`labcode.models.gpt.GPT.generate`, :meth:`labcode.models.llama.Llama.generate`
y :class:`labcode.hf.generation.GPT2TextGenerator`:

- :func:`check_sampling`: valida los parámetros **una vez**, al entrar en ``generate``.
- :func:`sample_next_token`: un paso (penalización por repetición, temperatura, *top-k*,
  *top-p* y muestreo, o ``argmax`` sin muestreo), sin volver a validar ni sincronizar.
- :func:`top_k_filter`, :func:`top_p_filter` y :func:`apply_repetition_penalty`: las
  piezas sueltas, con validación (las usan los capítulos).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from labcode.utils import checks
from labcode.utils.checks import int_at_least
from labcode.utils.errors import LabcodeTypeError, LabcodeValueError

__all__ = [
    "apply_repetition_penalty",
    "check_sampling",
    "generate_tokens",
    "sample_next_token",
    "top_k_filter",
    "top_p_filter",
]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_sampling(temperature: Any = 1.0, top_k: Any = None, top_p: Any = None,
                   repetition_penalty: Any = 1.0, greedy_hint: str = "do_sample=False") -> None:
    """Comprueba los parámetros de muestreo (mensajes en español); llámala una vez.

    ``greedy_hint`` es cómo se pide la decodificación voraz en quien la llama.
    """
    if not _is_number(temperature):
        raise LabcodeTypeError(f"temperature debe ser un número; se recibió {temperature!r}.")
    if not (math.isfinite(temperature) and temperature > 0):
        raise LabcodeValueError(
            f"temperature debe ser un número finito > 0; se recibió {temperature!r}. "
            f"Para decodificación voraz usa {greedy_hint}."
        )
    if top_k is not None:
        int_at_least("top_k", top_k, 1)
    if top_p is not None:
        if not _is_number(top_p):
            raise LabcodeTypeError(
                f"top_p debe ser None o un número en (0, 1]; se recibió {top_p!r}."
            )
        if not (0 < top_p <= 1):
            raise LabcodeValueError(
                f"top_p debe estar en el intervalo (0, 1]; se recibió {top_p!r}."
            )
    if not _is_number(repetition_penalty):
        raise LabcodeTypeError(
            f"repetition_penalty debe ser un número > 0; se recibió {repetition_penalty!r}."
        )
    if not (math.isfinite(repetition_penalty) and repetition_penalty > 0):
        raise LabcodeValueError(
            f"repetition_penalty debe ser un número finito > 0 (1.0 = sin penalización); "
            f"se recibió {repetition_penalty!r}."
        )


def _check_logits(logits: Any, name: str = "logits") -> None:
    """Tensor de coma flotante ``(..., V)`` sin NaN (en CPU; en GPU no se sincroniza)."""
    if not isinstance(logits, torch.Tensor):
        raise LabcodeTypeError(
            f"{name} debe ser un torch.Tensor (..., V); se recibió {type(logits).__name__}."
        )
    if not logits.is_floating_point():
        raise LabcodeTypeError(f"{name} debe ser de coma flotante; se recibió {logits.dtype}.")
    if logits.ndim < 1 or logits.shape[-1] == 0:
        raise LabcodeValueError(
            f"{name} debe tener forma (..., V) con V >= 1; se recibió {tuple(logits.shape)}."
        )
    if logits.device.type == "cpu" and logits.numel():
        if bool(torch.isnan(logits).any()) or bool((logits == float("inf")).any()):
            raise LabcodeValueError(f"{name} contiene NaN o +inf; revisa el modelo o la entrada.")
        if bool((logits == float("-inf")).all(dim=-1).any()):
            raise LabcodeValueError(
                f"{name} tiene una fila con todos los valores en -inf: no queda ningún token "
                "posible."
            )


# --- Los pasos, sin validar (dentro del bucle) -----------------------------------------


def _top_k(logits: torch.Tensor, k: int) -> torch.Tensor:
    kth = torch.topk(logits, min(k, logits.shape[-1]), dim=-1).values[..., -1:]  # (..., 1)
    return logits.masked_fill(logits < kth, float("-inf"))


def _top_p(logits: torch.Tensor, p: float) -> torch.Tensor:
    probs = F.softmax(logits, dim=-1)
    sorted_probs, order = torch.sort(probs, dim=-1, descending=True)
    before = torch.cumsum(sorted_probs, dim=-1) - sorted_probs  # masa de los anteriores
    keep_sorted = before < p  # el primero siempre (before = 0 < p)
    keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)
    kept = probs * keep
    return kept / kept.sum(dim=-1, keepdim=True)


def _repetition_penalty(logits: torch.Tensor, input_ids: torch.Tensor,
                        penalty: float) -> torch.Tensor:
    if penalty == 1.0:
        return logits
    score = torch.gather(logits, 1, input_ids)  # (B, T)
    score = torch.where(score < 0, score * penalty, score / penalty)
    return logits.scatter(1, input_ids, score)


def sample_next_token(
    logits: torch.Tensor,
    input_ids: torch.Tensor | None = None,
    *,
    do_sample: bool = False,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    repetition_penalty: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Elige el siguiente token a partir de los logits ``(B, V)``; devuelve ``(B, 1)``.

    Orden (el de transformers): penalización por repetición sobre ``input_ids``
    ``(B, T)`` (si ``repetition_penalty != 1``), y después ``argmax`` si
    ``do_sample=False``, o temperatura, *top-k*, *top-p* y ``torch.multinomial`` con
    ``generator``. No valida: llama antes, una vez, a :func:`check_sampling`.
    """
    if input_ids is not None:
        logits = _repetition_penalty(logits, input_ids, repetition_penalty)
    if not do_sample:
        return logits.argmax(dim=-1, keepdim=True)
    logits = logits / temperature
    if top_k is not None:
        logits = _top_k(logits, top_k)
    probs = F.softmax(logits, dim=-1) if top_p is None else _top_p(logits, top_p)
    return torch.multinomial(probs, num_samples=1, generator=generator)


# --- Las piezas sueltas, con validación ----------------------------------------------------


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Deja solo los ``k`` logits más altos (el resto pasa a ``-inf``).

    ``logits`` ``(..., V)``; ``k`` entero >= 1 (si ``k >= V`` no cambia nada). Devuelve los
    logits filtrados, con la misma forma. Los empates con el k-ésimo se conservan.
    """
    int_at_least("k", k, 1)
    _check_logits(logits)
    return _top_k(logits, k)


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Distribución *top-p* (núcleo, *nucleus sampling*) a partir de logits.

    Se ordenan los tokens de más a menos probable y se conserva el conjunto
    más pequeño cuya probabilidad acumulada alcanza ``p`` (siempre al menos
    el más probable); las probabilidades conservadas se renormalizan para
    que sumen 1. Es la referencia del ejercicio 11.5 y coincide con
    ``TopPLogitsWarper`` de transformers (salvo empates exactos).

    Parameters
    ----------
    logits:
        ``(..., V)`` (cualquier tipo flotante; se calcula en el mismo tipo).
    p:
        Umbral en ``(0, 1]``; ``p = 1`` deja la distribución intacta.

    Returns
    -------
    torch.Tensor
        Probabilidades ``(..., V)`` (ceros fuera del núcleo; cada fila suma 1).
    """
    if not _is_number(p) or not (0 < p <= 1):
        raise LabcodeValueError(f"p debe ser un número en (0, 1]; se recibió {p!r}.")
    _check_logits(logits)
    return _top_p(logits, p)


def apply_repetition_penalty(
    logits: torch.Tensor, input_ids: torch.Tensor, penalty: float
) -> torch.Tensor:
    """Penalización de repetición de CTRL (la misma regla que transformers).

    A cada token que ya aparece en ``input_ids`` ``(B, T)`` se le divide el logit
    ``(B, V)`` por ``penalty`` si es positivo y se le multiplica si es negativo: con
    ``penalty > 1`` los tokens repetidos pierden probabilidad (1.0 no cambia nada).

    Raises
    ------
    labcode.utils.errors.LabcodeTypeError, labcode.utils.errors.LabcodeValueError
        Si ``penalty`` no es un número finito > 0 o las formas no son ``(B, V)`` y
        ``(B, T)`` con ids en ``[0, V)``.
    """
    if not _is_number(penalty) or not (math.isfinite(penalty) and penalty > 0):
        raise LabcodeValueError(
            f"penalty debe ser un número finito > 0 (1.0 = sin penalización; > 1 penaliza las "
            f"repeticiones); se recibió {penalty!r}."
        )
    _check_logits(logits)
    if logits.ndim != 2:
        raise LabcodeValueError(
            f"logits debe tener forma (B, V); se recibió {tuple(logits.shape)}."
        )
    checks.token_ids(input_ids, who="apply_repetition_penalty", vocab_size=logits.shape[-1],
                     max_positions=10**9, limit_name="-")
    if input_ids.shape[0] != logits.shape[0]:
        raise LabcodeValueError(
            f"logits {tuple(logits.shape)} e input_ids {tuple(input_ids.shape)} deben tener el "
            "mismo tamaño de lote B."
        )
    return _repetition_penalty(logits, input_ids, penalty)


def generate_tokens(
    next_logits: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    input_ids: torch.Tensor,
    max_new_tokens: int,
    *,
    eos_token_id: int | None = None,
    **sampling: Any,
) -> torch.Tensor:
    """El bucle autorregresivo de ``generate``: logits → elegir → añadir → repetir.

    ``next_logits(ids, new)`` recibe la secuencia entera ``(B, T + i)`` y los tokens
    nuevos del paso (el *prompt* en el primero, después ``(B, 1)``) y devuelve los
    logits del último token ``(B, V)``: con caché KV basta con ``new``. ``sampling``
    son los argumentos de :func:`sample_next_token`. Con ``eos_token_id``, una fila que
    lo genera queda terminada (se rellena con él) y el bucle acaba cuando todas lo están.
    Devuelve ``(B, T + n)`` con ``n <= max_new_tokens``.
    """
    ids, new = input_ids, input_ids
    finished = torch.zeros(ids.shape[0], dtype=torch.bool, device=ids.device)
    for _ in range(max_new_tokens):
        next_id = sample_next_token(next_logits(ids, new), ids, **sampling)  # (B, 1)
        if eos_token_id is not None:
            next_id = next_id.masked_fill(finished[:, None], eos_token_id)
            finished |= next_id[:, 0] == eos_token_id
        new = next_id.to(ids.dtype)
        ids = torch.cat((ids, new), dim=1)  # (B, T + i + 1)
        if eos_token_id is not None and bool(finished.all()):
            break
    return ids
