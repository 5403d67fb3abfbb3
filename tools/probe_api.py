"""Sonda de la API pública de labcode con unas 500 entradas malas (issue 14).

No es una prueba: es la medida que acompaña al issue. Todas las entradas de la
lista son **malas** (fuera de rango, de otro tipo, NaN, Unicode roto, carpetas
de modelo estropeadas...), así que lo correcto es un error claro. Cada caso se
clasifica en:

``clear``
    Excepción lanzada a propósito por labcode (la última línea de la traza es
    una sentencia ``raise`` de ``labcode/``), o un aviso de labcode.
``raw``
    Excepción que sale de NumPy, PyTorch, safetensors, transformers... o de una
    operación de labcode que no era un ``raise`` (una traza cruda).
``silent``
    La llamada terminó sin error (o una comprobación de ejercicio aceptó una
    respuesta incorrecta): un resultado silenciosamente equivocado.

Sólo usa nombres que existen desde antes del issue 14, así que también mide el
código anterior::

    git archive <commit> labcode | tar -x -C /tmp/antes
    PYTHONPATH=/tmp/antes python tools/probe_api.py

Uso: ``python tools/probe_api.py [--json resultado.json] [--verbose]``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import linecache
import os
import shutil
import sys
import tempfile
import traceback
import warnings
from pathlib import Path

import numpy as np
import torch

import labcode

PKG = Path(labcode.__file__).resolve().parent
NAN, INF = float("nan"), float("inf")
POSINT_BAD = [0, -1, 1.5, "3", None, True, NAN]
PROB_BAD = [-0.1, 1.0, 1.5, NAN, INF, "0.1", None]
POSFLOAT_BAD = [0.0, -1.0, NAN, INF, "1", None]
NONNEG_FLOAT_BAD = [-1.0, NAN, INF, "1", None]
SEED_BAD = [-1, 2**70, 1.5, "0", None]


def _finite(out) -> bool:
    if isinstance(out, torch.Tensor):
        return not out.is_floating_point() or bool(torch.isfinite(out.detach()).all())
    if isinstance(out, np.ndarray):
        return out.dtype.kind not in "fc" or bool(np.isfinite(out).all())
    if isinstance(out, (tuple, list)):
        return all(_finite(o) for o in out)
    return True


def classify(thunk) -> tuple[str, str]:
    """Ejecuta ``thunk`` y devuelve ``(clase, detalle)``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            with contextlib.redirect_stdout(io.StringIO()):
                out = thunk()
    except Exception as exc:  # noqa: BLE001 - es lo que se mide
        if isinstance(exc, Warning):
            return "clear", f"aviso {type(exc).__name__}"
        tb = traceback.extract_tb(exc.__traceback__)
        last = tb[-1] if tb else None
        in_pkg = last is not None and Path(last.filename).resolve().is_relative_to(PKG)
        line = linecache.getline(last.filename, last.lineno).strip() if last else ""
        kind = "clear" if in_pkg and line.startswith("raise") else "raw"
        return kind, f"{type(exc).__name__}: {str(exc)[:120]}"
    if out is False:  # una comprobación de ejercicio que rechaza la respuesta
        return "clear", "rechazada"
    return "silent", "sin error" if _finite(out) else "salida con NaN/inf"


# --- Casos -----------------------------------------------------------------------------


def _config_cases(name, build, valid, bad_by_field):
    cases = []
    for field, bads in bad_by_field.items():
        for bad in bads:
            cases.append((f"{name}({field}={bad!r})", lambda f=field, b=bad: build(**{**valid,
                                                                                    f: b})))
    return cases


def _gpt_build(**kw):
    from labcode.models.gpt import GPT, GPTConfig

    m = GPT(GPTConfig(**kw)).eval()
    with torch.no_grad():
        return m(torch.tensor([[1, 2, 3]]))


def _transformer_build(**kw):
    from labcode.models.seq2seq import TransformerConfig, TransformerModel

    return TransformerModel(TransformerConfig(**kw)) and None


