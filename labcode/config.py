"""Configuración del proyecto leída de variables de entorno.

Variables que lee ``labcode``:

``LABCODE_DATA``
    Carpeta con copias locales de los datos (``sst2/``, ``quijote/``...).
    Si no se define, se busca ``../shared/data`` junto al repositorio y,
    después, ``./data``. Los datos nunca se copian dentro del repositorio.

``LABCODE_PROFILE``
    ``quick`` (por defecto: CPU, 2 núcleos, sin red) o ``full`` (GPU, modelos
    completos del Hub de Hugging Face).

``LABCODE_SEED``
    Semilla global por defecto (``0``).
"""

from __future__ import annotations

import os
from pathlib import Path

from labcode.errors import LabcodeError, LabcodeValueError

PROFILES = ("quick", "full")

#: Raíz del repositorio (carpeta que contiene ``labcode/``).
REPO_ROOT = Path(__file__).resolve().parent.parent


class DataNotFoundError(LabcodeError, FileNotFoundError):
    """No se encontró la carpeta de datos o un fichero dentro de ella."""


def get_profile() -> str:
    """Devuelve el perfil activo (``"quick"`` o ``"full"``).

    Raises
    ------
    ValueError
        Si ``LABCODE_PROFILE`` tiene un valor distinto de los admitidos.
    """
    profile = os.environ.get("LABCODE_PROFILE", "quick").strip().lower() or "quick"
    if profile not in PROFILES:
        raise LabcodeValueError(
            f"LABCODE_PROFILE debe ser uno de {PROFILES}; se recibió {profile!r}."
        )
    return profile


def get_seed() -> int:
    """Semilla global (``LABCODE_SEED``, por defecto 0)."""
    raw = os.environ.get("LABCODE_SEED", "0")
    try:
        return int(raw)
    except ValueError:
        raise LabcodeValueError(f"LABCODE_SEED debe ser un entero; se recibió {raw!r}.") from None


def _candidate_data_dirs() -> list[Path]:
    env = os.environ.get("LABCODE_DATA")
    if env:
        return [Path(env).expanduser()]
    return [REPO_ROOT.parent / "shared" / "data", REPO_ROOT / "data"]


def data_dir(required: bool = True) -> Path | None:
    """Carpeta de datos local.

    Parameters
    ----------
    required:
        Si es ``True`` y no se encuentra ninguna carpeta, lanza
        :class:`DataNotFoundError` con instrucciones; si es ``False``,
        devuelve ``None``.
    """
    candidates = _candidate_data_dirs()
    for path in candidates:
        if path.is_dir():
            return path.resolve()
    if not required:
        return None
    tried = ", ".join(str(p) for p in candidates)
    raise DataNotFoundError(
        "No se encontró la carpeta de datos (se buscó en: "
        f"{tried}). Define LABCODE_DATA con la ruta de una carpeta que contenga "
        "los datos (por ejemplo LABCODE_DATA=../shared/data) o, con conexión a "
        "Internet, deja que labcode los descargue del Hub de Hugging Face."
    )


def data_path(*parts: str, required: bool = True) -> Path | None:
    """Ruta de un fichero o carpeta dentro de la carpeta de datos.

    Lanza :class:`DataNotFoundError` (o devuelve ``None`` si
    ``required=False``) cuando no existe.
    """
    base = data_dir(required=required)
    if base is None:
        return None
    path = base.joinpath(*parts)
    if not path.exists():
        if not required:
            return None
        raise DataNotFoundError(
            f"No existe {path}. Comprueba que LABCODE_DATA apunta a una carpeta con "
            f"'{'/'.join(parts)}' dentro."
        )
    return path
