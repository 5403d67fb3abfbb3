"""Preentrenamiento de BERT con el modelo de lenguaje enmascarado (MLM).

- :func:`mask_tokens`: la receta de enmascarado de BERT (15 %; de ellos 80 %
  ``[MASK]``, 10 % un token al azar y 10 % sin cambios); los tokens especiales
  y el relleno nunca se eligen.
- :class:`WordTokenizer`: un vocabulario de palabras (en minúsculas) construido
  con un texto, con los tokens especiales de BERT.
- :class:`BertForMLM`: :class:`labcode.models.bert.BertEncoder` + la cabeza MLM de BERT
  (lineal, GELU, LayerNorm y una capa de salida que comparte pesos con los
  *embeddings* de palabra).
- :func:`train_mlm`: un bucle de preentrenamiento (AdamW) con barra de progreso.
- :func:`fill_mask`: las ``k`` palabras más probables para cada ``[MASK]``.
- :func:`span_corrupt`: el objetivo de texto a texto de T5 (tramos con centinelas).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from labcode.models.bert import BertConfig, BertEncoder
from labcode.train import TrainConfig, train
from labcode.utils import checks

__all__ = [
    "SPECIAL_TOKENS",
    "IGNORE_INDEX",
    "mask_tokens",
    "WordTokenizer",
    "BertForMLM",
    "MLMTrainResult",
    "mlm_batch",
    "train_mlm",
    "mlm_loss",
    "fill_mask",
    "span_corrupt",
]

#: Tokens especiales, en el orden de sus ids (``[PAD]`` = 0, como en BERT).
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
#: Etiqueta de las posiciones que no cuentan en la pérdida (``cross_entropy``).
IGNORE_INDEX = -100

_WORD_RE = re.compile(r"\w+|[^\w\s]")


def _check_probs(mlm_probability: float, split: Sequence[float]) -> None:
    if not 0.0 < float(mlm_probability) < 1.0:
        raise ValueError(
            f"mask_tokens: mlm_probability debe estar en (0, 1); se recibió {mlm_probability}."
        )
    if len(split) != 3 or min(split) < 0 or abs(sum(split) - 1.0) > 1e-6:
        raise ValueError(
            "mask_tokens: split debe ser tres proporciones (máscara, azar, sin cambios) que "
            f"sumen 1; se recibió {tuple(split)}."
        )


def _normal_ids(special: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """Ids del vocabulario que no son especiales (los que pueden salir al azar)."""
    normal = torch.ones(vocab_size, dtype=torch.bool, device=special.device)
    normal[special[special < vocab_size]] = False
    allowed = normal.nonzero().flatten()
    if allowed.numel() == 0:
        raise ValueError("mask_tokens: no queda ningún token normal en el vocabulario.")
    return allowed


def mask_tokens(
    input_ids: torch.Tensor,
    mask_token_id: int,
    vocab_size: int,
    special_ids: Sequence[int] = (),
    mlm_probability: float = 0.15,
    split: Sequence[float] = (0.8, 0.1, 0.1),
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Enmascara un lote como en BERT (Devlin et al., 2019).

    Cada token que no sea especial se elige con probabilidad ``mlm_probability``
    (15 %). De los elegidos, un 80 % pasa a ser ``[MASK]``, un 10 % se cambia por
    un token normal al azar y un 10 % se deja igual (así el modelo no puede
    fiarse de que solo hay que predecir donde ve ``[MASK]``).

    Parameters
    ----------
    input_ids : torch.Tensor
        Enteros ``(B, T)``; no se modifica.
    mask_token_id, vocab_size : int
        Id de ``[MASK]`` y tamaño del vocabulario.
    special_ids : sequence of int
        Ids que nunca se eligen ni salen al azar (``[PAD]``, ``[CLS]``, ``[SEP]``...).
    mlm_probability : float
        Proporción de tokens elegidos.
    split : tres floats
        Proporciones (máscara, token al azar, sin cambios) de los elegidos.
    generator : torch.Generator, optional
        Para que el enmascarado sea reproducible.

    Returns
    -------
    inputs, labels : torch.Tensor
        ``inputs`` ``(B, T)`` con los cambios; ``labels`` ``(B, T)`` con el id
        original en las posiciones elegidas e :data:`IGNORE_INDEX` en el resto.
    """
    if not isinstance(input_ids, torch.Tensor) or input_ids.dtype.is_floating_point:
        raise TypeError("mask_tokens: input_ids debe ser un torch.Tensor de enteros (B, T).")
    _check_probs(mlm_probability, split)
    special = torch.tensor(sorted(set(int(i) for i in special_ids) | {int(mask_token_id)}),
                           dtype=input_ids.dtype, device=input_ids.device)
    allowed = _normal_ids(special, vocab_size)

    def uniform() -> torch.Tensor:
        return torch.rand(input_ids.shape, generator=generator, device=input_ids.device)

    selected = (uniform() < mlm_probability) & ~torch.isin(input_ids, special)
    labels = torch.where(selected, input_ids, torch.full_like(input_ids, IGNORE_INDEX))
    u = uniform()  # un solo sorteo reparte a los elegidos en los tres grupos
    to_mask = selected & (u < split[0])
    to_random = selected & (u >= split[0]) & (u < split[0] + split[1])
    inputs = input_ids.clone()
    inputs[to_mask] = mask_token_id
    pick = torch.randint(len(allowed), (int(to_random.sum()),), generator=generator,
                         device=input_ids.device)
    inputs[to_random] = allowed[pick]
    return inputs, labels


