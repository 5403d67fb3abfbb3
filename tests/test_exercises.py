"""Las comprobaciones de ejercicios aceptan la respuesta correcta, rechazan con un
mensaje claro las que no son números y nunca lanzan excepciones."""

from __future__ import annotations

from labcode.book.exercises import PRACTICE_CH10, check_ch10_complexity, check_ch11_patches
from labcode.book.exercises.ch10 import _expected_ch10


def test_cap10_accepts_the_right_answer_and_rejects_non_numbers(capsys):
    good = _expected_ch10(PRACTICE_CH10["n"], PRACTICE_CH10["d"])
    assert check_ch10_complexity(good) is True
    bad = {**good, "rnn_path": "muchos"}
    assert check_ch10_complexity(bad) is False
    expected = "rnn_path debe ser un entero, no un texto; se recibió 'muchos'"
    assert expected in capsys.readouterr().out
    assert check_ch10_complexity({**good, "rnn_path": 1}) is False
    assert "pista" in capsys.readouterr().out


def test_cap11_accepts_the_right_answer_and_rejects_non_integers(capsys):
    good = {"num_patches": 196, "seq_len": 197, "patch_params": 16 * 16 * 3 * 768 + 768}
    assert check_ch11_patches(good) is True
    assert check_ch11_patches({**good, "seq_len": None}) is False
    assert "seq_len debe ser un entero; se recibió None" in capsys.readouterr().out
    assert check_ch11_patches(None) is False
    assert "todavía no hay respuesta" in capsys.readouterr().out


# --- Ejercicio 11.1: tolerancia de «dos decimales» y tupla al revés ------------------

def _rounded_by_hand_11_1():
    """Lo que obtiene quien redondea cada paso a dos decimales, como dice el enunciado."""
    import numpy as np

    from labcode.book.exercises import EXERCISE_11_1 as E

    r = lambda a: np.round(a, 2)  # noqa: E731
    scores = r(r(E["Q"] @ E["K"].T) / r(np.sqrt(2)))
    e = r(np.exp(scores))
    pesos = r(e / r(e.sum(axis=1, keepdims=True)))
    return r(pesos @ E["V"]), pesos


def test_11_1_two_decimals_by_hand_is_accepted(capsys):
    from labcode.book.exercises import check_11_1
    from labcode.book.exercises.ch02 import _ex11_1_candidates

    salida, pesos = _rounded_by_hand_11_1()
    expected, _ = _ex11_1_candidates()
    assert abs(salida - expected["output"]).max() > 0.01  # la tolerancia antigua lo rechazaba
    assert check_11_1((salida, pesos)) is True
    assert "resuelto" in capsys.readouterr().out


def test_11_1_tolerance_still_rejects_every_typical_mistake():
    import numpy as np

    from labcode.book.exercises import TOLERANCES_11_1
    from labcode.book.exercises.ch02 import _ex11_1_candidates

    expected, mistakes = _ex11_1_candidates()
    for part in ("weights", "output"):
        for message, wrong in mistakes[part].items():
            gap = np.abs(np.asarray(wrong) - expected[part]).max()
            assert gap > 2 * TOLERANCES_11_1[part], (part, message, gap)


def test_11_1_swapped_tuple_is_named(capsys):
    from labcode.book.exercises import check_11_1
    from labcode.book.exercises.ch02 import _ex11_1_candidates

    expected, _ = _ex11_1_candidates()
    assert check_11_1((expected["weights"], expected["output"])) is False
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
    from labcode.book.exercises import check_11_3

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


# --- Ejercicio 11.4: el bucle de ajuste fino del lector --------------------------------

def _toy_data_11_4():
    """Un «modelo» diminuto con la interfaz de HF (``.loss`` y ``.logits``) y datos separables."""
    from types import SimpleNamespace

    import torch

    class Toy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.EmbeddingBag(20, 2)

        def forward(self, input_ids, attention_mask=None, labels=None):
            logits = self.emb(input_ids)
            loss = None if labels is None else torch.nn.functional.cross_entropy(logits, labels)
            return SimpleNamespace(loss=loss, logits=logits)

    g = torch.Generator().manual_seed(0)

    def batches(n):
        out = []
        for _ in range(n):
            labels = torch.randint(0, 2, (8,), generator=g)
            ids = torch.randint(0, 10, (8, 5), generator=g) + 10 * labels[:, None]
            out.append({"input_ids": ids, "attention_mask": torch.ones_like(ids),
                        "labels": labels})
        return out

    torch.manual_seed(0)
    return {"model": Toy(), "train_batches": batches(10), "val_batches": batches(5),
            "num_steps": 40}


