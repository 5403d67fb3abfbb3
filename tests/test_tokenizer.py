"""Pruebas de labcode.data.tokenizer: el único tokenizador por caracteres."""

from __future__ import annotations

import pytest
import torch

from labcode.data.seq2seq import SRC_ALPHABET, DateTask
from labcode.data.tokenizer import SPECIALS, CharTokenizer


def test_from_text_sorts_and_has_no_specials():
    tok = CharTokenizer("hola, hola")
    assert tok.itos == [" ", ",", "a", "h", "l", "o"] and tok.vocab_size == len(tok) == 6
    assert tok.pad_id is None and tok.eos_id is None
    assert tok.encode("hola") == [3, 5, 4, 2]
    assert tok.decode(torch.tensor([3, 5, 4, 2])) == "hola"


def test_from_alphabet_keeps_order_and_specials_first():
    tok = CharTokenizer.from_alphabet("ñoa")
    assert tok.itos == list(SPECIALS) + ["ñ", "o", "a"]  # sin ordenar: los ids del capítulo 5
    assert (tok.pad_id, tok.bos_id, tok.eos_id, tok.unk_id) == (0, 1, 2, 3)
    assert tok.encode("añ", bos=True, eos=True) == [1, 6, 4, 2]
    assert tok.decode([1, 6, 4, 2, 5, 0]) == "añ"  # omite <bos> y se detiene en <eos>
    task = DateTask()
    assert task.src_vocab.itos[4:] == list(SRC_ALPHABET)


def test_errors_are_clear():
    tok = CharTokenizer.from_alphabet("abc")
    with pytest.raises(ValueError, match="fuera del vocabulario"):
        tok.encode("abz")
    with pytest.raises(ValueError, match="fuera de"):
        tok.decode([1, 99])
    with pytest.raises(ValueError, match="fuera de"):
        tok.decode([-1])
    with pytest.raises(TypeError, match="enteros"):
        tok.decode([1.5])
    with pytest.raises(TypeError, match="no un texto"):
        tok.decode("abc")
    with pytest.raises(ValueError, match="repetidos"):
        CharTokenizer.from_alphabet("aba")
    with pytest.raises(ValueError, match="no vacío"):
        CharTokenizer("")
