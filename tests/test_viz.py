"""labcode.analysis.attention_maps: pesos de atención, medidas, rollout, figuras y visor."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from bookutil import skip_or_fail  # noqa: E402

from labcode.analysis import attention_maps as viz  # noqa: E402
from labcode.analysis.attention_maps import (
    AttentionMaps,
    attention_entropy,
    attention_rollout,
    attention_viewer,
    dominant_patterns,
    extract_attentions,
    find_word,
    head_statistics,
    word_attention,
)
from labcode.book.notebook import viewer_output
from labcode.hf.models import load_encoder  # noqa: E402
from labcode.models.bert import BertConfig, BertEncoder  # noqa: E402
from labcode.models.gpt import GPT, GPTConfig  # noqa: E402
from labcode.models.llama import Llama, LlamaConfig  # noqa: E402

ES = "El gato bebió la leche porque estaba hambriento"
EN = "The cat drank the milk because it was hungry"


def _random_maps(L=2, H=3, T=5, seed=0, causal=False, tokens=None) -> AttentionMaps:
    rng = np.random.default_rng(seed)
    s = rng.normal(size=(L, H, T, T))
    if causal:
        s = np.where(np.tril(np.ones((T, T), bool)), s, -np.inf)
    a = np.exp(s - s.max(-1, keepdims=True))
    a /= a.sum(-1, keepdims=True)
    return AttentionMaps(tokens or [f"t{i}" for i in range(T)], a, causal=causal)


class _ToyTokenizer:
    """Tokenizador mínimo (una palabra = un id) para probar sin modelos preentrenados."""

    def __init__(self, vocab_size=50):
        self.vocab_size = vocab_size
        self.vocab: dict[str, int] = {}

    def __call__(self, text, return_tensors="pt"):
        ids = [self.vocab.setdefault(w, 1 + len(self.vocab) % (self.vocab_size - 1))
               for w in text.split()]
        t = torch.tensor([ids])
        return {"input_ids": t, "attention_mask": torch.ones_like(t)}

    def convert_ids_to_tokens(self, ids):
        inv = {v: k for k, v in self.vocab.items()}
        return [inv.get(i, f"<{i}>") for i in ids]

    def convert_tokens_to_string(self, tokens):
        return " ".join(tokens)


# --- Contenedor y errores -------------------------------------------------------------


def test_attention_maps_shapes_and_indexing():
    m = _random_maps(L=3, H=4, T=6)
    assert (m.num_layers, m.num_heads, m.seq_len) == (3, 4, 6)
    assert m.layer(1).shape == (4, 6, 6)
    np.testing.assert_array_equal(m.head(-1, -1), m.attentions[2, 3])
    with pytest.raises(ValueError, match="layer=3 fuera de rango"):
        m.head(3, 0)
    with pytest.raises(ValueError, match="head=4 fuera de rango"):
        m.head(0, 4)
    with pytest.raises(TypeError, match="entero"):
        m.head(0.5, 0)


def test_attention_maps_validation():
    with pytest.raises(ValueError, match=r"\(L, H, T, T\)"):
        AttentionMaps(["a", "b"], np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="2 tokens"):
        AttentionMaps(["a"], np.ones((1, 1, 2, 2)) / 2)
    with pytest.raises(ValueError, match="lista de 2 tokens"):
        AttentionMaps("ab", np.ones((1, 1, 2, 2)) / 2)
    m = AttentionMaps(["a", "b"], torch.full((1, 1, 2, 2), 0.5))
    assert isinstance(m.attentions, np.ndarray) and m.attentions.dtype == np.float64


# --- Extracción de nuestros modelos ------------------------------------------------------


def test_extract_from_our_models_tiny():
    torch.manual_seed(0)
    tok = _ToyTokenizer()
    bert = BertEncoder(BertConfig(vocab_size=50, hidden_size=16, num_layers=2, num_heads=4,
                                  intermediate_size=32, max_position_embeddings=32))
    gpt = GPT(GPTConfig(vocab_size=50, n_positions=32, n_embd=16, n_layer=3, n_head=2))
    llama = Llama(LlamaConfig(vocab_size=50, hidden_size=16, intermediate_size=32,
                              num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                              max_position_embeddings=32))
    for model, shape, causal in ((bert, (2, 4, 5, 5), False), (gpt, (3, 2, 5, 5), True),
                                 (llama, (2, 4, 5, 5), True)):
        m = extract_attentions(model, tok, "a b c d e")
        assert m.attentions.shape == shape
        assert m.causal is causal
        assert m.tokens == ["a", "b", "c", "d", "e"]
        np.testing.assert_allclose(m.attentions.sum(-1), 1.0, atol=1e-5)
        if causal:
            assert np.allclose(np.triu(m.attentions, k=1), 0.0)


def test_gpt_output_attentions_keeps_logits():
    torch.manual_seed(0)
    gpt = GPT(GPTConfig(vocab_size=50, n_positions=32, n_embd=16, n_layer=2, n_head=2)).eval()
    ids = torch.randint(0, 50, (2, 7))
    logits, att = gpt(ids, output_attentions=True)
    torch.testing.assert_close(logits, gpt(ids), atol=1e-5, rtol=1e-5)
    assert len(att) == 2 and att[0].shape == (2, 2, 7, 7)


def test_llama_output_attentions_keeps_logits_and_cache():
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=50, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32)
    model = Llama(cfg).eval()
    ids = torch.randint(0, 50, (1, 6))
    with torch.no_grad():
        logits, att = model(ids, output_attentions=True)
        torch.testing.assert_close(logits, model(ids), atol=1e-5, rtol=1e-5)
        assert len(att) == 2 and att[0].shape == (1, 4, 6, 6)
        cache = model.new_cache()
        model(ids[:, :4], cache)
        _, att_step = model(ids[:, 4:], cache, output_attentions=True)  # (1, 4, 2, 6)
    torch.testing.assert_close(att_step[1], att[1][:, :, 4:, :], atol=1e-5, rtol=1e-5)


def test_extract_errors():
    tok = _ToyTokenizer()
    gpt = GPT(GPTConfig(vocab_size=50, n_positions=32, n_embd=16, n_layer=1, n_head=2))
    with pytest.raises(ValueError, match="vacío"):
        extract_attentions(gpt, tok, "   ")
    with pytest.raises(TypeError, match="str"):
        extract_attentions(gpt, tok, 123)
    with pytest.raises(TypeError, match="tokenizador"):
        extract_attentions(gpt, object(), "a b")
    with pytest.raises(TypeError, match="BertEncoder"):
        extract_attentions(torch.nn.Linear(2, 2), tok, "a b")
    with pytest.raises(ValueError, match="max_length"):
        extract_attentions(gpt, tok, "a b c", max_length=2)
    with pytest.raises(TypeError, match="Hugging Face"):
        viz.hf_attentions(object(), {})


# --- Modelos preentrenados: nuestros frente a HF -----------------------------------------------


@pytest.fixture(scope="module")
def minilm():
    from labcode.hf import pretrained

    try:
        spec = pretrained.resolve_bert_model()
        tok = pretrained.load_tokenizer(spec)
        hf = load_encoder(spec)
    except pretrained.ModelNotAvailableError as exc:
        skip_or_fail(f"MiniLM no disponible: {exc}")
    return tok, hf


def test_minilm_ours_equals_hf_and_restores_sdpa(minilm):
    tok, hf = minilm
    impl = hf.config._attn_implementation
    ours = BertEncoder.from_hf(hf)
    m_hf = extract_attentions(hf, tok, ES)
    m_ours = extract_attentions(ours, tok, ES)
    assert hf.config._attn_implementation == impl  # se restaura la implementación
    assert m_hf.tokens == m_ours.tokens and m_hf.tokens[0] == "[CLS]"
    assert m_hf.attentions.shape == (6, 12, len(m_hf.tokens), len(m_hf.tokens))
    assert np.abs(m_hf.attentions - m_ours.attentions).max() < 1e-4
    assert not m_hf.causal
    assert m_hf.special_positions() == [0, len(m_hf.tokens) - 1]
    assert find_word(m_hf, "hambriento") == list(range(13, 17))  # ham ##bri ##ent ##o
    assert find_word(m_hf, "bebió") == [4, 5]  # sin tildes: be ##bio


def test_smollm2_ours_equals_hf():
    from labcode.hf import pretrained

    try:
        spec = pretrained.smollm2_spec()
        tok = pretrained.load_tokenizer(spec)
        hf = pretrained.load_causal_lm(spec)
    except pretrained.ModelNotAvailableError as exc:
        skip_or_fail(f"SmolLM2 no disponible: {exc}")
    ours = Llama.from_hf(hf)
    m_hf = extract_attentions(hf, tok, EN)
    m_ours = extract_attentions(ours, tok, EN)
    assert hf.config._attn_implementation == "sdpa"
    assert m_hf.causal and m_ours.causal
    assert m_hf.tokens == ["The", "cat", "drank", "the", "milk", "because", "it", "was", "hungry"]
    assert np.abs(m_hf.attentions - m_ours.attentions).max() < 1e-4
    # palabra con varias piezas BPE y una tilde partida en bytes
    es = extract_attentions(ours, tok, ES)
    assert len(find_word(es, "bebió")) >= 2


# --- Medidas ------------------------------------------------------------------------------------


def test_find_word_and_word_attention():
    tokens = ["[CLS]", "el", "ga", "##to", "come", "[SEP]"]
    a = np.zeros((1, 1, 6, 6))
    a[0, 0, :, :] = 1 / 6
    a[0, 0, 4] = [0, 0.1, 0.3, 0.4, 0.2, 0]  # «come» -> ga (0.3) + ##to (0.4)
    m = AttentionMaps(tokens, a)
    assert find_word(m, "GATO") == [2, 3]
    np.testing.assert_allclose(word_attention(m, "come", "gato"), [[0.7]])
    # desde una palabra partida se promedia: (1/6 + 1/6) * 2 / 2
    np.testing.assert_allclose(word_attention(m, "gato", "gato"), [[2 / 6]])
    np.testing.assert_allclose(word_attention(m, [4], [1]), [[0.1]])
    with pytest.raises(ValueError, match="perro"):
        find_word(m, "perro")
    with pytest.raises(ValueError, match="no vacía"):
        find_word(m, "")
    with pytest.raises(ValueError, match="aparición 1"):
        find_word(m, "el", occurrence=1)
    with pytest.raises(ValueError, match="fuera de rango"):
        word_attention(m, [9], [0])


def test_head_statistics_known_patterns():
    T = 5
    prev = np.eye(T, k=-1)
    prev[0, 0] = 1.0
    first = np.zeros((T, T))
    first[:, 0] = 1.0
    uniform = np.tril(np.ones((T, T)))
    uniform /= uniform.sum(-1, keepdims=True)
    a = np.stack([prev, first, uniform])[None]  # (1, 3, T, T)
    m = AttentionMaps([f"t{i}" for i in range(T)], a, causal=True)
    st = head_statistics(m)
    np.testing.assert_allclose(st["previous"][0], [1.0, 0.25, np.mean(1 / np.arange(2, T + 1))])
    np.testing.assert_allclose(st["first"][0, 1], 1.0)
    np.testing.assert_allclose(st["entropy"][0], [0.0, 0.0, 1.0], atol=1e-9)
    np.testing.assert_array_equal(st["special"], 0.0)
    labels = dominant_patterns(st)
    assert labels.tolist() == [["token anterior", "primer token", "mixta"]]
    with pytest.raises(ValueError, match="threshold"):
        dominant_patterns(st, threshold=0)


def test_entropy_bidirectional_uniform_is_one():
    m = AttentionMaps(list("abcd"), np.full((2, 2, 4, 4), 0.25))
    np.testing.assert_allclose(attention_entropy(m), 2.0)  # log2(4) bits
    np.testing.assert_allclose(attention_entropy(m, normalize=True), 1.0)


def test_special_tokens_statistic():
    a = np.zeros((1, 1, 4, 4))
    a[0, 0, :, 3] = 1.0  # todo a [SEP]
    m = AttentionMaps(["[CLS]", "a", "b", "[SEP]"], a)
    st = head_statistics(m)
    assert st["special"][0, 0] == pytest.approx(1.0)
    assert dominant_patterns(st)[0, 0] == "[CLS]/[SEP]"


# --- Rollout -----------------------------------------------------------------------------------


def test_rollout_rows_sum_to_one_and_hand_computation():
    m = _random_maps(L=3, H=2, T=4, seed=1)
    R = attention_rollout(m)
    assert isinstance(R, np.ndarray) and R.shape == (4, 4)
    np.testing.assert_allclose(R.sum(-1), 1.0)
    expected = np.eye(4)
    for A in m.attentions.mean(1):
        expected = 0.5 * (A + np.eye(4)) @ expected
    np.testing.assert_allclose(R, expected, atol=1e-12)
    np.testing.assert_allclose(attention_rollout(m.attentions), R)
    # sin residual es el producto de las medias
    no_res = m.attentions[2].mean(0) @ m.attentions[1].mean(0) @ m.attentions[0].mean(0)
    np.testing.assert_allclose(attention_rollout(m, residual=False), no_res, atol=1e-12)


def test_rollout_identity_and_torch_batch():
    eye = np.broadcast_to(np.eye(3), (4, 2, 3, 3)).copy()
    np.testing.assert_allclose(attention_rollout(eye), np.eye(3))
    t = [torch.softmax(torch.randn(2, 4, 5, 5), -1) for _ in range(3)]
    R = attention_rollout(t)
    assert isinstance(R, torch.Tensor) and R.shape == (2, 5, 5)
    torch.testing.assert_close(R.sum(-1), torch.ones(2, 5))
    np_version = attention_rollout(np.stack([x[1].double().numpy() for x in t]))
    np.testing.assert_allclose(R[1].double().numpy(), np_version, atol=1e-5)


def test_rollout_is_defined_once():
    from labcode.models import vit

    assert viz.attention_rollout.__module__ == "labcode.analysis.attention_maps"
    assert not hasattr(vit, "attention_rollout")  # models no importa analysis (capas)


def test_rollout_errors():
    with pytest.raises(ValueError, match="attention_rollout"):
        attention_rollout([])
    with pytest.raises(ValueError, match=r"\(L, H, T, T\)"):
        attention_rollout(np.ones((2, 3, 3)))
    with pytest.raises(ValueError, match="misma T"):
        attention_rollout([torch.ones(1, 1, 3, 3) / 3, torch.ones(1, 1, 4, 4) / 4])
    with pytest.raises(TypeError, match="AttentionMaps"):
        attention_rollout("atención")


# --- Figuras ----------------------------------------------------------------------------------


def test_matplotlib_figures():
    m = _random_maps(L=2, H=5, T=6)
    ax = viz.plot_head(m, 1, 4)
    assert ax.get_title() == "capa 1, cabeza 4"
    assert [t.get_text() for t in ax.get_xticklabels()] == m.tokens
    fig = viz.plot_layer_heads(m, 0, ncols=3)
    assert len([a for a in fig.axes if a.has_data()]) == 5
    fig2 = viz.plot_head_statistics(head_statistics(m))
    assert len(fig2.axes) == 5  # 4 mapas + barra de color
    with pytest.raises(ValueError, match="fuera de rango"):
        viz.plot_layer_heads(m, 2)
    with pytest.raises(ValueError, match="ncols"):
        viz.plot_layer_heads(m, 0, ncols=0)
    plt.close("all")


def test_viewer_structure():
    m = _random_maps(L=3, H=4, T=5, tokens=["the", "cat", "saw", "the", "dog"])
    fig = attention_viewer(m, title="prueba")
    assert len(fig.data) == 3 * 4
    steps = fig.layout.sliders[0].steps
    assert len(steps) == 3
    for li, step in enumerate(steps):
        visible = step.args[0]["visible"]
        assert sum(visible) == 4
        assert all(visible[li * 4:(li + 1) * 4])
        assert step.label == str(li)
    assert [t.visible for t in fig.data[:4]] == [True] * 4
    assert not any(t.visible for t in fig.data[4:])
    np.testing.assert_allclose(np.asarray(fig.data[4 + 2].z), m.head(1, 2), atol=1e-6)
    # «the» aparece dos veces: las etiquetas deben ser distintas (si no, Plotly las fusiona)
    assert len(set(fig.data[0].x)) == 5
    assert fig.layout.meta["heads"] == 4 and fig.layout.meta["layers"] == [0, 1, 2]
    sub = attention_viewer(m, layers=[2, -1])
    assert len(sub.data) == 8 and len(sub.layout.sliders[0].steps) == 2
    with pytest.raises(ValueError, match="vacío"):
        attention_viewer(m, layers=[])
    with pytest.raises(TypeError, match="AttentionMaps"):
        attention_viewer(np.ones((1, 1, 2, 2)))


def test_viewer_output_modes(monkeypatch):
    m = _random_maps(L=1, H=2, T=3)
    fig = attention_viewer(m)
    monkeypatch.delenv("LABCODE_BUILD", raising=False)
    assert viewer_output(fig, alt="visor") is fig
    monkeypatch.setenv("LABCODE_BUILD", "1")
    out = viewer_output(fig, alt='visor "de" prueba', caption="pie <b>")
    html = out.data
    assert 'aria-label="visor &quot;de&quot; prueba"' in html
    assert "<figcaption" in html and "pie &lt;b&gt;" in html
    assert "plotly-graph-div" in html and "Plotly.newPlot" in html
    assert "cdn.plot.ly" not in html and "<script src=" not in html  # sin plotly.js ni CDN
    with pytest.raises(ValueError, match="alt"):
        viewer_output(fig, alt=" ")


def test_plotly_js_extension(tmp_path):
    """La extensión de Sphinx encuentra plotly.min.js y detecta las páginas que lo necesitan."""
    import sys
    from pathlib import Path

    from docutils import nodes
    from docutils.utils import new_document

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
    try:
        import plotly_js
    finally:
        sys.path.pop(0)
    src = plotly_js.plotly_js_source()
    assert src.name == "plotly.min.js" and src.stat().st_size > 1_000_000
    doc = new_document("prueba")
    assert not plotly_js.page_uses_plotly(doc)
    assert not plotly_js.page_uses_plotly(None)
    doc += nodes.raw("", '<div class="plotly-graph-div"></div>', format="html")
    assert plotly_js.page_uses_plotly(doc)
