"""Tareas de juguete que sólo usan las pruebas (entrenan en segundos)."""

from __future__ import annotations

import numpy as np

from labcode.data.seq2seq import Seq2SeqTask
from labcode.data.tokenizer import CharTokenizer
from labcode.utils.errors import LabcodeValueError


class ReverseTask(Seq2SeqTask):
    """Invertir cadenas de dígitos: ``"0123" -> "3210"`` (la tarea de juguete clásica).

    Parameters
    ----------
    min_len, max_len : int
        Longitudes mínima y máxima de las cadenas.
    """

    def __init__(self, min_len: int = 3, max_len: int = 10):
        if not 1 <= min_len <= max_len:
            raise LabcodeValueError(
                "ReverseTask: se esperaba 1 <= min_len <= max_len; "
                f"se recibió min_len={min_len}, max_len={max_len}."
            )
        self.min_len, self.max_len = min_len, max_len
        self.src_vocab = CharTokenizer.from_alphabet("0123456789")
        self.tgt_vocab = self.src_vocab

    def sample_pairs(
        self, n: int, rng: np.random.Generator, split: str = "train"
    ) -> list[tuple[str, str]]:
        lens = rng.integers(self.min_len, self.max_len + 1, size=n)
        out = []
        for L in lens:
            s = "".join(map(str, rng.integers(0, 10, size=int(L))))
            out.append((s, s[::-1]))
        return out

    def max_src_len(self) -> int:
        return self.max_len

    def max_tgt_len(self) -> int:
        return self.max_len
