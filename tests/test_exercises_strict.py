"""Las comprobaciones de ejercicios sólo aceptan respuestas correctas y nunca lanzan.

Para cada comprobación: la respuesta correcta se acepta (también como tensor con
``requires_grad``) y los errores típicos se rechazan: enteros que no lo son
(196.9 por 196), textos en lugar de números ("11"), parejas de reales
((1.9, 1.9) por (1, 1)), infinitos y NaN.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from labcode.book import exercises as ex
from labcode.numpy_ref.positional import sinusoidal_table

INF = float("inf")


def _cap11_good():
    return {"num_patches": 196, "seq_len": 197, "patch_params": 16 * 16 * 3 * 768 + 768}


@pytest.mark.parametrize("wrong", [
    {"num_patches": 196.9}, {"num_patches": "196"}, {"num_patches": INF},
    {"num_patches": float("nan")}, {"num_patches": True}, {"seq_len": 196},
    {"patch_params": 16 * 16 * 3 * 768}, {"num_patches": [196, 1]},
])
def test_cap11_patches_rejects_typical_wrong_answers(wrong):
    assert ex.check_ch11_patches({**_cap11_good(), **wrong}) is False


def test_cap11_patches_accepts_right_answer_in_any_numeric_form():
    assert ex.check_ch11_patches(_cap11_good()) is True
    as_tensors = {k: torch.tensor(float(v), requires_grad=True) for k, v in _cap11_good().items()}
    assert ex.check_ch11_patches(as_tensors) is True
    assert ex.check_ch11_patches({k: np.int64(v) for k, v in _cap11_good().items()}) is True


def _cap10_good():
    return {"rnn_sequential": 512, "rnn_path": 512, "attention_sequential": 1,
            "attention_path": 1, "equal_cost_n": 64}


@pytest.mark.parametrize("wrong", [
    {"equal_cost_n": 64.5}, {"equal_cost_n": "64"}, {"rnn_path": INF},
    {"attention_sequential": 512}, {"attention_path": 511.9999},
])
def test_cap10_rejects_typical_wrong_answers(wrong):
    assert ex.check_ch10_complexity({**_cap10_good(), **wrong}) is False


def test_cap10_accepts_right_answer():
    assert ex.check_ch10_complexity(_cap10_good()) is True
    assert ex.check_ch10_complexity({k: float(v) for k, v in _cap10_good().items()}) is True


@pytest.fixture(scope="module")
def maps():
    from labcode.analysis.attention_maps import AttentionMaps

    rng = np.random.default_rng(0)
    w = rng.random((2, 3, 5, 5))
    w[1, 2] = np.eye(5, k=-1) + 1e-3  # la capa 1, cabeza 2 mira al token anterior
    w = w / w.sum(-1, keepdims=True)
    return AttentionMaps(tokens=list("abcde"), attentions=w)


def test_cap9_accepts_the_best_head_and_rejects_near_misses(maps):
    from labcode.analysis.attention_maps import head_statistics

    prev = head_statistics(maps)["previous"]
    best = tuple(int(i) for i in np.unravel_index(prev.argmax(), prev.shape))
    assert ex.check_ch9_previous_token_head(best, maps) is True
    assert ex.check_ch9_previous_token_head(torch.tensor(best), maps) is True
    for wrong in [(best[0] + 0.9, best[1] + 0.9), "".join(map(str, best)), (best[0], INF),
                  (0, 0) if best != (0, 0) else (0, 1), (best[0],), (-1, best[1])]:
        assert ex.check_ch9_previous_token_head(wrong, maps) is False, wrong


def test_cap5_mask_accepts_right_and_rejects_typical_mistakes():
    correct, mistakes = ex.ch05._masks_ch5()
    assert ex.check_ch5_mask(correct) is True
    assert ex.check_ch5_mask(torch.tensor(correct)[:, None]) is True
    assert ex.check_ch5_mask(correct.astype(float)) is True  # ceros y unos
    for wrong in list(mistakes.values()) + [correct * 0.5, np.where(correct, INF, 0.0),
                                              "máscara", correct[:, :-1]]:
        assert ex.check_ch5_mask(wrong) is False


def test_cap6_kv_cache_accepts_right_and_rejects_near_misses():
    prompt = torch.tensor(ex.PRACTICE_CH6["prompt"])
    expected = ex.model_ch6().generate(prompt, ex.PRACTICE_CH6["max_new_tokens"])
    assert ex.check_ch6_kv_cache(expected) is True
    assert ex.check_ch6_kv_cache(expected.float().requires_grad_()) is True
    near = expected.float().clone()
    near[0, -1] += 0.4
    off = expected.clone()
    off[0, -1] = (off[0, -1] + 1) % 40
    for wrong in [near, off, expected[:, prompt.shape[1]:], expected.float() * INF, "tokens"]:
        assert ex.check_ch6_kv_cache(wrong) is False


def test_11_2_table_accepts_right_and_rejects_wrong():
    table = sinusoidal_table(20, 8)
    assert ex.check_11_2(table) is True
    assert ex.check_11_2(torch.tensor(table, requires_grad=True)) is True
    assert ex.check_11_2(lambda n, d: sinusoidal_table(n, d)) is True
    for wrong in [table + 1e-3, table.T, np.where(table > 0, INF, table), "tabla",
                  table.astype(str), lambda n, d: sinusoidal_table(n, d).astype(str)]:
        assert ex.check_11_2(wrong) is False


def test_11_1_accepts_right_and_rejects_strings_and_tensors_with_grad():
    expected, mistakes = ex.ch02._ex11_1_candidates()
    assert ex.check_11_1(expected["weights"]) is True
    assert ex.check_11_1(torch.tensor(expected["weights"], requires_grad=True)) is True
    assert ex.check_11_1({"output": torch.tensor(expected["output"], requires_grad=True)})
    assert ex.check_11_1(expected["weights"].astype(str)) is False
    assert ex.check_11_1(np.full((3, 3), INF)) is False
    for wrong in mistakes["weights"].values():
        assert ex.check_11_1(wrong) is False


def test_11_4_refuses_strings_and_near_misses():
    y_true, y_pred = [1, 0, 1, 1, 0, 0], [1, 1, 1, 0, 0, 0]
    from labcode.hf.sentiment import classification_metrics

    good = classification_metrics(y_true, y_pred)
    answer = {k: good[k] for k in ("confusion_matrix", "precision", "recall", "f1")}
    assert ex.check_ch7_metrics(answer, y_true, y_pred) is True
    for wrong in [{"precision": str(good["precision"])}, {"f1": good["f1"] + 1e-3},
                  {"recall": INF}, {"confusion_matrix": [["2", "1"], ["1", "2"]]},
                  {"precision": torch.tensor(good["precision"] + 0.01, requires_grad=True)}]:
        assert ex.check_ch7_metrics({**answer, **wrong}, y_true, y_pred) is False


@pytest.mark.parametrize("check", [
    ex.check_11_1, ex.check_11_2, ex.check_ch5_mask, ex.check_ch6_kv_cache,
    ex.check_ch10_complexity, ex.check_ch11_patches,
])
@pytest.mark.parametrize("weird", [
    torch.ones(3, requires_grad=True), INF, float("nan"), "11", b"\x00", object(),
    {"a": torch.ones(2, requires_grad=True)}, [[1, 2], [3]], 10**40,
])
def test_checks_never_raise(check, weird, capsys):
    assert check(weird) is False
    assert capsys.readouterr().out.startswith("❌")
