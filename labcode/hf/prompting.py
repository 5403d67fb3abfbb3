"""Clasificación por instrucciones (*prompting*) con un modelo de lenguaje causal.

En lugar de ajustar un modelo (capítulo 7), se le da un texto con unos pocos
ejemplos resueltos (*few-shot*, o ninguno: *zero-shot*) y se mira qué palabra de
etiqueta considera más probable a continuación:

.. code-block:: text

    Classify the sentiment of each movie review as positive or negative.

    Review: a gorgeous , witty , seductive movie .
    Sentiment: positive

    Review: the plot is nothing but boilerplate clichés .
    Sentiment: negative

    Review: <frase a clasificar>
    Sentiment:          <- se comparan log P(" positive") y log P(" negative")

Nada se genera ni se entrena: es una puntuación de las palabras de etiqueta por
su log-probabilidad de siguiente *token*. La parte común a todas las frases
(instrucción + ejemplos, el **prefijo**) se pasa por el modelo **una vez** y su
caché KV se reutiliza para cada lote de consultas, así que el coste por frase
es sólo el de sus propios *tokens*.

Funciona con cualquier ``AutoModelForCausalLM`` de Hugging Face (Llama, GPT-2...)
y cualquier tokenizador con ``encode(text, add_special_tokens=...)``.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from labcode.utils import checks
from labcode.utils.checks import seed as _check_seed
from labcode.utils.errors import LabcodeTypeError, LabcodeValueError
from labcode.utils.runtime import progress, timer

__all__ = [
    "PromptTemplate",
    "CONTENT_FREE",
    "build_prefix",
    "calibrate_scores",
    "build_query",
    "evaluate_prompting",
    "label_token_ids",
    "score_label_words",
    "score_label_words_naive",
    "select_examples",
]


@dataclass(frozen=True)
class PromptTemplate:
    """Formato del *prompt*.

    Attributes
    ----------
    instruction:
        Texto inicial (puede ser ``""``).
    example:
        Formato de cada ejemplo resuelto, con ``{sentence}`` y ``{label}``.
    query:
        Formato de la frase a clasificar, con ``{sentence}``; debe terminar justo
        donde va la palabra de etiqueta.
    label_words:
        Palabras de las clases 0 (negativa) y 1 (positiva), con su espacio
        inicial si el tokenizador lo incluye en el *token* (``" positive"``).
        Cada una debe ser **un único token** del tokenizador.
    """

    instruction: str = "Classify the sentiment of each movie review as positive or negative.\n\n"
    example: str = "Review: {sentence}\nSentiment:{label}\n\n"
    query: str = "Review: {sentence}\nSentiment:"
    label_words: tuple[str, str] = (" negative", " positive")

    def __post_init__(self) -> None:
        for name in ("instruction", "example", "query"):
            if not isinstance(getattr(self, name), str):
                raise LabcodeTypeError(f"PromptTemplate.{name} debe ser una cadena.")
        for field_, keys in (("example", ("{sentence}", "{label}")), ("query", ("{sentence}",))):
            text = getattr(self, field_)
            missing = [k for k in keys if k not in text]
            if missing:
                raise LabcodeValueError(
                    f"PromptTemplate.{field_} debe contener {', '.join(missing)}; se recibió "
                    f"{text!r}."
                )
        words = self.label_words
        if (
            not isinstance(words, tuple)
            or len(words) != 2
            or not all(isinstance(w, str) and w for w in words)
            or words[0] == words[1]
        ):
            raise LabcodeValueError(
                "label_words debe ser una tupla de dos cadenas no vacías y distintas "
                f"(negativa, positiva); se recibió {words!r}."
            )

    def with_labels(self, negative: str, positive: str) -> PromptTemplate:
        """Copia de la plantilla con otras palabras de etiqueta."""
        return replace(self, label_words=(negative, positive))


def _check_sentences(sentences: Any, what: str = "sentences") -> list[str]:
    if isinstance(sentences, str):
        raise LabcodeTypeError(f"{what} debe ser una lista de cadenas, no una sola cadena.")
    try:
        items = list(sentences)
    except TypeError:
        raise LabcodeTypeError(
            f"{what} debe ser una lista de cadenas; se recibió {type(sentences).__name__}."
        ) from None
    for i, s in enumerate(items):
        if not isinstance(s, str):
            raise LabcodeTypeError(
                f"{what}[{i}] debe ser una cadena; se recibió {type(s).__name__}."
            )
    return items


def _check_labels(labels: Any, n: int) -> np.ndarray:
    items = list(labels.tolist() if hasattr(labels, "tolist") else labels)
    if len(items) != n:
        raise LabcodeValueError(f"Hay {n} frases pero {len(items)} etiquetas: deben coincidir.")
    for i, y in enumerate(items):
        if isinstance(y, bool) or not isinstance(y, (int, np.integer)) or y not in (0, 1):
            raise LabcodeValueError(f"labels[{i}] debe ser 0 o 1; se recibió {y!r}.")
    return np.asarray(items, dtype=np.int64)


# --- Construcción del prompt -----------------------------------------------------------------


def select_examples(
    sentences: Sequence[str],
    labels: Sequence[int],
    k: int,
    seed: int = 0,
    max_words: int = 20,
    min_words: int = 1,
) -> list[tuple[str, int]]:
    """Elige ``k`` ejemplos equilibrados (mitad de cada clase) y los alterna.

    Se barajan con ``seed`` las frases de entre ``min_words`` y ``max_words``
    palabras (cortas, para que el prefijo lo sea; con un mínimo, porque el
    entrenamiento de SST-2 incluye fragmentos sueltos como «derailed») y se
    toman ``k // 2`` de cada clase (una más de la positiva si ``k`` es impar),
    en orden negativa, positiva, negativa...

    Returns
    -------
    list of (str, int)
        ``[(frase, etiqueta), ...]`` de longitud ``k`` (vacía si ``k = 0``).

    Raises
    ------
    ValueError
        Si ``k < 0`` o no hay bastantes frases cortas de alguna clase.
    """
    sentences = _check_sentences(sentences)
    y = _check_labels(labels, len(sentences))
    k = checks.nonnegative_int("k", k)
    n_pos, n_neg = k - k // 2, k // 2
    rng = np.random.default_rng(_check_seed(seed))
    order = rng.permutation(len(sentences))
    if min_words > max_words:
        raise LabcodeValueError(
            f"min_words ({min_words}) no puede ser mayor que max_words ({max_words})."
        )
    short = [i for i in order if min_words <= len(sentences[i].split()) <= max_words]
    neg = [i for i in short if y[i] == 0][:n_neg]
    pos = [i for i in short if y[i] == 1][:n_pos]
    if len(neg) < n_neg or len(pos) < n_pos:
        raise LabcodeValueError(
            f"No hay bastantes frases de {min_words} a {max_words} palabras para {k} ejemplos "
            f"({len(neg)} negativas y {len(pos)} positivas disponibles)."
        )
    out: list[tuple[str, int]] = []
    for j in range(max(n_neg, n_pos)):
        if j < n_neg:
            out.append((sentences[neg[j]], 0))
        if j < n_pos:
            out.append((sentences[pos[j]], 1))
    return out


def build_prefix(
    examples: Sequence[tuple[str, int]], template: PromptTemplate | None = None
) -> str:
    """Instrucción más los ejemplos resueltos: la parte común a todas las consultas."""
    template = PromptTemplate() if template is None else template
    parts = [template.instruction]
    for i, ex in enumerate(examples):
        if not (isinstance(ex, tuple) and len(ex) == 2 and isinstance(ex[0], str)):
            raise LabcodeTypeError(
                f"examples[{i}] debe ser una tupla (frase, etiqueta); se recibió {ex!r}."
            )
        if ex[1] not in (0, 1) or isinstance(ex[1], bool):
            raise LabcodeValueError(
                f"examples[{i}]: la etiqueta debe ser 0 o 1; se recibió {ex[1]!r}."
            )
        parts.append(template.example.format(sentence=ex[0], label=template.label_words[ex[1]]))
    return "".join(parts)


def build_query(sentence: str, template: PromptTemplate | None = None) -> str:
    """La parte de la consulta: la frase a clasificar, hasta justo antes de la etiqueta."""
    if not isinstance(sentence, str):
        raise LabcodeTypeError(
            f"sentence debe ser una cadena; se recibió {type(sentence).__name__}."
        )
    template = PromptTemplate() if template is None else template
    return template.query.format(sentence=sentence)


def label_token_ids(tokenizer: Any, label_words: Sequence[str]) -> list[int]:
    """Identificador del único *token* de cada palabra de etiqueta.

    Raises
    ------
    ValueError
        Si alguna palabra se parte en varios *tokens* (el mensaje dice en
        cuáles) o dos palabras dan el mismo *token*.
    """
    ids = []
    for w in label_words:
        toks = tokenizer.encode(w, add_special_tokens=False)
        if len(toks) != 1:
            pieces = [tokenizer.decode([t]) for t in toks]
            raise LabcodeValueError(
                f"La palabra de etiqueta {w!r} no es un único token: el tokenizador la parte en "
                f"{len(toks)} ({pieces!r}). Elige palabras de un solo token (prueba con o sin "
                "espacio inicial)."
            )
        ids.append(int(toks[0]))
    if len(set(ids)) != len(ids):
        raise LabcodeValueError(
            f"Las palabras de etiqueta {list(label_words)!r} dan el mismo token."
        )
    return ids


# --- Puntuación ----------------------------------------------------------------------------------


def _cache_kwarg(model: Any) -> str:
    """Nombre del argumento de la caché KV en ``forward`` (``cache`` en transformers >= 5.x)."""
    params = inspect.signature(model.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def _output_cache(out: Any) -> Any:
    cache = getattr(out, "cache", None)
    return cache if cache is not None else out.past_key_values


def _prefix_ids(tokenizer: Any, prefix: str) -> list[int]:
    return list(tokenizer.encode(prefix, add_special_tokens=True)) if prefix else []


@torch.no_grad()
def score_label_words(
    model: Any,
    tokenizer: Any,
    prefix: str,
    sentences: Sequence[str],
    template: PromptTemplate | None = None,
    batch_size: int = 16,
    use_cache: bool = True,
    show_progress: bool = False,
) -> np.ndarray:
    """Log-probabilidad de cada palabra de etiqueta como siguiente *token*.

    El prefijo (instrucción + ejemplos, :func:`build_prefix`; puede ser ``""``) se
    tokeniza con los *tokens* especiales del tokenizador (p. ej. BOS) y pasa por el
    modelo una sola vez; cada consulta se tokeniza aparte (sin *tokens* especiales).
    Las consultas se ordenan por longitud, se agrupan en lotes de ``batch_size``
    rellenados **por la derecha** (con atención causal, los *tokens* reales nunca ven
    el relleno, que va detrás) y se lee la salida en la última posición real de cada
    una. ``model`` es un ``AutoModelForCausalLM``; ``tokenizer``, cualquiera con
    ``encode(text, add_special_tokens=...)``. Con ``use_cache=False`` se vuelve a
    pasar el prefijo con cada lote (mismo resultado, más lento: sirve para
    comprobar la caché).

    Returns
    -------
    numpy.ndarray
        ``(n, 2)``: ``log P(palabra negativa)`` y ``log P(palabra positiva)``
        (normalizadas sobre todo el vocabulario).

    Raises
    ------
    TypeError, ValueError
        Si las frases o las palabras de etiqueta no son válidas.
    """
    template = PromptTemplate() if template is None else template
    sentences = _check_sentences(sentences)
    if not sentences:
        raise LabcodeValueError("sentences está vacía: no hay nada que puntuar.")
    batch_size = checks.positive_int("batch_size", batch_size)
    if not isinstance(prefix, str):
        raise LabcodeTypeError(f"prefix debe ser una cadena; se recibió {type(prefix).__name__}.")
    label_ids = torch.tensor(label_token_ids(tokenizer, template.label_words))  # (2,)
    queries = _query_ids(tokenizer, sentences, template)
    model.eval()
    scorer = _LastTokenScorer(model, _prefix_ids(tokenizer, prefix), use_cache)
    order = np.argsort([len(q) for q in queries], kind="stable")
    out = np.empty((len(sentences), 2), dtype=np.float64)
    starts = range(0, len(order), batch_size)
    for a in progress(starts, desc="consultas", disable=not show_progress):
        idx = order[a : a + batch_size]
        h = scorer([queries[i] for i in idx])  # (B, V)
        out[idx] = torch.log_softmax(h, dim=-1)[:, label_ids].double().numpy()  # (B, 2)
    return out


def _query_ids(tokenizer: Any, sentences: list[str], template: PromptTemplate) -> list[list[int]]:
    """Los *tokens* de la consulta de cada frase (sin *tokens* especiales)."""
    queries = [
        tokenizer.encode(build_query(s, template), add_special_tokens=False) for s in sentences
    ]
    if any(len(q) == 0 for q in queries):
        raise LabcodeValueError("Alguna consulta quedó vacía al tokenizar: revisa template.query.")
    return queries


class _LastTokenScorer:
    """Logits del siguiente *token* tras ``prefijo + consulta`` para lotes de consultas.

    El cuerpo (bloques + norma final) y la cabeza de lenguaje van por separado, para
    calcular los logits solo en la última posición real de cada consulta. Con
    ``use_cache``, el prefijo pasa por el modelo una sola vez y cada lote parte de
    una copia de su caché KV.
    """

    def __init__(self, model: Any, prefix_ids: list[int], use_cache: bool):
        self.p_ids = torch.tensor([prefix_ids], dtype=torch.long)  # (1, P)
        self.body, self.head = model.base_model, model.get_output_embeddings()
        self.kw = _cache_kwarg(self.body)
        self.cache = None
        if use_cache and prefix_ids:
            self.cache = _output_cache(self.body(input_ids=self.p_ids, use_cache=True))

    def __call__(self, queries: list[list[int]]) -> torch.Tensor:
        B, P = len(queries), self.p_ids.shape[1]
        lens = torch.tensor([len(q) for q in queries])  # (B,)
        ids = torch.zeros(B, int(lens.max()), dtype=torch.long)  # relleno por la derecha (id 0)
        for r, q in enumerate(queries):
            ids[r, : len(q)] = torch.tensor(q)
        if self.cache is not None:
            cache = copy.deepcopy(self.cache)
            cache.batch_repeat_interleave(B)
            hidden = self.body(input_ids=ids, use_cache=True, **{self.kw: cache})
            last = lens - 1  # hidden: (B, T, d)
        else:
            full = torch.cat([self.p_ids.expand(B, P), ids], dim=1)  # (B, P + T)
            hidden = self.body(input_ids=full, use_cache=False)  # (B, P + T, d)
            last = P + lens - 1
        # la cabeza de lenguaje solo en la última posición real: (B, d) -> (B, V)
        return self.head(hidden.last_hidden_state[torch.arange(B), last]).float()


@torch.no_grad()
def score_label_words_naive(
    model: Any, tokenizer: Any, prefix: str, sentence: str, template: PromptTemplate | None = None
) -> np.ndarray:
    """Lo mismo que :func:`score_label_words` para una frase, sin lotes ni caché.

    Concatena los *tokens* del prefijo y de la consulta y hace una sola pasada:
    la referencia con la que se comprueba la versión rápida.

    Returns
    -------
    numpy.ndarray
        ``(2,)``: log-probabilidades de las palabras negativa y positiva.
    """
    template = PromptTemplate() if template is None else template
    label_ids = label_token_ids(tokenizer, template.label_words)
    q = tokenizer.encode(build_query(sentence, template), add_special_tokens=False)
    ids = torch.tensor([_prefix_ids(tokenizer, prefix) + list(q)], dtype=torch.long)
    logits = model(input_ids=ids, use_cache=False).logits[0, -1].float()  # (V,)
    return torch.log_softmax(logits, dim=-1)[label_ids].double().numpy()


#: Entradas «sin contenido» para la calibración de Zhao et al. (2021).
CONTENT_FREE = ("N/A", "", "[MASK]")


def calibrate_scores(
    scores: np.ndarray, content_free_scores: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Calibración contextual (Zhao et al., 2021) de las puntuaciones de etiqueta.

    Se renormalizan las dos log-probabilidades a una distribución sobre las
    etiquetas, ``p``; ``p_cf`` es la media de esas distribuciones para las
    entradas sin contenido, y la predicción calibrada es ``argmax p / p_cf``
    (con dos clases, equivale a mover el umbral de decisión).

    Parameters
    ----------
    scores:
        ``(n, 2)`` log-probabilidades de :func:`score_label_words`.
    content_free_scores:
        ``(m, 2)``, las mismas para ``m >= 1`` entradas sin contenido.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Log-puntuaciones calibradas ``(n, 2)`` y ``p_cf`` ``(2,)``.

    Raises
    ------
    ValueError
        Si las formas no son ``(n, 2)`` y ``(m, 2)`` con ``m >= 1``.
    """
    s = np.asarray(scores, dtype=np.float64)
    c = np.asarray(content_free_scores, dtype=np.float64)
    if s.ndim != 2 or s.shape[1] != 2 or c.ndim != 2 or c.shape[1] != 2 or len(c) == 0:
        raise LabcodeValueError(
            "calibrate_scores espera scores (n, 2) y content_free_scores (m, 2) con m >= 1; "
            f"se recibió {s.shape} y {c.shape}."
        )

    def log_norm(x: np.ndarray) -> np.ndarray:  # log-softmax sobre las 2 etiquetas
        m = x.max(axis=1, keepdims=True)
        return x - m - np.log(np.exp(x - m).sum(axis=1, keepdims=True))

    p_cf = np.exp(log_norm(c)).mean(axis=0)  # (2,)
    return log_norm(s) - np.log(p_cf), p_cf


