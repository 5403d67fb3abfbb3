"""Datos que se consiguen solos (labcode.data.registry) frente a una réplica local.

Un servidor HTTP en 127.0.0.1 hace de réplica (``LABCODE_DATA_URL``) y cuenta las
peticiones. Sirve una carpeta con los datos de verdad: ``LABCODE_DATA`` o
``../shared/data`` junto al repositorio o, en un runner de GitHub, la caché que
llenó el paso de descarga del workflow. Cada prueba usa una caché vacía propia.
"""

from __future__ import annotations

import dataclasses
import functools
import http.server
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from bookutil import ROOT, skip_or_fail

from labcode.data import registry as reg
from labcode.utils import config
from labcode.utils.config import DataNotFoundError

FILES = sorted(reg.REGISTRY)


def _source_folder() -> Path | None:
    """Primera carpeta que tiene todos los ficheros del registro con su hash."""
    shared = Path(__file__).resolve().parents[2] / "shared" / "data"
    candidates = [os.environ.get("LABCODE_DATA", ""), shared,
                  reg.data_cache_dir()]
    for folder in (Path(c) for c in candidates if str(c).strip()):
        files = [folder / name for name in FILES]
        if all(f.is_file() for f in files) and all(
            reg.file_sha256(f) == reg.REGISTRY[f.relative_to(folder).as_posix()].sha256
            for f in files
        ):
            return folder
    return None


@pytest.fixture(scope="module")
def source() -> Path:
    folder = _source_folder()
    if folder is None:  # se consiguen como en el libro (réplica o fuentes públicas) y se sirven
        try:
            for name in FILES:
                reg.fetch(name)  # a la caché de datos, que _source_folder también mira
        except DataNotFoundError as err:
            skip_or_fail(f"no hay copia de los datos que servir: {err}")
        folder = _source_folder()
    assert folder is not None, "los ficheros conseguidos no están juntos en una carpeta"
    return folder


class _Handler(http.server.SimpleHTTPRequestHandler):
    requests: list[str]
    lie_about_length = False  # anuncia el tamaño completo pero corta a la mitad

    def do_GET(self):  # noqa: N802 - nombre de http.server
        self.requests.append(self.path)
        if not self.lie_about_length:
            return super().do_GET()
        body = Path(self.translate_path(self.path)).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.close_connection = True

    def log_message(self, *args):  # silencio en la salida de pytest
        pass


@contextmanager
def serve(folder: Path, lie_about_length: bool = False) -> Iterator[tuple[str, list[str]]]:
    """Sirve ``folder`` en 127.0.0.1 (puerto libre); devuelve la URL y la lista de peticiones."""
    seen: list[str] = []
    handler = type("H", (_Handler,), {"requests": seen, "lie_about_length": lie_about_length})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(folder))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """Sin LABCODE_DATA y con una caché vacía: como un runner de GitHub."""
    monkeypatch.delenv("LABCODE_DATA", raising=False)
    monkeypatch.delenv("LABCODE_BUILD", raising=False)
    monkeypatch.setenv("LABCODE_CACHE", str(tmp_path / "cache"))
    return monkeypatch


def _cached_files() -> list[Path]:
    root = reg.data_cache_dir()
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_cold_cache_downloads_and_verifies_then_reuses(source, clean_env):
    with serve(source) as (url, seen):
        clean_env.setenv("LABCODE_DATA_URL", url)
        assert config.data_dir(required=False) is None  # nada de ../shared/data
        paths = [reg.fetch(name) for name in FILES]
        assert sorted(seen) == [f"/{name}" for name in FILES]
        for name, path in zip(FILES, paths, strict=True):
            assert path == reg.data_cache_dir() / name
            assert path.read_bytes() == (source / name).read_bytes()
        assert _cached_files() == sorted(paths)  # sin temporales olvidados
        # segunda llamada: todo sale de la caché, ni una petición
        assert [reg.fetch(name) for name in FILES] == paths
        assert len(seen) == len(FILES)


def test_cache_is_used_offline_and_damaged_copy_is_replaced(source, clean_env):
    name = "sst2/validation.jsonl"
    with serve(source) as (url, seen):
        clean_env.setenv("LABCODE_DATA_URL", url)
        path = reg.fetch(name)
    # servidor apagado: la caché basta
    assert reg.fetch(name) == path
    path.write_text("dañado", encoding="utf-8")
    with serve(source) as (url, seen):
        clean_env.setenv("LABCODE_DATA_URL", url)
        assert reg.fetch(name) == path and seen == [f"/{name}"]
    assert reg.file_sha256(path) == reg.REGISTRY[name].sha256