def _train_11_4(modelo, lotes, num_pasos):
    import torch
    from transformers import get_linear_schedule_with_warmup

    opt = torch.optim.AdamW(modelo.parameters(), lr=0.1)
    sched = get_linear_schedule_with_warmup(opt, num_pasos // 10, num_pasos)
    modelo.train()
    for paso in range(num_pasos):
        modelo(**lotes[paso % len(lotes)]).loss.backward()
        opt.step()
        sched.step()
        opt.zero_grad()


def test_11_4_accepts_a_loop_that_learns_and_names_typical_mistakes(capsys):
    from labcode.book.exercises import accuracy_11_4, check_11_4

    assert check_11_4(_train_11_4, accuracy_11_4, _toy_data_11_4()) is True
    assert "tu bucle aprende" in capsys.readouterr().out
    assert check_11_4(lambda m, lotes, n: None, accuracy_11_4, _toy_data_11_4()) is False
    assert "los pesos del modelo no cambiaron" in capsys.readouterr().out

    def percent(m, lotes):
        return 100 * accuracy_11_4(m, lotes)

    assert check_11_4(_train_11_4, percent, _toy_data_11_4()) is False
    assert "¿en porcentaje?" in capsys.readouterr().out

    def wrong_direction(modelo, lotes, num_pasos):  # sube la pérdida: no aprende
        import torch

        opt = torch.optim.SGD(modelo.parameters(), lr=1.0, maximize=True)
        for paso in range(num_pasos):
            modelo(**lotes[paso % len(lotes)]).loss.backward()
            opt.step()
            opt.zero_grad()

    assert check_11_4(wrong_direction, accuracy_11_4, _toy_data_11_4()) is False
    assert "la exactitud de validación es" in capsys.readouterr().out
    assert check_11_4(None, None) is False


# --- Ejercicio 11.5: medidas de coherencia ------------------------------------------------

def test_11_5_accepts_reference_and_diagnoses_typical_mistakes(capsys):
    import numpy as np

    from labcode.book.exercises import check_11_5
    from labcode.hf import generation as g

    good = {"distinct_n": g.distinct_n, "repeated": g.repeated_ngram_share,
            "perplexity": g.perplexity_from_logprobs}
    assert check_11_5(good) is True
    capsys.readouterr()
    no_sign = dict(good, perplexity=lambda lp: float(np.exp(np.mean(lp))))
    assert check_11_5(no_sign) is False
    assert "sin el signo menos" in capsys.readouterr().out
    only_repeats = dict(good, repeated=lambda t, n: 1 - g.distinct_n(t, n))
    assert check_11_5(only_repeats) is False
    assert "1 - distinct_n" in capsys.readouterr().out
    assert check_11_5({"distinct_n": g.distinct_n}) is False
    assert "faltan" in capsys.readouterr().out
    assert check_11_5(None) is False


def test_reference_coherence_metrics_on_known_inputs():
    import math

    from labcode.hf import generation as g

    assert g.distinct_n("a b a b".split(), 2) == 2 / 3
    assert g.repeated_ngram_share("a b a b".split(), 2) == 2 / 3
    assert g.repeated_ngram_share("a b c".split(), 1) == 0.0
    assert g.distinct_n(["a"], 2) == 0.0
    assert math.isclose(g.perplexity_from_logprobs([math.log(0.5)] * 3), 2.0)

def test_cap5_mask_rows_and_columns_says_ademas_de_and_explains_nan(capsys):
    import numpy as np

    from labcode.book.exercises import PRACTICE_CH5, check_ch5_mask

    ids = np.asarray(PRACTICE_CH5["ids"])
    pad = PRACTICE_CH5["pad_id"]
    T = ids.shape[1]
    causal = np.tril(np.ones((T, T), dtype=bool))
    both = causal[None] & (ids != pad)[:, None, :] & (ids != pad)[:, :, None]
    assert not check_ch5_mask(both)
    out = capsys.readouterr().out
    assert "además de las claves" in out and "NaN" in out
