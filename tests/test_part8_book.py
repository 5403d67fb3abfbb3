"""Parte 8 (ejercicios, autoevaluación, preguntas frecuentes y glosario) en el libro construido.

No reejecutan nada: leen las salidas guardadas y el HTML de ``make book``. Las
preguntas de la autoevaluación y de las preguntas frecuentes se comparan con el
README original del laboratorio (``shared/lab11-README.md``).
"""

from __future__ import annotations

import html as htmllib
import re
import unicodedata
from pathlib import Path

import pytest
from bookutil import HTML, ROOT, html, outputs_text, skip_or_fail

pytestmark = pytest.mark.book

EJERCICIOS = "book/ejercicios"
# Ejercicio -> capítulo donde se trabaja (página HTML a la que debe enlazar su sección).
CAPITULO = {
    "11-1": "02_self_attention",
    "11-2": "04_positional",
    "11-3": "03_multi_head",
    "11-4": "07_fine_tuning_bert",
    "11-5": "08_generacion",
}
# Enlace a un capítulo numerado del libro (no a la propia página ni a la API).
CHAPTER_LINK = re.compile(r'href="(\d\d_[a-z_]+)\.html(#[^"]*)?"')


QUESTIONS_FILE = Path(__file__).with_name("lab11_questions.json")


def _lab_questions() -> dict[str, list[str]]:
    """Autoevaluación y preguntas frecuentes del README original, copiadas en las pruebas
    para que no dependan de ``../shared`` (un runner de GitHub no lo tiene)."""
    import json

    return json.loads(QUESTIONS_FILE.read_text(encoding="utf-8"))


def test_question_list_matches_the_lab_readme():
    from labcode.utils.config import data_dir

    candidates = [ROOT.parent / "shared" / "lab11-README.md"]
    data = data_dir(required=False)
    if data is not None:
        candidates.insert(0, Path(data).parent / "lab11-README.md")
    readme = next((p.read_text(encoding="utf-8") for p in candidates if p.is_file()), None)
    if readme is None:  # no es un recurso que falte: sólo existe en la máquina del laboratorio
        pytest.skip("el README original del laboratorio no está junto al repositorio")
    checklist = re.findall(r"^- \[ \] (.+)$", readme.split("## Verificación de Conocimientos")[1],
                           flags=re.M)
    questions = re.findall(r"^\*\*P: (.+?)\*\*\s*$", readme, flags=re.M)
    saved = _lab_questions()
    assert saved["checklist"] == checklist
    assert saved["faq"] == questions


def _text(fragment: str) -> str:
    """Texto visible de un fragmento HTML (sin etiquetas, entidades resueltas, espacios simples)."""
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _chunks(page_html: str, marker: str) -> list[str]:
    """Trozos de HTML que empiezan en cada aparición de ``marker`` (el último hasta el final)."""
    starts = [m.start() for m in re.finditer(re.escape(marker), page_html)]
    return [page_html[a:b] for a, b in zip(starts, starts[1:] + [len(page_html)], strict=True)]


def _sort_key(term: str) -> str:
    decomposed = unicodedata.normalize("NFD", term.lower())
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


# --- Ejercicios -----------------------------------------------------------------------------


@pytest.mark.parametrize(("ex", "chapter"), sorted(CAPITULO.items()))
def test_each_exercise_lives_in_its_chapter_as_a_sphinx_exercise(ex, chapter):
    """Enunciado numerado (sphinx-exercise), intento vacío, solución oculta que pasa."""
    page = f"book/{chapter}"
    if not (HTML / f"{page}.html").exists():
        skip_or_fail(f"construcción parcial sin {chapter}")
    text = html(page)
    assert f'id="ej-{ex}"' in text, f"falta el enunciado numerado del ejercicio {ex}"
    assert "Solución a" in text and "dropdown" in text  # solution de sphinx-exercise, oculta
    outputs = outputs_text(page)
    n = ex.replace("-", ".")
    assert f"❌ Ejercicio {n}: todavía no hay respuesta" in outputs or (
        f"❌ Ejercicio {n}: la función todavía no está implementada" in outputs)
    assert f"✅ Ejercicio {n} resuelto" in outputs or f"✅ Ejercicio {n}: correcto" in outputs


def test_exercises_page_refers_to_the_chapters_instead_of_repeating_them():
    page = html(EJERCICIOS)
    assert "check_11_1(" not in page  # ni celdas de intento ni soluciones repetidas
    assert "tag_hide-cell" not in page


