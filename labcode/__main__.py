"""Línea de órdenes de labcode: ``python -m labcode``.

Equivale al ``python codigo/transformers.py`` del laboratorio original: un
recorrido guiado por las piezas del Transformer en la terminal.

Ejemplos::

    python -m labcode --help
    python -m labcode tour
    python -m labcode tour --seed 3
"""

from __future__ import annotations

import argparse
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
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in (None, "tour"):
        return tour(seed=getattr(args, "seed", 0))
    parser.error(f"orden desconocida: {args.command}")  # pragma: no cover
    return 2


if __name__ == "__main__":
    sys.exit(main())
