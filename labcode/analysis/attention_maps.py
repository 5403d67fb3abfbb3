"""Visualización e interpretabilidad de la atención.

Un único sitio para sacar los pesos de atención de un modelo, resumirlos y
dibujarlos:

- :class:`AttentionMaps`: los pesos de todas las capas y cabezas de una frase,
  ``(L, H, T, T)``, junto con sus *tokens*.
- :func:`extract_attentions`: extrae esos pesos de nuestros modelos
  (:class:`labcode.models.bert.BertEncoder`, :class:`labcode.models.gpt.GPT`,
  :class:`labcode.models.llama.Llama`) y de cualquier modelo de Hugging Face que
  devuelva ``attentions`` (:func:`hf_attentions` cambia a la implementación
  ``"eager"`` cuando hace falta). :func:`load_encoder` carga el codificador
  preentrenado del perfil activo sin cabeza.
- :func:`attention_rollout`: *attention rollout* :cite:`abnar2020quantifying`
  (definido sólo aquí; :mod:`labcode.models.vit` lo reexporta).
- :func:`find_word`, :func:`word_attention`, :func:`head_statistics`,
  :func:`attention_entropy` y :func:`dominant_patterns`: medir a qué atiende
  cada cabeza, con palabras partidas en *subwords* tratadas como en
  :cite:`clark2019does` (suma sobre las piezas de destino, media sobre las de
  origen).
- :func:`plot_head`, :func:`plot_layer_heads`, :func:`plot_head_statistics`:
  figuras de Matplotlib.
- :func:`attention_viewer`: visor interactivo (Plotly)
  de todas las cabezas con un deslizador por capas, que funciona en Jupyter,
  en Colab y en el HTML estático del libro (sin red: la extensión
  ``tools/plotly_js.py`` sirve una copia local de ``plotly.min.js``).

Notación de formas: ``L`` capas, ``H`` cabezas, ``T`` tokens; en una matriz
``(T, T)`` las filas son las consultas (*queries*) y las columnas las claves
(*keys*), y cada fila suma 1.
"""

from __future__ import annotations

import inspect
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from labcode.analysis.plotting import ATTENTION_CMAP, attention_heatmap
from labcode.utils.errors import LabcodeTypeError, LabcodeValueError

__all__ = [
    "AttentionMaps",
    "attention_entropy",
    "attention_rollout",
    "attention_viewer",
    "display_tokens",
    "dominant_patterns",
    "extract_attentions",
    "find_word",
    "head_statistics",
    "hf_attentions",
    "load_encoder",
    "plot_head",
    "plot_head_statistics",
    "plot_layer_heads",
    "word_attention",
]

#: Tokens especiales que se reconocen por su texto (BERT, RoBERTa, GPT-2, SmolLM2...).
SPECIAL_TOKENS = frozenset(
    {"[CLS]", "[SEP]", "[PAD]", "[MASK]", "<s>", "</s>", "<pad>", "<|endoftext|>",
     "<|im_start|>", "<|im_end|>", "<|begin_of_text|>", "<bos>", "<eos>"}
)


# ---------------------------------------------------------------------------
# Contenedor
# ---------------------------------------------------------------------------


