"""Pruebas de labcode.data.quijote y labcode.tasks.quijote: texto, partición y entrenamiento."""

from __future__ import annotations

import pytest
import torch
from bookutil import skip_or_fail

from labcode.book import presets
from labcode.data import quijote as dq
from labcode.data.tokenizer import CharTokenizer
from labcode.tasks import quijote as q
from labcode.utils.config import DataNotFoundError

FAKE = (
    "\ufeffThe Project Gutenberg eBook of Don Quijote\r\n\r\nCabecera en inglés\r\n"
    "*** START OF THE PROJECT GUTENBERG EBOOK DON QUIJOTE ***\r\n\r\n"
    "En un lugar de la Mancha, de cuyo nombre no quiero acordarme.\r\n"
    "*** END OF THE PROJECT GUTENBERG EBOOK DON QUIJOTE ***\r\nLicencia...\r\n"
)


def test_strip_gutenberg_on_synthetic_text():
    body = dq.strip_gutenberg(FAKE)
    assert body == "En un lugar de la Mancha, de cuyo nombre no quiero acordarme.\n"
    with pytest.raises(ValueError, match="START OF"):
        dq.strip_gutenberg("texto sin marcas")


@pytest.fixture(scope="module")
def text():
    try:
        return dq.load_quijote_text()
    except DataNotFoundError as err:  # sin copia local, ni caché, ni descarga posible
        skip_or_fail(f"sin el texto del Quijote: {err}")


def test_real_text_has_no_gutenberg_header_or_footer(text):
    assert text.startswith("El ingenioso hidalgo don Quijote de la Mancha")
    assert text.rstrip().endswith("Fin")
    assert "Gutenberg" not in text and "\r" not in text and "\ufeff" not in text
    assert "En un lugar de la Mancha" in text
    assert len(text) > 2_000_000


def test_char_tokenizer_and_split(text):
    tok = CharTokenizer(text)
    assert 80 <= tok.vocab_size <= 120
    sample = "¿Quién es Dulcinea del Toboso?"
    assert tok.decode(tok.encode(sample)) == sample
    with pytest.raises(ValueError, match="fuera del vocabulario"):
        tok.encode("€")
    ids = torch.tensor(tok.encode(text))
    train, val = dq.train_val_split(ids, 0.1)
    assert len(train) + len(val) == len(ids)
    assert abs(len(val) - 0.1 * len(ids)) <= 1
    assert torch.equal(val, ids[len(train):])  # la validación es el final del libro
    x, y = dq.get_batch(train, 16, 4, generator=torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (4, 16)
    assert torch.equal(x[:, 1:], y[:, :-1])


@pytest.mark.slow
def test_tiny_training_lowers_loss_and_samples(text):
    res = q.train_char_gpt(
        text[:200_000], q.CharGPTTrainConfig(
            n_layer=1, n_head=2, n_embd=32, block_size=32, batch_size=16, max_steps=60,
            learning_rate=5e-3, warmup_steps=5, eval_interval=30, eval_iters=3,
            max_seconds=60, device="cpu",
        ),
    )
    h = res.history
    assert h["step"] == [0, 30, 60] and h["steps_done"] == 60
    assert h["val_loss"][-1] < h["val_loss"][0] - 0.8  # aprende algo en segundos
    assert h["train_loss"][-1] < h["train_loss"][0] - 0.8
    assert h["train_chars"] + h["val_chars"] == 200_000
    out = q.sample_text(res.model, res.tokenizer, "En un lugar", max_new_tokens=50, seed=0)
    assert out.startswith("En un lugar") and len(out) == len("En un lugar") + 50
    # Más largo que el contexto (32): se genera en ventanas.
    long = q.sample_text(res.model, res.tokenizer, "Sancho", max_new_tokens=80, seed=1)
    assert len(long) == 86
    assert res.summary()["steps"] == 60


def test_default_configs():
    assert presets.default_train_config("quick").max_seconds is not None
    full = presets.default_train_config("full")
    assert full.n_embd > presets.default_train_config("quick").n_embd
    with pytest.raises(ValueError, match="perfil"):
        presets.default_train_config("turbo")
    with pytest.raises(TypeError, match="desconocidos"):
        q.train_char_gpt("abc" * 100, presets.default_train_config("quick"), capas=3)


def test_missing_data_raises_helpful_error(tmp_path, monkeypatch, no_data_source):
    monkeypatch.setenv("LABCODE_DATA", str(tmp_path))  # carpeta vacía
    with pytest.raises(DataNotFoundError) as info:
        dq.load_quijote_text()
    msg = str(info.value)
    assert "LABCODE_DATA" in msg and dq.GUTENBERG_URL in msg and no_data_source in msg
    monkeypatch.setenv("LABCODE_DATA", str(tmp_path / "no-existe"))
    with pytest.raises(DataNotFoundError, match="gutenberg.org"):
        q.train_char_gpt()