class WordTokenizer:
    """Tokenizador por palabras (en minúsculas) o por caracteres, con los especiales de BERT.

    Parameters
    ----------
    text : str
        Texto con el que se cuenta la frecuencia de cada palabra (o carácter).
    vocab_size : int
        Tamaño máximo (especiales incluidos); lo menos frecuente pasa a ``[UNK]``.
    level : {"word", "char"}
        ``"word"``: palabras y signos en minúsculas; ``"char"``: cada carácter
        (mayúsculas incluidas) es un token.
    """

    def __init__(self, text: str, vocab_size: int = 3000, level: str = "word"):
        if level not in ("word", "char"):
            raise ValueError(
                f"WordTokenizer: level debe ser 'word' o 'char'; se recibió {level!r}."
            )
        self.level = level
        if vocab_size <= len(SPECIAL_TOKENS):
            raise ValueError(
                f"WordTokenizer: vocab_size debe ser mayor que {len(SPECIAL_TOKENS)}; "
                f"se recibió {vocab_size}."
            )
        counts = Counter(self.split(text))
        if not counts:
            raise ValueError("WordTokenizer: el texto no tiene ninguna palabra.")
        common = [w for w, _ in counts.most_common(vocab_size - len(SPECIAL_TOKENS))]
        self.itos = list(SPECIAL_TOKENS) + common
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        self.pad_id, self.unk_id, self.cls_id, self.sep_id, self.mask_id = range(5)

    def split(self, text: str) -> list[str]:
        """Palabras y signos en minúsculas, o caracteres (``[MASK]`` se conserva entero)."""
        out: list[str] = []
        for part in re.split(r"(\[MASK\])", text):
            if part == "[MASK]":
                out.append(part)
            else:
                out.extend(list(part) if self.level == "char" else _WORD_RE.findall(part.lower()))
        return out

    @property
    def vocab_size(self) -> int:
        """Número de tokens, especiales incluidos."""
        return len(self.itos)

    @property
    def special_ids(self) -> tuple[int, ...]:
        """Ids de los tokens especiales."""
        return tuple(range(len(SPECIAL_TOKENS)))

    def encode(self, text: str) -> list[int]:
        """Ids de las palabras de ``text`` (sin ``[CLS]`` ni ``[SEP]``)."""
        return [self.stoi.get(w, self.unk_id) for w in self.split(text)]

    def decode(self, ids: Sequence[int]) -> str:
        """Texto de una lista de ids (palabras separadas por espacios, o caracteres seguidos)."""
        sep = "" if self.level == "char" else " "
        return sep.join(self.itos[int(i)] for i in ids)


