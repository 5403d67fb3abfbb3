"""La ejecución en paralelo de los capítulos (``tools/execute_book.py``).

- La marca ``labcode.needs`` de cada página coincide con lo que ejecuta: lee el
  clasificador del capítulo 7 (``load_chapter_run``) o los tiempos de todas las
  demás (``book_build_times``).
- Con un libro falso de tres páginas: todo queda en la caché con la huella que
  busca myst-nb (así ``jupyter-book build`` no vuelve a ejecutar nada), una
  página espera a la que necesita, y un fallo detiene la ejecución con el error
  del capítulo sin guardar nada de lo que no se ejecutó.
"""

from __future__ import annotations

import json
import sys

import pytest
from bookutil import ROOT, notebook_files

sys.path.insert(0, str(ROOT / "tools"))

import execute_book  # noqa: E402

CHAPTERS = notebook_files()
CH07 = "book/07_fine_tuning_bert"


@pytest.mark.parametrize("page", CHAPTERS)
def test_needs_mark_matches_what_the_page_reads(page):
    text = (ROOT / f"{page}.md").read_text(encoding="utf-8")
    declared = execute_book.needs(page, CHAPTERS)
    if "book_build_times(" in text:
        assert declared == set(CHAPTERS) - {page}, (
            f"{page} lee los tiempos de todas las páginas: añade «needs: all» a su cabecera")
    elif "load_chapter_run(" in text:
        assert declared == {CH07}, (
            f"{page} lee el clasificador del capítulo 7: añade «needs: [{CH07}]» a su cabecera")
    else:
        assert declared == set(), f"{page} declara needs, pero no lee nada de otra página"


def test_some_page_needs_chapter_7_and_one_needs_all():
    marks = {p: execute_book.needs(p, CHAPTERS) for p in CHAPTERS}
    assert any(m == {CH07} for m in marks.values())
    assert sum(len(m) == len(CHAPTERS) - 1 for m in marks.values()) == 1


def _page(root, name, code, needs=None):
    extra = f"labcode:\n  needs: {json.dumps(needs)}\n" if needs is not None else ""
    text = (f"---\nkernelspec:\n  display_name: Python 3\n  language: python\n  name: python3\n"
            f"{extra}---\n\n# {name}\n\n```{{code-cell}} ipython3\n{code}\n```\n")
    (root / "book" / f"{name}.md").write_text(text, encoding="utf-8")


@pytest.fixture()
def fake_book(tmp_path):
    (tmp_path / "book").mkdir()
    stamp = "import time, pathlib; pathlib.Path('{n}.t').write_text(repr(time.time()))"
    _page(tmp_path, "a", stamp.format(n="a") + "\nimport time; time.sleep(1.5)")
    _page(tmp_path, "b", stamp.format(n="b"), needs=["book/a"])
    _page(tmp_path, "c", stamp.format(n="c") + "\nprint(1 + 1)")
    return tmp_path


def _cache(tmp_path):
    from jupyter_cache import get_cache

    return get_cache(str(tmp_path / "_build" / ".jupyter_cache"))


@pytest.mark.slow
def test_executes_in_parallel_respecting_needs_and_caches_for_myst_nb(fake_book):
    pages = ["book/a", "book/b", "book/c"]
    deps = {p: execute_book.needs(p, pages, fake_book) for p in pages}
    assert deps == {"book/a": set(), "book/b": {"book/a"}, "book/c": set()}
    cache = _cache(fake_book)
    assert execute_book.pending_pages(cache, pages, fake_book) == pages
    times = execute_book.schedule(cache, pages, deps, {"book/b": 99.0}, jobs=2, threads=1,
                                  timeout=60, root=fake_book)
    assert set(times) == set(pages) and min(times.values()) > 0
    # Lo que myst-nb buscará al construir: nada queda por ejecutar.
    assert execute_book.pending_pages(cache, pages, fake_book) == []
    stamps = {p: float((fake_book / "book" / f"{p[-1]}.t").read_text()) for p in pages}
    assert stamps["book/b"] > stamps["book/a"] + 1.5  # «b» esperó a que terminara «a»
    assert abs(stamps["book/c"] - stamps["book/a"]) < 1.5  # «a» y «c», a la vez
    # Y lo que leen las pruebas del libro (bookutil.executed_notebook): la página en el
    # proyecto de la caché, enlazada con su ejecución.
    record = cache.get_cached_project_nb(str((fake_book / "book" / "c.md").resolve()))
    outputs = cache.get_cache_bundle(record.pk).nb.cells[0].outputs
    assert outputs[0]["text"] == "2\n"


