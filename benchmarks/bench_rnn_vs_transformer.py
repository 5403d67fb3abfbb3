"""Benchmark del capítulo 10: LSTM frente a Transformer con los mismos parámetros.

Mide (1) el tiempo de *forward* + *backward* de ambos modelos según la longitud
de la secuencia, con el cruce estimado y el cociente en la longitud mayor, y
(2) la exactitud en la tarea de dependencia lejana (``LongRangeTask``) para
varias distancias con un presupuesto fijo de pasos. Imprime dos tablas y
escribe un JSON.

Uso::

    .venv/bin/python benchmarks/bench_rnn_vs_transformer.py [--out RUTA] [--threads 2]
        [--distances 5 10 20 50 100] [--steps 200] [--skip-training]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from labcode.book.bench import machine_info, write_json  # noqa: E402
from labcode.nn.params import num_parameters  # noqa: E402
from labcode.tasks.longrange import (  # noqa: E402
    accuracy_vs_distance,
    build_matched_models,
    crossover_length,
    time_models_vs_length,
)
from labcode.utils.runtime import default_num_threads  # noqa: E402


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        default=str(ROOT / "_build" / "benchmarks" / "rnn_vs_transformer.json"),
        help="ruta del JSON (por defecto _build/benchmarks/rnn_vs_transformer.json)",
    )
    parser.add_argument("--threads", type=int, default=default_num_threads())
    parser.add_argument("--lengths", type=int, nargs="+",
                        default=[32, 64, 128, 256, 512, 1024, 2048])  # fmt: skip
    parser.add_argument("--d-model-timing", type=int, default=64)
    parser.add_argument("--distances", type=int, nargs="+", default=[5, 10, 20, 50, 100])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--d-model", type=int, default=32)
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    show = not args.no_progress

    lstm, tr = build_matched_models(d_model=args.d_model_timing, max_len=max(args.lengths))
    t0 = time.perf_counter()
    res = time_models_vs_length({"lstm": lstm, "transformer": tr}, args.lengths,
                                batch_size=8, repeats=2, passes=2, show_progress=show)  # fmt: skip
    timing_s = time.perf_counter() - t0
    L, a, b = res["length"], res["lstm"], res["transformer"]
    cross = crossover_length(L, b, a)
    print(f"Parámetros: LSTM {num_parameters(lstm)}, Transformer {num_parameters(tr)}")
    print(f"{'n':>6} {'LSTM ms':>9} {'Transf. ms':>11} {'Transf./LSTM':>13}")
    for n, x, y in zip(L, a, b, strict=True):
        print(f"{n:>6} {1e3 * x:>9.2f} {1e3 * y:>11.2f} {y / x:>13.2f}")
    print(f"cruce: {'ninguno' if cross is None else f'{cross:.0f}'}; "
          f"cociente en n={L[-1]}: {b[-1] / a[-1]:.2f}; medida {timing_s:.1f} s")  # fmt: skip

    out: dict = {
        "threads": args.threads,
        "machine": machine_info(),
        "timing": {
            "lengths": L.tolist(),
            "lstm_s": a.tolist(),
            "transformer_s": b.tolist(),
            "lstm_params": num_parameters(lstm),
            "transformer_params": num_parameters(tr),
            "crossover": cross,
            "ratio_at_max": float(b[-1] / a[-1]),
            "seconds": timing_s,
        },
    }
    if not args.skip_training:
        t0 = time.perf_counter()
        acc = accuracy_vs_distance(args.distances, d_model=args.d_model, steps=args.steps,
                                   batch_size=args.batch_size, show_progress=show)  # fmt: skip
        train_s = time.perf_counter() - t0
        print(f"\nParámetros: LSTM {acc['lstm_params']}, Transformer "
              f"{acc['transformer_params']}; azar {acc['chance']:.3f}")  # fmt: skip
        print(f"{'distancia':>9} {'acc LSTM':>9} {'acc Transf.':>12}")
        for d, x, y in zip(acc["distance"], acc["lstm_acc"], acc["transformer_acc"], strict=True):
            print(f"{d:>9} {x:>9.3f} {y:>12.3f}")
        print(f"entrenamiento total: {train_s:.1f} s")
        out["accuracy"] = {
            "distances": acc["distance"].tolist(),
            "lstm_acc": acc["lstm_acc"].tolist(),
            "transformer_acc": acc["transformer_acc"].tolist(),
            "lstm_s": acc["lstm_s"].tolist(),
            "transformer_s": acc["transformer_s"].tolist(),
            "lstm_params": int(acc["lstm_params"]),
            "transformer_params": int(acc["transformer_params"]),
            "chance": float(acc["chance"]),
            "steps": args.steps,
            "seconds": train_s,
        }
    path = Path(args.out)
    write_json(out, path)
    print(f"JSON escrito en {path}")
    return out


if __name__ == "__main__":
    main()
