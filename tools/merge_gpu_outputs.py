"""Sustituye en el libro construido (perfil quick) los capítulos ejecutados en GPU.

``gpu.yml`` construye el libro completo en el perfil «full» y publica su HTML en
el artefacto ``capitulos-gpu``. Sólo cambian con el perfil las páginas marcadas
en su cabecera (*front matter*) con::

    labcode:
      profile: dependent

La marca la comprueba ``tests/test_merge_gpu_outputs.py`` contra lo que la página
ejecuta (:func:`depends_on_profile`: sus importaciones de labcode, seguidas de
módulo en módulo, llegan a ``get_profile`` o a ``labcode.hf.pretrained``). De cada
página marcada se copian la página HTML, el cuaderno ejecutado que ofrece el
botón de descarga (``_sources/<página>.ipynb``) y las imágenes de ``_images/``
(nombres por hash de contenido: copiarlas nunca pisa otra figura).

Una página sólo se incorpora si su fuente en el artefacto
(``_sources/<página>.md``) es idéntica a la actual: si cambió después de la
ejecución en GPU, se queda la versión quick (correcta y al día). El workflow
comprueba además que labcode no cambió desde ese commit.

Uso::

    python tools/merge_gpu_outputs.py --gpu-html GPU/_build/html --html _build/html
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from make_notebooks import (  # noqa: E402
    PRETRAINED_MODULE,
    _reached_modules,
    notebook_pages,
)

#: Valor de ``labcode.profile`` en la cabecera de las páginas que dependen del perfil.
DEPENDENT = "dependent"
#: Módulo de labcode que define el perfil (no cuenta por sí solo: lo importan
#: también módulos que sólo leen datos) y módulo que elige los modelos según él.
CONFIG_MODULE = "utils.config"
PROFILE_CALL = "get_profile("


def front_matter(text: str) -> dict:
    """La cabecera YAML (entre las dos primeras líneas ``---``) de una página MyST."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return {}
    try:
        end = next(i for i, line in enumerate(lines[1:], 1) if line.strip() == "---")
    except StopIteration:
        return {}
    return yaml.safe_load("\n".join(lines[1:end])) or {}


def is_marked(text: str) -> bool:
    """¿Declara la página en su cabecera que depende del perfil?"""
    meta = front_matter(text).get("labcode") or {}
    return isinstance(meta, dict) and meta.get("profile") == DEPENDENT


def depends_on_profile(text: str, root: Path = ROOT) -> bool:
    """True si lo que ejecuta ``text`` llega a ``get_profile`` o a ``labcode.hf.pretrained``.

    Sigue las importaciones de labcode (también las de dentro de funciones) de
    módulo en módulo, como ``make_notebooks.uses_models``; las de
    ``labcode.book.exercises`` no se siguen (cada comprobación sirve a un capítulo
    que ya importa lo que necesita).
    """
    if PROFILE_CALL in text or "import get_profile" in text:
        return True
    reached = _reached_modules(text, root)
    return PRETRAINED_MODULE in reached or any(
        PROFILE_CALL in source for mod, source in reached.items() if mod != CONFIG_MODULE)


def gpu_pages(toc: Path = ROOT / "_toc.yml", root: Path = ROOT) -> list[str]:
    """Páginas ejecutables marcadas en su cabecera como dependientes del perfil."""
    return [
        page
        for page in notebook_pages(toc, root)
        if is_marked((root / f"{page}.md").read_text(encoding="utf-8"))
    ]


def merge(
    gpu_html: Path, html: Path, toc: Path = ROOT / "_toc.yml", root: Path = ROOT
) -> list[str]:
    """Copia a ``html`` los capítulos de GPU al día; devuelve las páginas copiadas."""
    merged = []
    for page in gpu_pages(toc, root):
        src_md = gpu_html / "_sources" / f"{page}.md"
        page_html = gpu_html / f"{page}.html"
        if not (src_md.exists() and page_html.exists()):
            print(f"{page}: no está en el artefacto de GPU; se queda la versión quick")
            continue
        if src_md.read_bytes() != (root / f"{page}.md").read_bytes():
            print(f"{page}: cambió tras la ejecución en GPU; se queda la versión quick")
            continue
        shutil.copy2(page_html, html / f"{page}.html")
        ipynb = gpu_html / "_sources" / f"{page}.ipynb"
        if ipynb.exists():
            dest = html / "_sources" / f"{page}.ipynb"
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ipynb, dest)
        merged.append(page)
        print(f"{page}: salidas de GPU (perfil full)")
    if merged and (gpu_html / "_images").is_dir():
        (html / "_images").mkdir(exist_ok=True)
        for img in (gpu_html / "_images").iterdir():
            dest = html / "_images" / img.name
            if img.is_file() and not dest.exists():
                shutil.copy2(img, dest)
    return merged


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gpu-html", type=Path, required=True)
    parser.add_argument("--html", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--toc", type=Path, default=ROOT / "_toc.yml")
    args = parser.parse_args(argv)
    if not (args.gpu_html / "index.html").exists():
        print(f"{args.gpu_html} no contiene un libro construido", file=sys.stderr)
        return 1
    merged = merge(args.gpu_html, args.html, args.toc)
    print(f"{len(merged)} capítulos con salidas de GPU")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
