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


# --- Ejercicio 11.1: tolerancia de «dos decimales» y tupla al revés ------------------

def _rounded_by_hand_11_1():
    """Lo que obtiene quien redondea cada paso a dos decimales, como dice el enunciado."""
    import numpy as np

    from labcode.exercises import EJERCICIO_11_1 as E

    r = lambda a: np.round(a, 2)  # noqa: E731
    scores = r(r(E["Q"] @ E["K"].T) / r(np.sqrt(2)))
    e = r(np.exp(scores))
    pesos = r(e / r(e.sum(axis=1, keepdims=True)))
    return r(pesos @ E["V"]), pesos


def test_11_1_two_decimals_by_hand_is_accepted(capsys):
    from labcode.exercises import _ex11_1_candidates, check_11_1

    salida, pesos = _rounded_by_hand_11_1()
    expected, _ = _ex11_1_candidates()
    assert abs(salida - expected["salida"]).max() > 0.01  # la tolerancia antigua lo rechazaba
    assert check_11_1((salida, pesos)) is True
    assert "resuelto" in capsys.readouterr().out


def test_11_1_tolerance_still_rejects_every_typical_mistake():
    import numpy as np

    from labcode.exercises import TOLERANCIAS_11_1, _ex11_1_candidates

    expected, mistakes = _ex11_1_candidates()
    for part in ("pesos", "salida"):
        for message, wrong in mistakes[part].items():
            gap = np.abs(np.asarray(wrong) - expected[part]).max()
            assert gap > 2 * TOLERANCIAS_11_1[part], (part, message, gap)


def test_11_1_swapped_tuple_is_named(capsys):
    from labcode.exercises import _ex11_1_candidates, check_11_1

    expected, _ = _ex11_1_candidates()
    assert check_11_1((expected["pesos"], expected["salida"])) is False
    out = capsys.readouterr().out
    assert "devolviste (pesos, salida)" in out
    assert "multiplicar los pesos por V" not in out
    assert "✅ pesos" in out and "✅ salida" in out  # cada parte, en su sitio, es correcta


# --- Ejercicio 11.3: división y unión de cabezas, cada error por separado -----------

def _mha_with(split_direct: bool, merge_direct: bool):
    import numpy as np

    def fn(x, w_q, w_k, w_v, w_o, h):
        b, n, d = x.shape
        dh = d // h

        def split(t):
            return (t.reshape(b, h, n, dh) if split_direct
                    else t.reshape(b, n, h, dh).transpose(0, 2, 1, 3))

        q, k, v = split(x @ w_q), split(x @ w_k), split(x @ w_v)
        s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(dh)
        w = np.exp(s - s.max(-1, keepdims=True))
        w /= w.sum(-1, keepdims=True)
        o = w @ v
        o = o.reshape(b, n, d) if merge_direct else o.transpose(0, 2, 1, 3).reshape(b, n, d)
        return o @ w_o

    return fn


def test_11_3_diagnoses_split_and_merge_separately(capsys):
    from labcode.exercises import check_11_3

    assert check_11_3(_mha_with(False, False)) is True
    capsys.readouterr()
    assert check_11_3(_mha_with(True, False)) is False
    out = capsys.readouterr().out
    assert "cabezas mal divididas: hiciste un reshape directo a (batch, h, n, d_head)" in out
    assert check_11_3(_mha_with(False, True)) is False
    out = capsys.readouterr().out
    assert "cabezas mal unidas" in out and "mal divididas" not in out
    assert check_11_3(_mha_with(True, True)) is False
    assert "mal divididas Y mal unidas" in capsys.readouterr().out
