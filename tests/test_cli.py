from __future__ import annotations

import subprocess
import sys

from labcode.__main__ import main


def test_tour_runs_and_explains_each_piece(capsys):
    assert main(["tour", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    for heading in ["Autoatención", "Máscara causal", "multi-cabeza", "posicional"]:
        assert heading in out
    assert "suma de cada fila: [1. 1. 1. 1. 1.]" in out


def test_help_is_in_spanish():
    result = subprocess.run(
        [sys.executable, "-m", "labcode", "--help"], capture_output=True, text=True, check=True
    )
    assert "recorrido guiado" in result.stdout
