"""Línea de órdenes de labcode: ``python -m labcode``.

Equivale al ``python codigo/transformers.py`` del laboratorio original: un
recorrido guiado por las piezas del Transformer en la terminal.

Ejemplos::

    python -m labcode --help
    python -m labcode tour
    python -m labcode tour --seed 3
    python -m labcode finetune-bert --train-limit 2000 --epochs 1
    torchrun --nproc_per_node 2 -m labcode finetune-bert --train-limit 2000
    python -m labcode generate "Había una vez" --strategy sample --seed 0
    python -m labcode bench mha generation --json resultados.json
"""

from __future__ import annotations

import argparse
import importlib
import sys

import numpy as np


def _title(text: str) -> None:
    print()
    print(text)
    print("─" * len(text))


def tour(seed: int = 0) -> int:
    """Recorrido guiado: autoatención, atención multi-cabeza y codificación posicional."""
    from labcode.attention_numpy import (
        MultiHeadAttentionNumPy,
        SelfAttentionNumPy,
        causal_mask,
    )
    from labcode.positional import PositionalEncodingSinusoidal

    np.set_printoptions(precision=3, suppress=True)
    rng = np.random.default_rng(seed)
    tokens = ["el", "gato", "bebió", "la", "leche"]
    x = rng.normal(size=(len(tokens), 8))

    _title("1. Autoatención (self-attention) en NumPy")
    attn = SelfAttentionNumPy(d_model=8, d_k=4, seed=seed)
    out, w = attn(x)
    print(f"entrada {x.shape} -> salida {out.shape}; pesos {w.shape}")
    print("pesos de atención (filas = consultas, suman 1):")
    for tok, row in zip(tokens, w, strict=True):
        print(f"  {tok:>6} {row}")
    print("suma de cada fila:", w.sum(axis=-1))

    _title("2. Máscara causal: nadie mira al futuro")
    _, wc = attn(x, mask=causal_mask(len(tokens)))
    print(wc)

    _title("3. Atención multi-cabeza (multi-head attention)")
    mha = MultiHeadAttentionNumPy(d_model=8, num_heads=2, seed=seed)
    out, w = mha(x)
    print(f"2 cabezas: salida {out.shape}, pesos {w.shape} (cabezas, consultas, claves)")

    _title("4. Codificación posicional sinusoidal")
    pe = PositionalEncodingSinusoidal(d_model=8, max_len=50)
    print("PE de las posiciones 0 a 2:")
    print(pe.pe[:3])
    print(f"x + PE conserva la forma: {pe(x).shape}")
    print()
    print("Sigue en el libro: make book  (o abre _build/html/index.html)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m labcode",
        description="Lab 11: Transformers. Recorrido guiado y utilidades del libro.",
    )
    sub = parser.add_subparsers(dest="command", metavar="ORDEN")
    p_tour = sub.add_parser("tour", help="recorrido guiado por las piezas del Transformer")
    p_tour.add_argument("--seed", type=int, default=0, help="semilla (por defecto 0)")
    # Subórdenes que viven en su módulo: cada uno define add_cli(subparsers) y run_cli(args).
    for module_name in _CLI_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:  # pragma: no cover - módulo opcional ausente
            continue
        if hasattr(module, "add_cli"):
            before = set(sub.choices)
            module.add_cli(sub)
            for name in set(sub.choices) - before:
                _HANDLERS[name] = module.run_cli
    return parser


#: Módulos que aportan subórdenes (``finetune-bert``, ``generate``...).
_CLI_MODULES = ("labcode.sentiment", "labcode.generation", "labcode.bench")
_HANDLERS: dict = {}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in (None, "tour"):
        return tour(seed=getattr(args, "seed", 0))
    handler = _HANDLERS.get(args.command)
    if handler is None:  # pragma: no cover - argparse ya rechaza órdenes desconocidas
        parser.error(f"orden desconocida: {args.command}")
    result = handler(args)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