def test_each_exercise_links_to_the_chapter_where_it_is_worked():
    page = html(EJERCICIOS)
    for ex, chapter in CAPITULO.items():
        marker = f'id="sec-ejercicios-{ex}"'
        assert marker in page, f"falta la sección del ejercicio {ex}"
        section = page[page.index(marker):].split('id="sec-ejercicios-', 2)[1]
        section = section.split('id="sec-proyectos"')[0]
        if not (HTML / "book" / f"{chapter}.html").exists():
            continue  # construcción parcial sin ese capítulo: el enlace no puede resolverse
        assert f'href="{chapter}.html' in section, f"{ex} no enlaza con {chapter}"


def test_advanced_projects_have_goal_base_evaluation_and_difficulty():
    page = html(EJERCICIOS)
    projects = page[page.index('id="sec-proyectos"'):]
    projects = projects.split('id="resumen"')[0]
    chunks = _chunks(projects, "<h3>")
    assert 6 <= len(chunks) <= 8
    for chunk in chunks:
        text = _text(chunk)
        for field in ("Objetivo.", "De dónde partir.", "Cómo evaluar.", "Dificultad."):
            assert field in text, f"a un proyecto le falta {field!r}: {text[:60]}"
        assert "labcode." in text
        assert re.search(r"Dificultad\. (Baja|Media|Alta)", text)


# --- Autoevaluación -------------------------------------------------------------------------


def test_self_assessment_has_the_eight_checklist_items_each_linked_and_with_answers():
    checklist = _lab_questions()["checklist_libro"]
    assert len(checklist) == len(_lab_questions()["checklist"]) == 8
    page = html("book/autoevaluacion")
    items = _chunks(page, 'class="task-list-item"')
    assert len(items) == 8
    for item, expected in zip(items, checklist, strict=True):
        section = item.split("<h2>")[0]  # hasta el siguiente punto
        assert expected.strip().rstrip(".") in _text(section)
        assert CHAPTER_LINK.search(section), f"{expected!r} no enlaza con ningún capítulo"
        assert 'class="dropdown admonition"' in section, f"{expected!r} no tiene respuestas"


# --- Preguntas frecuentes -------------------------------------------------------------------


def test_faq_answers_every_question_of_the_lab_with_links():
    questions = _lab_questions()["faq_libro"]
    assert len(questions) == len(_lab_questions()["faq"]) >= 5
    page = html("book/faq")
    sections = {_text(c.split("<a class=\"headerlink\"")[0]): c for c in _chunks(page, "<h3>")}
    for q in questions:
        assert q in sections, f"falta la pregunta del laboratorio {q!r}"
        assert CHAPTER_LINK.search(sections[q]), f"la respuesta a {q!r} no enlaza con el libro"
    assert len(sections) > len(questions)  # y las preguntas propias del libro


def test_faq_covers_profiles_gpu_and_command_line():
    text = _text(html("book/faq"))
    for needle in ("LABCODE_PROFILE=full", "python -m labcode --help", "all-MiniLM-L6-v2",
                   "SmolLM2-135M-Instruct", "bert-base-uncased", "gpt2", "Colab"):
        assert needle in text, needle


# --- Glosario -------------------------------------------------------------------------------


def _glossary() -> list[tuple[str, str]]:
    page = html("book/glosario")
    pairs = re.findall(r'<dt id="term-[^"]*">(.*?)</dt>\s*<dd>(.*?)</dd>', page, flags=re.S)
    return [(_text(term.split('<a class="headerlink"')[0]), dd) for term, dd in pairs]


def test_glossary_is_long_sorted_and_bilingual():
    entries = _glossary()
    assert len(entries) >= 40
    terms = [t for t, _ in entries]
    assert terms == sorted(terms, key=_sort_key), "el glosario no está en orden alfabético"
    assert len(set(map(_sort_key, terms))) == len(terms)
    english = []
    for term, dd in entries:
        m = re.match(r"\s*<p><strong>Inglés:</strong>\s*<em>(.+?)</em>", dd, flags=re.S)
        assert m and _text(m.group(1)), f"{term}: falta el término en inglés"
        english.append(_text(m.group(1)).lower())
        assert "Véase" in _text(dd) and ("reference internal" in dd or "std-ref" in dd), term
    for key in ("attention", "self-attention", "query", "key", "value", "multi-head attention",
                "positional encoding", "layer normalization", "encoder", "decoder"):
        assert any(e == key or e.startswith(key + " ") for e in english), f"falta {key!r}"


def test_glossary_links_into_the_chapters():
    linked = [t for t, dd in _glossary() if CHAPTER_LINK.search(dd)]
    assert len(linked) >= 40
