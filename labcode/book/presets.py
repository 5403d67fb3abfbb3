"""Las configuraciones de los capítulos (los tamaños con los que el libro publica sus cifras).

Las recetas de :mod:`labcode.tasks` reciben la configuración como argumento; aquí
están las del libro, en un solo sitio. Para variarlas, cópialas con
``dataclasses.replace`` (o ``dict(..., clave=valor)`` las que son diccionarios).

- Capítulo 5 (fechas en español -> ISO): :data:`DATES_MODEL_CONFIG` y
  :data:`DATES_TRAIN_CONFIG` para :func:`labcode.tasks.seq2seq.train_dates_model`.
- Capítulo 6 (mini-GPT del *Quijote*): :func:`default_train_config` según el perfil.
- Capítulo 11 (ViT con dígitos 8x8): :data:`VIT_DIGITS_CONFIG` y
  :data:`VIT_DIGITS_TRAIN_CONFIG` para :func:`labcode.tasks.vit.train_vit`.
"""

from __future__ import annotations

from labcode.models.vit import ViTConfig
from labcode.tasks.quijote import CharGPTTrainConfig
from labcode.tasks.vit import ViTTrainConfig
from labcode.utils.errors import LabcodeValueError

__all__ = [
    "DATES_MODEL_CONFIG",
    "DATES_TRAIN_CONFIG",
    "VIT_DIGITS_CONFIG",
    "VIT_DIGITS_TRAIN_CONFIG",
    "default_train_config",
]

#: Modelo del capítulo 5 (los tamaños de vocabulario se rellenan con la tarea).
DATES_MODEL_CONFIG = dict(
    d_model=64, num_heads=4, num_layers=2, d_ff=128, dropout=0.0, max_len=48, norm_first=True
)
#: Entrenamiento del capítulo 5 (argumentos de :class:`labcode.tasks.seq2seq.Seq2SeqTrainConfig`).
DATES_TRAIN_CONFIG = dict(steps=1200, batch_size=64, lr=2e-3, warmup=100, log_every=20)

#: Configuración del ViT del capítulo 11.
VIT_DIGITS_CONFIG = ViTConfig()
#: Entrenamiento del capítulo 11.
VIT_DIGITS_TRAIN_CONFIG = ViTTrainConfig()


def default_train_config(profile: str) -> CharGPTTrainConfig:
    """Mini-GPT del capítulo 6 según el perfil: ``quick`` (CPU, < 2 min) o ``full`` (GPU).

    El perfil se pasa siempre (el capítulo le da :func:`labcode.utils.config.get_profile`):
    así solo dependen del perfil las páginas que lo leen, no todas las que usan un preset.
    """
    if profile == "quick":
        return CharGPTTrainConfig()
    if profile == "full":
        return CharGPTTrainConfig(
            n_layer=6, n_head=6, n_embd=384, block_size=256, dropout=0.2, batch_size=64,
            max_steps=5000, learning_rate=1e-3, warmup_steps=100, eval_interval=250,
            eval_iters=50, max_seconds=None,
        )
    raise LabcodeValueError(
        f"default_train_config: perfil desconocido {profile!r} (quick o full)."
    )