def cases_configs():
    from labcode.nn import blocks
    from labcode.tasks.quijote import CharGPTTrainConfig
    from labcode.tasks.seq2seq import Seq2SeqTrainConfig

    gpt_valid = dict(vocab_size=16, n_positions=8, n_embd=8, n_layer=1, n_head=2)
    out = _config_cases("GPTConfig", _gpt_build, gpt_valid, {
        **{f: POSINT_BAD for f in gpt_valid}, "dropout": PROB_BAD,
        "layer_norm_epsilon": POSFLOAT_BAD})
    tr_valid = dict(src_vocab_size=10, tgt_vocab_size=10, d_model=8, num_heads=2,
                    num_layers=1, d_ff=16, max_len=8, dropout=0.0)
    out += _config_cases("TransformerConfig", _transformer_build, tr_valid, {
        **{f: POSINT_BAD for f in tr_valid if f != "dropout"}, "num_decoder_layers": [0, -1, 1.5],
        "dropout": PROB_BAD, "pad_id": [-1, 100, None, 1.5], "eos_id": [-1, 100, "2"]})
    out += _config_cases("Seq2SeqTrainConfig", Seq2SeqTrainConfig, {}, {
        "steps": POSINT_BAD, "batch_size": POSINT_BAD, "log_every": POSINT_BAD,
        "lr": POSFLOAT_BAD, "grad_clip": NONNEG_FLOAT_BAD, "warmup": [-1, 1.5, None],
        "seed": SEED_BAD, "label_smoothing": [-0.1, 1.5, NAN], "weight_decay": [-1.0, NAN]})
    out += _config_cases("CharGPTTrainConfig", CharGPTTrainConfig, {}, {
        "n_layer": POSINT_BAD, "batch_size": POSINT_BAD, "max_steps": [0, -1, None],
        "learning_rate": POSFLOAT_BAD, "grad_clip": NONNEG_FLOAT_BAD, "dropout": PROB_BAD,
        "seed": SEED_BAD, "val_fraction": [0.0, 1.0, -0.5, NAN]})
    out += _config_cases("blocks.MultiHeadAttention", blocks.MultiHeadAttention,
                         dict(d_model=8, num_heads=2, dropout=0.0),
                         {"d_model": POSINT_BAD, "num_heads": POSINT_BAD, "dropout": PROB_BAD})
    out += _config_cases("blocks.FeedForward", blocks.FeedForward,
                         dict(d_model=8, d_ff=16, dropout=0.0),
                         {"d_model": POSINT_BAD, "d_ff": POSINT_BAD, "dropout": PROB_BAD,
                          "activation": ["swish", None, 3]})
    return out


