"""Lectura de las páginas MyST del libro para las pruebas de prosa (afirmaciones y estilo).

Separa cada página en celdas de código (con sus etiquetas) y prosa, parte la prosa en
párrafos y frases, y encuentra las frases que comparan o juzgan un resultado. No ejecuta
nada: trabaja sobre el texto fuente de ``book/*.md``.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"

# Palabras y giros que comparan o juzgan un resultado: si una frase así habla de una
# salida medida o aleatoria, la prosa puede contradecir al código en otra ejecución.
COMPARISON = re.compile(
    r"(?<!\w)(?:"
    r"más\s+(?:\S+\s+){0,3}?que|(?:el|la|los|las|lo)\s+más|"
    r"más\s+(?:rápid|lent|despacio|deprisa|repetitiv|fiable|clar|alt|baj|grande|pequeñ|probable)\w*|"
    r"(?<!al )(?<!lo )menos\s+\w+|mejor(?:es)?|peor(?:es)?|"
    r"aún\s+más|(?:bastante|mucho|mucha|muchos|muchas)\s+(?:más|menos)|gan(?:a|an|ó|aron)|super(?:a|an|ó)|vence|lent[oa]s?|rápid[oa]s?|"
    r"emerge\w*|ningun[oa]s?|ningún|nunca|siempre|nadie|mayor(?:es)?|menor(?:es)?|"
    r"(?<!más )(?<!si )(?<!o )bien|suelen?|cambian?\s+(?:de|en|bien)|acumula\w*|repetitiv\w*|"
    r"casi\s+(?:todo|toda|todas|todos|siempre|nada|nunca|igual)|sobre\s+todo|la\s+mitad|apenas|"
    r"únic[oa]s?"
    r")(?!\w)",
    re.IGNORECASE,
)

GLUE_ROLE = re.compile(r"\{glue(?::text|:any|:md)?\}`([A-Za-z0-9_]+)(?::[^`]*)?`")
ROLE = re.compile(r"\{([a-z:]+)\}`([^`]*)`")
QUOTE = re.compile(r"«([^«»]{12,})»")


@dataclass
class Cell:
    kind: str  # "code" o "prose"
    source: str
    tags: tuple[str, ...] = ()
    line: int = 0


@dataclass
class Sentence:
    page: str
    line: int
    text: str  # tal como está en el .md (aplanado)
    glues: list[str] = field(default_factory=list)

    @property
    def plain(self) -> str:
        return normalize(self.text)


def normalize(text: str) -> str:
    """Texto comparable: roles de glue como ``{nombre}``, sin otras marcas de MyST."""

    def role(m: re.Match) -> str:
        name, arg = m.group(1), m.group(2)
        if name.startswith("glue"):
            return "{" + arg.split(":")[0] + "}"
        if name.startswith("cite"):
            return ""
        return re.sub(r"<.*?>", "", arg).strip()

    text = ROLE.sub(role, text)
    text = re.sub(r"[*`]", "", text)
    return " ".join(text.split())


def _tags(header: list[str]) -> tuple[str, ...]:
    joined = "\n".join(header)
    m = re.search(r"tags:\s*\[([^\]]*)\]", joined)
    if not m:
        return ()
    return tuple(t.strip().strip("'\"") for t in m.group(1).split(",") if t.strip())


def cells(path: Path) -> list[Cell]:
    """Celdas de código (con etiquetas) y trozos de prosa de una página MyST."""
    lines = path.read_text(encoding="utf-8").split("\n")
    i = 0
    if lines and lines[0].strip() == "---":
        i = lines.index("---", 1) + 1
    out: list[Cell] = []
    buf: list[str] = []
    start = i
    while i < len(lines):
        m = re.match(r"^(`{3,}|~{3,})(.*)$", lines[i])
        if not m:
            buf.append(lines[i])
            i += 1
            continue
        fence, info = m.group(1), m.group(2).strip()
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not lines[j].startswith(fence):
            body.append(lines[j])
            j += 1
        if info.startswith("{code-cell}"):
            out.append(Cell("prose", "\n".join(buf), line=start + 1))
            header: list[str] = []
            if body and body[0].strip() == "---":
                end = body.index("---", 1)
                header, body = body[1:end], body[end + 1:]
            while body and body[0].startswith(":"):
                header.append(body.pop(0))
            out.append(Cell("code", "\n".join(body), _tags(header), line=i + 1))
            buf, start = [], j + 1
        elif info.startswith("{") and not info.startswith(("{math}", "{code")):
            buf.extend(["", *[b for b in body if not b.startswith(":")], ""])
        else:
            buf.extend(["", ""])  # bloque de código que no se ejecuta: no es prosa
        i = j + 1
    out.append(Cell("prose", "\n".join(buf), line=start + 1))
    return out


def paragraphs(prose: str) -> list[tuple[int, str]]:
    """Párrafos (y elementos de lista) de un trozo de prosa, con su línea relativa."""
    out, cur, first = [], [], 0
    for k, raw in enumerate(prose.split("\n")):
        line = raw.strip()
        skip = (not line or line.startswith(("#", ":::", "|", "%", "$$", "(", "```"))
                or re.match(r"^:\w+:", line))
        item = re.match(r"^(?:[-*+]|\d+\.)\s+", line)
        if skip or item:
            if cur:
                out.append((first, " ".join(cur)))
            cur = []
            if skip and not item:
                continue
            line = line[item.end():]
        if not cur:
            first = k
        cur.append(line)
    if cur:
        out.append((first, " ".join(cur)))
    return out


SPLIT = re.compile(r"(?<=[.!?])\s+(?=[¡¿«(*A-ZÁÉÍÓÚ{$`])")


def sentences(paragraph: str) -> list[str]:
    return [s for s in SPLIT.split(paragraph) if s.strip()]


def result_sentences(path: Path) -> list[tuple[Sentence, bool]]:
    """Frases de la prosa con su contexto: ``True`` si hablan de un resultado ejecutado.

    Hablan de un resultado las frases de un párrafo con valores publicados con glue, las
    del primer párrafo tras una celda de código que muestra su salida y las del resumen.
    """
    page = path.stem
    out = []
    prev_visible_code = False
    in_summary = False
    for cell in cells(path):
        if cell.kind == "code":
            prev_visible_code = not ({"remove-cell", "remove-output"} & set(cell.tags))
            continue
        for k, (rel, para) in enumerate(paragraphs(cell.source)):
            heading = None
            for raw in cell.source.split("\n")[: rel + 1]:
                if raw.startswith("#"):
                    heading = raw
            if heading is not None:
                in_summary = "Resumen" in heading or "Qué nos llevamos" in heading
            ctx = bool(GLUE_ROLE.search(para)) or (prev_visible_code and k == 0) or in_summary
            for s in sentences(para):
                sent = Sentence(page, cell.line + rel, s, GLUE_ROLE.findall(s))
                out.append((sent, ctx))
        prev_visible_code = False
    return out


def flagged(path: Path) -> list[Sentence]:
    """Frases que comparan o juzgan un resultado ejecutado (sin contar las que citan la
    bibliografía: esas afirmaciones son del artículo, no de nuestra ejecución)."""
    out = []
    for sent, ctx in result_sentences(path):
        if not (ctx or sent.glues):
            continue
        if "{cite" in sent.text or not COMPARISON.search(sent.plain):
            continue
        out.append(sent)
    return out


def code_cells(path: Path) -> list[Cell]:
    return [c for c in cells(path) if c.kind == "code"]


def _wordy(node: ast.AST) -> bool:
    """¿Contiene un texto de al menos tres palabras (una rama escrita en prosa)?"""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and len(node.value.split()) >= 3
    if isinstance(node, ast.JoinedStr):
        return sum(len(v.value.split()) for v in node.values if isinstance(v, ast.Constant)) >= 3
    if isinstance(node, ast.BinOp | ast.IfExp | ast.Tuple | ast.List):
        return any(_wordy(c) for c in ast.iter_child_nodes(node))
    return False


def _text_ifexp(node: ast.AST) -> bool:
    return any(isinstance(n, ast.IfExp) and (_wordy(n.body) or _wordy(n.orelse))
               for n in ast.walk(node))


def _branch_names(tree: ast.AST) -> set[str]:
    """Variables que reciben un texto distinto según el resultado (``if``/``else`` o
    expresión condicional)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        assigns = []
        if isinstance(node, ast.If):
            assigns = [n for sub in node.body + node.orelse for n in ast.walk(sub)
                       if isinstance(n, ast.Assign) and _wordy(n.value)]
        elif isinstance(node, ast.Assign) and _text_ifexp(node.value):
            assigns = [node]
        for n in assigns:
            names |= {t.id for t in n.targets if isinstance(t, ast.Name)}
    return names


