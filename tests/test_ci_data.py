"""CI que pasaría en GitHub: datos descargados y en caché (ci.yml), runner simulado
(.ci/run con la réplica local) y Dependabot. Sin red: sólo lee y valida los ficheros."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CI = ROOT / ".github" / "workflows" / "ci.yml"
DEPENDABOT = ROOT / ".github" / "dependabot.yml"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"


def _steps() -> list[dict]:
    wf = yaml.safe_load(CI.read_text(encoding="utf-8"))
    return [step for job in wf["jobs"].values() for step in job["steps"]]


def _index(steps: list[dict], needle: str) -> int:
    return next(i for i, s in enumerate(steps) if needle in s.get("run", "") + s.get("uses", ""))


def test_ci_downloads_the_data_once_into_a_cache_keyed_on_the_registry():
    steps = _steps()
    cache = steps[_index(steps, "actions/cache@")]
    assert cache["with"]["path"] == "~/.cache/labcode/data"
    assert "hashFiles('labcode/data/registry.py')" in cache["with"]["key"]
    fetch = _index(steps, "-m labcode.data.registry")
    assert _index(steps, "actions/cache@") < fetch < _index(steps, "make book FORCE=1")
    assert steps[fetch]["env"]["HF_HUB_OFFLINE"] == "0"  # sólo este paso va al Hub
    wf = yaml.safe_load(CI.read_text(encoding="utf-8"))
    assert wf["env"]["HF_HUB_OFFLINE"] == "1" and "LABCODE_DATA" not in wf["env"]


def test_every_checkout_in_ci_drops_the_token():
    checkouts = [s for s in _steps() if s.get("uses", "").startswith("actions/checkout@")]
    assert checkouts
    for step in checkouts:
        assert step.get("with", {}).get("persist-credentials") is False


def test_ci_script_builds_as_a_github_runner_with_the_local_mirror():
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    mirror = script.index('start_data_mirror "$DATA_MIRROR_DIR"')
    assert "source .ci/data-mirror.sh" in script[:mirror]
    assert mirror < script.index("make book FORCE=1") < script.index("make test")
    assert "export LABCODE_DATA=" not in script and script.count("make book") == 1
    helper = (ROOT / ".ci" / "data-mirror.sh").read_text(encoding="utf-8")
    for needle in ("unset LABCODE_DATA", "--bind 127.0.0.1", "trap stop_data_mirror EXIT",
                   "export LABCODE_DATA_URL=", "export LABCODE_CACHE"):
        assert needle in helper, needle


def test_dependabot_watches_actions_and_pip_and_keeps_torch():
    result = subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.dependabot", str(DEPENDABOT)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    updates = yaml.safe_load(DEPENDABOT.read_text(encoding="utf-8"))["updates"]
    assert {u["package-ecosystem"] for u in updates} == {"github-actions", "pip"}
    pip = next(u for u in updates if u["package-ecosystem"] == "pip")
    assert {"dependency-name": "torch"} in pip["ignore"]
