"""labcode: el código del libro «Lab 11: Transformers», en capas.

Cada capa sólo importa de las que tiene debajo (lo comprueba ``lint-imports``
con el contrato de ``pyproject.toml``)::

    cli        la línea de órdenes (python -m labcode)
    book       lo único que sabe del libro: glue, ejercicios, mediciones del apéndice
    hf         modelos preentrenados de Hugging Face: carga, tokenizadores,
               BERTSentimentClassifier, GPT2TextGenerator, instrucciones
    analysis   mapas de atención, rollout, leyes de escala, costes, figuras
    tasks      experimentos completos: mini-GPT del Quijote, dependencias largas, MLM
    train      el bucle de entrenamiento
    models     Transformer encoder-decoder, GPT, BERT, Llama, ViT
    sampling   temperatura, top-k, top-p, penalización por repetición
    nn         máscaras, atención, FFN, bloques, codificación posicional, LSTM
    data       datos con hash comprobado, tareas de secuencia a secuencia, tokenizador
    numpy_ref  atención y codificación posicional en NumPy (capítulos 2 a 4)
    utils      errores, validación, configuración, semillas, progreso

Los nombres públicos más usados (las ocho clases del laboratorio entre ellos) se
pueden importar desde aquí: ``from labcode import TransformerModel``. Se cargan
de forma perezosa, para que ``import labcode`` sea rápido y no exija PyTorch a
quien sólo usa la parte en NumPy.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: Nombre público -> módulo que lo define.
_EXPORTS = {
    "SelfAttentionNumPy": "labcode.numpy_ref.attention",
    "MultiHeadAttentionNumPy": "labcode.numpy_ref.attention",
    "scaled_dot_product_attention": "labcode.numpy_ref.attention",
    "PositionalEncodingSinusoidal": "labcode.numpy_ref.positional",
    "MultiHeadAttention": "labcode.nn.blocks",
    "TransformerEncoderBlock": "labcode.nn.blocks",
    "TransformerDecoderBlock": "labcode.nn.blocks",
    "causal_mask": "labcode.nn.blocks",
    "TransformerConfig": "labcode.models.seq2seq",
    "TransformerModel": "labcode.models.seq2seq",
    "GPT": "labcode.models.gpt",
    "GPTConfig": "labcode.models.gpt",
    "BertConfig": "labcode.models.bert",
    "BertEncoder": "labcode.models.bert",
    "Llama": "labcode.models.llama",
    "LlamaConfig": "labcode.models.llama",
    "ViT": "labcode.models.vit",
    "ViTConfig": "labcode.models.vit",
    "BERTSentimentClassifier": "labcode.hf.sentiment",
    "GPT2TextGenerator": "labcode.hf.generation",
    "LabcodeError": "labcode.utils.errors",
    "set_seed": "labcode.utils.runtime",
}

_SUBPACKAGES = {"utils", "numpy_ref", "data", "nn", "sampling", "models", "train", "tasks",
                "analysis", "hf", "book", "cli"}


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"el módulo 'labcode' no tiene el atributo {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS) | _SUBPACKAGES)


__all__ = sorted(_EXPORTS) + ["__version__"]
