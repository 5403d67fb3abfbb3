"""Configuración del proyecto leída de variables de entorno.

Variables que lee ``labcode``:

``LABCODE_DATA``
    Carpeta con copias locales de los datos (``sst2/``, ``quijote/``...).
    Lo que no esté ahí (o todo, si no se define) se descarga y se guarda en la
    caché (ver :mod:`labcode.data.registry`).

``LABCODE_DATA_URL``
    URL base de una réplica de los datos (con la misma estructura de carpetas);
    sustituye a las fuentes públicas (réplicas y pruebas).

``LABCODE_CACHE``
    Carpeta de la caché de labcode (por defecto ``~/.cache/labcode``, o
    ``$XDG_CACHE_HOME/labcode``): datos descargados y modelos convertidos.

``LABCODE_PROFILE``
    ``quick`` (por defecto: CPU, 2 núcleos, sin red) o ``full`` (GPU, modelos
    completos del Hub de Hugging Face).

``LABCODE_PROGRESS``
    Barras de progreso: ``auto`` (por defecto), ``text`` u ``off``
    (ver :mod:`labcode.utils.runtime`).
"""

from __future__ import annotations

import os
from pathlib import Path

from labcode.utils.errors import LabcodeError, LabcodeValueError

PROFILES = ("quick", "full")


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


def data_dir(required: bool = True) -> Path | None:
    """Carpeta de datos local (``LABCODE_DATA``).

    Parameters
    ----------
    required:
        Si es ``True`` y ``LABCODE_DATA`` no está definida o no es una carpeta,
        lanza :class:`DataNotFoundError` con instrucciones; si es ``False``,
        devuelve ``None``.
    """
    env = os.environ.get("LABCODE_DATA", "").strip()
    path = Path(env).expanduser() if env else None
    if path is not None and path.is_dir():
        return path.resolve()
    if not required:
        return None
    problem = (f"LABCODE_DATA={env} no es una carpeta" if path is not None
               else "LABCODE_DATA no está definida")
    raise DataNotFoundError(
        f"No hay carpeta de datos local: {problem}. Define LABCODE_DATA con la carpeta que "
        "contiene los datos (con subcarpetas como sst2/ o quijote/) o, con conexión a "
        "Internet, deja que labcode los descargue (labcode.data.registry.fetch)."
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
            f"No existe {path}: la carpeta de datos (LABCODE_DATA={base}) no contiene "
            f"'{'/'.join(parts)}'. Comprueba que LABCODE_DATA apunta a la carpeta de datos "
            "completa."
        )
    return path
