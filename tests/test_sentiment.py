"""Pruebas de labcode.hf.sentiment (ajuste fino de BERT para sentimiento).

Usan el codificador del perfil quick (all-MiniLM-L6-v2, paquete de PyPI) sin red
y un conjunto sintético fácil, para que todo el fichero tarde pocos segundos.
"""

from __future__ import annotations

import argparse
import json
import warnings

import numpy as np
import pytest
from bookutil import skip_or_fail

from labcode.data.registry import fetch
from labcode.hf.sentiment import (
    BERTSentimentClassifier,
    TrainingHistory,
    UntrainedHeadWarning,
    add_cli,
    classification_metrics,
    default_lr,
    run_cli,
)
from labcode.utils.config import DataNotFoundError

POS = ["good", "great", "wonderful", "excellent", "lovely", "brilliant", "delightful", "superb"]
NEG = ["bad", "awful", "terrible", "boring", "dreadful", "horrible", "dull", "poor"]
TEMPLATES = ["a {} movie .", "the film is {} .", "what a {} story", "{} acting and {} music"]


def _synthetic() -> tuple[list[str], list[int]]:
    texts, labels = [], []
    for words, y in ((POS, 1), (NEG, 0)):
        for i, w in enumerate(words):
            for tpl in TEMPLATES:
                texts.append(tpl.format(w, words[(i + 1) % len(words)]))
                labels.append(y)
    return texts, labels


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("LABCODE_BERT_MODEL", raising=False)
    monkeypatch.setenv("LABCODE_PROFILE", "quick")


@pytest.fixture(scope="module")
def trained():
    import os

    os.environ["HF_HUB_OFFLINE"] = "1"
    texts, labels = _synthetic()
    clf = BERTSentimentClassifier(max_length=16, device="cpu", seed=0)
    before = clf.evaluate(texts, labels)["accuracy"]
    hist = clf.fit(texts, labels, epochs=3, batch_size=16, lr=1e-4, progress=False,
                   eval_texts=texts[:16] + texts[-16:], eval_labels=labels[:16] + labels[-16:],
                   eval_every=2)
    return clf, texts, labels, before, hist


@pytest.mark.slow
def test_learns_synthetic_sentiment(trained):
    clf, texts, labels, before, hist = trained
    acc = clf.evaluate(texts, labels)["accuracy"]
    assert acc >= 0.95, f"exactitud de entrenamiento {acc} (antes {before})"
    assert np.mean(hist.loss[-3:]) < np.mean(hist.loss[:3])
    held_out = clf.predict(["an excellent and wonderful film", "a terrible , boring film"])
    assert held_out == [1, 0]


def test_untrained_head_warns_but_not_during_fit():
    texts, labels = _synthetic()
    with pytest.warns(UntrainedHeadWarning, match="cabeza aleatoria"):
        BERTSentimentClassifier(max_length=16, device="cpu", seed=0).predict(texts[:2])
    clf = BERTSentimentClassifier(max_length=16, device="cpu", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UntrainedHeadWarning)
        hist = clf.fit(texts[:32], labels[:32], epochs=1, batch_size=16, progress=False,
                       eval_texts=texts[:4], eval_labels=labels[:4], eval_every=1)
        clf.predict(texts[:2])
    assert hist.eval_step == [1, 2]


@pytest.mark.slow
def test_history_is_recorded(trained):
    clf, texts, _, _, hist = trained
    assert isinstance(hist, TrainingHistory) and clf.history_ is hist
    steps = 3 * int(np.ceil(len(texts) / 16))
    assert hist.step == list(range(1, steps + 1))
    assert len(hist.loss) == len(hist.lr) == steps
    # calentamiento lineal y decaimiento lineal: sube, llega a 1e-4 y baja
    assert max(hist.lr) <= 1e-4 + 1e-12 and hist.lr[0] < max(hist.lr) and hist.lr[-1] < max(hist.lr)
    assert hist.eval_step[-1] == steps and len(hist.eval_accuracy) == len(hist.eval_step)
    assert all(0 <= a <= 1 for a in hist.eval_accuracy)
    assert hist.train_seconds > 0
    d = hist.to_dict()
    assert json.loads(json.dumps(d))["n_train"] == len(texts)


