from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest

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


# --- Errores: una línea en español y un código de salida distinto de 0 (issue 14) -------

_FT = ["finetune-bert", "--no-progress"]


def _cases(tmp: Path) -> list[tuple[str, list[str], dict, int, str]]:
    """(nombre, argumentos, entorno extra, código esperado, texto esperado en la línea)."""
    afile = tmp / "fichero.txt"
    afile.write_text("x")
    return [
        ("train-limit-0", _FT + ["--train-limit", "0"], {}, 2, "--train-limit debe ser un entero"),
        ("epochs-0", _FT + ["--epochs", "0"], {}, 2, "--epochs debe ser un entero positivo"),
        ("batch-size-neg", _FT + ["--batch-size", "-4"], {}, 2, "--batch-size debe ser"),
        ("lr-neg", _FT + ["--lr", "-1"], {}, 2, "--lr debe estar en (0, inf)"),
        ("seed-huge", _FT + ["--seed", str(2**70)], {}, 2, "--seed debe ser un entero entre 0"),
        ("missing-model", _FT + ["--model", str(tmp / "no-existe")], {}, 1,
         "parece una ruta local, pero no existe"),
        ("bad-profile", _FT, {"LABCODE_PROFILE": "bogus"}, 2, "LABCODE_PROFILE debe ser uno de"),
        ("out-under-a-file", _FT + ["--out", str(afile / "modelo")], {}, 2,
         "--out: " + str(afile) + " existe pero no es una carpeta"),
        ("json-is-a-folder", _FT + ["--json", str(tmp)], {}, 2, "--json: " + str(tmp)
         + " es una carpeta"),
        # Sin copia local, con una caché vacía y una réplica a la que nadie responde.
        ("missing-data", _FT + ["--train-limit", "8"],
         {"LABCODE_DATA": str(tmp / "vacia"), "LABCODE_CACHE": str(tmp / "cache-vacia"),
          "LABCODE_DATA_URL": "http://127.0.0.1:9", "HF_HUB_OFFLINE": "1"}, 1,
         "No se pudo conseguir el fichero de datos sst2/train.jsonl"),
        ("tour-seed-neg", ["tour", "--seed", "-1"], {}, 2, "--seed debe ser un entero entre 0"),
        ("tour-seed-text", ["tour", "--seed", "abc"], {}, 2,
         "argumento --seed: se esperaba un entero; se recibió 'abc'"),
        ("unknown-command", ["entrenar"], {}, 2, "argumento ORDEN: opción no válida: 'entrenar'"),
        ("unrecognized", ["tour", "--rapido"], {}, 2, "argumentos no reconocidos: --rapido"),
        ("required", ["generate"], {}, 2, "faltan argumentos obligatorios: prompt"),
        ("bad-choice", ["generate", "hola", "--strategy", "azar"], {}, 2,
         "argumento --strategy: opción no válida: 'azar'"),
        ("temperature-0", ["generate", "hola", "--temperature", "0"], {}, 2,
         "temperature debe ser un número finito > 0"),
        ("lone-surrogate", ["generate", os.fsdecode(b"hola \xff")], {}, 2,
         "prompt contiene un carácter que no es Unicode válido"),
        ("gpt-model-missing", ["generate", "hola"],
         {"LABCODE_GPT_MODEL": str(tmp / "no-existe")}, 1, "LABCODE_GPT_MODEL="),
        ("bench-unknown", ["bench", "nada"], {}, 2, "bench: mediciones desconocidas ['nada']"),
    ]


def _run(args: list[str], env_extra: dict) -> subprocess.CompletedProcess:
    env = {**os.environ, "LABCODE_PROFILE": "quick", "HF_HUB_OFFLINE": "1", **env_extra}
    env.pop("WORLD_SIZE", None)
    return subprocess.run([sys.executable, "-m", "labcode", *args], capture_output=True,
                          text=True, env=env, timeout=300)


