"""Benchmark del capítulo 5: entrenar el Transformer de fechas en CPU.

Entrena la configuración del capítulo (``labcode.tasks.seq2seq.train_dates_model``), mide
el tiempo de pared del entrenamiento y la coincidencia exacta en fechas de prueba
no vistas, y escribe un JSON con los resultados.

Objetivo: >= 99 % de coincidencia exacta en <= 2 minutos de entrenamiento con
2 núcleos de CPU.

Uso::

    .venv/bin/python benchmarks/bench_seq2seq.py [salida.json] [--threads 2] [--n-test 2000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from labcode.book.bench import machine_info, write_json  # noqa: E402
from labcode.book.presets import DATES_MODEL_CONFIG, DATES_TRAIN_CONFIG  # noqa: E402
from labcode.tasks.seq2seq import exact_match, train_dates_model  # noqa: E402

TARGET_ACCURACY = 0.99
TARGET_SECONDS = 120.0


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        default=str(ROOT / "_build" / "benchmarks" / "seq2seq.json"),
        help="ruta del JSON de resultados (por defecto _build/benchmarks/seq2seq.json)",
    )
    parser.add_argument("--threads", type=int, default=2, help="hilos de PyTorch (defecto: 2)")
    parser.add_argument("--n-test", type=int, default=2000, help="pares de prueba (defecto: 2000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true", help="sin barra de progreso")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    model, task, result = train_dates_model(
        DATES_MODEL_CONFIG, DATES_TRAIN_CONFIG, num_threads=args.threads,
        show_progress=not args.no_progress, seed=args.seed,
    )
    pairs = task.sample_pairs(args.n_test, np.random.default_rng(123), split="test")
    t0 = time.perf_counter()
    acc, preds = exact_match(model, task, pairs)
    eval_seconds = time.perf_counter() - t0
    errors = [{"entrada": s, "esperado": t, "predicho": p} for s, t, p in preds if t != p]

    out = {
        "benchmark": "seq2seq_fechas",
        "train_seconds": round(result.seconds, 2),
        "eval_seconds": round(eval_seconds, 2),
        "exact_match": acc,
        "n_test": len(preds),
        "n_errors": len(errors),
        "errors": errors[:20],
        "final_loss": result.losses[-1],
        "steps": result.config["steps"],
        "threads": args.threads,
        "num_parameters": model.num_parameters(),
        "model_config": DATES_MODEL_CONFIG,
        "train_config": DATES_TRAIN_CONFIG,
        "target": {"exact_match": TARGET_ACCURACY, "train_seconds": TARGET_SECONDS},
        "meets_target": bool(acc >= TARGET_ACCURACY and result.seconds <= TARGET_SECONDS),
        "machine": machine_info(),
    }
    path = write_json(out, args.out)
    print(
        f"entrenamiento: {result.seconds:.1f} s ({args.threads} hilos, {out['steps']} pasos) | "
        f"coincidencia exacta: {acc:.2%} ({len(preds) - len(errors)}/{len(preds)}) | "
        f"objetivo {'cumplido' if out['meets_target'] else 'NO cumplido'} -> {path}"
    )
    return out


if __name__ == "__main__":
    main()
