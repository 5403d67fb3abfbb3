"""Benchmark del capítulo 11: entrenar el ViT de los dígitos 8x8 en CPU.

Entrena la configuración del capítulo (``labcode.book.presets.VIT_DIGITS_CONFIG`` y
``VIT_DIGITS_TRAIN_CONFIG``) con :func:`labcode.tasks.vit.train_vit`, mide el tiempo de
pared del entrenamiento (sin las evaluaciones) y la exactitud en el conjunto de
prueba, y escribe un JSON con los resultados.

Objetivo: >= 95 % de exactitud en prueba en <= 2 minutos de entrenamiento en CPU.

Uso::

    .venv/bin/python benchmarks/bench_vit.py [--out salida.json] [--threads 1] [--epochs N]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from labcode.book.bench import machine_info, write_json  # noqa: E402
from labcode.book.presets import VIT_DIGITS_CONFIG, VIT_DIGITS_TRAIN_CONFIG  # noqa: E402
from labcode.data.digits import load_digits_dataset  # noqa: E402
from labcode.tasks.vit import train_vit  # noqa: E402

TARGET_ACCURACY = 0.95
TARGET_SECONDS = 120.0


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        default=str(ROOT / "_build" / "benchmarks" / "vit.json"),
        help="ruta del JSON de resultados (por defecto _build/benchmarks/vit.json)",
    )
    parser.add_argument("--threads", type=int, default=VIT_DIGITS_TRAIN_CONFIG.num_threads,
                        help="hilos de PyTorch (defecto: los del capítulo)")
    parser.add_argument("--epochs", type=int, default=VIT_DIGITS_TRAIN_CONFIG.epochs)
    parser.add_argument("--seed", type=int, default=VIT_DIGITS_TRAIN_CONFIG.seed)
    parser.add_argument("--no-progress", action="store_true", help="sin barra de progreso")
    args = parser.parse_args(argv)

    tc = dataclasses.replace(
        VIT_DIGITS_TRAIN_CONFIG, num_threads=args.threads, epochs=args.epochs, seed=args.seed
    )
    data = load_digits_dataset(test_size=0.25, seed=args.seed)
    model, hist, _ = train_vit(
        VIT_DIGITS_CONFIG, tc, data=data, show_progress=not args.no_progress, eval_every=5
    )
    acc = hist.final_accuracy
    out = {
        "benchmark": "vit_digits",
        "train_seconds": round(hist.seconds, 2),
        "test_accuracy": acc,
        "best_test_accuracy": max(hist.test_accuracy),
        "n_train": len(data.x_train),
        "n_test": len(data.x_test),
        "final_loss": hist.loss[-1],
        "epochs": tc.epochs,
        "threads": tc.num_threads,
        "num_parameters": hist.num_parameters,
        "model_config": dataclasses.asdict(VIT_DIGITS_CONFIG),
        "train_config": dataclasses.asdict(tc),
        "target": {"test_accuracy": TARGET_ACCURACY, "train_seconds": TARGET_SECONDS},
        "meets_target": bool(acc >= TARGET_ACCURACY and hist.seconds <= TARGET_SECONDS),
        "machine": machine_info(),
    }
    path = write_json(out, args.out)
    print(
        f"entrenamiento: {hist.seconds:.1f} s ({tc.num_threads} hilo(s), {tc.epochs} épocas, "
        f"{hist.num_parameters} parámetros) | exactitud en prueba: {acc:.2%} | "
        f"objetivo {'cumplido' if out['meets_target'] else 'NO cumplido'} -> {path}"
    )
    return out


if __name__ == "__main__":
    main()