def cases_tensors():
    from labcode.analysis import efficient_attention as ea
    from labcode.nn import blocks
    from labcode.numpy_ref import attention as an

    g = torch.Generator().manual_seed(0)
    t = lambda *s: torch.randn(*s, generator=g)  # noqa: E731
    x = np.random.default_rng(0).normal(size=(3, 4))
    mha = blocks.MultiHeadAttention(8, 2)
    row_masked = torch.ones(3, 3, dtype=torch.bool)
    row_masked[1] = False
    out = []
    for name, bad in [("float64", t(2, 3, 8).double()), ("float16", t(2, 3, 8).half()),
                      ("int", torch.ones(2, 3, 8, dtype=torch.long)), ("lista", [[1.0] * 8]),
                      ("última dim 5", t(2, 3, 5)), ("4-D", t(1, 2, 3, 8)), ("None", None)]:
        out.append((f"MultiHeadAttention(x {name})", lambda b=bad: mha(b)))
    for name, mask in [("float", torch.ones(3, 3)), ("forma (2, 2)", torch.ones(2, 2).bool()),
                       ("fila vacía", row_masked), ("lista", [[True]])]:
        out.append((f"MultiHeadAttention(mask {name})", lambda m=mask: mha(t(2, 3, 8), mask=m)))
    q = t(1, 3, 4)
    for name, kw in [("mask forma mala", dict(mask=torch.ones(2, 2).bool())),
                     ("mask fila vacía", dict(mask=row_masked)),
                     ("mask float", dict(mask=torch.ones(3, 3))), ("causal tensor",
                                                                   dict(causal=torch.ones(1)))]:
        out.append((f"full_attention({name})", lambda k=kw: ea.full_attention(q, q, q, **k)))
    for name, qq in [("NaN en q", torch.full((1, 3, 4), NAN)), ("int", torch.ones(1, 3, 4).long()),
                     ("vacío", torch.ones(1, 0, 4)), ("lista", [[1.0]])]:
        out.append((f"full_attention({name})", lambda a=qq: ea.full_attention(a, q, q)))
    for w in [-1, 1.5, None, "2"]:
        out.append((f"sliding_window_attention(window={w!r})",
                    lambda w=w: ea.sliding_window_attention(q, q, q, window=w)))
    for n in [0, -1, None, 2.5, "4"]:
        out.append((f"sliding_window_mask(n={n!r})", lambda n=n: ea.sliding_window_mask(n)))
    out.append(("linear_attention(causal='sí')",
                lambda: ea.linear_attention(q, q, q, causal="sí")))
    v_nan = x.copy()
    v_nan[0, 0] = NAN
    for name, args in [("NaN en V", (x, x, v_nan)), ("inf en Q", (x * INF, x, x)),
                       ("irregular", ([[1.0, 2.0], [3.0]], x, x)), ("texto", (x.astype(str), x, x)),
                       ("d_k distinto", (x, x[:, :3], x)), ("n_k distinto", (x, x, x[:2])),
                       ("vacío", (x[:0], x, x)), ("complejo", (x + 1j, x, x))]:
        out.append((f"scaled_dot_product_attention({name})",
                    lambda a=args: an.scaled_dot_product_attention(*a)))
    for name, m in [("irregular", [[True], [True, False]]), ("int", np.ones((3, 3), int)),
                    ("fila vacía", np.eye(3, dtype=bool) & False), ("forma (2, 5)",
                                                                    np.ones((2, 5), bool))]:
        out.append((f"scaled_dot_product_attention(mask {name})",
                    lambda m=m: an.scaled_dot_product_attention(x, x, x, mask=m)))
    for axis in [1.5, "0", 5, None]:
        out.append((f"softmax(axis={axis!r})", lambda a=axis: an.softmax(x, axis=a)))
    for cls, extra in ((an.SelfAttentionNumPy, {}), (an.MultiHeadAttentionNumPy,
                                                    {"num_heads": 2})):
        for seed in SEED_BAD:
            out.append((f"{cls.__name__}(seed={seed!r})",
                        lambda c=cls, s=seed, e=extra: c(4, seed=s, **e)))
        for d in POSINT_BAD:
            out.append((f"{cls.__name__}(d_model={d!r})", lambda c=cls, d=d, e=extra: c(d, **e)))
    return out + _cases_positional()


def _cases_positional():
    from labcode.numpy_ref import positional

    out = []
    for ml in [0, -3, None, 2.5]:
        out.append((f"sinusoidal_table(max_len={ml!r})",
                    lambda m=ml: positional.sinusoidal_table(m, 4)))
        out.append((f"sinusoidal_table(d_model={ml!r})",
                    lambda m=ml: positional.sinusoidal_table(4, m)))
    return out