def _check_index(name: str, value: Any, size: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise LabcodeTypeError(f"{name} debe ser un entero; se recibió {type(value).__name__}.")
    value = int(value)
    if not -size <= value < size:
        raise LabcodeValueError(
            f"{name}={value} fuera de rango: hay {size} (índices de 0 a {size - 1}, o negativos "
            f"desde -{size})."
        )
    return value % size


@dataclass
class AttentionMaps:
    """Pesos de atención de una frase en todas las capas y cabezas.

    Attributes
    ----------
    tokens : list of str
        Los ``T`` *tokens* en forma legible (ver :func:`display_tokens`).
    attentions : np.ndarray
        ``(L, H, T, T)``; ``attentions[l, h, i, j]`` es cuánto atiende la
        consulta ``i`` a la clave ``j`` en la cabeza ``h`` de la capa ``l``.
    model_name : str
        Nombre del modelo (para títulos).
    causal : bool
        ``True`` si la atención es causal (GPT, Llama): la parte de arriba de
        la diagonal es 0.
    raw_tokens : list of str, optional
        Los *tokens* tal como los escribe el tokenizador (``##to``, ``Ġcat``).

    Raises
    ------
    ValueError
        Si ``attentions`` no es ``(L, H, T, T)`` o ``tokens`` no tiene ``T`` elementos.
    """

    tokens: list[str]
    attentions: np.ndarray
    model_name: str = ""
    causal: bool = False
    raw_tokens: list[str] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.attentions, torch.Tensor):
            self.attentions = self.attentions.detach().cpu().double().numpy()
        a = np.asarray(self.attentions, dtype=np.float64)
        if a.ndim != 4 or a.shape[-1] != a.shape[-2] or a.size == 0:
            raise LabcodeValueError(
                "AttentionMaps: attentions debe tener forma (L, H, T, T) no vacía; se recibió "
                f"{a.shape}."
            )
        if isinstance(self.tokens, str) or len(self.tokens) != a.shape[-1]:
            n = "un str" if isinstance(self.tokens, str) else f"{len(self.tokens)} tokens"
            raise LabcodeValueError(
                f"AttentionMaps: se esperaba una lista de {a.shape[-1]} tokens (T); se recibió {n}."
            )
        if self.raw_tokens is not None and len(self.raw_tokens) != a.shape[-1]:
            raise LabcodeValueError(
                f"AttentionMaps: raw_tokens tiene {len(self.raw_tokens)} elementos; se esperaban "
                f"{a.shape[-1]}."
            )
        self.attentions = a
        self.tokens = [str(t) for t in self.tokens]

    @property
    def num_layers(self) -> int:
        """Número de capas ``L``."""
        return self.attentions.shape[0]

    @property
    def num_heads(self) -> int:
        """Número de cabezas por capa ``H``."""
        return self.attentions.shape[1]

    @property
    def seq_len(self) -> int:
        """Número de *tokens* ``T``."""
        return self.attentions.shape[-1]

    def layer(self, layer: int) -> np.ndarray:
        """Todas las cabezas de una capa, ``(H, T, T)`` (admite índices negativos)."""
        return self.attentions[_check_index("layer", layer, self.num_layers)]

    def head(self, layer: int, head: int) -> np.ndarray:
        """Una cabeza, ``(T, T)``.

        Raises
        ------
        ValueError
            Si ``layer`` o ``head`` están fuera de rango.
        """
        lyr = _check_index("layer", layer, self.num_layers)
        return self.attentions[lyr, _check_index("head", head, self.num_heads)]

    def special_positions(self) -> list[int]:
        """Posiciones de los *tokens* especiales (``[CLS]``, ``[SEP]``, ``<s>``...)."""
        toks = self.raw_tokens if self.raw_tokens is not None else self.tokens
        return [i for i, t in enumerate(toks) if t in SPECIAL_TOKENS]


# ---------------------------------------------------------------------------
# Tokens legibles
# ---------------------------------------------------------------------------


def display_tokens(tokenizer: Any, ids: Sequence[int] | torch.Tensor) -> list[str]:
    """Texto legible de cada *token* (para los ejes de las figuras).

    WordPiece (BERT) se deja tal cual (``##`` marca la continuación de una
    palabra). En BPE por bytes (GPT-2, SmolLM2) cada pieza se decodifica
    (``Ġcat`` → ``cat``, ``Ã³`` → ``ó``); si la pieza es sólo una parte de un
    carácter UTF-8, se deja el *token* original.

    Parameters
    ----------
    tokenizer:
        Tokenizador de Hugging Face.
    ids:
        Identificadores de una secuencia (1D).
    """
    if isinstance(ids, torch.Tensor):
        ids = ids.reshape(-1).tolist()
    raw = tokenizer.convert_ids_to_tokens(list(ids))
    special = set(getattr(tokenizer, "all_special_tokens", [])) | SPECIAL_TOKENS
    out = []
    for t in raw:
        if t in special or t.startswith("##"):
            out.append(t)
            continue
        try:
            s = tokenizer.convert_tokens_to_string([t])
        except Exception:  # noqa: BLE001 - un tokenizador raro: se deja el token
            s = t
        s = s.strip()
        out.append(t if (not s or "\ufffd" in s) else s)
    return out


# ---------------------------------------------------------------------------
# Extracción
# ---------------------------------------------------------------------------


def _stack(attentions: Sequence[torch.Tensor], what: str) -> np.ndarray:
    if not attentions:
        raise LabcodeValueError(f"{what}: el modelo no devolvió pesos de atención.")
    a = torch.stack([w[0].detach().float().cpu() for w in attentions])  # (L, H, T, T)
    return a.double().numpy()