class BertForMLM(nn.Module):
    """:class:`~labcode.models.bert.BertEncoder` con la cabeza de MLM de BERT.

    La cabeza es ``Linear → GELU → LayerNorm → Linear`` y la última capa
    comparte pesos con ``embeddings.word_embeddings`` (*weight tying*).
    """

    def __init__(self, config: BertConfig):
        super().__init__()
        self.bert = BertEncoder(config)
        C = config.hidden_size
        self.transform = nn.Sequential(nn.Linear(C, C), nn.GELU(),
                                       nn.LayerNorm(C, eps=config.layer_norm_eps))
        self.decoder = nn.Linear(C, config.vocab_size)
        self.apply(self._init_weights)
        self.decoder.weight = self.bert.embeddings.word_embeddings.weight

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        """Inicialización de BERT: normal de desviación 0,02 y sesgos a cero."""
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    @property
    def config(self) -> BertConfig:
        """La configuración del codificador."""
        return self.bert.config

    def head(self, hidden: torch.Tensor) -> torch.Tensor:
        """Cabeza MLM: estados ocultos ``(..., C)`` → logits ``(..., V)``."""
        return self.decoder(self.transform(hidden))

    def forward(self, input_ids: torch.Tensor,
                attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(B, T, V)`` de cada posición."""
        return self.head(self.bert(input_ids, attention_mask))


def mlm_batch(
    ids: torch.Tensor,
    tokenizer: WordTokenizer,
    batch_size: int,
    seq_len: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Ventanas al azar de un texto ya codificado: ``[CLS] w1 … w(T-2) [SEP]``, forma ``(B, T)``."""
    inner = seq_len - 2
    if ids.dim() != 1 or ids.numel() <= inner:
        raise ValueError(
            f"mlm_batch: se esperaba un tensor 1-D con más de {inner} ids; se recibió la forma "
            f"{tuple(ids.shape)}."
        )
    starts = torch.randint(ids.numel() - inner, (batch_size,), generator=generator)
    body = torch.stack([ids[s:s + inner] for s in starts.tolist()])  # (B, T-2)
    cls = torch.full((batch_size, 1), tokenizer.cls_id, dtype=ids.dtype)
    sep = torch.full((batch_size, 1), tokenizer.sep_id, dtype=ids.dtype)
    return torch.cat([cls, body, sep], dim=1)


def mlm_loss(model: BertForMLM, inputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Entropía cruzada media en las posiciones elegidas (las demás llevan ``IGNORE_INDEX``).

    La cabeza solo se aplica a las posiciones elegidas (un 15 %): el resultado es el
    mismo que con todos los logits y el coste de la capa de salida, unas siete veces menor.
    """
    device = next(model.parameters()).device
    inputs, labels = inputs.to(device), labels.to(device)
    selected = labels != IGNORE_INDEX  # (B, T)
    if not bool(selected.any()):
        raise ValueError("mlm_loss: ninguna posición elegida (todas las etiquetas son -100).")
    hidden = model.bert(inputs)  # (B, T, C)
    logits = model.head(hidden[selected])  # (n_elegidas, V)
    return nn.functional.cross_entropy(logits, labels[selected])


@dataclass
class MLMTrainResult:
    """Lo que devuelve :func:`train_mlm`."""

    losses: list[float] = field(default_factory=list)
    val_losses: dict[int, float] = field(default_factory=dict)
    seconds: float = 0.0
    steps: int = 0


def _val_loss(model, val_ids, tokenizer, seq_len, n_batches=4, batch_size=64) -> float:
    g = torch.Generator().manual_seed(1234)  # siempre las mismas ventanas y máscaras
    model.eval()
    total = 0.0
    with torch.no_grad():
        for _ in range(n_batches):
            batch = mlm_batch(val_ids, tokenizer, batch_size, seq_len, generator=g)
            inputs, labels = mask_tokens(batch, tokenizer.mask_id, tokenizer.vocab_size,
                                         tokenizer.special_ids, generator=g)
            total += mlm_loss(model, inputs, labels).item()
    model.train()
    return total / n_batches


def train_mlm(
    model: BertForMLM,
    train_ids: torch.Tensor,
    tokenizer: WordTokenizer,
    steps: int = 300,
    batch_size: int = 32,
    seq_len: int = 32,
    lr: float = 2e-3,
    val_ids: torch.Tensor | None = None,
    eval_every: int = 100,
    seed: int = 0,
    progress: bool = True,
) -> MLMTrainResult:
    """Preentrena ``model`` con MLM: ventanas al azar, :func:`mask_tokens` y AdamW.

    Entrena en el dispositivo donde esté ``model`` (los lotes se mueven a él).
    La tasa de aprendizaje sube linealmente el primer 10 % de los pasos y
    después baja linealmente a 0 (``get_linear_schedule_with_warmup`` de
    ``transformers``). Si se da ``val_ids``, mide la pérdida de validación
    (siempre con las mismas ventanas) cada ``eval_every`` pasos y al final.
    """
    from transformers import get_linear_schedule_with_warmup

    checks.positive_int("train_mlm: steps", steps)
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)

    def batches():
        while True:
            batch = mlm_batch(train_ids, tokenizer, batch_size, seq_len, generator=g)
            yield mask_tokens(batch, tokenizer.mask_id, tokenizer.vocab_size,
                              tokenizer.special_ids, generator=g)  # (inputs, labels)

    result = MLMTrainResult()

    def evaluate(step: int) -> None:
        result.val_losses[step] = _val_loss(model, val_ids, tokenizer, seq_len)

    # weight decay 0.01 en todos los parámetros (también sesgos y normas), como en el capítulo 6
    cfg = TrainConfig(steps=steps, lr=lr, weight_decay=0.01, decay_all=True, grad_clip=1.0,
                      eval_every=eval_every if val_ids is not None else 0, desc="MLM",
                      show_progress=progress)
    res = train(model, batches(), lambda m, b: mlm_loss(m, *b), cfg, evaluate=evaluate,
                scheduler=lambda opt: get_linear_schedule_with_warmup(opt, max(1, steps // 10),
                                                                      steps))
    result.losses, result.seconds = res.losses, res.seconds
    result.steps = steps
    return result


def fill_mask(model: BertForMLM, tokenizer: WordTokenizer, sentence: str,
              top_k: int = 3) -> list[list[tuple[str, float]]]:
    """Las ``top_k`` palabras más probables (con su probabilidad) para cada ``[MASK]``.

    Raises
    ------
    ValueError
        Si la frase no contiene ``[MASK]``.
    """
    ids = tokenizer.encode(sentence)
    if tokenizer.mask_id not in ids:
        raise ValueError(f"fill_mask: la frase no contiene [MASK]: {sentence!r}.")
    device = next(model.parameters()).device
    inputs = torch.tensor([[tokenizer.cls_id, *ids, tokenizer.sep_id]], device=device)
    model.eval()
    with torch.no_grad():
        probs = model(inputs)[0].softmax(-1)  # (T, V)
    probs[:, list(tokenizer.special_ids)] = 0.0  # nunca proponemos un token especial
    probs = probs.cpu()
    out = []
    for pos in (inputs[0] == tokenizer.mask_id).nonzero().flatten().tolist():
        top = probs[pos].topk(top_k)
        out.append([(tokenizer.itos[i], float(p)) for p, i in zip(top.values, top.indices,
                                                                 strict=True)])
    return out


def span_corrupt(tokens: Sequence[str], spans: Sequence[tuple[int, int]]) -> tuple[list[str],
                                                                                   list[str]]:
    """Corrupción de tramos de T5 (Raffel et al., 2020): entrada y objetivo de texto a texto.

    Cada tramo ``[inicio, fin)`` de ``tokens`` se sustituye en la entrada por un
    centinela ``<extra_id_i>``; el objetivo lista cada centinela seguido de lo
    que tapaba y termina con un centinela más.

    Raises
    ------
    ValueError
        Si los tramos están vacíos, se solapan, no están ordenados o se salen de la frase.
    """
    previous_end = 0
    for start, end in spans:
        if not (previous_end <= start < end <= len(tokens)):
            raise ValueError(
                "span_corrupt: los tramos deben ser [inicio, fin) no vacíos, ordenados, sin "
                f"solaparse y dentro de la frase de {len(tokens)} tokens; se recibió {list(spans)}."
            )
        previous_end = end
    source: list[str] = []
    target: list[str] = []
    cursor = 0
    for i, (start, end) in enumerate(spans):
        source += [*tokens[cursor:start], f"<extra_id_{i}>"]
        target += [f"<extra_id_{i}>", *tokens[start:end]]
        cursor = end
    source += list(tokens[cursor:])
    target.append(f"<extra_id_{len(spans)}>")
    return source, target
