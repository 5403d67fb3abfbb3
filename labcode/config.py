"""Configuración del proyecto leída de variables de entorno.

Variables que lee ``labcode``:

``LABCODE_DATA``
    Carpeta con copias locales de los datos (``sst2/``, ``quijote/``...).
    Si no se define (y tampoco ``LABCODE_DATA_URL``), se busca
    ``../shared/data`` junto al repositorio y, después, ``./data``. Los datos
    nunca se copian dentro del repositorio. Lo que no esté ahí se descarga y se
    guarda en la caché (ver :mod:`labcode.datasets_registry`).

``LABCODE_DATA_URL``
    URL base de una réplica de los datos (con la misma estructura de carpetas);
    sustituye a las fuentes públicas. Si está definida, no se busca
    ``../shared/data``: así se simula una máquina que no es la nuestra.

``LABCODE_CACHE``
    Carpeta de la caché de labcode (por defecto ``~/.cache/labcode``, o
    ``$XDG_CACHE_HOME/labcode``): datos descargados y modelos convertidos.

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
    """No se encontró la carpeta de datos o un fichero dentro de ella (ni se pudo
    descargar). El mensaje dice qué fichero, de dónde y cómo arreglarlo."""

    def _render_traceback_(self) -> list[str]:
        # IPython (Jupyter, Colab) muestra sólo el mensaje, sin la traza de llamadas.
        return [f"{type(self).__name__}: {self}"]


def cache_dir() -> Path:
    """Carpeta de la caché de labcode (``LABCODE_CACHE`` o ``~/.cache/labcode``)."""
    env = os.environ.get("LABCODE_CACHE", "").strip()
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "labcode"


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
    env = os.environ.get("LABCODE_DATA", "").strip()
    if env:
        return [Path(env).expanduser()]
    if os.environ.get("LABCODE_DATA_URL", "").strip():
        return []  # réplica explícita: nada de copias de desarrollo junto al repositorio
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
    tried = ", ".join(str(p) for p in candidates) or "ninguna: LABCODE_DATA_URL está definida"
    raise DataNotFoundError(
        "No se encontró la carpeta de datos (se buscó en: "
        f"{tried}). Define LABCODE_DATA con la ruta de una carpeta que contenga "
        "los datos (por ejemplo LABCODE_DATA=../shared/data) o, con conexión a "
        "Internet, deja que labcode los descargue (labcode.datasets_registry.fetch)."
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
