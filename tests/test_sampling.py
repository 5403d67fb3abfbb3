"""labcode.sampling: el paso de muestreo que comparten GPT, Llama y GPT2TextGenerator."""

from __future__ import annotations

import pytest
import torch

from labcode.sampling import check_sampling, generate_tokens, sample_next_token


def test_greedy_and_repetition_penalty():
    logits = torch.tensor([[1.0, 3.0, 2.0, -1.0]])
    assert sample_next_token(logits).item() == 1
    # 1 ya salió: su logit 3 pasa a 3 / 2 = 1.5 < 2 y gana el token 2
    seen = torch.tensor([[1, 1]])
    assert sample_next_token(logits, seen, repetition_penalty=2.0).item() == 2
    assert sample_next_token(logits, seen, repetition_penalty=1.0).item() == 1


def test_top_k_and_top_p_restrict_the_sample():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    g = torch.Generator().manual_seed(0)
    picks = {sample_next_token(logits, do_sample=True, top_k=2, generator=g).item()
             for _ in range(200)}
    assert picks == {0, 1}
    picks = {sample_next_token(logits, do_sample=True, top_p=0.85, generator=g).item()
             for _ in range(300)}
    assert picks == {0, 1, 2}  # 0,5 + 0,3 < 0,85: hace falta el tercero


def test_generate_tokens_stops_at_eos_and_pads_finished_rows():
    table = torch.tensor([[0.0, 5.0, 0.0], [0.0, 0.0, 5.0], [5.0, 0.0, 0.0]])  # sigue: 1, 2, 0

    def next_logits(ids, new):
        return table[ids[:, -1]]

    out = generate_tokens(next_logits, torch.tensor([[0], [1]]), 5, eos_token_id=2)
    assert out.tolist() == [[0, 1, 2], [1, 2, 2]]


def test_check_sampling_messages():
    with pytest.raises(ValueError, match="temperature"):
        check_sampling(temperature=0)
    with pytest.raises(TypeError, match="top_k"):
        check_sampling(top_k=2.5)
    with pytest.raises(ValueError, match="top_p"):
        check_sampling(top_p=1.5)
    with pytest.raises(ValueError, match="repetition_penalty"):
        check_sampling(repetition_penalty=0)