@pytest.mark.slow
def test_predict_and_proba_shapes(trained):
    clf, texts, _, _, _ = trained
    proba = clf.predict_proba(texts[:5] + [""], batch_size=2)
    assert proba.shape == (6, 2) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert ((proba >= 0) & (proba <= 1)).all()
    preds = clf.predict(texts[:5] + [""])
    assert preds == proba.argmax(axis=1).tolist()
    assert all(isinstance(p, int) and p in (0, 1) for p in preds)
    # el orden por longitud interno no altera el orden de salida
    np.testing.assert_allclose(clf.predict_proba(texts[:6][::-1])[::-1],
                               clf.predict_proba(texts[:6]), atol=1e-5)


@pytest.mark.slow
def test_evaluate_keys_and_consistency(trained):
    clf, texts, labels, _, _ = trained
    m = clf.evaluate(texts, labels)
    assert set(m) >= {"accuracy", "f1", "precision", "recall", "confusion_matrix", "n"}
    cm = np.array(m["confusion_matrix"])
    assert cm.shape == (2, 2) and cm.sum() == m["n"] == len(texts)
    assert cm.sum(axis=1).tolist() == [labels.count(0), labels.count(1)]  # filas = verdad
    assert m["accuracy"] == pytest.approx(np.trace(cm) / cm.sum())
    preds = clf.predict(texts)
    assert m == classification_metrics(labels, preds)


def test_classification_metrics_by_hand():
    m = classification_metrics([1, 1, 0, 0, 1], [1, 0, 0, 1, 1])
    assert m["confusion_matrix"] == [[1, 1], [1, 2]]
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3)
    assert classification_metrics([0, 0], [0, 0])["f1"] == 0.0  # sin positivos: F1 = 0


@pytest.mark.slow
def test_save_and_load_same_predictions(trained, tmp_path):
    clf, texts, _, _, _ = trained
    folder = clf.save(tmp_path / "clf")
    assert (folder / "model.safetensors").is_file()
    assert not list(folder.glob("*.bin"))
    meta = json.loads((folder / "labcode_sentiment.json").read_text())
    assert meta["max_length"] == 16 and meta["base_model"] == "all-MiniLM-L6-v2"
    loaded = BERTSentimentClassifier.load(folder, device="cpu")
    np.testing.assert_allclose(loaded.predict_proba(texts), clf.predict_proba(texts), atol=1e-5)
    assert loaded.max_length == 16
    assert loaded.history_ is not None and loaded.history_.loss == clf.history_.loss
    with pytest.raises(FileNotFoundError, match="labcode_sentiment.json"):
        BERTSentimentClassifier.load(tmp_path)


@pytest.mark.slow
def test_long_texts_are_truncated(trained):
    clf, _, _, _, _ = trained
    long_text = " ".join(["wonderful"] * 2000)
    batch = clf.encode([long_text, "short"])
    assert batch["input_ids"].shape == (2, clf.max_length)
    proba = clf.predict_proba([long_text])
    assert proba.shape == (1, 2) and np.isfinite(proba).all()


@pytest.mark.slow
def test_empty_string_is_classified(trained):
    clf, _, _, _, _ = trained
    batch = clf.encode([""])
    assert batch["input_ids"].shape == (1, 2)  # sólo [CLS] [SEP]
    assert clf.predict([""])[0] in (0, 1)


@pytest.mark.parametrize(
    ("texts", "labels", "exc", "match"),
    [
        (["ok", 3], [0, 1], TypeError, r"texts\[1\].*int"),
        (["ok", None], [0, 1], TypeError, r"texts\[1\].*NoneType"),
        ("just a string", [1], TypeError, "una sola cadena"),
        ([], [], ValueError, "vacía"),
        (["a", "b", "c"], [0, 1], ValueError, "3 textos pero 2 etiquetas"),
        (["a", "b"], [0, 2], ValueError, r"labels\[1\].*2"),
        (["a", "b"], [0, "1"], ValueError, r"labels\[1\]"),
        (["a", "b"], [True, False], ValueError, r"labels\[0\]"),
    ],
)
@pytest.mark.slow
def test_bad_inputs_raise_clear_errors(trained, texts, labels, exc, match):
    clf, _, _, _, _ = trained
    with pytest.raises(exc, match=match):
        clf.evaluate(texts, labels)
    with pytest.raises(exc, match=match):
        clf.fit(texts, labels, progress=False)


@pytest.mark.slow
def test_bad_inputs_predict_and_hparams(trained):
    clf, texts, labels, _, _ = trained
    with pytest.raises(TypeError, match=r"texts\[0\].*bytes"):
        clf.predict([b"bytes"])
    with pytest.raises(ValueError, match="vacía"):
        clf.predict_proba([])
    with pytest.raises(ValueError, match="epochs"):
        clf.fit(texts, labels, epochs=0, progress=False)
    with pytest.raises(ValueError, match="juntos"):
        clf.fit(texts, labels, eval_texts=texts, progress=False)
    with pytest.raises(ValueError, match="max_length"):
        BERTSentimentClassifier(max_length=1)