def hf_attentions(model: nn.Module, inputs: dict[str, torch.Tensor]) -> np.ndarray:
    """Pesos de atención ``(L, H, T, T)`` de un modelo de Hugging Face (primera fila del lote).

    Con ``attn_implementation="sdpa"`` (la opción por defecto en ``transformers``
    reciente) el modelo **no** devuelve los pesos: la atención se calcula en un
    núcleo fusionado que nunca forma la matriz. Esta función cambia el modelo a
    ``"eager"`` durante la llamada (``set_attn_implementation``) y lo deja como
    estaba al terminar; también lo pone en modo evaluación (sin *dropout*)
    mientras tanto.

    Parameters
    ----------
    model:
        Un ``transformers.PreTrainedModel`` (codificador o decodificador).
    inputs:
        Salida del tokenizador (``input_ids``, ``attention_mask``...). Las claves
        que el modelo no acepta se descartan.

    Raises
    ------
    TypeError
        Si ``model`` no es un modelo de Hugging Face.
    ValueError
        Si el modelo no devuelve ``attentions`` (p. ej. un encoder-decoder) o no
        se puede cambiar a ``"eager"``.
    """
    config = getattr(model, "config", None)
    if not isinstance(model, nn.Module) or config is None:
        raise LabcodeTypeError(
            "hf_attentions: se esperaba un modelo de Hugging Face (PreTrainedModel); se recibió "
            f"{type(model).__name__}."
        )
    impl = getattr(config, "_attn_implementation", None)
    switched = False
    if impl not in (None, "eager"):
        if not hasattr(model, "set_attn_implementation"):
            raise LabcodeValueError(
                f"hf_attentions: el modelo usa attn_implementation={impl!r}, que no devuelve los "
                "pesos; cárgalo con from_pretrained(..., attn_implementation='eager')."
            )
        try:
            model.set_attn_implementation("eager")
        except (ValueError, ImportError) as exc:
            raise LabcodeValueError(
                f"hf_attentions: no se pudo cambiar {type(model).__name__} a la atención 'eager' "
                f"({exc}); cárgalo con attn_implementation='eager'."
            ) from None
        switched = True
    accepted = set(inspect.signature(model.forward).parameters)
    kwargs = {k: v for k, v in inputs.items() if k in accepted}
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(**kwargs, output_attentions=True)
    finally:
        model.train(was_training)
        if switched:
            model.set_attn_implementation(impl)
    attentions = getattr(out, "attentions", None)
    if not attentions:
        raise LabcodeValueError(
            f"hf_attentions: {type(model).__name__} no devolvió 'attentions' (¿es un "
            "encoder-decoder? usa encoder_attentions/decoder_attentions)."
        )
    return _stack(attentions, "hf_attentions")


def _model_kind(model: Any) -> str:
    from labcode.models.bert import BertEncoder
    from labcode.models.gpt import GPT
    from labcode.models.llama import Llama

    if isinstance(model, BertEncoder):
        return "bert"
    if isinstance(model, GPT):
        return "gpt"
    if isinstance(model, Llama):
        return "llama"
    if isinstance(model, nn.Module) and getattr(model, "config", None) is not None and hasattr(
        model.config, "to_dict"
    ):
        return "hf"
    raise LabcodeTypeError(
        "extract_attentions: se esperaba un labcode.models.bert.BertEncoder, "
        "labcode.models.gpt.GPT, "
        "labcode.models.llama.Llama o un modelo de Hugging Face; "
        f"se recibió {type(model).__name__}."
    )


def extract_attentions(
    model: nn.Module,
    tokenizer: Any,
    text: str,
    model_name: str | None = None,
    max_length: int = 512,
) -> AttentionMaps:
    """Tokeniza ``text``, lo pasa por ``model`` y devuelve los pesos de todas las capas.

    Parameters
    ----------
    model:
        :class:`labcode.models.bert.BertEncoder`, :class:`labcode.models.gpt.GPT`,
        :class:`labcode.models.llama.Llama` o un modelo de Hugging Face (ver
        :func:`hf_attentions`).
    tokenizer:
        Tokenizador de Hugging Face compatible con el modelo.
    text:
        Una frase (no vacía).
    model_name:
        Nombre para los títulos (por defecto, el de la clase).
    max_length:
        Número máximo de *tokens*; un texto más largo es un error (una matriz
        ``T x T`` enorme no se puede leer).

    Returns
    -------
    AttentionMaps
        Con ``attentions`` de forma ``(L, H, T, T)``.

    Raises
    ------
    TypeError
        Si ``text`` no es un ``str``, ``tokenizer`` no es invocable o el modelo no
        es de un tipo admitido.
    ValueError
        Si el texto está vacío, no produce *tokens* o pasa de ``max_length``.
    """
    if not isinstance(text, str):
        raise LabcodeTypeError(
            f"extract_attentions: text debe ser un str; se recibió {type(text).__name__}."
        )
    if not text.strip():
        raise LabcodeValueError(
            "extract_attentions: el texto está vacío; se esperaba al menos una palabra."
        )
    if not callable(tokenizer) or not hasattr(tokenizer, "convert_ids_to_tokens"):
        raise LabcodeTypeError(
            "extract_attentions: tokenizer debe ser un tokenizador de Hugging Face; se recibió "
            f"{type(tokenizer).__name__}."
        )
    kind = _model_kind(model)
    enc = dict(tokenizer(text, return_tensors="pt"))
    ids = enc["input_ids"]
    T = ids.shape[1]
    if T == 0:
        raise LabcodeValueError(f"extract_attentions: el texto {text!r} no produjo ningún token.")
    if T > max_length:
        raise LabcodeValueError(
            f"extract_attentions: el texto tiene {T} tokens y el máximo es max_length={max_length}."
        )
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            if kind == "hf":
                att = hf_attentions(model, enc)
            elif kind == "bert":
                _, w = model(ids, enc.get("attention_mask"), enc.get("token_type_ids"),
                             output_attentions=True)
                att = _stack(w, "extract_attentions")
            else:  # gpt, llama
                _, w = model(ids, output_attentions=True)
                att = _stack(w, "extract_attentions")
    finally:
        model.train(was_training)
    if kind == "hf":
        causal = not bool(getattr(model.config, "is_encoder_decoder", False)) and bool(
            np.allclose(np.triu(att, k=1), 0.0)
        )
    else:
        causal = kind in ("gpt", "llama")
    name = model_name or getattr(getattr(model, "config", None), "name_or_path", "") or type(
        model
    ).__name__
    return AttentionMaps(
        tokens=display_tokens(tokenizer, ids[0]),
        attentions=att,
        model_name=str(name),
        causal=causal,
        raw_tokens=tokenizer.convert_ids_to_tokens(ids[0].tolist()),
    )