def cases_generation():
    from labcode.data.tokenizer import CharTokenizer
    from labcode.hf import generation as gen
    from labcode.models.gpt import GPT, GPTConfig

    g = torch.Generator().manual_seed(0)
    t = lambda *s: torch.randn(*s, generator=g)  # noqa: E731
    out = []
    logits, ids = t(2, 7), torch.tensor([[1, 2], [3, 3]])
    for p in [0, -1, NAN, INF, "1.2", None]:
        out.append((f"apply_repetition_penalty(penalty={p!r})",
                    lambda p=p: gen.apply_repetition_penalty(logits, ids, p)))
    for name, bad_ids in [("id -1", torch.tensor([[-1, 2], [3, 3]])),
                          ("id 99", torch.tensor([[99, 2], [3, 3]])), ("float", ids.float())]:
        out.append((f"apply_repetition_penalty({name})",
                    lambda b=bad_ids: gen.apply_repetition_penalty(logits, b, 1.2)))
    for k in [0, -1, 1.5, "3", None]:
        out.append((f"top_k_filter(k={k!r})", lambda k=k: gen.top_k_filter(logits, k)))
    for p in [0, 1.5, -0.1, NAN, "0.9", None]:
        out.append((f"top_p_filter(p={p!r})", lambda p=p: gen.top_p_filter(logits, p)))
    for name, bad in [("NaN", torch.full((2, 7), NAN)), ("int", torch.ones(2, 7).long()),
                      ("lista", [[0.1, 0.2]])]:
        out.append((f"top_k_filter(logits {name})", lambda b=bad: gen.top_k_filter(b, 2)))
        out.append((f"top_p_filter(logits {name})", lambda b=bad: gen.top_p_filter(b, 0.9)))
    m = GPT(GPTConfig(vocab_size=16, n_positions=8, n_embd=8, n_layer=1, n_head=2)).eval()
    prompt = torch.tensor([[1, 2, 3]])
    for kw in [dict(max_new_tokens=-1), dict(max_new_tokens=1.5), dict(max_new_tokens=99),
               dict(temperature=0), dict(temperature=NAN), dict(temperature="1"),
               dict(top_k=0), dict(top_k=1.5)]:
        out.append((f"GPT.generate({kw})",
                    lambda kw=kw: m.generate(prompt, **{"max_new_tokens": 2, **kw})))
    for name, bad in [("float", prompt.float()), ("3-D", prompt[None]), ("id 99", prompt * 33),
                      ("id -1", -prompt), ("vacío", prompt[:, :0]), ("lista", [[1, 2]])]:
        out.append((f"GPT.generate(ids {name})", lambda b=bad: m.generate(b, 2)))
        out.append((f"GPT.forward(ids {name})", lambda b=bad: m(b)))
    tok = CharTokenizer("hola mundo")
    for bad in [[-1], [100], [1.5], "abc", None, [True], 7]:
        out.append((f"CharTokenizer.decode({bad!r})", lambda b=bad: tok.decode(b)))
    for bad in [123, None, "xyz"]:
        out.append((f"CharTokenizer.encode({bad!r})", lambda b=bad: tok.encode(b)))
    for bad in ["", 123, None]:
        out.append((f"CharTokenizer({bad!r})", lambda b=bad: CharTokenizer(b)))
    return out