def test_default_lr_depends_on_size():
    assert default_lr(22_700_000) == pytest.approx(1e-4)
    assert default_lr(110_000_000) == pytest.approx(3e-5)


@pytest.mark.slow
def test_cli_trains_on_tiny_sst2(tmp_path, monkeypatch, capsys):
    try:  # copia local, caché o réplica (LABCODE_DATA_URL), como en el libro
        for split in ("train", "validation"):
            fetch(f"sst2/{split}.jsonl")
    except DataNotFoundError as err:
        skip_or_fail(f"sin SST-2: {err}")
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    parser = argparse.ArgumentParser()
    add_cli(parser.add_subparsers(dest="command"))
    out, js = tmp_path / "model", tmp_path / "m.json"
    args = parser.parse_args(["finetune-bert", "--train-limit", "48", "--eval-limit", "16",
                              "--max-length", "32", "--batch-size", "16", "--no-progress",
                              "--out", str(out), "--json", str(js)])
    assert run_cli(args) == 0
    metrics = json.loads(js.read_text())
    assert metrics["world_size"] == 1 and metrics["n"] == 16 and metrics["n_train"] == 48
    assert 0 <= metrics["accuracy"] <= 1
    assert "validación: exactitud=" in capsys.readouterr().out
    assert BERTSentimentClassifier.load(out).max_length == 32


def test_length_bucketed_batches_cover_every_index_once():
    import torch

    from labcode.hf.sentiment import _length_bucketed_batches

    lengths = np.random.default_rng(0).integers(1, 100, size=103)
    order = np.random.default_rng(1).permutation(103).tolist()
    batches = _length_bucketed_batches(order, lengths, 8, torch.Generator().manual_seed(0),
                                       bucket_batches=4)
    assert sorted(i for b in batches for i in b) == list(range(103))
    assert len(batches) == int(np.ceil(103 / 8)) and all(len(b) <= 8 for b in batches)


def test_check_ch7_metrics_never_raises(capsys):
    from labcode.book.exercises import check_ch7_metrics

    yt, yp = [1, 1, 0, 0, 1], [1, 0, 0, 1, 1]
    good = {"confusion_matrix": [[1, 1], [1, 2]], "precision": 2 / 3, "recall": 2 / 3,
            "f1": 2 / 3}
    assert check_ch7_metrics(good, yt, yp) is True
    assert "✅" in capsys.readouterr().out
    assert check_ch7_metrics(None, yt, yp) is False
    assert "todavía no hay respuesta" in capsys.readouterr().out
    transposed = dict(good, confusion_matrix=[[1, 1], [1, 2]][::-1])
    for bad in [transposed, {"confusion_matrix": [[1, 1], [1, 2]]}, "x", dict(good, f1="a"),
                dict(good, precision=float("nan"))]:
        assert check_ch7_metrics(bad, yt, yp) is False
    assert check_ch7_metrics(good, None, None) is False
    # sin predicciones positivas, precisión y F1 valen 0 (no NaN)
    zero = {"confusion_matrix": [[2, 0], [3, 0]], "precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert check_ch7_metrics(zero, [0, 0, 1, 1, 1], [0] * 5) is True


def test_chapter_run_cache_without_a_saved_run(tmp_path, monkeypatch):
    from labcode.book import runs

    monkeypatch.setenv("LABCODE_CACHE", str(tmp_path))
    assert runs.chapter_model_dir("full") == tmp_path / "ch07-sst2" / "full"
    assert runs.load_chapter_run("quick") is None
    folder = runs.chapter_model_dir("quick")
    folder.mkdir(parents=True)
    (folder / runs.RUN_FILE).write_text("{}", encoding="utf-8")
    assert runs.load_chapter_run("quick") is None  # sin el clasificador guardado


@pytest.mark.slow
def test_chapter_run_roundtrip(trained, tmp_path, monkeypatch):
    from labcode.book import runs

    monkeypatch.setenv("LABCODE_CACHE", str(tmp_path))
    clf = trained[0]
    folder = runs.save_chapter_run(clf, {"accuracy": 0.5, "n": 3}, profile="quick")
    got_folder, record = runs.load_chapter_run("quick")
    assert got_folder == folder.resolve() or got_folder == folder
    assert record == {"accuracy": 0.5, "n": 3}
    assert BERTSentimentClassifier.load(got_folder).predict(["great"]) == clf.predict(["great"])