def load_encoder(spec: Any = None) -> nn.Module:
    """Codificador preentrenado del perfil activo, **sin** cabeza (``AutoModel``).

    Parameters
    ----------
    spec:
        :class:`labcode.hf.pretrained.ModelSpec`; por defecto
        :func:`labcode.hf.pretrained.resolve_bert_model`.

    Returns
    -------
    transformers.PreTrainedModel
        En modo evaluación, en CPU (``BertModel`` para all-MiniLM-L6-v2 y
        ``bert-base-uncased``).

    Raises
    ------
    labcode.hf.pretrained.ModelNotAvailableError
        Si el modelo no está disponible.
    """
    import transformers

    from labcode.hf import pretrained
    from labcode.utils.runtime import quiet_transformers

    spec = pretrained.resolve_bert_model() if spec is None else spec
    pretrained.check_kind(spec, "encoder", "load_encoder")
    folder = pretrained.local_model_dir(spec)
    with quiet_transformers():
        model = transformers.AutoModel.from_pretrained(folder, **pretrained.SAFE_LOAD_KWARGS)
    return model.eval()


# ---------------------------------------------------------------------------
# Attention rollout
# ---------------------------------------------------------------------------


def attention_rollout(attentions: Any, residual: bool = True) -> Any:
    """*Attention rollout* :cite:`abnar2020quantifying`.

    Promedia las cabezas de cada capa, añade la identidad (la conexión residual),
    renormaliza las filas y multiplica las matrices de todas las capas:
    ``R = Â_L ··· Â_1`` con ``Â = (Ā + I) / 2``. ``R[i, j]`` estima cuánto de
    la entrada ``j`` llega a la posición ``i`` de la última capa.

    Parameters
    ----------
    attentions:
        Una de estas formas:

        - lista de tensores ``(B, nh, T, T)``, uno por capa (p. ej. de
          :meth:`labcode.models.vit.ViT.attention_maps`) → devuelve ``torch.Tensor`` ``(B, T, T)``;
        - ``np.ndarray`` ``(L, H, T, T)`` → devuelve ``np.ndarray`` ``(T, T)``;
        - :class:`AttentionMaps` → devuelve ``np.ndarray`` ``(T, T)``.
    residual:
        Si se añade la identidad (sin ella, es el producto de las medias).

    Returns
    -------
    torch.Tensor or np.ndarray
        Cada fila suma 1.

    Raises
    ------
    ValueError
        Si no hay matrices, las formas no son las esperadas o no coinciden entre capas.
    TypeError
        Si ``attentions`` no es de un tipo admitido.
    """
    as_numpy = False
    if isinstance(attentions, AttentionMaps):
        attentions = attentions.attentions
    if isinstance(attentions, np.ndarray):
        if attentions.ndim != 4 or attentions.shape[-1] != attentions.shape[-2]:
            raise LabcodeValueError(
                "attention_rollout: se esperaba un array (L, H, T, T); se recibió "
                f"{attentions.shape}."
            )
        as_numpy = True
        layers = [torch.from_numpy(np.asarray(a, dtype=np.float64))[None] for a in attentions]
    elif isinstance(attentions, (list, tuple)):
        layers = list(attentions)
    else:
        raise LabcodeTypeError(
            "attention_rollout: se esperaba una lista de tensores (B, nh, T, T), un array "
            f"(L, H, T, T) o un AttentionMaps; se recibió {type(attentions).__name__}."
        )
    if not layers:
        raise LabcodeValueError("attention_rollout: se esperaba al menos una matriz de atención.")
    result = None
    for a in layers:
        if not isinstance(a, torch.Tensor) or a.dim() != 4 or a.shape[-1] != a.shape[-2]:
            shape = tuple(a.shape) if hasattr(a, "shape") else type(a).__name__
            raise LabcodeValueError(
                f"attention_rollout: se esperaban pesos (B, nh, T, T); se recibió {shape}."
            )
        if result is not None and a.shape[-1] != result.shape[-1]:
            raise LabcodeValueError(
                "attention_rollout: todas las capas deben tener la misma T; se recibió "
                f"{a.shape[-1]} y {result.shape[-1]}."
            )
        m = a.mean(dim=1)  # (B, T, T)
        if residual:
            m = m + torch.eye(m.shape[-1], dtype=m.dtype, device=m.device)
            m = m / m.sum(dim=-1, keepdim=True)
        result = m if result is None else m @ result
    return result[0].numpy() if as_numpy else result