def _run_in_process(args: list[str], env_extra: dict) -> tuple[int, str, str]:
    """``main(args)`` en este proceso: (código de salida, stdout, stderr).

    Igual que ``python -m labcode`` salvo el arranque del intérprete (lo cubren
    las pruebas con subprocesos de abajo), y sin pagar la importación de PyTorch
    en cada caso.
    """
    out, err = io.StringIO(), io.StringIO()
    env = {"LABCODE_PROFILE": "quick", "HF_HUB_OFFLINE": "1", **env_extra}
    with mock.patch.dict(os.environ, env), contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(err):
        os.environ.pop("WORLD_SIZE", None)
        try:
            rc = main(args)
        except SystemExit as exc:  # argparse: --help y errores de uso
            rc = exc.code
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def cli_results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    return {c[0]: (_run_in_process(c[1], c[2]), c[3], c[4]) for c in _cases(tmp)}


@pytest.mark.parametrize("name", [
    "train-limit-0", "epochs-0", "batch-size-neg", "lr-neg", "seed-huge", "missing-model",
    "bad-profile", "out-under-a-file", "json-is-a-folder", "missing-data", "tour-seed-neg",
    "tour-seed-text", "unknown-command", "unrecognized", "required", "bad-choice",
    "temperature-0", "lone-surrogate", "gpt-model-missing", "bench-unknown",
])
def test_each_cli_error_is_one_spanish_line(cli_results, name):
    (rc, out, err), code, text = cli_results[name]
    lines = err.strip().splitlines()
    assert rc == code, (rc, err)
    assert len(lines) == 1, err
    assert "Traceback" not in err and text in lines[0], lines[0]
    assert lines[0].startswith("python -m labcode")


def test_a_real_process_prints_one_spanish_line_and_exit_code_2():
    result = _run(["tour", "--seed", "-1"], {})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "python -m labcode tour: error: --seed debe ser un entero entre 0 y 4294967295 "
        "(2**32 - 1); se recibió -1."], result.stderr


def test_debug_shows_the_traceback():
    result = _run(["--debug", "tour", "--seed", "-1"], {})
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "LabcodeValueError" in result.stderr


def test_argparse_help_and_usage_are_in_spanish():
    result = _run(["finetune-bert", "--help"], {})
    assert result.returncode == 0
    assert result.stdout.startswith("uso: python -m labcode finetune-bert")
    assert "muestra esta ayuda y termina" in result.stdout and "opciones:" in result.stdout
    for english in ("usage:", "show this help", "options:", "positional arguments"):
        assert english not in result.stdout


def test_translate_argparse_messages():
    from labcode.cli import translate_argparse

    assert translate_argparse("argument --epochs: invalid float value: 'x'") == (
        "argumento --epochs: se esperaba un número; se recibió 'x'")
    assert translate_argparse("argument --lr: expected one argument") == (
        "argumento --lr: falta su valor")
    assert translate_argparse("ambiguous option: --e could match --epochs, --eval-limit") == (
        "opción ambigua: --e puede ser --epochs, --eval-limit")


def test_prefetch_gets_every_data_file_and_prepares_the_local_models(monkeypatch, capsys):
    from labcode.data import registry
    from labcode.hf import pretrained

    monkeypatch.setenv("LABCODE_PROFILE", "quick")
    prepared = []
    monkeypatch.setattr(pretrained, "local_model_dir",
                        lambda spec: prepared.append(spec.name) or f"/preparado/{spec.name}")
    assert main(["prefetch"]) == 0
    out = capsys.readouterr().out
    for name in registry.REGISTRY:
        assert f"datos {name}: " in out
    # Perfil quick: MiniLM y SmolLM2 (el decodificador del perfil, una sola vez).
    assert prepared == ["all-MiniLM-L6-v2", "SmolLM2-135M-Instruct"]
    assert "modelo SmolLM2-135M-Instruct: /preparado/SmolLM2-135M-Instruct" in out


def test_prefetch_without_data_is_one_spanish_line(no_data_source, monkeypatch, capsys):
    monkeypatch.delenv("LABCODE_DATA", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["prefetch"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("python -m labcode prefetch: error: "), err
