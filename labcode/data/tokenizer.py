"""El tokenizador por caracteres de labcode (uno solo: fechas del capítulo 5 y *Quijote* del 6).

:class:`CharTokenizer` da un identificador a cada carácter. Con tokens especiales
(``<pad>``, ``<bos>``, ``<eos>``, ``<unk>``) estos ocupan los primeros ids, como
en las tareas de secuencia a secuencia (:mod:`labcode.data.seq2seq`); sin ellos
es el tokenizador del mini-GPT del *Quijote* (:mod:`labcode.data.quijote`).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import torch

from labcode.utils.errors import LabcodeTypeError, LabcodeValueError

__all__ = ["PAD", "BOS", "EOS", "UNK", "SPECIALS", "CharTokenizer"]

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
#: Los especiales de las tareas de secuencia a secuencia, con ids 0, 1, 2 y 3.
SPECIALS = (PAD, BOS, EOS, UNK)


class CharTokenizer:
    """Tokenizador por caracteres: ``specials`` primero y después un id por carácter.

    Parameters
    ----------
    text : str
        Texto del que se toma el vocabulario: sus caracteres distintos, ordenados
        por código Unicode (para fijar el orden, :meth:`from_alphabet`).
    specials : sequence of str
        Tokens especiales; los que estén entre :data:`SPECIALS` dan ``pad_id``,
        ``bos_id``, ``eos_id`` y ``unk_id`` (``None`` si faltan).

    Examples
    --------
    >>> tok = CharTokenizer("hola")
    >>> tok.itos, tok.encode("ola"), tok.decode([1, 2])
    (['a', 'h', 'l', 'o'], [3, 2, 0], 'hl')
    """

    def __init__(self, text: str, specials: Sequence[str] = ()):
        if not isinstance(text, str) or not text:
            raise LabcodeValueError("CharTokenizer: se esperaba un texto no vacío.")
        self._build(sorted(set(text)), tuple(specials))

    @classmethod
    def from_alphabet(cls, alphabet: str, specials: Sequence[str] = SPECIALS) -> CharTokenizer:
        """Vocabulario con los caracteres de ``alphabet`` en su orden (sin repetir)."""
        if not isinstance(alphabet, str) or not alphabet:
            raise LabcodeValueError("CharTokenizer: se esperaba un alfabeto no vacío.")
        if len(set(alphabet)) != len(alphabet):
            raise LabcodeValueError("CharTokenizer: el alfabeto tiene caracteres repetidos.")
        tok = cls.__new__(cls)
        tok._build(list(alphabet), tuple(specials))
        return tok

    def _build(self, chars: list[str], specials: tuple[str, ...]) -> None:
        self.chars: list[str] = chars
        self._charset = frozenset(chars)
        self.specials = specials
        self.itos: list[str] = list(specials) + chars
        self.stoi: dict[str, int] = {s: i for i, s in enumerate(self.itos)}
        self.pad_id, self.bos_id, self.eos_id, self.unk_id = (
            self.stoi.get(s) if s in specials else None for s in SPECIALS
        )

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def __len__(self) -> int:
        return len(self.itos)

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size}, specials={len(self.specials)})"

    def encode(self, text: str, bos: bool = False, eos: bool = False) -> list[int]:
        """Texto -> lista de ids (con ``<bos>``/``<eos>`` si se piden).

        Raises
        ------
        ValueError
            Si ``text`` tiene caracteres que no están en el vocabulario.
        """
        if not isinstance(text, str):
            raise LabcodeTypeError(
                "CharTokenizer.encode: se esperaba un texto (str); se recibió "
                f"{type(text).__name__}."
            )
        unknown = sorted(set(text) - self._charset)
        if unknown:
            raise LabcodeValueError(
                f"CharTokenizer: caracteres fuera del vocabulario {unknown[:10]!r} en "
                f"{text[:60]!r}; se esperaban caracteres de {''.join(self.chars)[:60]!r}."
            )
        ids = [self.stoi[c] for c in text]
        return ([self.bos_id] if bos else []) + ids + ([self.eos_id] if eos else [])

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str:
        """Ids -> texto. Omite ``<pad>`` y ``<bos>`` y se detiene en ``<eos>``."""
        ids = _int_list(ids)
        out = [i for i in ids if not 0 <= i < self.vocab_size]
        if out:
            raise LabcodeValueError(
                f"CharTokenizer: hay ids fuera de [0, {self.vocab_size - 1}] (por ejemplo "
                f"{out[0]}); los índices negativos no cuentan desde el final."
            )
        text = []
        for i in ids:
            if i == self.eos_id:
                break
            if i not in (self.pad_id, self.bos_id):
                text.append(self.itos[i])
        return "".join(text)


def _int_list(ids) -> list[int]:
    """``ids`` (tensor 1D o secuencia de enteros) como lista de ``int``."""
    if isinstance(ids, torch.Tensor):
        if ids.is_floating_point() or ids.dtype == torch.bool or ids.dim() > 1:
            raise LabcodeTypeError(
                "CharTokenizer.decode: se esperaba un tensor 1D de enteros; se recibió "
                f"dtype={ids.dtype}, forma {tuple(ids.shape)}."
            )
        ids = ids.tolist()
    if isinstance(ids, (str, bytes)):
        raise LabcodeTypeError(
            "CharTokenizer.decode: se esperaba una lista de enteros, no un texto."
        )
    try:
        ids = list(ids)
    except TypeError:
        raise LabcodeTypeError(
            f"CharTokenizer.decode: se esperaba una lista de enteros; se recibió "
            f"{type(ids).__name__}."
        ) from None
    bad = [i for i in ids if isinstance(i, bool) or not isinstance(i, numbers.Integral)]
    if bad:
        raise LabcodeTypeError(
            f"CharTokenizer.decode: los ids deben ser enteros; se recibió {bad[0]!r}."
        )
    return [int(i) for i in ids]