# ---------------------------------------------------------------------------
# Medidas: palabras, patrones de cabeza, entropía
# ---------------------------------------------------------------------------


def _normalize(text: str) -> str:
    text = text.replace("##", "").replace("Ġ", "").replace("▁", "").strip().lower()
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c))


def find_word(tokens: Sequence[str] | AttentionMaps, word: str, occurrence: int = 0) -> list[int]:
    """Posiciones de los *tokens* que forman ``word`` (una palabra puede ser varias piezas).

    La comparación no distingue mayúsculas ni tildes e ignora las marcas de
    *subword* (``##``, ``Ġ``): ``"bebió"`` encuentra ``be ##bio`` en MiniLM y
    ``be bi ó`` en SmolLM2.

    Parameters
    ----------
    tokens:
        Lista de *tokens* o un :class:`AttentionMaps`.
    word:
        La palabra a buscar.
    occurrence:
        Qué aparición devolver (0 = la primera).

    Returns
    -------
    list of int
        Posiciones consecutivas.

    Raises
    ------
    ValueError
        Si la palabra está vacía o no aparece (tantas veces).
    """
    if isinstance(tokens, AttentionMaps):
        tokens = tokens.tokens
    if not isinstance(word, str) or not _normalize(word):
        raise LabcodeValueError(
            f"find_word: se esperaba una palabra no vacía; se recibió {word!r}."
        )
    target = _normalize(word)
    norm = [_normalize(t) for t in tokens]
    found = []
    for start in range(len(norm)):
        if not norm[start] or not target.startswith(norm[start]):
            continue
        acc, end = "", start
        while end < len(norm) and len(acc) < len(target):
            acc += norm[end]
            end += 1
        if acc == target:
            found.append(list(range(start, end)))
    if len(found) <= occurrence:
        raise LabcodeValueError(
            f"find_word: la palabra {word!r} aparece {len(found)} veces en los tokens "
            f"{list(tokens)}; se pidió la aparición {occurrence}."
        )
    return found[occurrence]


def word_attention(
    maps: AttentionMaps,
    source: str | Sequence[int],
    target: str | Sequence[int],
) -> np.ndarray:
    """Atención de la palabra ``source`` a la palabra ``target`` en cada capa y cabeza.

    Si una palabra tiene varias piezas se suma la atención **a** las piezas de
    ``target`` y se promedia **desde** las de ``source`` :cite:`clark2019does`,
    de modo que cada fila sigue sumando 1 a nivel de palabra.

    Parameters
    ----------
    maps:
        Pesos de una frase.
    source, target:
        Una palabra (ver :func:`find_word`) o una lista de posiciones.

    Returns
    -------
    np.ndarray
        ``(L, H)`` con valores en ``[0, 1]`` (0 si ``target`` va después de
        ``source`` en un modelo causal).
    """
    if not isinstance(maps, AttentionMaps):
        raise LabcodeTypeError(
            f"word_attention: se esperaba AttentionMaps; se recibió {type(maps).__name__}."
        )

    def positions(x: str | Sequence[int], name: str) -> list[int]:
        if isinstance(x, str):
            return find_word(maps, x)
        pos = [_check_index(name, p, maps.seq_len) for p in x]
        if not pos:
            raise LabcodeValueError(f"word_attention: {name} no tiene ninguna posición.")
        return pos

    src, dst = positions(source, "source"), positions(target, "target")
    a = maps.attentions[:, :, src][:, :, :, dst]  # (L, H, |src|, |dst|)
    return a.sum(-1).mean(-1)


def attention_entropy(maps: AttentionMaps, normalize: bool = False) -> np.ndarray:
    """Entropía media (en bits) de la distribución de atención de cada consulta, ``(L, H)``.

    Una entropía baja es una cabeza «enfocada» (mira a pocos *tokens*); alta,
    una cabeza que reparte la atención.

    Parameters
    ----------
    normalize:
        Divide cada fila por su máximo posible, ``log2`` del número de claves
        visibles (``T`` sin máscara; ``i + 1`` para la consulta ``i`` de un
        modelo causal, cuya primera fila se omite porque sólo ve un *token*).
        Así ``1`` es atención uniforme y el valor es comparable entre modelos.
    """
    a = np.clip(maps.attentions, 1e-12, 1.0)
    h = -(maps.attentions * np.log2(a)).sum(-1)  # (L, H, T)
    if not normalize:
        return h.mean(-1)
    T = maps.seq_len
    if T < 2:
        raise LabcodeValueError(
            "attention_entropy: con normalize=True se necesitan al menos 2 tokens."
        )
    if maps.causal:
        visible = np.arange(1, T + 1)[1:]
        return (h[..., 1:] / np.log2(visible)).mean(-1)
    return h.mean(-1) / math.log2(T)


