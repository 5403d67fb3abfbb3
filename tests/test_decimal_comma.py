"""La coma decimal de los valores citados con ``{glue:text}`` (tools/decimal_comma.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
from decimal_comma import to_decimal_comma  # noqa: E402


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("93.5", "93,5"),
        ("-0.25 nats", "-0,25 nats"),
        ("93.5 % frente a 94.9 %", "93,5 % frente a 94,9 %"),
        ("1.0e-05", "1,0e-05"),
        ("813 312", "813 312"),
        ("2.13.0+cpu", "2.13.0+cpu"),
        ("Python 3.12.3, NumPy 2.2.6", "Python 3.12.3, NumPy 2.2.6"),
        ("all-MiniLM-L6-v2", "all-MiniLM-L6-v2"),
        ("v1.2", "v1.2"),
        ("sí", "sí"),
    ],
)
def test_to_decimal_comma(text, expected):
    assert to_decimal_comma(text) == expected


def test_extension_is_registered_in_config():
    import yaml

    config = yaml.safe_load((Path(__file__).resolve().parent.parent / "_config.yml").read_text())
    assert config["sphinx"]["local_extensions"]["decimal_comma"] == "tools/"
