"""Reglas mecánicas de la guía de estilo (``book/ESTILO.md``) sobre la prosa del libro.

Solo mira la prosa: las celdas de código, los bloques de código, el código en línea, las
fórmulas, los enlaces y los roles de MyST quedan fuera. El inglés en cursiva (la primera vez que
se da el término original, «codificador (*encoder*)») está permitido.
"""

from __future__ import annotations

import re

import pytest
from claimutil import BOOK, cells

PAGES = sorted(p for p in BOOK.glob("*.md") if p.name != "ESTILO.md")

# (patrón, qué escribir en su lugar). Un término por concepto; ver la tabla de ESTILO.md.
BANNED_TERMS = [
    (r"encoder-decoder", "codificador-decodificador"),
    (r"encoders?", "codificador"),
    (r"decoders?", "decodificador"),
    (r"self-attention", "autoatención"),
    (r"cross-attention", "atención cruzada"),
    (r"multi-head", "multi-cabeza"),
    (r"heads?", "cabeza(s)"),
    (r"layers?", "capa(s)"),
    (r"embeddings?", "incrustación (*embedding* solo la primera vez, en cursiva)"),
    (r"fine-tun\w*", "ajuste fino / ajustar"),
    (r"pre-entren\w*", "preentrenamiento / preentrenado"),
    (r"padding", "relleno"),
    (r"batch(?:es)?", "lote"),
    (r"RNNs|LSTMs|CNNs|GPUs", "las RNN, las LSTM, las CNN, las GPU (siglas invariables)"),
    (r"vs\.?", "frente a"),
]


def _keep_lines(m: re.Match) -> str:
    return " " + "\n" * m.group(0).count("\n")


def _strip(text: str, italics: bool = True) -> str:
    """Quita lo que no es prosa (conservando los saltos de línea para poder citar la línea)."""
    text = re.sub(r"\$\$.*?\$\$", _keep_lines, text, flags=re.S)  # fórmulas en bloque
    text = re.sub(r"\{[a-z:]+\}`[^`]*`", _keep_lines, text)  # roles de MyST
    text = re.sub(r"`[^`]*`", _keep_lines, text)  # código en línea
    text = re.sub(r"\$[^$]*\$", _keep_lines, text)  # fórmulas en línea
    text = re.sub(r"\]\([^)]*\)", "]", text)  # destino de los enlaces
    text = re.sub(r"https?://\S+", " ", text)
    text = re.sub(r"^\(\S+\)=$", " ", text, flags=re.M)  # etiquetas
    if italics:  # el inglés en cursiva está permitido
        text = re.sub(r"(?<![*\w])\*(?!\*)[^*]+\*(?!\*)", _keep_lines, text)
    return text


def _prose(path, italics: bool = True) -> list[tuple[int, str]]:
    """Líneas de prosa (número de línea aproximado, texto sin código ni fórmulas)."""
    out = []
    for cell in cells(path):
        if cell.kind == "prose":
            lines = _strip(cell.source, italics).split("\n")
            out += [(cell.line + k, line) for k, line in enumerate(lines)]
    return out


def _hits(pattern: str, italics: bool = True):
    rx = re.compile(rf"(?<![\w-]){pattern}(?![\w-])", re.IGNORECASE)
    for path in PAGES:
        for line_no, line in _prose(path, italics):
            for m in rx.finditer(line):
                yield f"{path.name}:{line_no}: «{m.group(0)}» en: {line.strip()[:100]}"


def test_solo_without_accent():
    hits = list(_hits(r"sólo", italics=False))
    assert not hits, "Escribe «solo» sin tilde (RAE, 2010):\n" + "\n".join(hits[:30])


@pytest.mark.parametrize(("pattern", "use"), BANNED_TERMS, ids=[t[0] for t in BANNED_TERMS])
def test_one_term_per_concept(pattern, use):
    hits = list(_hits(pattern))
    assert not hits, f"Usa «{use}» en la prosa:\n" + "\n".join(hits[:30])


def test_decimal_comma_in_prose():
    # Los números de ejercicio (11.1 a 11.5), de versión y de ecuación conservan el punto.
    rx = re.compile(r"(?<![\w.])\d+\.\d+(?![\w.])")
    allowed = re.compile(r"^11\.[1-5]$|^3\.1\d$")
    hits = []
    for path in PAGES:
        for line_no, text in _prose(path, italics=False):
            if "ecuaciones" in text:
                continue
            hits += [f"{path.name}:{line_no}: {m.group(0)}" for m in rx.finditer(text)
                     if not allowed.match(m.group(0))]
    assert not hits, "Coma decimal en la prosa («0,5»):\n" + "\n".join(hits[:30])


def test_no_spanglish_questions():
    rx = re.compile(r"¿[^?]*\b(?:vs|heads?|layers?|Transformers son|RNNs)\b[^?]*\?")
    hits = [f"{p.name}:{n}: {m.group(0)}" for p in PAGES for n, line in _prose(p)
            for m in rx.finditer(line)]
    assert not hits, "Preguntas con mezcla de inglés y español:\n" + "\n".join(hits)


def test_glossary_is_a_sorted_glossary_directive_and_is_linked():
    import unicodedata

    text = (BOOK / "glosario.md").read_text(encoding="utf-8")
    assert "```{glossary}" in text
    body = text.split("```{glossary}", 1)[1].split("```", 1)[0]
    terms = [ln for ln in body.split("\n") if ln.strip() and not ln.startswith((" ", ":"))]

    def key(term):
        decomposed = unicodedata.normalize("NFD", term.lower())
        return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")

    assert terms == sorted(terms, key=key), "el glosario no está en orden alfabético"
    assert {"Codificador", "Decodificador", "Incrustación"} <= set(terms)
    linked = sum(len(re.findall(r"\{term\}`", p.read_text(encoding="utf-8"))) for p in PAGES)
    assert linked >= 10, f"solo {linked} enlaces {{term}} al glosario"


def test_style_guide_exists_and_stays_out_of_the_build():
    import yaml

    assert (BOOK / "ESTILO.md").exists()
    toc = (BOOK.parent / "_toc.yml").read_text(encoding="utf-8")
    config = yaml.safe_load((BOOK.parent / "_config.yml").read_text(encoding="utf-8"))
    assert "ESTILO" not in toc and config.get("only_build_toc_files") is True