def head_statistics(maps: AttentionMaps) -> dict[str, np.ndarray]:
    """Patrones sencillos de cada cabeza :cite:`clark2019does,voita2019analyzing`, ``(L, H)``.

    Claves del diccionario (todas son medias sobre las consultas ``i >= 1``):

    ``"previous"``
        Atención al *token* anterior, ``A[i, i-1]``.
    ``"self"``
        Atención a sí mismo, ``A[i, i]``.
    ``"first"``
        Atención al primer *token*, ``A[i, 0]`` (``[CLS]`` en BERT; en los
        decodificadores, el «sumidero de atención», *attention sink*).
    ``"special"``
        Atención a los *tokens* especiales (``[CLS]`` y ``[SEP]``; la misma
        que ``"first"`` si sólo lo es el primero, y 0 si no hay ninguno).
    ``"entropy"``
        :func:`attention_entropy` normalizada.

    Raises
    ------
    ValueError
        Si la frase tiene menos de 2 *tokens*.
    """
    T = maps.seq_len
    if T < 2:
        raise LabcodeValueError(f"head_statistics: se necesitan al menos 2 tokens; se recibió {T}.")
    a = maps.attentions  # (L, H, T, T)
    i = np.arange(1, T)
    special = maps.special_positions()
    return {
        "previous": a[:, :, i, i - 1].mean(-1),
        "self": a[:, :, i, i].mean(-1),
        "first": a[:, :, 1:, 0].mean(-1),
        "special": (a[:, :, 1:][..., special].sum(-1).mean(-1) if special
                    else np.zeros(a.shape[:2])),
        "entropy": attention_entropy(maps, normalize=True),
    }


#: Etiqueta de cada patrón en :func:`dominant_patterns`.
PATTERN_LABELS = {
    "previous": "token anterior",
    "self": "sí mismo",
    "first": "primer token",
    "special": "[CLS]/[SEP]",
}


def dominant_patterns(stats: dict[str, np.ndarray], threshold: float = 0.5) -> np.ndarray:
    """Etiqueta cada cabeza con el patrón que recibe más atención, si pasa de ``threshold``.

    Parameters
    ----------
    stats:
        Salida de :func:`head_statistics`.
    threshold:
        Fracción mínima de la atención (en ``(0, 1]``) para asignar un patrón;
        por debajo la cabeza es ``"mixta"``.

    Returns
    -------
    np.ndarray
        ``(L, H)`` de cadenas: ``"token anterior"``, ``"sí mismo"``,
        ``"primer token"``, ``"[CLS]/[SEP]"`` o ``"mixta"``. Si el primer *token*
        es un especial, ``"special"`` (que lo incluye) tiene prioridad sobre ``"first"``.
    """
    if not 0 < threshold <= 1:
        raise LabcodeValueError(
            f"dominant_patterns: threshold debe estar en (0, 1]; se recibió {threshold}."
        )
    keys = [k for k in ("previous", "self", "special", "first") if k in stats]
    if not keys:
        raise LabcodeValueError(
            "dominant_patterns: stats no tiene ninguna de las claves previous, self, first "
            "ni special."
        )
    stack = np.stack([np.asarray(stats[k], dtype=float) for k in keys])  # (K, L, H)
    best = stack.argmax(0)
    labels = np.array([PATTERN_LABELS[k] for k in keys], dtype=object)[best]
    labels[stack.max(0) < threshold] = "mixta"
    return labels.astype(str)


# ---------------------------------------------------------------------------
# Figuras (Matplotlib)
# ---------------------------------------------------------------------------


def plot_head(
    maps: AttentionMaps,
    layer: int,
    head: int,
    ax: plt.Axes | None = None,
    title: str | None = None,
    annotate: bool = False,
    colorbar: bool = True,
) -> plt.Axes:
    """Mapa de calor de una cabeza (filas: consultas; columnas: claves).

    Raises
    ------
    ValueError
        Si ``layer`` o ``head`` están fuera de rango.
    """
    w = maps.head(layer, head)
    lyr, hd = layer % maps.num_layers, head % maps.num_heads
    if ax is None:
        side = 0.32 * maps.seq_len + 1.8
        _, ax = plt.subplots(figsize=(side + 0.8, side))
    return attention_heatmap(
        w, maps.tokens, ax=ax, annotate=annotate, colorbar=colorbar, vmax=1.0,
        title=title if title is not None else f"capa {lyr}, cabeza {hd}",
    )


