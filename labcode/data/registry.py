"""Datos del libro que se consiguen solos: registro con hash fijado, caché y réplicas.

Es el único sitio que decide de dónde sale cada fichero de datos. :func:`fetch`
devuelve la ruta local de un fichero del registro (:data:`REGISTRY`) y lo busca,
por este orden:

1. en ``LABCODE_DATA`` (si está definida y el fichero está ahí; sin definir y sin
   ``LABCODE_DATA_URL``, en ``../shared/data`` junto al repositorio, ver
   :mod:`labcode.utils.config`). Las copias locales no se comprueban: pueden ser
   versiones reducidas para pruebas;
2. en la caché, ``<LABCODE_CACHE>/data/<ruta>`` (por defecto ``~/.cache/labcode``),
   comprobando su hash;
3. descargándolo: de ``LABCODE_DATA_URL/<ruta>`` si esa réplica está definida y,
   si no, de la fuente pública (Project Gutenberg con pooch; SST-2 del Hub de
   Hugging Face con ``datasets``, escrito en el mismo formato JSON Lines).

Lo descargado se comprueba contra el SHA-256 fijado en el registro **antes** de
entrar en la caché: un fichero corrupto, truncado o cambiado en origen produce
:class:`DataHashMismatchError` (con el hash esperado y el obtenido) y no deja nada
en la caché. Sin red y sin copia local, :class:`~labcode.utils.config.DataNotFoundError`
explica qué fichero falta, de qué URL se intentó bajar y qué variable lo arregla.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from labcode.utils.config import DataNotFoundError, cache_dir, data_dir
from labcode.utils.runtime import progress_style

__all__ = [
    "DataFile",
    "DataHashMismatchError",
    "GUTENBERG_URL",
    "REGISTRY",
    "SST2_HUB_ID",
    "SST2_HUB_REVISION",
    "data_cache_dir",
    "download_url",
    "fetch",
    "file_sha256",
]

#: Texto plano UTF-8 del *Quijote* en Project Gutenberg (eBook #2000).
GUTENBERG_URL = "https://www.gutenberg.org/cache/epub/2000/pg2000.txt"
#: Conjunto de datos SST-2 en el Hub de Hugging Face y commit fijado.
SST2_HUB_ID = "stanfordnlp/sst2"
SST2_HUB_REVISION = "8d51e7e4887a4caaa95b3fbebbf53c0490b58bbb"
_SST2_HUB_URL = f"https://huggingface.co/datasets/{SST2_HUB_ID}/tree/{SST2_HUB_REVISION}"


@dataclass(frozen=True)
class DataFile:
    """Un fichero de datos: ruta relativa, SHA-256 fijado y fuente pública."""

    path: str
    sha256: str
    source: str
    #: Partición de SST-2 que se construye desde el Hub (con ``None`` se descarga ``source``).
    hub_split: str | None = None


#: Registro de datos, con la misma estructura de carpetas que ``../shared/data`` y
#: que cualquier réplica de ``LABCODE_DATA_URL``. Si una fuente cambia, el error
#: de hash da el valor nuevo, que se actualiza aquí en una línea.
REGISTRY: dict[str, DataFile] = {
    f.path: f
    for f in (
        DataFile(
            "quijote/pg2000.txt",
            "485be638d952a55acbb944c964d0429418ca2da711df7bc48a36c612129ead9b",
            GUTENBERG_URL,
        ),
        DataFile(
            "sst2/train.jsonl",
            "a6791094ac08f22b0ae924eeb0a493f285bfc665d6beae6ad731197440023160",
            _SST2_HUB_URL,
            hub_split="train",
        ),
        DataFile(
            "sst2/validation.jsonl",
            "dd92ae0fff0b3a5ac6b3c6354ecf15e6675d80580cc5cb9afc08ffeb97382eb1",
            _SST2_HUB_URL,
            hub_split="validation",
        ),
    )
}


class DataHashMismatchError(DataNotFoundError):
    """Lo descargado no coincide con el SHA-256 fijado (no se guarda en la caché)."""


def data_cache_dir() -> Path:
    """Carpeta de la caché de datos: ``<LABCODE_CACHE>/data``."""
    return cache_dir() / "data"


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 (hexadecimal) de un fichero, leído por bloques."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _entry(relpath: str) -> DataFile:
    try:
        return REGISTRY[relpath]
    except KeyError:
        raise ValueError(
            f"{relpath!r} no está en el registro de datos; ficheros conocidos: {sorted(REGISTRY)}."
        ) from None


def download_url(relpath: str) -> str:
    """URL de descarga de un fichero: la réplica ``LABCODE_DATA_URL`` o la fuente pública."""
    entry = _entry(relpath)
    base = os.environ.get("LABCODE_DATA_URL", "").strip()
    if base:
        return f"{base.rstrip('/')}/{entry.path}"
    return entry.source


def _local_copy(entry: DataFile) -> Path | None:
    folder = data_dir(required=False)
    if folder is None:
        return None
    path = folder / entry.path
    return path if path.is_file() else None


def _show_progress() -> bool:
    # Mismo ajuste que labcode.utils.runtime.progress (LABCODE_PROGRESS=off: sin barras).
    return progress_style() != "off"


def _download_with_pooch(url: str, out: Path) -> None:
    import pooch

    if not url.startswith(("http://", "https://")):
        raise OSError(f"LABCODE_DATA_URL debe ser una URL http(s); se recibió {url!r}")
    downloader = pooch.HTTPDownloader(progressbar=_show_progress(), timeout=60)
    downloader(url, str(out), None)


def _write_sst2_from_hub(split: str, out: Path) -> None:
    """Escribe una partición de SST-2 del Hub en el formato de la copia de referencia.

    Los ficheros del Hub son parquet con una columna ``idx`` de más; se escribe una
    línea JSON por frase, ``{"sentence": ..., "label": ...}`` (en ese orden,
    ``ensure_ascii=False``, separadores por defecto, ``\\n`` final), con la frase
    sin espacios en los extremos, para que salgan los mismos bytes que en la réplica.
    Este camino no se puede verificar sin red en la máquina de desarrollo: si el
    resultado no coincide, el hash fijado lo detecta y nada entra en la caché.
    """
    import datasets

    ds = datasets.load_dataset(SST2_HUB_ID, split=split, revision=SST2_HUB_REVISION)
    with out.open("w", encoding="utf-8", newline="\n") as fh:
        for row in ds:
            record = {"sentence": row["sentence"].strip(), "label": int(row["label"])}
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")


def _hash_error(entry: DataFile, url: str, actual: str) -> DataHashMismatchError:
    return DataHashMismatchError(
        f"El fichero de datos {entry.path} obtenido de {url} no coincide con su hash fijado "
        f"(esperado sha256 {entry.sha256}; obtenido sha256 {actual}). No se ha guardado nada "
        "en la caché. Si la descarga está corrupta o truncada, vuelve a intentarlo. Si la "
        "fuente publicó una versión nueva y la das por buena, cambia el hash de "
        f"{entry.path!r} en labcode/data/registry.py por {actual}."
    )


def _install(entry: DataFile, dest: Path, url: str, produce: Callable[[Path], None]) -> None:
    """``produce`` escribe en un temporal junto a ``dest``; sólo se renombra si el hash coincide."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        produce(tmp)
        actual = file_sha256(tmp)
        if actual != entry.sha256:
            raise _hash_error(entry, url, actual)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def _not_found(entry: DataFile, dest: Path, url: str, exc: BaseException) -> DataNotFoundError:
    reason = " ".join(str(exc).split())[:200] or type(exc).__name__
    local = os.environ.get("LABCODE_DATA", "").strip() or "no definida"
    return DataNotFoundError(
        f"No se pudo conseguir el fichero de datos {entry.path}: no está en LABCODE_DATA "
        f"({local}) ni en la caché ({dest}), y falló la descarga de {url} (motivo: {reason}). "
        f"Fuente pública: {entry.source}. Formas de arreglarlo: (1) define LABCODE_DATA con "
        f"una carpeta que contenga {entry.path} (por ejemplo LABCODE_DATA=../shared/data); "
        "(2) define LABCODE_DATA_URL con la URL base de una réplica que sirva "
        f"<URL>/{entry.path}; (3) con conexión a Internet (y sin HF_HUB_OFFLINE=1 para "
        "SST-2), deja que se descargue solo."
    )


