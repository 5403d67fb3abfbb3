"""Generación de texto con un modelo de lenguaje causal preentrenado.

:class:`GPT2TextGenerator` envuelve el decodificador del perfil activo
(:func:`labcode.hf.pretrained.resolve_gpt_model`: SmolLM2-135M-Instruct en el
perfil ``quick``, ``gpt2`` en ``full``) y ofrece las estrategias de
decodificación del capítulo 8:

- voraz (*greedy*): el token más probable en cada paso;
- muestreo (*sampling*) con temperatura, *top-k* y *top-p* (núcleo);
- búsqueda en haz (*beam search*).

``generate`` usa ``model.generate`` de Hugging Face con una
``GenerationConfig`` explícita; ``stream`` es un bucle propio, token a token,
con caché de claves y valores y decodificación incremental del texto.

Además hay piezas sueltas para el bucle autorregresivo "a mano":
:func:`autoregressive_loop`, :func:`greedy_by_hand`, :func:`top_k_filter`,
:func:`top_p_filter` y :func:`apply_repetition_penalty`.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from labcode.utils import checks
from labcode.utils.errors import LabcodeTypeError, LabcodeValueError

__all__ = [
    "STRATEGIES",
    "GPT2TextGenerator",
    "add_cli",
    "apply_repetition_penalty",
    "autoregressive_loop",
    "distinct_n",
    "greedy_by_hand",
    "perplexity_from_logprobs",
    "repeated_ngram_share",
    "run_cli",
    "top_k_filter",
    "top_p_filter",
]

#: Estrategias de decodificación admitidas por :meth:`GPT2TextGenerator.generate`.
STRATEGIES = ("greedy", "sample", "beam")


# --- Validación --------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_int(name: str, value: Any, minimum: int) -> None:
    if not _is_int(value):
        raise LabcodeTypeError(
            f"{name} debe ser un entero; se recibió {value!r} ({type(value).__name__})."
        )
    if value < minimum:
        raise LabcodeValueError(f"{name} debe ser un entero >= {minimum}; se recibió {value!r}.")


def _check_params(
    strategy: Any,
    max_new_tokens: Any,
    temperature: Any,
    top_k: Any,
    top_p: Any,
    num_beams: Any,
    repetition_penalty: Any,
    seed: Any,
) -> None:
    """Comprueba los parámetros de decodificación (mensajes en español)."""
    if not isinstance(strategy, str) or strategy not in STRATEGIES:
        raise LabcodeValueError(
            f"strategy debe ser una de {STRATEGIES}; se recibió {strategy!r}."
        )
    _check_int("max_new_tokens", max_new_tokens, 1)
    if not _is_number(temperature):
        raise LabcodeTypeError(f"temperature debe ser un número; se recibió {temperature!r}.")
    if not (math.isfinite(temperature) and temperature > 0):
        raise LabcodeValueError(
            f"temperature debe ser un número finito > 0; se recibió {temperature!r}. "
            "Para decodificación voraz usa strategy='greedy'."
        )
    if top_k is not None:
        _check_int("top_k", top_k, 1)
    if top_p is not None:
        if not _is_number(top_p):
            raise LabcodeTypeError(
                f"top_p debe ser None o un número en (0, 1]; se recibió {top_p!r}."
            )
        if not (0 < top_p <= 1):
            raise LabcodeValueError(
                f"top_p debe estar en el intervalo (0, 1]; se recibió {top_p!r}."
            )
    _check_int("num_beams", num_beams, 1)
    if not _is_number(repetition_penalty):
        raise LabcodeTypeError(
            f"repetition_penalty debe ser un número > 0; se recibió {repetition_penalty!r}."
        )
    if not (math.isfinite(repetition_penalty) and repetition_penalty > 0):
        raise LabcodeValueError(
            f"repetition_penalty debe ser un número finito > 0 (1.0 = sin penalización); "
            f"se recibió {repetition_penalty!r}."
        )
    if seed is not None:
        checks.seed(seed)


def _check_prompt(prompt: Any) -> None:
    if not isinstance(prompt, str):
        raise LabcodeTypeError(
            f"prompt debe ser un texto (str); se recibió {type(prompt).__name__}."
        )
    checks.text("prompt", prompt)
    if not prompt.strip():
        raise LabcodeValueError("prompt debe ser un texto no vacío; se recibió un texto vacío.")


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


# --- Piezas del bucle autorregresivo -----------------------------------------------------


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Deja sólo los ``k`` logits más altos (el resto pasa a ``-inf``).

    Parameters
    ----------
    logits:
        ``(..., V)``.
    k:
        Número de tokens que se conservan (entero >= 1; si ``k >= V`` no cambia nada).

    Returns
    -------
    torch.Tensor
        Logits filtrados, misma forma. Los empates con el k-ésimo se conservan.
    """
    _check_int("k", k, 1)
    _check_logits(logits)
    k = min(k, logits.shape[-1])
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]  # (..., 1)
    return logits.masked_fill(logits < kth, float("-inf"))


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
    probs = F.softmax(logits, dim=-1)
    sorted_probs, order = torch.sort(probs, dim=-1, descending=True)
    before = torch.cumsum(sorted_probs, dim=-1) - sorted_probs  # masa de los anteriores
    keep_sorted = before < p  # el primero siempre (before = 0 < p)
    keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)
    kept = probs * keep
    return kept / kept.sum(dim=-1, keepdim=True)