def plot_layer_heads(
    maps: AttentionMaps,
    layer: int,
    ncols: int = 4,
    heads: Sequence[int] | None = None,
    suptitle: str | None = None,
    panel: float = 2.4,
) -> plt.Figure:
    """Todas las cabezas (o ``heads``) de una capa en una rejilla.

    Las etiquetas de los *tokens* sólo se escriben en la columna izquierda y en
    la fila de abajo (la escala de color es común, de 0 a 1).
    """
    lyr = _check_index("layer", layer, maps.num_layers)
    heads = list(range(maps.num_heads)) if heads is None else [
        _check_index("head", h, maps.num_heads) for h in heads]
    if isinstance(ncols, bool) or not isinstance(ncols, int) or ncols < 1:
        raise LabcodeValueError(
            f"plot_layer_heads: ncols debe ser un entero >= 1; se recibió {ncols!r}."
        )
    ncols = min(ncols, len(heads))
    nrows = math.ceil(len(heads) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel * ncols + 0.6, panel * nrows + 0.4),
                             squeeze=False)
    fs = 6 if maps.seq_len > 12 else 8
    for k, ax in enumerate(axes.flat):
        if k >= len(heads):
            ax.axis("off")
            continue
        attention_heatmap(maps.attentions[lyr, heads[k]], maps.tokens, ax=ax, annotate=False,
                          colorbar=False, vmax=1.0, title=f"cabeza {heads[k]}", xlabel="",
                          ylabel="")
        ax.title.set_fontsize(9)
        ax.tick_params(labelsize=fs, length=1.5)
        row, col = divmod(k, ncols)
        if col:
            ax.tick_params(labelleft=False)
        if row < nrows - 1 and k + ncols < len(heads):
            ax.tick_params(labelbottom=False)
    fig.suptitle(suptitle if suptitle is not None else
                 f"{maps.model_name}: capa {lyr}".strip(": "))
    return fig


def plot_head_statistics(
    stats: dict[str, np.ndarray],
    keys: Sequence[str] = ("previous", "first", "special", "entropy"),
    titles: dict[str, str] | None = None,
    annotate: bool | None = None,
    ncols: int | None = None,
) -> plt.Figure:
    """Un mapa ``capas x cabezas`` por estadística de :func:`head_statistics`.

    ``ncols`` fija cuántos mapas van en cada fila (por defecto, todos en una
    fila salvo que la figura quede demasiado ancha; entonces, dos).
    """
    keys = [k for k in keys if k in stats]
    if not keys:
        raise LabcodeValueError(
            "plot_head_statistics: ninguna de las claves pedidas está en stats."
        )
    titles = {
        "previous": "al token anterior",
        "self": "a sí mismo",
        "first": "al primer token",
        "special": "a [CLS]/[SEP]",
        "entropy": "entropía normalizada",
        **(titles or {}),
    }
    L, H = np.asarray(stats[keys[0]]).shape
    if annotate is None:
        annotate = L * H <= 120
    if ncols is None:
        ncols = len(keys) if 0.42 * H * len(keys) <= 14 else 2
    if isinstance(ncols, bool) or not isinstance(ncols, int) or ncols < 1:
        raise LabcodeValueError(
            f"plot_head_statistics: ncols debe ser un entero >= 1; se recibió {ncols!r}."
        )
    ncols = min(ncols, len(keys))
    nrows = math.ceil(len(keys) / ncols)
    size = (0.42 * H * ncols + 1.5, (0.3 * L + 1.6) * nrows)
    fig, axes = plt.subplots(nrows, ncols, figsize=size, squeeze=False)
    for ax in axes.flat[len(keys):]:
        ax.axis("off")
    for ax, k in zip(axes.flat[: len(keys)], keys, strict=True):
        m = np.asarray(stats[k], dtype=float)
        im = ax.imshow(m, cmap=ATTENTION_CMAP, vmin=0.0, vmax=1.0, aspect="auto")
        ax.set_title(titles.get(k, k), fontsize=9)
        ax.set_xlabel("cabeza")
        ax.set_xticks(range(H))
        ax.tick_params(labelsize=7)
        step = 1 if L <= 12 else 3
        ax.set_yticks(range(0, L, step))
        if annotate:
            for i in range(L):
                for j in range(H):
                    txt = f"{m[i, j]:.1f}"
                    ax.text(j, i, txt[1:] if txt.startswith("0.") else txt,
                            ha="center", va="center", fontsize=6,
                            color="black" if m[i, j] > 0.5 else "white")
    for row in axes:
        row[0].set_ylabel("capa")
    fig.colorbar(im, ax=axes.ravel().tolist(), fraction=0.03, pad=0.02)
    return fig


# ---------------------------------------------------------------------------
# Visor interactivo (Plotly)
# ---------------------------------------------------------------------------


