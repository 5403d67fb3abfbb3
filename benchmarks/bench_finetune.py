"""Ajuste fino de BERT en SST-2: tiempo de entrenamiento y exactitud de validación.

Envoltorio de :func:`labcode.book.bench.bench_finetune` (también
``python -m labcode bench finetune``). Objetivos del proyecto:

- perfil ``quick`` (all-MiniLM-L6-v2, subconjunto de SST-2, 1 época, 2 núcleos de
  CPU): exactitud de validación >= 85 % con <= 5 minutos de entrenamiento;
- perfil ``full`` (``bert-base-uncased``, SST-2 completo, GPU): >= 92 %.

Uso::

    .venv/bin/python benchmarks/bench_finetune.py                     # perfil activo
    .venv/bin/python benchmarks/bench_finetune.py --train-limit 8000
    LABCODE_PROFILE=full .venv/bin/python benchmarks/bench_finetune.py --epochs 2

Escribe un JSON (por defecto ``_build/benchmarks/finetune.json``). El código de
salida es 0 aunque no se alcance el objetivo: el JSON dice si se alcanzó
(``target_met``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from labcode.book.bench import bench_finetune, summary, write_json  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-limit", type=int, default=None,
                        help="frases de entrenamiento (por defecto, las del perfil)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None, help="cpu, cuda... (por defecto, el mejor)")
    parser.add_argument("--out", default=str(ROOT / "_build" / "benchmarks" / "finetune.json"))
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    report = bench_finetune(train_limit=args.train_limit, epochs=args.epochs,
                            batch_size=args.batch_size, lr=args.lr, max_length=args.max_length,
                            seed=args.seed, device=args.device)
    print(summary(report))
    print(f"JSON: {write_json(report, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