def apply_repetition_penalty(
    logits: torch.Tensor, input_ids: torch.Tensor, penalty: float
) -> torch.Tensor:
    """Penalización de repetición de CTRL (la misma regla que transformers).

    A cada token que ya aparece en ``input_ids`` se le divide el logit por
    ``penalty`` si es positivo y se le multiplica si es negativo: con
    ``penalty > 1`` los tokens repetidos pierden probabilidad.

    Parameters
    ----------
    logits:
        ``(B, V)``.
    input_ids:
        ``(B, T)``: el contexto y lo ya generado.
    penalty:
        Número finito > 0 (1.0 no cambia nada).

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
    if penalty == 1.0:
        return logits
    score = torch.gather(logits, 1, input_ids)  # (B, T)
    score = torch.where(score < 0, score * penalty, score / penalty)
    return logits.scatter(1, input_ids, score)


@torch.no_grad()
def autoregressive_loop(
    model: Any,
    input_ids: torch.Tensor,
    max_new_tokens: int,
    pick: Callable[[torch.Tensor], torch.Tensor] | None = None,
    eos_token_id: int | None = None,
) -> torch.Tensor:
    """El bucle autorregresivo sin atajos: logits → elegir → añadir → repetir.

    En cada paso se pasa **toda** la secuencia por el modelo (sin caché KV),
    se toman los logits de la última posición y ``pick`` elige el token.

    Parameters
    ----------
    model:
        Modelo causal: ``model(ids)`` devuelve logits ``(B, T, V)`` o un objeto
        con ``.logits`` (los de transformers).
    input_ids:
        ``(B, T)``.
    max_new_tokens:
        Número de pasos (entero >= 1).
    pick:
        Función ``logits (B, V) -> ids (B,)``. Por defecto ``argmax`` (voraz).
    eos_token_id:
        Si se da y **todas** las filas lo generan, el bucle termina.

    Returns
    -------
    torch.Tensor
        ``(B, T + n)``: contexto + tokens nuevos (``n <= max_new_tokens``).
    """
    _check_int("max_new_tokens", max_new_tokens, 1)
    if not isinstance(input_ids, torch.Tensor) or input_ids.ndim != 2:
        raise LabcodeValueError(
            "input_ids debe ser un tensor de forma (B, T); se recibió "
            f"{getattr(input_ids, 'shape', type(input_ids).__name__)}."
        )
    pick = pick if pick is not None else (lambda logits: logits.argmax(dim=-1))
    ids = input_ids
    for _ in range(max_new_tokens):
        out = model(ids)
        logits = getattr(out, "logits", out)[:, -1, :].float()  # (B, V)
        next_id = pick(logits).reshape(-1, 1).to(ids.dtype)  # (B, 1)
        ids = torch.cat((ids, next_id), dim=1)  # (B, T + 1)
        if eos_token_id is not None and bool((next_id == eos_token_id).all()):
            break
    return ids


def greedy_by_hand(
    model: Any, input_ids: torch.Tensor, max_new_tokens: int, eos_token_id: int | None = None
) -> torch.Tensor:
    """Decodificación voraz con :func:`autoregressive_loop` (``argmax`` en cada paso)."""
    return autoregressive_loop(model, input_ids, max_new_tokens, None, eos_token_id)


# --- El generador ------------------------------------------------------------------------


@contextlib.contextmanager
def _seeded(seed: int | None, device: torch.device) -> Iterator[None]:
    """Fija la semilla de torch dentro del bloque y restaura el estado al salir."""
    if seed is None:
        yield
        return
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


class GPT2TextGenerator:
    """Generador de texto sobre un decodificador preentrenado (familia GPT/Llama).

    Parameters
    ----------
    model_name:
        ``None``: el modelo del perfil (:func:`labcode.hf.pretrained.resolve_gpt_model`).
        Un texto se interpreta como ``LABCODE_GPT_MODEL`` (identificador del Hub,
        carpeta local o fichero ``.gguf``); también vale un ``ModelSpec``. Los
        pesos se cargan siempre en safetensors y sin código remoto.
    device:
        ``None``: :func:`labcode.hf.pretrained.pick_device`.

    Attributes
    ----------
    spec, tokenizer, model, device:
        El modelo cargado y dónde corre.
    context_length:
        Máximo de tokens (prompt + generados) que admite el modelo.
    load_seconds:
        Segundos que tardó la carga.

    Raises
    ------
    labcode.hf.pretrained.ModelNotAvailableError
        Si el modelo no está disponible (el mensaje dice cómo arreglarlo).
    """

    def __init__(self, model_name: Any = None, device: torch.device | str | None = None) -> None:
        from labcode.hf import pretrained

        start = time.perf_counter()
        if model_name is None:
            spec = pretrained.resolve_gpt_model()
        elif isinstance(model_name, pretrained.ModelSpec):
            spec = model_name
        elif isinstance(model_name, str) and model_name.strip():
            spec = pretrained.spec_from_override(model_name.strip(), "decoder")
        else:
            raise LabcodeTypeError(
                "model_name debe ser None, un texto (id del Hub o ruta) o un ModelSpec; "
                f"se recibió {model_name!r}."
            )
        self.spec = spec
        self.device = pretrained.pick_device() if device is None else checks.device(device)
        self.tokenizer = pretrained.load_tokenizer(spec)
        self.model = pretrained.load_causal_lm(spec).to(self.device)
        cfg = self.model.config
        self.context_length = int(
            getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_positions", 1024)
        )
        self.eos_token_id = self.tokenizer.eos_token_id
        # transformers 5 renombra ``past_key_values`` como ``cache`` en algunos modelos.
        params = inspect.signature(self.model.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"
        self.load_seconds = time.perf_counter() - start

    # --- utilidades ---

    @property
    def has_chat_template(self) -> bool:
        """``True`` si el tokenizador trae plantilla de chat (SmolLM2-Instruct sí; gpt2 no)."""
        return bool(getattr(self.tokenizer, "chat_template", None))

    def __repr__(self) -> str:
        return (
            f"GPT2TextGenerator(model={self.spec.name!r}, device={self.device.type!r}, "
            f"context_length={self.context_length})"
        )

    def encode(self, prompt: str, chat: bool = False, max_new_tokens: int = 0) -> torch.Tensor:
        """Ids ``(1, T)`` del prompt (con la plantilla de chat si ``chat=True``).

        Raises
        ------
        TypeError, ValueError
            Prompt que no es texto o está vacío; prompt (más ``max_new_tokens``)
            que no cabe en el contexto del modelo.
        """
        _check_prompt(prompt)
        if chat and self.has_chat_template:
            text = self.tokenizer.apply_chat_template(
                [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
            )
            ids = self.tokenizer(text, add_special_tokens=False, return_tensors="pt").input_ids
        else:
            ids = self.tokenizer(prompt, return_tensors="pt").input_ids
        n = ids.shape[1]
        if n + max_new_tokens > self.context_length:
            raise LabcodeValueError(
                f"El prompt tiene {n} tokens y se piden {max_new_tokens} nuevos, pero el "
                f"contexto del modelo admite como máximo {self.context_length} tokens en total."
            )
        return ids.to(self.device)

    def _decode(self, ids: torch.Tensor | list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def _generation_config(
        self, strategy, max_new_tokens, temperature, top_k, top_p, num_beams, repetition_penalty
    ):
        from transformers import GenerationConfig

        common = {
            "max_new_tokens": max_new_tokens,
            "repetition_penalty": float(repetition_penalty),
            "eos_token_id": self.eos_token_id,
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        if strategy == "greedy":
            return GenerationConfig(do_sample=False, num_beams=1, **common)
        if strategy == "sample":
            return GenerationConfig(
                do_sample=True,
                num_beams=1,
                temperature=float(temperature),
                top_k=0 if top_k is None else top_k,  # 0 = sin filtro top-k en transformers
                top_p=1.0 if top_p is None else float(top_p),
                **common,
            )
        return GenerationConfig(
            do_sample=False, num_beams=num_beams, early_stopping=True, **common
        )

    # --- API pública ---

    @torch.no_grad()
    def generate(
        self,
        prompt: str,
        max_new_tokens: int = 50,
        strategy: str = "greedy",
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        num_beams: int = 4,
        repetition_penalty: float = 1.0,
        seed: int | None = None,
        chat: bool = False,
    ) -> str:
        """Continúa ``prompt`` y devuelve **sólo el texto nuevo** (sin el prompt).

        Parameters
        ----------
        prompt:
            Texto de partida (no vacío).
        max_new_tokens:
            Tokens nuevos como máximo (>= 1); se para antes si sale el token de fin.
        strategy:
            ``"greedy"`` (voraz), ``"sample"`` (muestreo) o ``"beam"`` (búsqueda en haz).
        temperature, top_k, top_p:
            Sólo para ``"sample"``: temperatura (> 0), los ``top_k`` más probables
            (``None``: todos) y núcleo ``top_p`` en (0, 1] (``None``: 1).
        num_beams:
            Sólo para ``"beam"``: número de haces (>= 1).
        repetition_penalty:
            Penalización de repetición (> 0; 1.0 = ninguna), en todas las estrategias.
        seed:
            Semilla del muestreo: la misma semilla da el mismo texto. El estado
            global de torch se restaura al terminar.
        chat:
            Si es ``True`` y el tokenizador tiene plantilla de chat, el prompt se
            envuelve como mensaje de usuario (``apply_chat_template``) y el modelo
            responde como asistente. Sin plantilla (gpt2) se ignora.

        Returns
        -------
        str
            La continuación, sin tokens especiales.

        Raises
        ------
        TypeError, ValueError
            Parámetros o prompt no válidos (ver :meth:`encode`).
        """
        _check_params(
            strategy, max_new_tokens, temperature, top_k, top_p, num_beams,
            repetition_penalty, seed,
        )
        ids = self.encode(prompt, chat=chat, max_new_tokens=max_new_tokens)
        config = self._generation_config(
            strategy, max_new_tokens, temperature, top_k, top_p, num_beams, repetition_penalty
        )
        with _seeded(seed, self.device):
            out = self.model.generate(
                input_ids=ids, attention_mask=torch.ones_like(ids), generation_config=config
            )
        return self._decode(out[0, ids.shape[1]:])

    @torch.no_grad()
    def generate_ids(self, input_ids: torch.Tensor, max_new_tokens: int) -> torch.Tensor:
        """``model.generate`` voraz sobre ids ``(1, T)`` (para compararlo con el bucle a mano).

        Returns
        -------
        torch.Tensor
            ``(1, T + n)``: contexto y tokens nuevos.
        """
        _check_int("max_new_tokens", max_new_tokens, 1)
        config = self._generation_config("greedy", max_new_tokens, 1.0, None, None, 1, 1.0)
        ids = input_ids.to(self.device)
        return self.model.generate(
            input_ids=ids, attention_mask=torch.ones_like(ids), generation_config=config
        )

    @torch.no_grad()
    def stream(
        self,
        prompt: str,
        max_new_tokens: int = 50,
        strategy: str = "greedy",
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        repetition_penalty: float = 1.0,
        seed: int | None = None,
        chat: bool = False,
    ) -> Iterator[str]:
        """Como :meth:`generate`, pero va devolviendo el texto a trozos.

        Bucle propio con caché de claves y valores: en cada paso se procesa
        sólo el último token, se elige el siguiente (voraz o muestreo con
        temperatura, top-k y top-p) y se produce (*yield*) el fragmento de texto
        nuevo. La decodificación es incremental: se decodifica todo lo generado
        y se entrega la diferencia, esperando si un carácter UTF-8 quedó a medias.
        En voraz, ``"".join(stream(...)) == generate(...)``. El muestreo usa un
        ``torch.Generator`` propio (reproducible con ``seed``), así que su texto
        no tiene por qué coincidir con el de :meth:`generate`.

        Raises
        ------
        ValueError
            Además de los de :meth:`generate`: ``strategy="beam"`` no se puede
            emitir token a token.
        """
        _check_params(strategy, max_new_tokens, temperature, top_k, top_p, 1,
                      repetition_penalty, seed)
        if strategy == "beam":
            raise LabcodeValueError(
                "stream admite strategy='greedy' o 'sample'; se recibió 'beam' (los haces "
                "cambian hasta el final y no se pueden emitir token a token)."
            )
        ids = self.encode(prompt, chat=chat, max_new_tokens=max_new_tokens)
        return self._stream(ids, max_new_tokens, strategy, temperature, top_k, top_p,
                            repetition_penalty, seed)

    def _stream(self, ids, max_new_tokens, strategy, temperature, top_k, top_p,
                repetition_penalty, seed) -> Iterator[str]:
        gen = None
        if strategy == "sample":
            gen = torch.Generator(device=self.device)
            gen.manual_seed(seed if seed is not None else int(torch.randint(0, 2**31, (1,))))
        all_ids = ids  # (1, T)
        new: list[int] = []
        shown = ""
        past = None
        step_input = ids
        with torch.no_grad():
            for _ in range(max_new_tokens):
                out = self.model(input_ids=step_input, use_cache=True, **{self._cache_kw: past})
                past = out["cache"] if "cache" in out else out["past_key_values"]
                logits = out.logits[:, -1, :].float()  # (1, V)
                logits = apply_repetition_penalty(logits, all_ids, repetition_penalty)
                if strategy == "greedy":
                    next_id = logits.argmax(dim=-1, keepdim=True)  # (1, 1)
                else:
                    logits = logits / temperature
                    if top_k is not None:
                        logits = top_k_filter(logits, top_k)
                    probs = (F.softmax(logits, dim=-1) if top_p is None
                             else top_p_filter(logits, top_p))
                    next_id = torch.multinomial(probs, 1, generator=gen)  # (1, 1)
                token = int(next_id)
                if token == self.eos_token_id:
                    break
                new.append(token)
                all_ids = torch.cat((all_ids, next_id.to(all_ids.dtype)), dim=1)
                step_input = next_id.to(all_ids.dtype)
                text = self._decode(new)
                if text.endswith("\ufffd"):  # carácter UTF-8 incompleto: esperar
                    continue
                if text.startswith(shown):
                    delta, shown = text[len(shown):], text
                    if delta:
                        yield delta
        text = self._decode(new)
        if text != shown and text.startswith(shown):
            yield text[len(shown):]

    @torch.no_grad()
    def next_token_probs(self, prompt: str, chat: bool = False) -> torch.Tensor:
        """Distribución completa ``(V,)`` del siguiente token tras ``prompt`` (float32, CPU)."""
        ids = self.encode(prompt, chat=chat, max_new_tokens=1)
        logits = self.model(input_ids=ids).logits[0, -1].float()  # (V,)
        return F.softmax(logits, dim=-1).cpu()

    def next_token_distribution(
        self, prompt: str, k: int = 10, chat: bool = False
    ) -> list[tuple[str, float]]:
        """Los ``k`` siguientes tokens más probables: ``[(token, prob), ...]``, de mayor a menor.

        ``token`` es el texto del token decodificado (con su espacio inicial si lo tiene).
        La suma de las ``k`` probabilidades es <= 1.
        """
        _check_int("k", k, 1)
        probs = self.next_token_probs(prompt, chat=chat)
        top = torch.topk(probs, min(k, probs.shape[0]))
        return [
            (self.tokenizer.decode([int(i)]), float(p))
            for p, i in zip(top.values, top.indices, strict=True)
        ]

    @torch.no_grad()
    def perplexity(self, text: str, stride: int | None = None) -> float:
        """Perplejidad de ``text``: ``exp`` de la NLL media por token.

        El primer token no se puntúa (no hay nada antes). Si el texto no cabe en
        el contexto, se usa una ventana deslizante de ``context_length`` tokens
        que avanza ``stride`` tokens (por defecto media ventana); cada token se
        puntúa una sola vez, con todo el contexto anterior que cabe.

        Raises
        ------
        TypeError, ValueError
            Texto no válido o de menos de 2 tokens; ``stride`` no válido.
        """
        _check_prompt(text)
        window = self.context_length
        stride = max(1, window // 2) if stride is None else stride
        _check_int("stride", stride, 1)
        if stride > window:
            raise LabcodeValueError(
                f"stride debe ser <= {window} (el contexto); se recibió {stride}."
            )
        ids = self.tokenizer(text, return_tensors="pt").input_ids.to(self.device)  # (1, N)
        n = ids.shape[1]
        if n < 2:
            raise LabcodeValueError(
                f"Para la perplejidad hacen falta al menos 2 tokens; el texto tiene {n}."
            )
        nll_sum, count, scored_until = 0.0, 0, 1  # el token 0 no se puntúa
        start = 0
        while scored_until < n:
            end = min(start + window, n)
            chunk = ids[:, start:end]
            logits = self.model(input_ids=chunk).logits[0, :-1].float()  # (L-1, V)
            targets = chunk[0, 1:]
            nll = F.cross_entropy(logits, targets, reduction="none")  # (L-1,)
            first = scored_until - start - 1  # índice en nll del primer token aún sin puntuar
            nll_sum += float(nll[first:].sum())
            count += int(nll[first:].numel())
            scored_until = end
            start += stride
        return math.exp(nll_sum / count)


# --- Línea de órdenes --------------------------------------------------------------------


def add_cli(subparsers: Any) -> argparse.ArgumentParser:
    """Añade la orden ``generate`` a ``python -m labcode``."""
    p = subparsers.add_parser(
        "generate",
        help="genera texto con el decodificador preentrenado del perfil",
        description="Continúa un prompt con el decodificador del perfil (SmolLM2-135M-Instruct "
        "en quick, gpt2 en full; LABCODE_GPT_MODEL lo cambia).",
    )
    p.add_argument("prompt", help="texto de partida")
    p.add_argument("--strategy", choices=STRATEGIES, default="greedy",
                   help="decodificación: greedy, sample o beam (por defecto greedy)")
    p.add_argument("--max-new-tokens", type=int, default=50, help="tokens nuevos (50)")
    p.add_argument("--seed", type=int, default=None, help="semilla del muestreo")
    p.add_argument("--temperature", type=float, default=1.0, help="temperatura (1.0)")
    p.add_argument("--top-k", type=int, default=None, help="muestrea entre los k más probables")
    p.add_argument("--top-p", type=float, default=None, help="núcleo top-p en (0, 1]")
    p.add_argument("--num-beams", type=int, default=4, help="haces de beam (4)")
    p.add_argument("--repetition-penalty", type=float, default=1.0,
                   help="penalización de repetición (1.0 = ninguna)")
    p.add_argument("--chat", action="store_true", help="usa la plantilla de chat del modelo")
    p.add_argument("--stream", action="store_true", help="muestra el texto según se genera")
    return p


def run_cli(args: argparse.Namespace) -> int:
    """Ejecuta la orden ``generate``; devuelve 0. Los errores (prompt o parámetros no
    válidos, modelo no disponible) los escribe ``python -m labcode`` en una línea."""
    import sys

    kwargs = {
        "max_new_tokens": args.max_new_tokens,
        "strategy": args.strategy,
        "temperature": args.temperature,
        "top_k": args.top_k,
        "top_p": args.top_p,
        "repetition_penalty": args.repetition_penalty,
        "seed": args.seed,
        "chat": args.chat,
    }
    _check_prompt(args.prompt)
    _check_params(args.strategy, args.max_new_tokens, args.temperature, args.top_k,
                  args.top_p, args.num_beams, args.repetition_penalty, args.seed)
    gen = GPT2TextGenerator()
    print(f"[{gen.spec.name} en {gen.device.type}]", file=sys.stderr)
    if args.stream:
        print(args.prompt, end="", flush=True)
        for piece in gen.stream(args.prompt, **kwargs):
            print(piece, end="", flush=True)
        print()
    else:
        text = gen.generate(args.prompt, num_beams=args.num_beams, **kwargs)
        print(args.prompt + text)
    return 0


# --- Medidas de coherencia y diversidad de un texto generado ------------------------------


def _ngrams(tokens: Sequence[Any], n: int) -> list[tuple]:
    _check_int("n", n, 1)
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def distinct_n(tokens: Sequence[Any], n: int) -> float:
    """Distinct-n: n-gramas distintos / n-gramas totales (0 si no hay ninguno).

    1 = ningún n-grama se repite; cerca de 0 = el texto da vueltas sobre lo mismo.
    """
    grams = _ngrams(list(tokens), n)
    return len(set(grams)) / len(grams) if grams else 0.0


def repeated_ngram_share(tokens: Sequence[Any], n: int) -> float:
    """Proporción de apariciones de n-gramas que pertenecen a un n-grama repetido.

    Cuenta **todas** las apariciones (también la primera) de los n-gramas que salen
    dos o más veces, dividido por el número de n-gramas (0 si no hay ninguno). En
    ``a b a b`` los bigramas son ``ab, ba, ab``: la proporción es 2/3.
    """
    grams = _ngrams(list(tokens), n)
    if not grams:
        return 0.0
    counts: dict[tuple, int] = {}
    for g in grams:
        counts[g] = counts.get(g, 0) + 1
    return sum(c for c in counts.values() if c > 1) / len(grams)


def perplexity_from_logprobs(logprobs: Sequence[float]) -> float:
    """Perplejidad a partir del logaritmo natural de la probabilidad de cada token.

    ``exp(-media(logprobs))``; lanza ``ValueError`` si la lista está vacía.
    """
    values = [float(x) for x in logprobs]
    if not values:
        raise ValueError("perplexity_from_logprobs: hace falta al menos un token.")
    return math.exp(-sum(values) / len(values))
