"""La caché del capítulo 7: el clasificador de sentimiento ajustado y las cifras de su ejecución.

El capítulo 7 guarda aquí su :class:`labcode.hf.sentiment.BERTSentimentClassifier`
(:func:`save_chapter_run`); el capítulo 12 y el apéndice de rendimiento lo leen
(:func:`load_chapter_run`) en lugar de volver a entrenar.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from labcode.hf import pretrained
from labcode.hf.sentiment import _KIND, META_FILE, BERTSentimentClassifier
from labcode.utils.config import cache_dir, get_profile
from labcode.utils.errors import CheckpointError

__all__ = ["RUN_FILE", "chapter_model_dir", "save_chapter_run", "load_chapter_run"]

#: Fichero con las cifras de la ejecución del capítulo 7 dentro de su carpeta.
RUN_FILE = "labcode_run.json"


def chapter_model_dir(profile: str | None = None) -> Path:
    """Carpeta de la caché donde el capítulo 7 guarda su clasificador ajustado.

    Es ``<caché de labcode>/ch07-sst2/<perfil>``; el capítulo 12 y el apéndice de
    rendimiento lo leen de ahí en lugar de volver a entrenar.
    """
    return cache_dir() / "ch07-sst2" / (profile or get_profile())


def save_chapter_run(
    clf: BERTSentimentClassifier, record: dict[str, Any], profile: str | None = None
) -> Path:
    """Guarda el clasificador y las cifras de su ejecución (``record``, serializable en JSON)."""
    return clf.save(chapter_model_dir(profile), extra_files={RUN_FILE: record})


def load_chapter_run(profile: str | None = None) -> tuple[Path, dict[str, Any]] | None:
    """La carpeta y las cifras guardadas por el capítulo 7, o ``None`` si no hay ninguna."""
    folder = chapter_model_dir(profile)
    run_file = folder / RUN_FILE
    if not (run_file.is_file() and (folder / META_FILE).is_file()):
        return None
    try:
        if pretrained.read_labcode_meta(folder, _KIND) is None:
            return None  # guardado por una versión anterior: se vuelve a entrenar
    except CheckpointError:
        return None
    return folder, json.loads(run_file.read_text(encoding="utf-8"))