def _unique_labels(tokens: Sequence[str]) -> list[str]:
    """Etiquetas únicas para los ejes categóricos de Plotly (un *token* repetido,
    como «the», se fusionaría en una sola categoría): se añaden espacios de
    anchura cero, invisibles."""
    seen: dict[str, int] = {}
    out = []
    for t in tokens:
        k = seen.get(t, 0)
        seen[t] = k + 1
        out.append(t + "\u200b" * k)
    return out


def attention_viewer(
    maps: AttentionMaps,
    layers: Sequence[int] | None = None,
    ncols: int | None = None,
    title: str | None = None,
    panel_height: int = 190,
):
    """Visor interactivo: todas las cabezas de una capa y un deslizador para cambiar de capa.

    Hay una traza ``Heatmap`` por (capa, cabeza); el deslizador (un paso por
    capa) deja visibles sólo las ``H`` cabezas de la capa elegida. Al pasar el
    ratón se ve la consulta, la clave y el peso.

    Parameters
    ----------
    maps:
        Pesos de una frase.
    layers:
        Capas que incluir (por defecto todas).
    ncols:
        Columnas de la rejilla de cabezas (por defecto ``ceil(sqrt(H))``).
    title:
        Título (por defecto, el nombre del modelo).
    panel_height:
        Alto aproximado de cada fila de la rejilla, en píxeles.

    Returns
    -------
    plotly.graph_objects.Figure
        ``fig.data`` tiene ``len(layers) * H`` trazas (en orden capa, cabeza) y
        ``fig.layout.sliders[0].steps`` un paso por capa. ``fig.layout.meta``
        guarda ``{"layers": [...], "heads": H, "tokens": [...]}``.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    if not isinstance(maps, AttentionMaps):
        raise LabcodeTypeError(
            f"attention_viewer: se esperaba AttentionMaps; se recibió {type(maps).__name__}."
        )
    layers = list(range(maps.num_layers)) if layers is None else [
        _check_index("layer", lyr, maps.num_layers) for lyr in layers]
    if not layers:
        raise LabcodeValueError("attention_viewer: layers no puede estar vacío.")
    H = maps.num_heads
    if ncols is None:
        ncols = math.ceil(math.sqrt(H))
    if isinstance(ncols, bool) or not isinstance(ncols, int) or ncols < 1:
        raise LabcodeValueError(
            f"attention_viewer: ncols debe ser un entero >= 1; se recibió {ncols!r}."
        )
    ncols = min(ncols, H)
    nrows = math.ceil(H / ncols)
    labels = _unique_labels(maps.tokens)
    name = title if title is not None else (maps.model_name or "atención")
    fig = make_subplots(rows=nrows, cols=ncols, subplot_titles=[f"cabeza {h}" for h in range(H)],
                        horizontal_spacing=0.03, vertical_spacing=0.06)
    for li, lyr in enumerate(layers):
        for h in range(H):
            z = maps.attentions[lyr, h].astype(np.float32)
            fig.add_trace(
                go.Heatmap(
                    z=z, x=labels, y=labels, coloraxis="coloraxis", visible=li == 0,
                    name=f"capa {lyr} · cabeza {h}",
                    hovertemplate=("consulta: %{y}<br>clave: %{x}<br>peso: %{z:.3f}"
                                   f"<extra>capa {lyr} · cabeza {h}</extra>"),
                ),
                row=h // ncols + 1, col=h % ncols + 1,
            )
    steps = []
    for li, lyr in enumerate(layers):
        visible = [False] * (len(layers) * H)
        visible[li * H:(li + 1) * H] = [True] * H
        steps.append({"method": "update", "label": str(lyr),
                      "args": [{"visible": visible}, {"title.text": f"{name} — capa {lyr}"}]})
    fig.update_layout(
        title={"text": f"{name} — capa {layers[0]}", "x": 0.0, "font": {"size": 14}},
        coloraxis={"colorscale": ATTENTION_CMAP.capitalize(), "cmin": 0.0, "cmax": 1.0,
                   "colorbar": {"title": {"text": "peso"}, "thickness": 12}},
        sliders=[{"active": 0, "steps": steps, "currentvalue": {"prefix": "capa: "},
                  "pad": {"t": 40}}],
        height=int(panel_height * nrows + 160),
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        autosize=True,
        meta={"layers": layers, "heads": H, "tokens": list(maps.tokens)},
    )
    fig.update_annotations(font_size=11)  # títulos «cabeza h» de cada panel
    fig.update_xaxes(showticklabels=False, ticks="")
    fig.update_yaxes(autorange="reversed", showticklabels=False, ticks="")
    for c in range(1, ncols + 1):  # etiquetas sólo en la fila de abajo y la columna izquierda
        fig.update_xaxes(showticklabels=True, tickangle=-60, tickfont={"size": 8},
                         row=nrows, col=c)
    for r in range(1, nrows + 1):
        fig.update_yaxes(showticklabels=True, tickfont={"size": 8}, row=r, col=1)
    return fig
