"""Los accesores tipados de los valores glued (tests/bookutil.py), sin el libro construido."""

from __future__ import annotations

import pytest
from bookutil import Glued, GluedValueError


@pytest.fixture
def g() -> Glued:
    return Glued("book/xx", {"n": 813312, "pi": 3.25, "miles": "813 312", "fino": "1\u202f024",
                             "coma": "93,5", "comas": "1,234,567", "signo": "+3.5",
                             "txt": "sí se cumple", "flag": True, "medio": "2.5"})


def test_numbers_come_back_as_numbers(g):
    assert g.float("pi") == 3.25 and isinstance(g.float("n"), float)
    assert g.float("miles") == 813312.0 and g.float("fino") == 1024.0
    assert g.float("coma") == 93.5 and g.float("comas") == 1234567.0
    assert g.float("signo") == 3.5
    assert g.int("miles") == 813312 and isinstance(g.int("n"), int)
    assert g.text("txt") == "sí se cumple"
    assert g["pi"] == 3.25  # sigue siendo un dict


@pytest.mark.parametrize("call, message", [
    (lambda g: g.float("falta"), "book/xx: no hay ningún valor glued 'falta'"),
    (lambda g: g.float("txt"), "txt no es un número; vale 'sí se cumple'"),
    (lambda g: g.float("flag"), "flag es un booleano"),
    (lambda g: g.int("medio"), "medio no es un entero; vale 2.5"),
    (lambda g: g.text("n"), "n no es un texto; vale 813312 \\(int\\)"),
])
def test_missing_names_and_wrong_types_are_clear_errors(g, call, message):
    with pytest.raises(GluedValueError, match=message):
        call(g)