def fetch(relpath: str) -> Path:
    """Ruta local de un fichero de datos del registro; lo descarga si hace falta.

    Parameters
    ----------
    relpath:
        Ruta relativa del registro, por ejemplo ``"quijote/pg2000.txt"`` o
        ``"sst2/validation.jsonl"``.

    Raises
    ------
    ValueError
        Si ``relpath`` no está en :data:`REGISTRY`.
    DataHashMismatchError
        Si lo descargado no coincide con el hash fijado (nada queda en la caché).
    DataNotFoundError
        Si no hay copia local ni en caché y la descarga falla (sin red, réplica caída...).
    """
    entry = _entry(relpath)
    local = _local_copy(entry)
    if local is not None:
        return local
    dest = data_cache_dir() / entry.path
    if dest.is_file():
        if file_sha256(dest) == entry.sha256:
            return dest
        dest.unlink()  # copia dañada o de otra versión: se vuelve a conseguir
    url = download_url(relpath)
    if url == entry.source and entry.hub_split is not None:
        produce = lambda out: _write_sst2_from_hub(entry.hub_split, out)  # noqa: E731
    else:
        produce = lambda out: _download_with_pooch(url, out)  # noqa: E731
    try:
        _install(entry, dest, url, produce)
    except DataHashMismatchError:
        raise
    except OSError as exc:  # sin red, réplica caída, 404, modo offline del Hub...
        raise _not_found(entry, dest, url, exc) from None
    return dest


def main(argv: list[str] | None = None) -> int:
    """``python -m labcode.data.registry [RUTA...]``: consigue los ficheros (todos por
    defecto) e imprime de dónde sale cada uno. Útil para llenar la caché por adelantado."""
    import sys

    names = list(argv if argv is not None else sys.argv[1:]) or sorted(REGISTRY)
    try:
        for name in names:
            print(f"{name}: {fetch(name)}", flush=True)
    except (ValueError, DataNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover - se prueba por subprocess
    raise SystemExit(main())
