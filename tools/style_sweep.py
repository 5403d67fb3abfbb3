"""Aplica a la prosa de ``book/*.md`` las reglas mecánicas de ``book/ESTILO.md``.

Uso (idempotente: se puede volver a pasar después de fusionar otras ramas)::

    python tools/style_sweep.py            # reescribe book/*.md
    python tools/style_sweep.py --check    # solo dice qué ficheros cambiaría

Reglas, en este orden:

1. «sólo» → «solo» en la prosa y en las citas «…» de las celdas de código (las guardas); el
   resto del código no se toca, para no invalidar la caché de ejecución.
2. En la prosa (no en el código, el código en línea, las fórmulas, los roles de MyST, los
   enlaces ni el inglés en cursiva):

   - «encoder-decoder» → «codificador-decodificador»;
   - «bloques encoder y decoder» → «bloques codificadores y decodificadores»;
   - «bloques/capas/pilas/modelos encoder» → «… codificadores» (y lo mismo con «decoder»);
   - «encoders»/«decoders» → «codificadores»/«decodificadores»;
   - «encoder»/«decoder» → «codificador»/«decodificador», con la mayúscula del original.

Lo que exige criterio (el género de «incrustación», la primera aparición con el inglés entre
paréntesis, las preguntas con mezcla de idiomas) se corrige a mano; ``tests/test_style.py``
señala lo que falte.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

BOOK = Path(__file__).resolve().parent.parent / "book"

# Trozos de una línea de prosa que no se tocan.
PROTECTED = re.compile(
    r"\{[a-z:]+\}`[^`]*`"  # roles de MyST
    r"|`[^`]*`"  # código en línea
    r"|\$[^$]*\$"  # fórmulas en línea
    r"|\]\([^)]*\)"  # destinos de enlaces
    r"|https?://\S+"
    r"|(?<![*\w])\*(?!\*)[^*\n]+\*(?!\*)"  # inglés en cursiva
)

WORDS = {"encoder": "codificador", "decoder": "decodificador"}


def _case(src: str, dst: str) -> str:
    return dst[0].upper() + dst[1:] if src[0].isupper() else dst


def _terms(text: str) -> str:
    text = re.sub(r"(?i)(?<![\w-])(encoder)-(decoder)(?![\w-])",
                  lambda m: f"{_case(m.group(1), 'codificador')}-decodificador", text)
    plural = r"(?i)(?<![\w-])(bloques|capas|pilas|modelos)"
    text = re.sub(plural + r"(\s+)encoder(\s+y\s+)decoder(?![\w-])",
                  r"\1\2codificadores\3decodificadores", text)
    text = re.sub(plural + r"(\s+\**)(encoder|decoder)(?![\w-])",
                  lambda m: m.group(1) + m.group(2) + WORDS[m.group(3).lower()] + "es", text)
    text = re.sub(r"(?i)(?<![\w-])(encoder|decoder)s(?![\w-])",
                  lambda m: _case(m.group(1), WORDS[m.group(1).lower()] + "es"), text)
    return re.sub(r"(?i)(?<![\w-])(encoder|decoder)(?![\w-])",
                  lambda m: _case(m.group(1), WORDS[m.group(1).lower()]), text)


def _prose_line(line: str) -> str:
    out, last = [], 0
    for m in PROTECTED.finditer(line):
        out += [_terms(line[last:m.start()]), m.group(0)]
        last = m.end()
    out.append(_terms(line[last:]))
    return "".join(out)


def _solo(text: str) -> str:
    return re.sub(r"(?<!\w)([Ss])ólo(?!\w)", r"\1olo", text)


def _quoted_solo(line: str) -> str:
    """En el código solo se tocan las citas «…» de la prosa (las de las celdas de guarda)."""
    return re.sub(r"«[^«»]*»", lambda m: _solo(m.group(0)), line)


def sweep(text: str) -> str:
    lines, out, fence, prose_fences = text.split("\n"), [], None, []
    in_math = False
    for line in lines:
        stripped = line.strip()
        m = re.match(r"^(`{3,}|~{3,})", stripped)
        if fence:  # dentro de un bloque de código: solo las citas «…»
            fence = None if stripped == fence else fence
            out.append(_quoted_solo(line))
        elif m and prose_fences and stripped == prose_fences[-1]:
            prose_fences.pop()  # cierre de una directiva de prosa
            out.append(line)
        elif m:
            info = stripped[len(m.group(1)):]
            if info.startswith(("{note}", "{admonition}", "{warning}", "{tip}", "{glossary}")):
                prose_fences.append(m.group(1))  # directiva de prosa: su contenido es prosa
            else:
                fence = m.group(1)
            out.append(line)
        elif stripped.startswith("$$"):
            in_math = in_math != (stripped.count("$$") == 1)
            out.append(line)
        elif in_math or re.match(r"^\(\S+\)=$|^:\w+:", stripped):
            out.append(_solo(line))
        else:
            out.append(_prose_line(_solo(line)))
    return "\n".join(out)


def main(argv: list[str]) -> int:
    check = "--check" in argv
    changed = []
    for path in sorted(BOOK.glob("*.md")):
        if path.name == "ESTILO.md":
            continue
        old = path.read_text(encoding="utf-8")
        new = sweep(old)
        if new != old:
            changed.append(path.name)
            if not check:
                path.write_text(new, encoding="utf-8")
    print(("cambiaría: " if check else "cambiados: ") + (", ".join(changed) or "ninguno"))
    return 1 if check and changed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
