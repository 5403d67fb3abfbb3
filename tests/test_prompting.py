"""Pruebas de labcode.hf.prompting con un Llama diminuto aleatorio (sin descargas) y, si
está disponible, con el generador local del perfil."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from bookutil import skip_or_fail

from labcode.hf import prompting


class WordTokenizer:
    """Tokenizador de juguete: palabras (con su espacio inicial), saltos de línea y signos."""

    pattern = re.compile(r" ?\w+| ?[^\w\s]|\n| ")

    def __init__(self, vocab_size: int = 64, bos: bool = True):
        self.vocab: dict[str, int] = {}
        self.vocab_size = vocab_size
        self.bos = bos

    def _id(self, piece: str) -> int:
        if piece not in self.vocab:
            self.vocab[piece] = 1 + len(self.vocab) % (self.vocab_size - 1)
        return self.vocab[piece]

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        ids = [self._id(p) for p in self.pattern.findall(text)]
        return ([0] + ids) if (add_special_tokens and self.bos) else ids

    def decode(self, ids) -> str:
        inv = {v: k for k, v in self.vocab.items()}
        return "".join(inv.get(i, "?") for i in ids)


@pytest.fixture(scope="module")
def tiny():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
    )
    model = LlamaForCausalLM(cfg).eval()
    tok = WordTokenizer()
    # fija los ids de las palabras de etiqueta para que no colisionen
    for w in (" negative", " positive", " bad", " good"):
        tok.encode(w, add_special_tokens=False)
    return model, tok


SENTS = ["a fine film .", "dull and long", "the best thing all year !", "no .", "",
         "what a mess of a movie , really"]


def test_template_and_prefix():
    tpl = prompting.PromptTemplate()
    ex = [("bad movie", 0), ("great fun", 1)]
    prefix = prompting.build_prefix(ex, tpl)
    assert prefix == (
        tpl.instruction
        + "Review: bad movie\nSentiment: negative\n\n"
        + "Review: great fun\nSentiment: positive\n\n"
    )
    assert prompting.build_query("ok", tpl) == "Review: ok\nSentiment:"
    assert prompting.build_prefix([], tpl) == tpl.instruction
    t2 = tpl.with_labels(" bad", " good")
    assert t2.label_words == (" bad", " good") and t2.instruction == tpl.instruction


def test_template_validation():
    with pytest.raises(ValueError, match="label_words"):
        prompting.PromptTemplate(label_words=(" a", " a"))
    with pytest.raises(ValueError, match="label_words"):
        prompting.PromptTemplate(label_words=(" a",))
    with pytest.raises(ValueError, match="sentence"):
        prompting.PromptTemplate(query="Sentiment:")
    with pytest.raises(ValueError, match="label"):
        prompting.PromptTemplate(example="Review: {sentence}\n")
    with pytest.raises(ValueError, match="0 o 1"):
        prompting.build_prefix([("x", 2)])
    with pytest.raises(TypeError, match="tupla"):
        prompting.build_prefix(["x"])
    with pytest.raises(TypeError, match="cadena"):
        prompting.build_query(3)


def test_select_examples_balanced_and_deterministic():
    sents = [f"sentence number {i} " + "word " * (i % 7) for i in range(60)]
    labels = [i % 2 for i in range(60)]
    ex = prompting.select_examples(sents, labels, 6, seed=1)
    assert len(ex) == 6
    assert [y for _, y in ex] == [0, 1, 0, 1, 0, 1]
    assert ex == prompting.select_examples(sents, labels, 6, seed=1)
    assert ex != prompting.select_examples(sents, labels, 6, seed=2)
    assert all(s in sents and labels[sents.index(s)] == y for s, y in ex)
    odd = prompting.select_examples(sents, labels, 3)
    assert [y for _, y in odd] == [0, 1, 1]
    assert prompting.select_examples(sents, labels, 0) == []
    long_only = prompting.select_examples(sents, labels, 2, min_words=8)
    assert all(len(s.split()) >= 8 for s, _ in long_only)
    with pytest.raises(ValueError, match="No hay bastantes"):
        prompting.select_examples(sents, labels, 200)
    with pytest.raises(ValueError, match="k debe"):
        prompting.select_examples(sents, labels, -1)
    with pytest.raises(ValueError, match="etiquetas"):
        prompting.select_examples(sents, labels[:3], 2)
    with pytest.raises(ValueError, match="min_words"):
        prompting.select_examples(sents, labels, 2, min_words=30, max_words=20)


def test_label_token_ids(tiny):
    _, tok = tiny
    ids = prompting.label_token_ids(tok, (" negative", " positive"))
    assert ids == [tok.encode(" negative", False)[0], tok.encode(" positive", False)[0]]
    with pytest.raises(ValueError, match="no es un único token"):
        prompting.label_token_ids(tok, (" very bad", " good"))
    with pytest.raises(ValueError, match="mismo token"):
        prompting.label_token_ids(tok, (" good", " good"))


@pytest.mark.parametrize("prefix_examples", [[], [("bad movie", 0), ("great fun", 1)]])
@pytest.mark.parametrize("batch_size", [1, 4])
def test_cached_scores_equal_naive(tiny, prefix_examples, batch_size):
    model, tok = tiny
    prefix = prompting.build_prefix(prefix_examples)
    fast = prompting.score_label_words(model, tok, prefix, SENTS, batch_size=batch_size)
    nocache = prompting.score_label_words(model, tok, prefix, SENTS, use_cache=False)
    naive = np.stack([prompting.score_label_words_naive(model, tok, prefix, s) for s in SENTS])
    assert fast.shape == (len(SENTS), 2)
    np.testing.assert_allclose(fast, naive, atol=1e-5)
    np.testing.assert_allclose(nocache, naive, atol=1e-5)
    assert np.all(fast < 0)  # log-probabilidades


def test_naive_score_by_hand(tiny):
    model, tok = tiny
    prefix = "Classify.\n\n"
    ids = tok.encode(prefix) + tok.encode(prompting.build_query("a fine film ."), False)
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0, -1]
    logp = torch.log_softmax(logits, -1)
    lab = prompting.label_token_ids(tok, (" negative", " positive"))
    got = prompting.score_label_words_naive(model, tok, prefix, "a fine film .")
    np.testing.assert_allclose(got, logp[lab].double().numpy(), atol=1e-6)


def test_empty_prefix_without_bos(tiny):
    model, _ = tiny
    tok = WordTokenizer(bos=False)
    for w in (" negative", " positive"):
        tok.encode(w, False)
    tpl = prompting.PromptTemplate(instruction="")
    s = prompting.score_label_words(model, tok, "", ["good film"], tpl)
    ref = prompting.score_label_words_naive(model, tok, "", "good film", tpl)
    np.testing.assert_allclose(s[0], ref, atol=1e-5)


def test_calibrate_scores_by_hand():
    scores = np.log(np.array([[0.2, 0.1], [0.1, 0.3]]))
    cf = np.log(np.array([[0.3, 0.1], [0.6, 0.2]]))  # ambas 75 % / 25 % tras normalizar
    cal, p_cf = prompting.calibrate_scores(scores, cf)
    np.testing.assert_allclose(p_cf, [0.75, 0.25])
    p = np.array([[2 / 3, 1 / 3], [0.25, 0.75]])
    np.testing.assert_allclose(np.exp(cal), p / p_cf)
    assert list(cal.argmax(1)) == [1, 1]  # la primera cambia de clase al calibrar
    with pytest.raises(ValueError, match="content_free_scores"):
        prompting.calibrate_scores(scores, np.zeros((0, 2)))


def test_evaluate_prompting(tiny):
    model, tok = tiny
    labels = [1, 0, 1, 0, 0, 0]
    r = prompting.evaluate_prompting(model, tok, SENTS, labels, [("bad movie", 0)])
    assert r["n"] == len(SENTS) and r["k"] == 1
    assert r["pred"].shape == (len(SENTS),)
    assert r["accuracy"] == pytest.approx(np.mean(r["pred"] == np.array(labels)))
    assert r["positive_rate"] == pytest.approx(np.mean(r["pred"] == 1))
    assert r["accuracy_calibrated"] == pytest.approx(
        np.mean(r["pred_calibrated"] == np.array(labels)))
    assert r["content_free_probs"].sum() == pytest.approx(1.0)
    assert r["prefix_tokens"] == len(tok.encode(prompting.build_prefix([("bad movie", 0)])))
    # sin entradas sin contenido: la calibrada es la directa
    r0 = prompting.evaluate_prompting(model, tok, SENTS, labels, content_free=())
    assert r0["accuracy_calibrated"] == r0["accuracy"]


def test_bad_inputs(tiny):
    model, tok = tiny
    with pytest.raises(TypeError, match="lista de cadenas"):
        prompting.score_label_words(model, tok, "", "una frase")
    with pytest.raises(ValueError, match="vacía"):
        prompting.score_label_words(model, tok, "", [])
    with pytest.raises(TypeError, match=r"sentences\[1\]"):
        prompting.score_label_words(model, tok, "", ["a", 3])
    with pytest.raises(ValueError, match="batch_size"):
        prompting.score_label_words(model, tok, "", ["a"], batch_size=0)
    with pytest.raises(TypeError, match="prefix"):
        prompting.score_label_words(model, tok, None, ["a"])
    with pytest.raises(ValueError, match="etiquetas"):
        prompting.evaluate_prompting(model, tok, ["a", "b"], [1])
    with pytest.raises(ValueError, match="0 o 1"):
        prompting.evaluate_prompting(model, tok, ["a"], [3])


def test_real_generator_cache_matches_naive():
    from labcode.hf import pretrained

    try:
        spec = pretrained.resolve_gpt_model()
        tok = pretrained.load_tokenizer(spec)
        model = pretrained.load_causal_lm(spec)
    except (pretrained.ModelNotAvailableError, OSError) as exc:
        skip_or_fail(f"generador local no disponible: {exc}")
    torch.set_num_threads(min(2, torch.get_num_threads()))
    ex = [("a dull , lifeless film", 0), ("a warm and funny movie", 1)]
    prefix = prompting.build_prefix(ex)
    sents = ["an utterly charming delight .", "boring and far too long ."]
    fast = prompting.score_label_words(model, tok, prefix, sents)
    naive = np.stack([prompting.score_label_words_naive(model, tok, prefix, s) for s in sents])
    np.testing.assert_allclose(fast, naive, atol=1e-3)
    assert np.all(fast < 0)
    # las etiquetas inglesas son un token; las españolas, no
    assert len(prompting.label_token_ids(tok, (" negative", " positive"))) == 2
    with pytest.raises(ValueError, match="no es un único token"):
        prompting.label_token_ids(tok, (" negativo", " positivo"))


def test_cached_scores_equal_naive_gpt2():
    """El mismo resultado con otra arquitectura (GPT-2: posiciones absolutas aprendidas)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=64, n_embd=32, n_layer=2, n_head=4, n_positions=256,
                     bos_token_id=0, eos_token_id=0)
    model = GPT2LMHeadModel(cfg).eval()
    tok = WordTokenizer(bos=False)
    for w in (" negative", " positive"):
        tok.encode(w, add_special_tokens=False)
    prefix = prompting.build_prefix([("bad movie", 0), ("great fun", 1)])
    fast = prompting.score_label_words(model, tok, prefix, SENTS, batch_size=4)
    naive = np.stack([prompting.score_label_words_naive(model, tok, prefix, s) for s in SENTS])
    np.testing.assert_allclose(fast, naive, atol=1e-5)