def _parse(source: str) -> ast.AST:
    lines = [ln for ln in source.split("\n") if not ln.lstrip().startswith(("%", "!"))]
    return ast.parse("\n".join(lines))


def branch_glues(path: Path) -> list[re.Pattern]:
    """Nombres publicados con glue cuyo valor es un texto con una rama por resultado.

    Cuenta el ``glue(nombre, valor)`` cuyo valor contiene una expresión condicional
    (``a if c else b``) o usa una variable asignada en un ``if``/``else`` o con una
    expresión condicional. Un nombre en f-string se convierte en patrón.
    """
    pats = []
    for cell in code_cells(path):
        tree = _parse(cell.source)
        branch = _branch_names(tree)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "glue"
                    and len(node.args) >= 2):
                continue
            name, value = node.args[0], node.args[1]
            used = {n.id for n in ast.walk(value) if isinstance(n, ast.Name)}
            if not (_text_ifexp(value) or used & branch):
                continue
            if isinstance(name, ast.Constant):
                pats.append(re.compile(re.escape(name.value) + "$"))
            elif isinstance(name, ast.JoinedStr):
                parts = [re.escape(v.value) if isinstance(v, ast.Constant) else ".+"
                         for v in name.values]
                pats.append(re.compile("".join(parts) + "$"))
    return pats


def guard_quotes(path: Path) -> list[str]:
    """Fragmentos de prosa «citados» en las celdas de guarda de una página.

    Una celda de guarda está etiquetada ``remove-cell`` y contiene al menos un ``assert``:
    si la afirmación deja de ser cierta, la construcción falla. La cita la enlaza con la
    frase que protege.
    """
    quotes = []
    for cell in code_cells(path):
        if "remove-cell" not in cell.tags or not re.search(r"^\s*assert\b", cell.source, re.M):
            continue
        quotes += [normalize(q) for q in QUOTE.findall(cell.source)]
    return quotes


def covered(sent: Sentence, branches: list[re.Pattern], quotes: list[str]) -> bool:
    if any(p.match(g) for g in sent.glues for p in branches):
        return True
    plain = sent.plain
    return any(q in plain for q in quotes)
