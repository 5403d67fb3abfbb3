"""Las comprobaciones de ejercicios aceptan la respuesta correcta, rechazan con un
mensaje claro las que no son números y nunca lanzan excepciones."""

from __future__ import annotations

from labcode.exercises import (
    PRACTICA_CAP10,
    _cap10_expected,
    check_cap10_complejidad,
    check_cap11_patches,
)


def test_cap10_accepts_the_right_answer_and_rejects_non_numbers(capsys):
    good = _cap10_expected(PRACTICA_CAP10["n"], PRACTICA_CAP10["d"])
    assert check_cap10_complejidad(good) is True
    bad = {**good, "camino_rnn": "muchos"}
    assert check_cap10_complejidad(bad) is False
    assert "camino_rnn debe ser un número; se recibió 'muchos'" in capsys.readouterr().out
    assert check_cap10_complejidad({**good, "camino_rnn": 1}) is False
    assert "pista" in capsys.readouterr().out


def test_cap11_accepts_the_right_answer_and_rejects_non_integers(capsys):
    good = {"num_patches": 196, "seq_len": 197, "patch_params": 16 * 16 * 3 * 768 + 768}
    assert check_cap11_patches(good) is True
    assert check_cap11_patches({**good, "seq_len": None}) is False
    assert "seq_len debe ser un entero; se recibió None" in capsys.readouterr().out
    assert check_cap11_patches(None) is False
    assert "todavía no hay respuesta" in capsys.readouterr().out


def test_cap5_mask_rows_and_columns_says_ademas_de_and_explains_nan(capsys):
    import numpy as np

    from labcode.exercises import PRACTICA_CAP5, check_cap5_mascara

    ids = np.asarray(PRACTICA_CAP5["ids"])
    pad = PRACTICA_CAP5["pad_id"]
    T = ids.shape[1]
    causal = np.tril(np.ones((T, T), dtype=bool))
    both = causal[None] & (ids != pad)[:, None, :] & (ids != pad)[:, :, None]
    assert not check_cap5_mascara(both)
    out = capsys.readouterr().out
    assert "además de las claves" in out and "NaN" in out