@pytest.mark.slow
def test_a_failing_page_stops_the_build_with_its_error(fake_book, capsys):
    _page(fake_book, "a", "raise ValueError('capítulo roto')")
    pages = ["book/a", "book/b", "book/c"]
    deps = {p: execute_book.needs(p, pages, fake_book) for p in pages}
    cache = _cache(fake_book)
    with pytest.raises(SystemExit, match="No se pudo ejecutar: book/a"):
        execute_book.schedule(cache, pages, deps, {}, jobs=1, threads=1, timeout=60,
                              root=fake_book)
    assert "capítulo roto" in capsys.readouterr().err
    # Ni «a» (falló) ni «b» (lo necesitaba) quedan en la caché.
    assert set(execute_book.pending_pages(cache, pages, fake_book)) >= {"book/a", "book/b"}


def test_needs_errors_are_clear(tmp_path):
    (tmp_path / "book").mkdir()
    _page(tmp_path, "x", "1", needs=["book/nada"])
    with pytest.raises(SystemExit, match="book/nada"):
        execute_book.needs("book/x", ["book/x"], tmp_path)
    _page(tmp_path, "x", "1", needs="algunas")
    with pytest.raises(SystemExit, match="lista de páginas o «all»"):
        execute_book.needs("book/x", ["book/x"], tmp_path)
    _page(tmp_path, "x", "1", needs="all")
    assert execute_book.needs("book/x", ["book/x", "book/y"], tmp_path) == {"book/y"}


def test_jobs_come_from_the_machine_or_the_environment(monkeypatch):
    monkeypatch.delenv("LABCODE_BUILD_JOBS", raising=False)
    monkeypatch.setattr(execute_book.os, "cpu_count", lambda: 16)
    assert execute_book.default_jobs() == execute_book.MAX_DEFAULT_JOBS
    monkeypatch.setattr(execute_book.os, "cpu_count", lambda: 2)
    assert execute_book.default_jobs() == 2
    monkeypatch.setenv("LABCODE_BUILD_JOBS", "3")
    assert execute_book.default_jobs() == 3
    monkeypatch.setenv("LABCODE_BUILD_JOBS", "dos")
    with pytest.raises(SystemExit, match="LABCODE_BUILD_JOBS debe ser un entero >= 1"):
        execute_book.default_jobs()
    # La última página, si empieza sola, usa todos los núcleos; si no, los que le tocan.
    assert execute_book._threads_for([], {}, 1) == 2
    assert execute_book._threads_for(["book/x"], {}, 1) == 1
    assert execute_book._threads_for([], {"futuro": "book/y"}, 1) == 1


@pytest.mark.book
def test_jupyter_book_found_every_chapter_in_the_cache():
    """En la construcción de ``make book``, myst-nb no volvió a ejecutar nada: cada
    capítulo que ejecutó ``execute_book.py`` tenía la huella que busca myst-nb."""
    from bookutil import BUILD, require_build

    require_build()
    log = (BUILD / "build.log").read_text(encoding="utf-8", errors="replace")
    if "Ejecutando " not in log:
        pytest.skip("este libro no se construyó con make book")
    assert "Executing notebook" not in log
    executed = json.loads((BUILD / execute_book.EXECUTION_FILE).read_text())["executed"]
    assert executed, "execution.json no dice qué páginas se ejecutaron"
    for page in executed:
        assert f"{page}.md: Using cached notebook" in log, page


def test_previous_times_prefer_the_last_run_over_the_reference(tmp_path):
    reference = execute_book.previous_times(tmp_path)
    assert reference["book/07_fine_tuning_bert"] > reference["book/01_motivacion"]
    (tmp_path / execute_book.TIMES_FILE).write_text('{"pages": {"book/01_motivacion": 999}}')
    times = execute_book.previous_times(tmp_path)
    assert times["book/01_motivacion"] == 999
    assert times["book/07_fine_tuning_bert"] == reference["book/07_fine_tuning_bert"]
