"""``python -m labcode finetune-bert`` bajo ``torchrun`` con 2 procesos de CPU (gloo).

Comprueba que el entrenamiento distribuido (DistributedDataParallel +
DistributedSampler) arranca, termina con código 0, que sólo el proceso 0 escribe
las métricas y el modelo, y que el modelo guardado se puede cargar.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from bookutil import skip_or_fail

from labcode.data.registry import fetch
from labcode.utils.config import DataNotFoundError

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def test_torchrun_two_cpu_processes(tmp_path):
    try:  # una vez aquí (copia local, caché o réplica); los procesos lo leen de la caché
        for split in ("train", "validation"):
            fetch(f"sst2/{split}.jsonl")
    except DataNotFoundError as err:
        skip_or_fail(f"sin SST-2: {err}")
    out, js = tmp_path / "model", tmp_path / "metrics.json"
    env = dict(os.environ)
    env.update(
        HF_HUB_OFFLINE="1",
        LABCODE_PROFILE="quick",
        OMP_NUM_THREADS="1",
        CUDA_VISIBLE_DEVICES="",  # gloo en CPU aunque haya GPU
    )
    env.pop("LABCODE_BERT_MODEL", None)
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "-m", "labcode", "finetune-bert",
        "--train-limit", "64", "--eval-limit", "32", "--max-length", "32",
        "--batch-size", "8", "--epochs", "1", "--no-progress",
        "--out", str(out), "--json", str(js),
    ]
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    # sólo el proceso 0 imprime el resumen
    assert result.stdout.count("validación: exactitud=") == 1, result.stdout
    metrics = json.loads(js.read_text(encoding="utf-8"))
    assert metrics["world_size"] == 2
    assert metrics["n"] == 32 and metrics["n_train"] == 64
    assert 0.0 <= metrics["accuracy"] <= 1.0

    from labcode.hf.sentiment import BERTSentimentClassifier

    clf = BERTSentimentClassifier.load(out, device="cpu")
    assert clf.history_ is not None and clf.history_.world_size == 2
    # 64 frases / 2 procesos / lotes de 8 = 4 pasos por proceso
    assert len(clf.history_.loss) == 4
    assert len(clf.predict(["a great film", "a dull film"])) == 2
