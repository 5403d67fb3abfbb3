"""Las salidas de GPU llegan a todas las páginas que dependen del perfil.

``tools/merge_gpu_outputs.py`` publica las páginas marcadas en su cabecera con
``labcode: {profile: dependent}``. Aquí se comprueba que la marca coincide con
lo que cada página ejecuta (sus importaciones de labcode, seguidas de módulo en
módulo hasta ``get_profile`` o ``labcode.hf.pretrained``) y, con dos árboles HTML
falsos, que la fusión sustituye justo las páginas marcadas y al día.
"""

from __future__ import annotations

import sys

import pytest
from bookutil import ROOT, notebook_files

sys.path.insert(0, str(ROOT / "tools"))

import merge_gpu_outputs  # noqa: E402

CHAPTERS = notebook_files()
HEADER = "---\nkernelspec:\n  name: python3\n{extra}---\n"
MARK = "labcode:\n  profile: dependent\n"


@pytest.mark.parametrize("page", CHAPTERS)
def test_profile_mark_matches_what_the_page_executes(page):
    text = (ROOT / f"{page}.md").read_text(encoding="utf-8")
    marked = merge_gpu_outputs.is_marked(text)
    depends = merge_gpu_outputs.depends_on_profile(text)
    assert marked == depends, (
        f"{page}: " + ("marcada como dependiente del perfil, pero no llega a get_profile "
                       "ni a labcode.hf.pretrained" if marked else
                       "llega a get_profile o a labcode.hf.pretrained: añade a su cabecera "
                       "«labcode: {profile: dependent}»")
    )


def test_some_pages_depend_on_the_profile_and_some_do_not():
    marks = {p: merge_gpu_outputs.is_marked((ROOT / f"{p}.md").read_text()) for p in CHAPTERS}
    assert marks["book/07_fine_tuning_bert"] and marks["book/08_generacion"]
    assert not marks["book/01_motivacion"] and not marks["book/02_self_attention"]
    assert merge_gpu_outputs.gpu_pages() == [p for p in CHAPTERS if marks[p]]


def _fake_labcode(root, modules: dict[str, str]):
    for name, source in modules.items():
        path = root / "labcode" / f"{name.replace('.', '/')}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.parent / "__init__.py").touch()
        path.write_text(source)


def test_dependency_follows_imports_transitively(tmp_path):
    _fake_labcode(tmp_path, {
        "utils.config": "def get_profile():\n    return 'quick'\n",
        "data.files": "from labcode.utils.config import data_path\n",  # sólo config: no cuenta
        "models.a": "from labcode.models.b import f\n",
        "models.b": "def f():\n    from labcode.tasks.c import g\n",  # importación perezosa
        "tasks.c": "from labcode.utils.config import get_profile\nx = get_profile()\n",
        "hf.d": "from labcode.hf.pretrained import load\n",
        "hf.pretrained": "",
        "book.exercises": "def check():\n    from labcode.tasks.c import g\n",  # no se sigue
    })
    depends = merge_gpu_outputs.depends_on_profile
    assert depends("```{code-cell} ipython3\nfrom labcode.models.a import f\n```\n", tmp_path)
    assert depends("from labcode.hf import (d,  # carga\n pretrained)\n", tmp_path)
    assert depends("import labcode.hf.pretrained\n", tmp_path)
    assert depends("from labcode.utils.config import get_profile\n", tmp_path)
    assert not depends("from labcode.data.files import data_path\n", tmp_path)
    assert not depends("from labcode.data import files\n", tmp_path)
    assert not depends("from labcode.book.exercises import check\n", tmp_path)
    assert not depends("import numpy as np\n", tmp_path)


def test_front_matter_mark_is_read_from_the_header_only():
    assert merge_gpu_outputs.is_marked(HEADER.format(extra=MARK) + "# T\n")
    assert not merge_gpu_outputs.is_marked(HEADER.format(extra="") + "# T\n")
    assert not merge_gpu_outputs.is_marked(HEADER.format(extra="") + "\n" + MARK)
    other = "labcode:\n  profile: independent\n"
    assert not merge_gpu_outputs.is_marked(HEADER.format(extra=other))


def _tree(base, tag: str, pages: list[str]):
    for name in pages:
        (base / "book").mkdir(parents=True, exist_ok=True)
        (base / "_sources" / "book").mkdir(parents=True, exist_ok=True)
        (base / "book" / f"{name}.html").write_text(f"{tag} {name}")
        (base / "_sources" / "book" / f"{name}.ipynb").write_text(f"{tag} {name}")
    (base / "_images").mkdir(exist_ok=True)
    (base / "index.html").write_text(tag)


def test_merge_replaces_every_marked_page_and_nothing_else(tmp_path, capsys):
    root = tmp_path / "repo"
    (root / "book").mkdir(parents=True)
    cell = "```{code-cell} ipython3\n1\n```\n"
    sources = {
        "a": HEADER.format(extra=MARK) + "# A\n" + cell,  # marcada, al día
        "b": HEADER.format(extra=MARK) + "# B\n" + cell,  # marcada, cambió tras la GPU
        "c": HEADER.format(extra="") + "# C\n" + cell,  # sin marca
        "d": HEADER.format(extra=MARK) + "# D\n" + cell,  # marcada, al día
        "e": HEADER.format(extra=MARK) + "# E\n" + cell,  # marcada, falta en la GPU
    }
    for name, text in sources.items():
        (root / "book" / f"{name}.md").write_text(text)
    toc = root / "_toc.yml"
    toc.write_text("format: jb-book\nroot: book/a\nchapters:\n"
                   + "".join(f"  - file: book/{n}\n" for n in "bcde"))
    gpu, html = tmp_path / "gpu", tmp_path / "html"
    _tree(gpu, "gpu", list("abcd"))
    _tree(html, "quick", list("abcde"))
    for name in "abcd":  # fuentes con las que se ejecutó en GPU
        (gpu / "_sources" / "book" / f"{name}.md").write_text(sources[name])
    (root / "book" / "b.md").write_text(sources["b"] + "cambiado\n")
    (gpu / "_images" / "f00.png").write_bytes(b"png")
    (html / "_images" / "q00.png").write_bytes(b"quick")

    merged = merge_gpu_outputs.merge(gpu, html, toc, root)

    assert merged == ["book/a", "book/d"]
    for name in "ad":
        assert (html / "book" / f"{name}.html").read_text() == f"gpu {name}"
        assert (html / "_sources" / "book" / f"{name}.ipynb").read_text() == f"gpu {name}"
    for name in "bce":  # cambiada, sin marca, ausente en la GPU
        assert (html / "book" / f"{name}.html").read_text() == f"quick {name}"
        assert (html / "_sources" / "book" / f"{name}.ipynb").read_text() == f"quick {name}"
    assert (html / "_images" / "f00.png").read_bytes() == b"png"
    assert (html / "_images" / "q00.png").read_bytes() == b"quick"
    out = capsys.readouterr().out
    assert "book/b: cambió tras la ejecución en GPU" in out
    assert "book/e: no está en el artefacto de GPU" in out


def test_cli_refuses_a_folder_without_a_book(tmp_path, capsys):
    assert merge_gpu_outputs.main(["--gpu-html", str(tmp_path), "--html", str(tmp_path)]) == 1
    assert "no contiene un libro construido" in capsys.readouterr().err
