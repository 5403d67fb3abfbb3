"""Ajuste fino de BERT en SST-2: tiempo de entrenamiento y exactitud de validación.

Objetivos del proyecto:

- perfil ``quick`` (all-MiniLM-L6-v2, subconjunto de SST-2, 1 época, 2 núcleos de
  CPU): exactitud de validación >= 85 % con <= 5 minutos de entrenamiento;
- perfil ``full`` (``bert-base-uncased``, SST-2 completo, GPU): >= 92 %.

Uso::

    .venv/bin/python benchmarks/bench_finetune.py                     # perfil activo
    .venv/bin/python benchmarks/bench_finetune.py --train-limit 8000
    LABCODE_PROFILE=full .venv/bin/python benchmarks/bench_finetune.py --epochs 2

Imprime el tiempo de entrenamiento y las métricas y escribe un JSON (por defecto
``_build/benchmarks/finetune.json``). El código de salida es 0 aunque no se
alcance el objetivo: el JSON dice si se alcanzó (``target_met``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from labcode import pretrained  # noqa: E402
from labcode.sentiment import BERTSentimentClassifier  # noqa: E402

TARGETS = {"quick": {"accuracy": 0.85, "train_seconds": 300.0},
           "full": {"accuracy": 0.92, "train_seconds": None}}


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

    train = pretrained.load_sst2("train", limit=args.train_limit)
    val = pretrained.load_sst2("validation")
    t0 = time.perf_counter()
    clf = BERTSentimentClassifier(max_length=args.max_length, device=args.device, seed=args.seed)
    load_s = time.perf_counter() - t0
    run = pretrained.describe_run(clf.spec, n_train=len(train), n_eval=len(val),
                                  device=clf.device)
    print(f"configuración: {run}", flush=True)
    hist = clf.fit(train["sentence"], train["label"], epochs=args.epochs,
                   batch_size=args.batch_size, lr=args.lr)
    t1 = time.perf_counter()
    metrics = clf.evaluate(val["sentence"], val["label"])
    eval_s = time.perf_counter() - t1
    target = TARGETS[run["profile"]]
    met = metrics["accuracy"] >= target["accuracy"] and (
        target["train_seconds"] is None or hist.train_seconds <= target["train_seconds"])
    result = {
        **run,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": max(hist.lr),
        "max_length": args.max_length,
        "steps": len(hist.step),
        "load_seconds": round(load_s, 2),
        "train_seconds": round(hist.train_seconds, 2),
        "eval_seconds": round(eval_s, 2),
        "final_loss_mean10": sum(hist.loss[-10:]) / len(hist.loss[-10:]),
        **metrics,
        "target": target,
        "target_met": bool(met),
        "machine": f"{platform.machine()} · {os.cpu_count()} CPU",
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "torch": torch.__version__,
    }
    print(f"entrenamiento: {hist.train_seconds:.1f} s ({len(hist.step)} pasos) · "
          f"validación: exactitud {metrics['accuracy']:.4f}, F1 {metrics['f1']:.4f} "
          f"(n={metrics['n']}) · objetivo {target} -> {'sí' if met else 'no'}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"JSON: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
