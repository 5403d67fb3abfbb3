"""Velocidad de generación: nuestro ``GPT.generate`` (con y sin caché KV) frente a HF.

Envoltorio de :func:`labcode.book.bench.bench_generation` (la misma medición que usa
el apéndice «Rendimiento» y ``python -m labcode bench generation``). Los tres
caminos usan **el mismo modelo** (una configuración de GPT-2 con pesos
aleatorios: sin red no hay pesos preentrenados, y la velocidad no depende de
ellos), el mismo *prompt* y decodificación voraz; se informa de la mediana.

Uso::

    .venv/bin/python benchmarks/bench_generation.py            # GPT-2 small (124M)
    .venv/bin/python benchmarks/bench_generation.py --small    # modelo pequeño (rápido)
    .venv/bin/python benchmarks/bench_generation.py --device cuda --new-tokens 256

Cómo leer los resultados: en CPU, con lote 1, casi todo el tiempo se va en leer
los pesos de las capas lineales en cada paso, y la caché KV evita recalcular el
*prompt* y lo ya generado. En GPU, con lote 1 y secuencias cortas, GPT-2 small
está limitado por el coste de lanzar cientos de núcleos pequeños desde Python en
cada token, así que con y sin caché se obtienen velocidades parecidas; la caché
gana claramente con lotes mayores o secuencias largas.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from labcode.book.bench import bench_generation, summary, write_json  # noqa: E402


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--small", action="store_true",
                   help="modelo pequeño (4 capas, 256 dims) para una prueba rápida")
    p.add_argument("--n-layer", type=int, default=12)
    p.add_argument("--n-embd", type=int, default=768)
    p.add_argument("--n-head", type=int, default=12)
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--prompt-len", type=int, default=16)
    p.add_argument("--new-tokens", type=int, default=64)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=0, help="hilos de PyTorch (0: por defecto)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--out", default=str(ROOT / "_build" / "benchmarks" / "generation.json"))
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    sizes = {"n_layer": args.n_layer, "n_embd": args.n_embd, "n_head": args.n_head}
    if args.small:
        sizes = {"n_layer": 4, "n_embd": 256, "n_head": 4, "n_positions": 256}
    report = bench_generation(**sizes, batch_size=args.batch_size, prompt_len=args.prompt_len,
                              new_tokens=args.new_tokens, repeats=args.repeats,
                              device=args.device)
    print(summary(report))
    print(f"JSON: {write_json(report, args.out)}")
    return report


if __name__ == "__main__":
    main()
