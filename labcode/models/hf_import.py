"""Copiar pesos de modelos de Hugging Face en los modelos de labcode, clave a clave.

Solo traduce configuraciones y ``state_dict`` de objetos ya cargados (no importa
``labcode.hf`` ni descarga nada; eso lo hace :mod:`labcode.hf.models`):

- :func:`gpt_from_hf`: ``transformers.GPT2LMHeadModel`` → :class:`labcode.models.gpt.GPT`.
- :func:`bert_from_hf`: ``transformers.BertModel`` → :class:`labcode.models.bert.BertEncoder`.
- :func:`copy_safetensors`: ficheros safetensors → un modelo con los mismos nombres
  (Llama), tensor a tensor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from labcode.models.bert import BertConfig, BertEncoder
from labcode.models.gpt import GPT, GPTConfig
from labcode.utils.errors import LabcodeRuntimeError, LabcodeTypeError, LabcodeValueError

__all__ = ["bert_from_hf", "copy_pairs", "copy_safetensors", "gpt_from_hf"]


def copy_pairs(who: str, own: dict[str, torch.Tensor], theirs: dict[str, torch.Tensor],
               pairs: list[tuple[str, str, bool]]) -> None:
    """Copia ``theirs[b]`` (traspuesto si se pide) en ``own[a]`` para cada ``(a, b, t)``.

    Comprueba las formas y que no quede ninguna clave de ``own`` sin copiar.
    """
    with torch.no_grad():
        for ours, key, transpose in pairs:
            src = theirs[key].t() if transpose else theirs[key]
            if own[ours].shape != src.shape:
                raise LabcodeValueError(
                    f"{who}: forma incompatible en {ours}: {tuple(own[ours].shape)} "
                    f"frente a {tuple(src.shape)} en HF ({key})."
                )
            own[ours].copy_(src)
    missing = set(own) - {a for a, _, _ in pairs}
    if missing:  # pragma: no cover - protege contra cambios en el mapa
        raise LabcodeRuntimeError(f"{who}: claves sin copiar: {sorted(missing)}")


# --- GPT-2 -------------------------------------------------------------------------------


def _gpt_key_map(n_layer: int) -> list[tuple[str, str, bool]]:
    """Correspondencia explícita ``(clave nuestra, clave de HF, trasponer)``.

    Las capas de GPT-2 en HF son ``Conv1D`` con el peso guardado como
    ``(entrada, salida)``; ``nn.Linear`` lo guarda como ``(salida, entrada)``.
    """
    rows = [(f"transformer.{n}.weight", f"transformer.{n}.weight", False) for n in ("wte", "wpe")]
    for i in range(n_layer):
        p = f"transformer.h.{i}."
        for ln in ("ln_1", "ln_2"):
            rows += [(f"{p}{ln}.{w}", f"{p}{ln}.{w}", False) for w in ("weight", "bias")]
        for lin in ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"):
            rows.append((f"{p}{lin}.weight", f"{p}{lin}.weight", True))
            rows.append((f"{p}{lin}.bias", f"{p}{lin}.bias", False))
    rows += [(f"transformer.ln_f.{w}", f"transformer.ln_f.{w}", False) for w in ("weight", "bias")]
    return rows


def gpt_config_from_hf(hf_config: Any) -> GPTConfig:
    """Traduce un ``transformers.GPT2Config``; rechaza las variantes no implementadas."""
    unsupported = {
        "activation_function": ("gelu_new", "gelu_pytorch_tanh"),
        "scale_attn_weights": (True,),
        "scale_attn_by_inverse_layer_idx": (False,),
        "reorder_and_upcast_attn": (False,),
        "add_cross_attention": (False,),
    }
    for name, ok in unsupported.items():
        value = getattr(hf_config, name, ok[0])
        if value not in ok:
            raise LabcodeValueError(
                f"GPT.from_hf: la opción {name}={value!r} de la configuración de HF no está "
                f"implementada (se admite {ok})."
            )
    n_inner = getattr(hf_config, "n_inner", None)
    if n_inner is not None and n_inner != 4 * hf_config.n_embd:
        raise LabcodeValueError(
            f"GPT.from_hf: n_inner={n_inner} no implementado (se admite 4 * n_embd)."
        )
    return GPTConfig(vocab_size=hf_config.vocab_size, n_positions=hf_config.n_positions,
                     n_embd=hf_config.n_embd, n_layer=hf_config.n_layer,
                     n_head=hf_config.n_head, dropout=float(hf_config.resid_pdrop),
                     layer_norm_epsilon=hf_config.layer_norm_epsilon, bias=True)


def gpt_from_hf(hf_model: nn.Module, cls: type[GPT] = GPT, share: bool = False) -> GPT:
    """Copia un ``transformers.GPT2LMHeadModel`` (o ``GPT2Model``) en un
    :class:`labcode.models.gpt.GPT`
    nuevo, en modo evaluación, en el dispositivo y tipo de ``hf_model``.

    Con ``share=True`` no copia: el modelo se construye sin pesos (dispositivo
    ``meta``) y sus parámetros pasan a ser los mismos tensores de ``hf_model`` (los
    ``Conv1D`` como vistas traspuestas). Ocupa la mitad de memoria, pero cambiar los
    pesos de uno cambia los del otro.
    """
    hf_config = getattr(hf_model, "config", None)
    if hf_config is None or getattr(hf_config, "model_type", None) != "gpt2":
        raise LabcodeTypeError(
            "GPT.from_hf: se esperaba un transformers.GPT2LMHeadModel o GPT2Model; "
            f"se recibió {type(hf_model).__name__}."
        )
    config = gpt_config_from_hf(hf_config)
    hf_sd = hf_model.state_dict()
    if "transformer.wte.weight" not in hf_sd:  # GPT2Model: claves sin "transformer."
        hf_sd = {f"transformer.{k}": v for k, v in hf_sd.items()}
    ref = hf_sd["transformer.wte.weight"]
    lm = hf_sd.get("lm_head.weight")
    if lm is not None and lm.data_ptr() != ref.data_ptr() and not torch.equal(lm, ref):
        raise LabcodeValueError(
            "GPT.from_hf: lm_head no está atado a wte en el modelo de HF; "
            "este GPT solo admite pesos atados (como GPT-2)."
        )
    pairs = _gpt_key_map(config.n_layer)
    if share:
        return _gpt_sharing(cls, config, hf_sd, pairs)
    model = cls(config).to(device=ref.device, dtype=ref.dtype)
    own = {k: v for k, v in model.state_dict().items() if k != "lm_head.weight"}
    copy_pairs("GPT.from_hf", own, hf_sd, pairs)
    return model.eval()


def _gpt_sharing(cls: type[GPT], config: GPTConfig, hf_sd: dict[str, torch.Tensor],
                 pairs: list[tuple[str, str, bool]]) -> GPT:
    with torch.device("meta"):
        model = cls(config)
    state = {ours: hf_sd[key].t() if transpose else hf_sd[key] for ours, key, transpose in pairs}
    state["lm_head.weight"] = state["transformer.wte.weight"]
    model.load_state_dict(state, strict=True, assign=True)
    model.lm_head.weight = model.transformer.wte.weight  # vuelve a atar los pesos
    return model.eval()


# --- BERT --------------------------------------------------------------------------------

#: ``(nuestro submódulo en layers[i], submódulo de HF en encoder.layer[i])``.
_BERT_LAYER_MAP = (
    ("self_attn.q_proj", "attention.self.query"),
    ("self_attn.k_proj", "attention.self.key"),
    ("self_attn.v_proj", "attention.self.value"),
    ("self_attn.out_proj", "attention.output.dense"),
    ("norm1", "attention.output.LayerNorm"),
    ("ffn.fc1", "intermediate.dense"),
    ("ffn.fc2", "output.dense"),
    ("norm2", "output.LayerNorm"),
)


def _bert_pairs(num_layers: int) -> list[tuple[str, str, bool]]:
    pairs = [(f"embeddings.{n}", f"embeddings.{n}", False) for n in (
        "word_embeddings.weight", "position_embeddings.weight",
        "token_type_embeddings.weight", "LayerNorm.weight", "LayerNorm.bias")]
    for i in range(num_layers):
        for a, b in _BERT_LAYER_MAP:
            pairs += [(f"layers.{i}.{a}.{p}", f"encoder.layer.{i}.{b}.{p}", False)
                      for p in ("weight", "bias")]
    return pairs


def bert_config_from_hf(hf_config: Any) -> BertConfig:
    """Traduce un ``transformers.BertConfig``; rechaza las variantes no implementadas."""
    if getattr(hf_config, "hidden_act", "gelu") != "gelu":
        raise LabcodeValueError(
            f"BertEncoder.from_hf: activación {hf_config.hidden_act!r} no implementada "
            "(se admite 'gelu')."
        )
    if getattr(hf_config, "position_embedding_type", "absolute") != "absolute":
        raise LabcodeValueError(
            "BertEncoder.from_hf: solo se admiten embeddings de posición 'absolute'; "
            f"se recibió {hf_config.position_embedding_type!r}."
        )
    pad = hf_config.pad_token_id
    return BertConfig(
        vocab_size=hf_config.vocab_size, hidden_size=hf_config.hidden_size,
        num_layers=hf_config.num_hidden_layers, num_heads=hf_config.num_attention_heads,
        intermediate_size=hf_config.intermediate_size,
        max_position_embeddings=hf_config.max_position_embeddings,
        type_vocab_size=hf_config.type_vocab_size, layer_norm_eps=hf_config.layer_norm_eps,
        dropout=float(hf_config.hidden_dropout_prob), pad_token_id=pad if pad is not None else 0,
    )


def bert_from_hf(hf_model: nn.Module, cls: type[BertEncoder] = BertEncoder) -> BertEncoder:
    """Copia un ``transformers.BertModel`` (o un modelo con atributo ``.bert``) en
    un :class:`labcode.models.bert.BertEncoder` nuevo, en modo evaluación, en el dispositivo y
    tipo de ``hf_model``.

    El *pooler* de HF no se copia (``forward`` devuelve los estados ocultos).
    """
    bert = getattr(hf_model, "bert", hf_model)
    hf_config = getattr(bert, "config", None)
    if hf_config is None or not hasattr(bert, "embeddings") or not hasattr(bert, "encoder"):
        raise LabcodeTypeError(
            "BertEncoder.from_hf: se esperaba un transformers.BertModel (o un modelo con "
            f"atributo .bert); se recibió {type(hf_model).__name__}."
        )
    config = bert_config_from_hf(hf_config)
    sd = bert.state_dict()
    ref = sd["embeddings.word_embeddings.weight"]
    model = cls(config).to(device=ref.device, dtype=ref.dtype)
    copy_pairs("BertEncoder.from_hf", model.state_dict(), sd, _bert_pairs(config.num_layers))
    return model.eval()


# --- safetensors -------------------------------------------------------------------------


def copy_safetensors(model: nn.Module, files: list[Path]) -> tuple[set[str], list[str]]:
    """Copia en ``model`` los tensores de ``files``, uno a uno.

    Leer un tensor cada vez (en lugar de todo el ``state_dict``) evita tener los pesos dos
    veces en memoria: con SmolLM2 en float32 son unos 500 MB menos de pico. Devuelve las
    claves del modelo que no estaban en los ficheros y las de los ficheros que sobran.
    """
    from safetensors import safe_open

    own = model.state_dict()
    seen: set[str] = set()
    unexpected: list[str] = []
    for file in files:
        with safe_open(str(file), framework="pt") as fh:
            keys = list(fh.keys())
        for key in keys:
            if key not in own:
                unexpected.append(key)
                continue
            # El fichero se abre para cada tensor: su proyección en memoria (mmap) se
            # cierra enseguida y sus páginas no se suman al pico de memoria del proceso.
            with safe_open(str(file), framework="pt") as fh:
                tensor = fh.get_tensor(key)
            if tensor.shape != own[key].shape:
                raise LabcodeValueError(
                    f"{file}: {key} tiene forma {tuple(tensor.shape)} y el modelo "
                    f"espera {tuple(own[key].shape)}."
                )
            with torch.no_grad():
                own[key].copy_(tensor)
            seen.add(key)
    return set(own) - seen, unexpected
