"""labcode: el código del libro «Lab 11: Transformers».

Cada módulo corresponde a un concepto (y a un capítulo) del libro:

- :mod:`labcode.attention_numpy`: atención por producto escalar escalado,
  ``SelfAttentionNumPy`` y ``MultiHeadAttentionNumPy`` en NumPy puro.
- :mod:`labcode.positional`: codificación posicional sinusoidal y aprendida.
- :mod:`labcode.rnn`: la línea base recurrente (LSTM) con la que se compara.
- :mod:`labcode.blocks`: bloques encoder y decoder en PyTorch.
- :mod:`labcode.model`: ``TransformerModel``, el Transformer encoder-decoder completo.
- :mod:`labcode.seq2seq_data`: la tarea de secuencia a secuencia (fechas) del capítulo 5.
- :mod:`labcode.gpt` y :mod:`labcode.bert`: GPT-2 y BERT desde cero, cargables desde Hugging Face.
- :mod:`labcode.tokenization`: WordPiece frente a BPE a nivel de bytes.
- :mod:`labcode.quijote`: el mini-GPT «cervantino» entrenado con *Don Quijote*.
- :mod:`labcode.pretrained`: perfiles, modelos preentrenados, datos SST-2 y dispositivo.
- :mod:`labcode.llama`: un decoder moderno (RMSNorm, RoPE, SwiGLU, GQA) desde cero.
- :mod:`labcode.sentiment`: ``BERTSentimentClassifier``, ajuste fino para sentimiento.
- :mod:`labcode.generation`: ``GPT2TextGenerator``, generación de texto y estrategias.
- :mod:`labcode.viz`: visualización de la atención (mapas, *rollout*, visor interactivo).
- :mod:`labcode.longrange`: la tarea de dependencias largas (Transformer frente a LSTM).
- :mod:`labcode.vit`: el Vision Transformer.
- :mod:`labcode.prompting`: clasificación con instrucciones y ejemplos (*few-shot*).
- :mod:`labcode.efficient_attention`: atención eficiente frente a la atención completa.
- :mod:`labcode.scaling`: leyes de escala de Kaplan y de Chinchilla.
- :mod:`labcode.pretraining`: preentrenamiento MLM de BERT (enmascarado 80/10/10) y T5.
- :mod:`labcode.diagrams`: diagramas de arquitectura dibujados desde la configuración.
- :mod:`labcode.bench`: las mediciones de rendimiento (``python -m labcode bench``).
- :mod:`labcode.plotting`: figuras compartidas (mapas de calor de atención...).
- :mod:`labcode.exercises`: funciones que comprueban los ejercicios del libro.
- :mod:`labcode.config`: carpeta de datos y perfil de ejecución.
- :mod:`labcode.datasets_registry`: datos que se descargan solos, con su hash comprobado.
- :mod:`labcode.notebook`: utilidades para los capítulos (``glue``...).
- :mod:`labcode.checks`: validaciones de entrada compartidas y escritura atómica.
- :mod:`labcode.errors`: ``LabcodeError``, la base de todos los errores de labcode.

Los módulos se importan de forma perezosa para que ``import labcode`` sea
rápido y no exija PyTorch a quien sólo usa la parte en NumPy.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = {
    "attention_numpy",
    "positional",
    "rnn",
    "plotting",
    "exercises",
    "config",
    "datasets_registry",
    "notebook",
    "blocks",
    "model",
    "gpt",
    "bert",
    "tokenization",
    "quijote",
    "seq2seq_data",
    "pretrained",
    "llama",
    "sentiment",
    "generation",
    "longrange",
    "vit",
    "viz",
    "prompting",
    "efficient_attention",
    "scaling",
    "bench",
    "checks",
    "errors",
    "pretraining",
    "diagrams",
}


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"el módulo 'labcode' no tiene el atributo {name!r}")


__all__ = sorted(_SUBMODULES) + ["__version__"]
