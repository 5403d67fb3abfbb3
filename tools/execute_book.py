"""Ejecuta en paralelo los capítulos que faltan en la caché de ejecución del libro.

``jupyter-book build`` (myst-nb en modo ``cache``) ejecuta los capítulos uno
detrás de otro mientras lee las páginas. Este script se ejecuta antes, desde
``make book``: convierte cada capítulo MyST en cuaderno con el mismo lector que
usa myst-nb (``myst_nb_reader_plugin``), lo ejecuta con el mismo ejecutor
(``jupyter_cache.executors.utils.single_nb_execution``, en la carpeta del
capítulo) y guarda el resultado en la misma caché (``_build/.jupyter_cache``).
Después ``jupyter-book build`` encuentra cada capítulo en la caché y solo tiene
que escribir el HTML. Si algo falla aquí, el libro no se construye: se muestra
el error del capítulo y el script termina con código 1.

Cómo reparte el trabajo:

- ``--jobs`` procesos a la vez (por defecto, los núcleos, como mucho 4), cada
  núcleo de Jupyter con ``núcleos // jobs`` hilos (``OMP_NUM_THREADS`` y
  ``LABCODE_NUM_THREADS``): en una máquina de 2 núcleos, dos capítulos a la vez
  con un hilo cada uno. La última página, si se queda sola, usa todos los
  núcleos. Con ``--jobs 1`` se ejecutan en serie, con todos los hilos.
- Primero los capítulos que más tardaron la última vez (``_build/exec-times.json``,
  o la medición de referencia ``benchmarks/results/book-exec-times.json``).
- Una página espera a las que declara en su cabecera (*front matter*)::

      labcode:
        needs: [book/07_fine_tuning_bert]   # lee lo que guarda el capítulo 7
        needs: all                          # lee los tiempos de todos los demás

  ``tests/test_execute_book.py`` comprueba la marca contra lo que la página ejecuta.

Escribe además ``_build/execution.json`` (procesos, hilos por núcleo y tiempo de
pared), que lee el apéndice «Rendimiento» (:func:`labcode.book.bench.book_build_times`).

Uso::

    python tools/execute_book.py --build _build [--jobs N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from make_notebooks import notebook_pages  # noqa: E402
from merge_gpu_outputs import front_matter  # noqa: E402

#: Medición de referencia con la que se ordena la primera ejecución (sin caché previa).
REFERENCE_TIMES = ROOT / "benchmarks" / "results" / "book-exec-times.json"
#: Tiempos de la última ejecución (en la carpeta ``_build``; sobrevive a ``FORCE=1``).
TIMES_FILE = "exec-times.json"
#: Cómo se ejecutó la última construcción (lo lee el apéndice «Rendimiento»).
EXECUTION_FILE = "execution.json"
#: Valor de ``labcode.needs`` de una página que necesita todas las demás.
ALL = "all"
MAX_DEFAULT_JOBS = 4


def needs(page: str, pages: list[str], root: Path = ROOT) -> set[str]:
    """Las páginas que ``page`` necesita ya ejecutadas (según su cabecera)."""
    meta = front_matter((root / f"{page}.md").read_text(encoding="utf-8")).get("labcode") or {}
    declared = meta.get("needs") if isinstance(meta, dict) else None
    if declared is None:
        return set()
    if declared == ALL:
        return set(pages) - {page}
    if not isinstance(declared, list) or not all(isinstance(p, str) for p in declared):
        raise SystemExit(f"{page}.md: labcode.needs debe ser una lista de páginas o «{ALL}».")
    unknown = set(declared) - set(pages)
    if unknown:
        raise SystemExit(f"{page}.md: labcode.needs nombra páginas que no se ejecutan: "
                         f"{', '.join(sorted(unknown))}.")
    return set(declared)


def default_jobs() -> int:
    """Los núcleos de la máquina, como mucho :data:`MAX_DEFAULT_JOBS` (o ``LABCODE_BUILD_JOBS``)."""
    env = os.environ.get("LABCODE_BUILD_JOBS", "").strip()
    if env:
        if not env.isdigit() or int(env) < 1:
            raise SystemExit(f"LABCODE_BUILD_JOBS debe ser un entero >= 1; se recibió {env!r}.")
        return int(env)
    return max(1, min(MAX_DEFAULT_JOBS, os.cpu_count() or 1))


def previous_times(build: Path) -> dict[str, float]:
    """Segundos por página: los de la última ejecución en ``build`` y, para las que no
    tenga, los de la medición de referencia."""
    times: dict[str, float] = {}
    for path in (REFERENCE_TIMES, build / TIMES_FILE):
        if path.is_file():
            pages = json.loads(path.read_text("utf-8")).get("pages", {})
            times.update({str(k): float(v) for k, v in pages.items()})
    return times


def read_page(path: str | Path):
    """El cuaderno de una página MyST, leído como lo lee myst-nb (misma huella en la caché)."""
    from myst_nb.core.read import myst_nb_reader_plugin

    return myst_nb_reader_plugin(str(path))


def _execute(path: str, timeout: int, threads: int) -> tuple[dict, float, str | None]:
    from jupyter_cache.executors.utils import single_nb_execution

    # El núcleo de Jupyter hereda el entorno de este proceso.
    os.environ["OMP_NUM_THREADS"] = os.environ["LABCODE_NUM_THREADS"] = str(threads)
    nb = read_page(path)
    result = single_nb_execution(nb, cwd=str(Path(path).parent), timeout=timeout,
                                 allow_errors=False, meta_override=True)
    return result.nb, result.time, result.exc_string


def pending_pages(cache, pages: list[str], root: Path) -> list[str]:
    """Las páginas cuyo cuaderno (sus celdas de código) no está en la caché."""
    out = []
    for page in pages:
        try:
            cache.match_cache_notebook(read_page(root / f"{page}.md"))
        except KeyError:
            out.append(page)
    return out


#: Cómo lee myst-nb una página MyST (lo que anota en el proyecto de jupyter-cache).
READ_DATA = {"type": "plugin", "name": "myst_nb_md"}


def _cache_result(cache, page: str, nb, seconds: float, exc_string: str | None,
                  root: Path) -> None:
    """Como myst-nb: la página en el proyecto de la caché y, si no falló, su ejecución."""
    from jupyter_cache.base import CacheBundleIn
    from jupyter_cache.cache.db import NbProjectRecord

    uri = str((root / f"{page}.md").resolve())
    record = cache.add_nb_to_project(uri, read_data=READ_DATA)
    if exc_string:
        NbProjectRecord.set_traceback(uri, exc_string, cache.db)
        return
    NbProjectRecord.remove_tracebacks([record.pk], cache.db)
    cache.cache_notebook_bundle(CacheBundleIn(nb, uri, data={"execution_seconds": seconds}),
                                check_validity=False, overwrite=True)


def _ready(waiting: list[str], deps: dict[str, set[str]], unfinished: set[str]) -> list[str]:
    return [p for p in waiting if not deps[p] & unfinished]


def _threads_for(waiting: list[str], running: dict, threads: int) -> int:
    """Hilos de la página que va a empezar: todos los núcleos si se queda sola (la
    última, p. ej. la que necesita todas: así mide la máquina entera)."""
    return max(threads, os.cpu_count() or 1) if not waiting and not running else threads


def schedule(cache, todo: list[str], deps: dict[str, set[str]], weights: dict[str, float],
             jobs: int, threads: int, timeout: int, root: Path = ROOT) -> dict[str, float]:
    """Ejecuta ``todo`` con ``jobs`` procesos y guarda cada cuaderno en ``cache``.

    Empieza por las páginas de más peso (``weights``, segundos de la última vez) entre
    las que ya tienen hechas las que necesitan (``deps``). Devuelve ``{página:
    segundos}``. Si un capítulo falla, no se empieza ninguno más, se espera a los que
    están en marcha y se termina con ``SystemExit`` (el error, en la salida de errores).
    """
    waiting = sorted(todo, key=lambda p: -weights.get(p, 0.0))
    unfinished, running, times, failed = set(todo), {}, {}, []
    with ProcessPoolExecutor(jobs) as pool:
        while running or (waiting and not failed):
            free = 0 if failed else jobs - len(running)
            for page in _ready(waiting, deps, unfinished)[:free]:
                waiting.remove(page)
                n = _threads_for(waiting, running, threads)
                path = str((root / f"{page}.md").resolve())
                running[pool.submit(_execute, path, timeout, n)] = page
                print(f"  ejecutando {page} ({n} hilo(s))", flush=True)
            if not running:
                break
            finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in finished:
                page = running.pop(future)
                try:
                    nb, seconds, exc_string = future.result()
                except Exception as exc:  # el núcleo murió, memoria agotada...
                    nb, seconds, exc_string = None, 0.0, f"{type(exc).__name__}: {exc}"
                _cache_result(cache, page, nb, seconds, exc_string, root)
                if exc_string:
                    failed.append(page)
                    print(f"ERROR al ejecutar {page}.md:\n{exc_string}", file=sys.stderr,
                          flush=True)
                    continue
                unfinished.discard(page)
                times[page] = seconds
                print(f"  {page}: {seconds:.0f} s ({len(times)}/{len(todo)})", flush=True)
    if failed or waiting:
        raise SystemExit(f"No se pudo ejecutar: {', '.join(failed or waiting)}. "
                         "El libro no se construye.")
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    env_build = os.environ.get("LABCODE_BUILD_DIR", "").strip()
    parser.add_argument("--build", type=Path,
                        default=Path(env_build) if env_build else ROOT / "_build",
                        help="carpeta _build del libro (por defecto LABCODE_BUILD_DIR o _build)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="capítulos a la vez (por defecto los núcleos, como mucho 4, "
                             "o LABCODE_BUILD_JOBS)")
    parser.add_argument("--toc", type=Path, default=ROOT / "_toc.yml")
    args = parser.parse_args(argv)
    import yaml
    from jupyter_cache import get_cache

    if args.jobs is not None and args.jobs < 1:
        parser.error(f"--jobs debe ser un entero >= 1; se recibió {args.jobs}")
    jobs = args.jobs or default_jobs()
    threads = max(1, (os.cpu_count() or 1) // jobs)
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    timeout = int((config.get("execute") or {}).get("timeout", 900))

    args.build.mkdir(parents=True, exist_ok=True)
    cache = get_cache(str(args.build / ".jupyter_cache"))
    pages = notebook_pages(args.toc, ROOT)
    todo = pending_pages(cache, pages, ROOT)
    if not todo:
        print("Todos los capítulos están en la caché de ejecución: no se ejecuta nada.")
        return 0
    deps = {page: needs(page, pages) for page in todo}
    print(f"Ejecutando {len(todo)} de {len(pages)} páginas: {jobs} a la vez, "
          f"{threads} hilo(s) por núcleo de Jupyter", flush=True)
    execution = {"jobs": jobs, "threads": threads}
    (args.build / EXECUTION_FILE).write_text(json.dumps(execution), encoding="utf-8")
    start = time.monotonic()
    times = schedule(cache, todo, deps, previous_times(args.build), jobs, threads, timeout)
    wall = time.monotonic() - start
    times_path = args.build / TIMES_FILE
    old = json.loads(times_path.read_text("utf-8")).get("pages", {}) if times_path.is_file() else {}
    times_path.write_text(json.dumps({"pages": {**old, **times}}, indent=1), encoding="utf-8")
    execution.update(wall_seconds=round(wall, 1), executed=sorted(times))
    (args.build / EXECUTION_FILE).write_text(json.dumps(execution, indent=1), encoding="utf-8")
    print(f"Ejecutadas {len(times)} páginas en {wall:.0f} s de reloj "
          f"(suma de sus tiempos: {sum(times.values()):.0f} s).", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
