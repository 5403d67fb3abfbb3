"""Velocidad de generación: nuestro ``GPT.generate`` (con y sin caché KV) frente a HF.

Los tres caminos usan **el mismo modelo** (una configuración de GPT-2 con pesos
aleatorios: sin red no hay pesos preentrenados, y la velocidad no depende de
ellos), la misma máquina, el mismo *prompt* y decodificación voraz (*greedy*).
Cada método se calienta y después se repite (repeticiones intercaladas entre
métodos); se informa de la mediana.

Uso::

    .venv/bin/python benchmarks/bench_generation.py            # GPT-2 small (124M)
    .venv/bin/python benchmarks/bench_generation.py --small    # modelo pequeño (rápido)
    .venv/bin/python benchmarks/bench_generation.py --device cuda --new-tokens 256

Escribe una tabla por pantalla y un JSON (por defecto
``_build/benchmarks/generation.json``).

Cómo leer los resultados: en CPU, con lote 1, casi todo el tiempo se va en leer
los pesos de las capas lineales en cada paso, y la caché KV evita recalcular el
*prompt* y lo ya generado. En GPU, con lote 1 y secuencias cortas, GPT-2 small
está limitado por el coste de lanzar cientos de núcleos pequeños desde Python en
cada token (el cálculo en sí es despreciable), así que con y sin caché se
obtienen velocidades parecidas; la caché gana claramente con lotes mayores o
secuencias largas.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from labcode.gpt import GPT, measure_tokens_per_second  # noqa: E402


def build_models(args) -> tuple[torch.nn.Module, GPT]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import GPT2Config, GPT2LMHeadModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    torch.manual_seed(args.seed)
    cfg = GPT2Config(
        vocab_size=args.vocab_size,
        n_positions=args.n_positions,
        n_embd=args.n_embd,
        n_layer=args.n_layer,
        n_head=args.n_head,
        bos_token_id=None,
        eos_token_id=None,
        pad_token_id=None,
    )
    hf = GPT2LMHeadModel(cfg).eval().to(args.device)
    # Sin token de fin: HF genera exactamente max_new_tokens, como el nuestro.
    hf.generation_config.eos_token_id = None
    hf.generation_config.bos_token_id = None
    hf.generation_config.pad_token_id = 0
    ours = GPT.from_hf(hf).to(args.device).eval()
    return hf, ours


def run(args) -> dict:
    if args.threads:
        torch.set_num_threads(args.threads)
    hf, ours = build_models(args)
    g = torch.Generator().manual_seed(args.seed)
    prompt = torch.randint(0, args.vocab_size, (args.batch_size, args.prompt_len), generator=g)
    prompt = prompt.to(args.device)
    attention_mask = torch.ones_like(prompt)
    n = args.new_tokens

    # Los tres caminos producen la misma continuación (se comprueba aquí también).
    with torch.no_grad():
        ref = ours.generate(prompt, n, use_cache=True)
        same_nocache = torch.equal(ref, ours.generate(prompt, n, use_cache=False))
        hf_out = hf.generate(
            prompt, attention_mask=attention_mask, max_new_tokens=n, min_new_tokens=n,
            do_sample=False,
        )
        same_hf = torch.equal(ref, hf_out)

    methods = {
        "labcode GPT.generate (caché KV)": lambda: ours.generate(prompt, n, use_cache=True),
        "labcode GPT.generate (sin caché)": lambda: ours.generate(prompt, n, use_cache=False),
        "HF GPT2LMHeadModel.generate": lambda: hf.generate(
            prompt, attention_mask=attention_mask, max_new_tokens=n, min_new_tokens=n,
            do_sample=False,
        ),
    }
    with torch.no_grad():
        results = measure_tokens_per_second(
            methods, n, batch_size=args.batch_size, repeats=args.repeats, warmup=args.warmup
        )
    params = ours.num_parameters()
    return {
        "config": {
            "vocab_size": args.vocab_size, "n_positions": args.n_positions,
            "n_embd": args.n_embd, "n_layer": args.n_layer, "n_head": args.n_head,
            "parameters": params, "batch_size": args.batch_size,
            "prompt_len": args.prompt_len, "new_tokens": n,
            "repeats": args.repeats, "warmup": args.warmup, "decoding": "greedy",
        },
        "machine": {
            "device": args.device,
            "device_name": (torch.cuda.get_device_name(0) if args.device.startswith("cuda")
                            else platform.processor() or platform.machine()),
            "torch_threads": torch.get_num_threads(),
            "cpu_count": os.cpu_count(),
            "torch": torch.__version__,
            "python": platform.python_version(),
        },
        "same_tokens": {"no_cache_equals_cache": same_nocache, "hf_equals_cache": same_hf},
        "results": results,
    }


def print_table(report: dict) -> None:
    cfg, res = report["config"], report["results"]
    print(
        f"Modelo: {cfg['parameters'] / 1e6:.1f} M parámetros (n_layer={cfg['n_layer']}, "
        f"n_embd={cfg['n_embd']}, n_head={cfg['n_head']}, V={cfg['vocab_size']}); "
        f"lote {cfg['batch_size']}, prompt {cfg['prompt_len']}, {cfg['new_tokens']} tokens nuevos; "
        f"dispositivo {report['machine']['device']} ({report['machine']['torch_threads']} hilos)"
    )
    print(f"Mismos tokens: {report['same_tokens']}")
    width = max(len(k) for k in res)
    print(f"{'método':<{width}}  {'tokens/s':>10}  {'mediana (s)':>12}")
    for name, r in res.items():
        print(f"{name:<{width}}  {r['tokens_per_s']:>10.1f}  {r['seconds']:>12.3f}")


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--small", action="store_true",
                   help="modelo pequeño (4 capas, 256 dims) para una prueba rápida")
    p.add_argument("--vocab-size", type=int, default=50257)
    p.add_argument("--n-positions", type=int, default=1024)
    p.add_argument("--n-embd", type=int, default=768)
    p.add_argument("--n-layer", type=int, default=12)
    p.add_argument("--n-head", type=int, default=12)
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--prompt-len", type=int, default=16)
    p.add_argument("--new-tokens", type=int, default=64)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=0, help="hilos de PyTorch (0: por defecto)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--out", default=str(ROOT / "_build" / "benchmarks" / "generation.json"))
    args = p.parse_args(argv)
    if args.small:
        args.n_layer, args.n_embd, args.n_head, args.n_positions = 4, 256, 4, 256
    report = run(args)
    print_table(report)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"JSON: {out}")
    return report


if __name__ == "__main__":
    main()
