"""Sustituye en el libro construido (perfil quick) los capítulos ejecutados en GPU.

``gpu.yml`` construye el libro completo en el perfil «full» y publica su HTML en
el artefacto ``capitulos-gpu``. Sólo cambian con el perfil los capítulos que
llaman a ``get_profile`` (BERT, GPT...); de esos se copian la página HTML, el
cuaderno ejecutado que ofrece el botón de descarga (``_sources/<página>.ipynb``)
y las imágenes de ``_images/`` (nombres por hash de contenido: copiarlas nunca
pisa otra figura).

Un capítulo sólo se incorpora si su fuente en el artefacto
(``_sources/<página>.md``) es idéntica a la actual: si el capítulo cambió
después de la ejecución en GPU, se queda la versión quick (correcta y al día).
El workflow comprueba además que labcode no cambió desde ese commit.

Uso::

    python tools/merge_gpu_outputs.py --gpu-html GPU/_build/html --html _build/html
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from make_notebooks import notebook_pages  # noqa: E402


def gpu_pages(toc: Path = ROOT / "_toc.yml", root: Path = ROOT) -> list[str]:
    """Capítulos cuyo resultado depende del perfil (usan ``get_profile``)."""
    return [
        page
        for page in notebook_pages(toc, root)
        if "get_profile" in (root / f"{page}.md").read_text(encoding="utf-8")
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
            shutil.copy2(ipynb, html / "_sources" / f"{page}.ipynb")
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
