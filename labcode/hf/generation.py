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
:func:`autoregressive_loop` y :func:`greedy_by_hand`. Las de muestreo
(:func:`labcode.sampling.top_k_filter`, :func:`labcode.sampling.top_p_filter` y
:func:`labcode.sampling.apply_repetition_penalty`) se importan de :mod:`labcode.sampling`,
como el paso de muestreo de :meth:`GPT2TextGenerator.stream`.
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

from labcode.sampling import apply_repetition_penalty as apply_repetition_penalty
from labcode.sampling import check_sampling, sample_next_token
from labcode.sampling import top_k_filter as top_k_filter
from labcode.sampling import top_p_filter as top_p_filter
from labcode.utils import checks
from labcode.utils.checks import int_at_least
from labcode.utils.errors import LabcodeTypeError, LabcodeValueError

# Los nombres importados de módulos inferiores siguen disponibles aquí, pero se
# documentan (y se listan en __all__) solo donde se definen.
__all__ = [
    "STRATEGIES",
    "GPT2TextGenerator",
    "add_cli",
    "autoregressive_loop",
    "distinct_n",
    "greedy_by_hand",
    "perplexity_from_logprobs",
    "repeated_ngram_share",
    "run_cli",
]

#: Estrategias de decodificación admitidas por :meth:`GPT2TextGenerator.generate`.
STRATEGIES = ("greedy", "sample", "beam")


# --- Validación --------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


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
    int_at_least("max_new_tokens", max_new_tokens, 1)
    check_sampling(temperature, top_k, top_p, repetition_penalty,
                   greedy_hint="strategy='greedy'")
    int_at_least("num_beams", num_beams, 1)
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


# --- Piezas del bucle autorregresivo -----------------------------------------------------


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
    int_at_least("max_new_tokens", max_new_tokens, 1)
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
        params = (strategy, max_new_tokens, temperature, top_k, top_p, num_beams,
                  repetition_penalty)
        _check_params(*params, seed)
        ids = self.encode(prompt, chat=chat, max_new_tokens=max_new_tokens)
        config = self._generation_config(*params)
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
        int_at_least("max_new_tokens", max_new_tokens, 1)
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
                next_id = sample_next_token(  # (1, 1)
                    logits, all_ids, do_sample=strategy == "sample", temperature=temperature,
                    top_k=top_k, top_p=top_p, repetition_penalty=repetition_penalty,
                    generator=gen)
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
        int_at_least("k", k, 1)
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
        int_at_least("stride", stride, 1)
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
    int_at_least("n", n, 1)
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