def cases_misc():
    from labcode.book import exercises as ex
    from labcode.book import notebook
    from labcode.hf.sentiment import classification_metrics
    from labcode.utils.config import get_profile

    out = []
    for seed in SEED_BAD:
        out.append((f"set_seed({seed!r})", lambda s=seed: notebook.set_seed(s)))
    for y_pred in [[2, 0, 1], ["1", 0, 1], [0.5, 0, 1], object(), [0, 1], []]:
        out.append((f"classification_metrics(y_pred={y_pred!r})",
                    lambda y=y_pred: classification_metrics([0, 1, 1], y)))
    out.append(("LABCODE_PROFILE=bogus", lambda: _with_env({"LABCODE_PROFILE": "bogus"},
                                                           get_profile)))
    good11 = {"num_patches": 196, "seq_len": 197, "patch_params": 16 * 16 * 3 * 768 + 768}
    for wrong in [196.9, "196", INF, NAN, [196], torch.tensor(196.5, requires_grad=True)]:
        out.append((f"check_ch11_patches(num_patches={wrong!r})",
                    lambda w=wrong: ex.check_ch11_patches({**good11, "num_patches": w})))
    good10 = {"rnn_sequential": 512, "rnn_path": 512, "attention_sequential": 1,
              "attention_path": 1, "equal_cost_n": 64}
    for wrong in [64.5, "64", INF, NAN, torch.tensor(64.5, requires_grad=True)]:
        out.append((f"check_ch10_complexity(equal_cost_n={wrong!r})",
                    lambda w=wrong: ex.check_ch10_complexity({**good10, "equal_cost_n": w})))
    expected, _ = ex.ch02._ex11_1_candidates()
    for name, wrong in [("texto", expected["weights"].astype(str)),
                        ("requires_grad", torch.tensor(expected["weights"] + 0.1,
                                                       requires_grad=True)),
                        ("inf", np.full((3, 3), INF))]:
        out.append((f"check_11_1({name})", lambda w=wrong: ex.check_11_1(w)))
    correct, _ = ex.ch05._masks_ch5()
    for name, wrong in [("requires_grad", torch.tensor(correct * 0.5, requires_grad=True)),
                        ("texto", correct.astype(str)), ("inf", np.where(correct, INF, 0))]:
        out.append((f"check_ch5_mask({name})", lambda w=wrong: ex.check_ch5_mask(w)))
    for name, wrong in [("texto", np.array([["3", "14"]])),
                        ("requires_grad", torch.ones(1, 18, requires_grad=True)),
                        ("inf", np.full((1, 18), INF))]:
        out.append((f"check_ch6_kv_cache({name})", lambda w=wrong: ex.check_ch6_kv_cache(w)))
    from labcode.numpy_ref.positional import sinusoidal_table

    table = sinusoidal_table(20, 8)
    for name, wrong in [("texto", table.astype(str)), ("inf", np.full_like(table, INF)),
                        ("requires_grad", torch.tensor(table + 1, requires_grad=True))]:
        out.append((f"check_11_2({name})", lambda w=wrong: ex.check_11_2(w)))
    return out


def _with_env(env, fn):
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return fn()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _tiny_classifier_folder(root: Path) -> Path | None:
    from transformers import BertConfig, BertModel

    from labcode.hf import pretrained
    from labcode.hf.sentiment import BERTSentimentClassifier

    base = pretrained.package_dir(pretrained.MINILM_PACKAGE[0])
    if base is None:
        return None
    enc = root / "tiny"
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=30522, hidden_size=16, num_hidden_layers=2,
                     num_attention_heads=2, intermediate_size=32, max_position_embeddings=64)
    BertModel(cfg).save_pretrained(enc)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt",
                 "special_tokens_map.json"):
        if (base / "model" / name).is_file():
            shutil.copy(base / "model" / name, enc / name)
    clf = BERTSentimentClassifier(str(enc), max_length=16, device="cpu")
    return clf.save(root / "saved"), clf