def test_wrong_pinned_hash_fails_loudly_and_caches_nothing(source, clean_env):
    name = "sst2/validation.jsonl"
    good = reg.REGISTRY[name]
    clean_env.setitem(reg.REGISTRY, name, dataclasses.replace(good, sha256="0" * 64))
    with serve(source) as (url, seen):
        clean_env.setenv("LABCODE_DATA_URL", url)
        with pytest.raises(reg.DataHashMismatchError) as info:
            reg.fetch(name)
        msg = str(info.value)
        assert "0" * 64 in msg and good.sha256 in msg and f"{url}/{name}" in msg
        assert "labcode/data/registry.py" in msg
        assert _cached_files() == []
        # con el hash correcto vuelve a descargar: no quedó nada en que confiar
        clean_env.setitem(reg.REGISTRY, name, good)
        assert reg.fetch(name).is_file() and len(seen) == 2


def test_truncated_file_fails_its_hash_and_caches_nothing(source, clean_env, tmp_path):
    name = "quijote/pg2000.txt"
    mirror = tmp_path / "mirror"
    (mirror / "quijote").mkdir(parents=True)
    data = (source / name).read_bytes()
    (mirror / name).write_bytes(data[: len(data) // 2])
    with serve(mirror) as (url, _):
        clean_env.setenv("LABCODE_DATA_URL", url)
        with pytest.raises(reg.DataHashMismatchError, match="no coincide con su hash"):
            reg.fetch(name)
    assert _cached_files() == []


def test_connection_cut_midway_is_a_clear_error_and_caches_nothing(source, clean_env):
    name = "quijote/pg2000.txt"
    with serve(source, lie_about_length=True) as (url, seen):
        clean_env.setenv("LABCODE_DATA_URL", url)
        with pytest.raises(DataNotFoundError) as info:
            reg.fetch(name)
    assert seen == [f"/{name}"]
    assert name in str(info.value)
    assert _cached_files() == []


def _dead_url() -> str:
    with socket.socket() as s:  # un puerto libre en el que nadie escucha
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_offline_with_nothing_local_is_one_clear_error(clean_env, tmp_path):
    url = _dead_url()
    clean_env.setenv("LABCODE_DATA_URL", url)
    clean_env.setenv("LABCODE_DATA", str(tmp_path / "vacia"))
    with pytest.raises(DataNotFoundError) as info:
        reg.fetch("quijote/pg2000.txt")
    msg = str(info.value)
    for needle in ("quijote/pg2000.txt", f"{url}/quijote/pg2000.txt", reg.GUTENBERG_URL,
                   "LABCODE_DATA=", "LABCODE_DATA_URL"):
        assert needle in msg, needle
    assert info.value.__cause__ is None and info.value.__suppress_context__
    # en Jupyter o Colab se ve sólo el mensaje, sin la traza de llamadas
    assert info.value._render_traceback_() == [f"DataNotFoundError: {msg}"]
    assert _cached_files() == []


def test_local_copy_comes_first_and_is_not_downloaded(clean_env, tmp_path):
    local = tmp_path / "local"
    (local / "sst2").mkdir(parents=True)
    (local / "sst2" / "validation.jsonl").write_text('{"sentence": "x", "label": 1}\n')
    clean_env.setenv("LABCODE_DATA", str(local))
    clean_env.setenv("LABCODE_DATA_URL", _dead_url())
    assert reg.fetch("sst2/validation.jsonl") == local.resolve() / "sst2" / "validation.jsonl"


def test_unknown_file_and_bad_mirror_url(clean_env, tmp_path):
    with pytest.raises(ValueError, match="registro de datos"):
        reg.fetch("sst2/test.jsonl")
    clean_env.setenv("LABCODE_DATA_URL", str(tmp_path))  # una carpeta, no una URL
    with pytest.raises(DataNotFoundError, match="http"):
        reg.fetch("sst2/validation.jsonl")


def test_download_url_follows_the_mirror(monkeypatch):
    monkeypatch.delenv("LABCODE_DATA_URL", raising=False)
    assert reg.download_url("quijote/pg2000.txt") == reg.GUTENBERG_URL
    assert reg.SST2_HUB_REVISION in reg.download_url("sst2/train.jsonl")
    monkeypatch.setenv("LABCODE_DATA_URL", "https://réplica.example/datos/")
    assert reg.download_url("sst2/train.jsonl") == "https://réplica.example/datos/sst2/train.jsonl"



def test_command_line_fills_the_cache_or_explains(source, clean_env):
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "labcode.data.registry"]
    with serve(source) as (url, seen):
        clean_env.setenv("LABCODE_DATA_URL", url)
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert sorted(seen) == [f"/{name}" for name in FILES]
        assert done.stdout.splitlines() == [f"{n}: {reg.data_cache_dir() / n}" for n in FILES]
    clean_env.setenv("LABCODE_DATA_URL", _dead_url())
    clean_env.setenv("LABCODE_CACHE", str(reg.data_cache_dir().parent / "otra"))
    failed = subprocess.run([*cmd, "quijote/pg2000.txt"], capture_output=True, text=True,
                            timeout=120)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert failed.stderr.startswith("error: No se pudo conseguir el fichero de datos")


def test_ci_mirror_script_serves_downloads_and_cleans_up(source, clean_env):
    """La simulación del runner de GitHub de .ci/run, aislada: réplica, caché nueva y limpieza."""
    import subprocess
    import sys

    clean_env.setenv("LABCODE_DATA", "/no/debe/usarse")
    script = (
        'source .ci/data-mirror.sh && start_data_mirror "$1" && '
        'echo "DATA=${LABCODE_DATA-unset} URL=$LABCODE_DATA_URL CACHE=$LABCODE_CACHE" && '
        f'"{sys.executable}" -m labcode.data.registry && '
        f'"{sys.executable}" -m labcode.data.registry'  # la segunda vez, desde la caché
    )
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script, "ci", str(source)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    first = done.stdout.splitlines()[0]
    assert first.startswith("DATA=unset URL=http://127.0.0.1:")
    url, cache = first.split(" URL=")[1].split(" CACHE=")
    lines = done.stdout.splitlines()[1:]
    assert lines == 2 * [f"{n}: {cache}/data/{n}" for n in FILES]
    assert not Path(cache).exists() and not Path(f"{cache}.mirror.log").exists()
    port = int(url.rsplit(":", 1)[1])
    with socket.socket() as s:  # el servidor quedó apagado
        assert s.connect_ex(("127.0.0.1", port)) != 0


def test_ci_mirror_script_fails_clearly_on_a_missing_folder(tmp_path):
    import subprocess

    script = 'source .ci/data-mirror.sh && start_data_mirror "$1"'
    done = subprocess.run(["bash", "-c", script, "ci", str(tmp_path / "no-existe")],
                          cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert done.returncode == 1 and "no existe la carpeta de datos" in done.stderr


def test_hub_path_writes_the_same_bytes_as_the_mirror(source, clean_env, tmp_path):
    """Sin réplica, SST-2 sale del Hub (parquet con ``idx``) y se escribe en JSON Lines.

    El Hub no es alcanzable aquí: se sustituye ``datasets.load_dataset`` por las
    mismas filas con la forma del Hub (columna ``idx``, espacio final en la frase)
    y se comprueba que el fichero escrito pasa el hash fijado.
    """
    import json

    import datasets

    name = "sst2/validation.jsonl"
    rows = [json.loads(line) for line in (source / name).read_text(encoding="utf-8").splitlines()]
    calls = []

    def fake_load_dataset(path, split=None, revision=None, **kwargs):
        calls.append((path, split, revision))
        return datasets.Dataset.from_dict({
            "idx": list(range(len(rows))),
            "sentence": [r["sentence"] + " " for r in rows],
            "label": [r["label"] for r in rows],
        })

    clean_env.delenv("LABCODE_DATA_URL", raising=False)
    clean_env.setenv("LABCODE_DATA", str(tmp_path / "vacia"))  # ni ../shared/data
    clean_env.setattr(datasets, "load_dataset", fake_load_dataset)
    path = reg.fetch(name)
    assert calls == [(reg.SST2_HUB_ID, "validation", reg.SST2_HUB_REVISION)]
    assert path.read_bytes() == (source / name).read_bytes()
    # una fila distinta en el Hub no entra en la caché: falla el hash
    path.unlink()
    rows[0]["label"] = 1 - rows[0]["label"]
    with pytest.raises(reg.DataHashMismatchError, match=reg.SST2_HUB_ID):
        reg.fetch(name)
    assert _cached_files() == []