def evaluate_prompting(
    model: Any,
    tokenizer: Any,
    sentences: Sequence[str],
    labels: Sequence[int],
    examples: Sequence[tuple[str, int]] = (),
    template: PromptTemplate | None = None,
    batch_size: int = 16,
    content_free: Sequence[str] = CONTENT_FREE,
    show_progress: bool = False,
) -> dict[str, Any]:
    """Exactitud de la clasificación por instrucciones sobre un conjunto etiquetado.

    Además de la predicción directa (la palabra de etiqueta más probable), da la
    **calibrada** de Zhao et al. (2021): se puntúan también entradas «sin
    contenido» (``content_free``, p. ej. ``"N/A"``), cuya probabilidad de cada
    etiqueta mide el sesgo del *prompt*, y se divide por ella (ver
    :func:`calibrate_scores`). Cuesta una consulta más por entrada sin contenido.

    Returns
    -------
    dict
        ``accuracy``, ``pred`` (array 0/1), ``positive_rate`` (fracción predicha
        positiva: mide el sesgo hacia una etiqueta), ``accuracy_calibrated``,
        ``pred_calibrated``, ``positive_rate_calibrated``, ``scores`` (``(n, 2)``),
        ``content_free_probs`` (``(2,)``), ``k`` (ejemplos), ``prefix_tokens``,
        ``seconds`` y ``n``.
    """
    template = PromptTemplate() if template is None else template
    sentences = _check_sentences(sentences)
    y = _check_labels(labels, len(sentences))
    prefix = build_prefix(examples, template)
    cf = _check_sentences(content_free, "content_free")
    with timer() as elapsed:
        scores = score_label_words(model, tokenizer, prefix, list(sentences) + cf, template,
                                   batch_size, show_progress=show_progress)
    scores, cf_scores = scores[: len(sentences)], scores[len(sentences) :]
    pred = scores.argmax(axis=1)
    if cf:
        cal, cf_probs = calibrate_scores(scores, cf_scores)
    else:
        cal, cf_probs = scores, np.full(2, 0.5)
    pred_cal = cal.argmax(axis=1)
    return {
        "accuracy": float(np.mean(pred == y)),
        "pred": pred,
        "positive_rate": float(np.mean(pred == 1)),
        "accuracy_calibrated": float(np.mean(pred_cal == y)),
        "pred_calibrated": pred_cal,
        "positive_rate_calibrated": float(np.mean(pred_cal == 1)),
        "scores": scores,
        "content_free_probs": cf_probs,
        "k": len(examples),
        "prefix_tokens": len(_prefix_ids(tokenizer, prefix)),
        "seconds": elapsed["s"],
        "n": len(sentences),
    }
