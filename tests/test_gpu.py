"""Pruebas en GPU (CUDA). Se ejecutan con ``make gpu-check`` en una máquina con
GPU; sin CUDA se omiten (en CI de CPU se cubren las mismas piezas en CPU).

Comprueban que lo que el libro hace en CPU se mantiene en GPU: mismas salidas
(dentro de la tolerancia de la aritmética de la GPU), la caché KV y la
precisión mixta.
"""

from __future__ import annotations

import math

import pytest
import torch

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="sin GPU con CUDA"),
]

import transformers  # noqa: E402  (dependencia fijada: si falta, la prueba debe fallar)


def _gpt_pair(seed: int = 0):
    from labcode.models.gpt import GPT

    torch.manual_seed(seed)
    cfg = transformers.GPT2Config(n_embd=256, n_layer=4, n_head=8, vocab_size=1000, n_positions=256)
    hf = transformers.GPT2LMHeadModel(cfg).eval()
    return hf, GPT.from_hf(hf).eval()


def test_gpt_logits_on_gpu_match_hf_and_cpu():
    hf, ours = _gpt_pair()
    ids = torch.randint(0, 1000, (4, 64))
    with torch.no_grad():
        cpu = ours(ids)
        hf_gpu = hf.cuda()(ids.cuda()).logits
        ours_gpu = ours.cuda()(ids.cuda())
    assert (ours_gpu - hf_gpu).abs().max().item() < 1e-3
    assert (ours_gpu.cpu() - cpu).abs().max().item() < 1e-3


def test_gpt_kv_cache_generation_on_gpu_matches_hf_greedy():
    hf, ours = _gpt_pair(1)
    hf, ours = hf.cuda(), ours.cuda()
    prompt = torch.randint(0, 1000, (1, 8), device="cuda")
    with torch.no_grad():
        cached = ours.generate(prompt, max_new_tokens=24, use_cache=True)
        plain = ours.generate(prompt, max_new_tokens=24, use_cache=False)
        ref = hf.generate(prompt, max_new_tokens=24, do_sample=False, pad_token_id=0)
    assert torch.equal(cached, plain)
    assert torch.equal(cached, ref)


def test_llama_matches_hf_on_gpu_with_gqa():
    from labcode.models.llama import Llama

    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(
        vocab_size=512, hidden_size=192, intermediate_size=384, num_hidden_layers=3,
        num_attention_heads=6, num_key_value_heads=2, max_position_embeddings=256,
    )
    hf = transformers.LlamaForCausalLM(cfg).eval().cuda()
    ours = Llama.from_hf(hf).eval().cuda()
    ids = torch.randint(0, 512, (2, 48), device="cuda")
    with torch.no_grad():
        diff = (ours(ids) - hf(ids).logits).abs().max().item()
    assert diff < 1e-3


def test_encoder_block_trains_under_autocast():
    from labcode.hf.pretrained import amp_dtype, autocast_context
    from labcode.nn.blocks import TransformerEncoderBlock

    device = torch.device("cuda")
    assert amp_dtype(device) in (torch.bfloat16, torch.float16)
    torch.manual_seed(0)
    block = TransformerEncoderBlock(64, 4, 128, dropout=0.0).to(device)
    opt = torch.optim.AdamW(block.parameters(), lr=3e-3)
    x = torch.randn(8, 32, 64, device=device)
    target = torch.randn(8, 32, 64, device=device)
    losses = []
    # En CPU (bfloat16) 60 pasos bajan la pérdida a ~0,2 veces la inicial; 30 pasos
    # con lr 1e-3 se quedaban en ~0,8 en la H100 (umbral demasiado justo).
    for _ in range(60):
        with autocast_context(device):
            loss = torch.nn.functional.mse_loss(block(x).float(), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(map(math.isfinite, losses))
    assert losses[-1] < 0.5 * losses[0]