def cases_models(root: Path):
    """Carpetas de modelo estropeadas y entrenamiento con hiperparámetros malos."""
    from safetensors.torch import load_file, save_file

    from labcode.hf.sentiment import BERTSentimentClassifier

    made = _tiny_classifier_folder(root)
    if made is None:
        return []
    saved, clf = made
    out = []

    def broken(name, damage):
        folder = root / name
        shutil.copytree(saved, folder)
        damage(folder)
        return lambda: BERTSentimentClassifier.load(folder, device="cpu").predict(["ok"])

    def weights(change):
        def damage(folder):
            state = load_file(folder / "model.safetensors")
            save_file(change(dict(state)), folder / "model.safetensors",
                      metadata={"format": "pt"})
        return damage

    def rm_tokenizer(folder):
        for f in ("tokenizer.json", "vocab.txt", "tokenizer_config.json",
                  "special_tokens_map.json"):
            (folder / f).unlink(missing_ok=True)

    def write(data):
        return lambda folder: (folder / "model.safetensors").write_bytes(
            data((folder / "model.safetensors").read_bytes()))

    out += [
        ("load(sin tokenizador)", broken("notok", rm_tokenizer)),
        ("load(sin cabeza)", broken("nohead", weights(
            lambda s: {k: v for k, v in s.items() if "classifier" not in k}))),
        ("load(sin una capa)", broken("nolayer", weights(
            lambda s: {k: v for k, v in s.items() if "layer.1." not in k}))),
        ("load(safetensors vacío)", broken("empty", write(lambda b: b""))),
        ("load(safetensors truncado)", broken("trunc", write(lambda b: b[: len(b) // 2]))),
        ("load(safetensors basura)", broken("garbage", write(lambda b: b"\x00x" * 99))),
    ]
    return out + _cases_loaders(root, saved, clf)


def _cases_loaders(root: Path, saved: Path, clf):
    """GPT con pesos pickle o de BERT, train.jsonl roto y ``fit``/``predict`` malos."""
    from safetensors.torch import load_file

    from labcode.hf import pretrained
    from labcode.hf.sentiment import BERTSentimentClassifier

    out = []
    gpt_folder = root / "gpt_pickle"
    from transformers import GPT2Config, GPT2LMHeadModel

    GPT2LMHeadModel(GPT2Config(vocab_size=64, n_positions=16, n_embd=8, n_layer=1,
                               n_head=2)).save_pretrained(gpt_folder)
    for f in gpt_folder.glob("*.safetensors"):  # sólo pesos pickle
        torch.save(load_file(f), gpt_folder / "pytorch_model.bin")
        f.unlink()

    def gpt_from(folder):
        from labcode.hf.models import load_gpt

        return load_gpt(str(folder))

    out.append(("load_gpt(sólo pickle)", lambda: gpt_from(gpt_folder)))
    out.append(("load_gpt(carpeta BERT)", lambda: gpt_from(saved)))
    out.append(("load_causal_lm(carpeta BERT)", lambda: pretrained.load_causal_lm(
        pretrained.ModelSpec("b", "local", str(saved), "decoder"))))
    data = root / "data"
    (data / "sst2").mkdir(parents=True)
    (data / "sst2" / "train.jsonl").write_text("no es json\n{roto\n")
    out.append(("load_sst2(train.jsonl roto)", lambda: _with_env(
        {"LABCODE_DATA": str(data)}, lambda: pretrained.load_sst2("train", limit=2))))
    texts, labels = ["good", "bad", "fine", "awful"], [1, 0, 1, 0]
    for kw in [dict(max_grad_norm=-1.0), dict(lr=NAN), dict(weight_decay=-1.0),
               dict(warmup_ratio=NAN), dict(epochs=0), dict(batch_size=1.5)]:
        out.append((f"fit({kw})", lambda kw=kw: clf.fit(texts, labels, progress=False, **kw)))
    out.append(("predict antes de fit", lambda: BERTSentimentClassifier(
        str(root / "tiny"), max_length=16, device="cpu").predict(["ok"])))
    out.append(("predict(texto con \\ud800)", lambda: clf.predict(["hola \ud800"])))
    out.append(("BERTSentimentClassifier(device='cuda')", lambda: BERTSentimentClassifier(
        str(root / "tiny"), max_length=16, device="cuda")))
    out.append(("BERTSentimentClassifier(seed=-1)", lambda: BERTSentimentClassifier(
        str(root / "tiny"), max_length=16, device="cpu", seed=-1)))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="escribe los resultados en este fichero")
    parser.add_argument("--verbose", action="store_true", help="muestra cada caso raw/silent")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    with tempfile.TemporaryDirectory() as tmp:
        cases = (cases_configs() + cases_tensors() + cases_generation() + cases_misc()
                 + cases_models(Path(tmp)))
        results = [(name, *classify(fn)) for name, fn in cases]
    counts = {k: sum(1 for _, c, _ in results if c == k) for k in ("clear", "raw", "silent")}
    print(f"labcode en {PKG}: {len(results)} entradas malas -> " + ", ".join(
        f"{k}={v}" for k, v in counts.items()))
    for name, kind, detail in results:
        if kind != "clear" and (args.verbose or True):
            print(f"  [{kind}] {name}: {detail}")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"package": str(PKG), "n": len(results), **counts,
             "cases": [{"case": n, "kind": k, "detail": d} for n, k, d in results]},
            indent=2, ensure_ascii=False), encoding="utf-8")
    return 0 if counts["raw"] == counts["silent"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
