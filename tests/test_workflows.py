"""Los workflows de GitHub Actions y el script de CI son válidos (sin red)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"


def test_there_is_a_ci_workflow():
    assert (ROOT / ".github" / "workflows" / "ci.yml") in WORKFLOWS


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_matches_github_schema(workflow):
    result = subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-workflows", str(workflow)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_rejects_an_invalid_workflow(tmp_path):
    """La validación no es decorativa: un workflow roto se rechaza."""
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  x:\n    steps: 3\n")
    result = subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-workflows", str(bad)],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0


def _load(path: Path) -> dict:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    # PyYAML lee la clave «on» como True.
    data["on"] = data.pop(True, data.get("on"))
    return data


def test_ci_runs_on_push_and_pull_request_and_builds_and_tests():
    wf = _load(ROOT / ".github" / "workflows" / "ci.yml")
    assert "push" in wf["on"] and "pull_request" in wf["on"]
    runs = " ".join(
        step.get("run", "") for job in wf["jobs"].values() for step in job["steps"]
    )
    assert "make book" in runs and "make test" in runs and "make venv" in runs


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_has_least_privilege_and_pinned_actions(workflow):
    wf = _load(workflow)
    assert "permissions" in wf, "cada workflow declara permissions explícitos"
    for job in wf["jobs"].values():
        for step in job.get("steps", []):
            uses = step.get("uses")
            if uses and not uses.startswith("./"):
                ref = uses.split("@", 1)[1]
                assert len(ref) == 40 and all(c in "0123456789abcdef" for c in ref), (
                    f"{workflow.name}: {uses} no está fijado a un SHA de commit"
                )


def test_ci_script_builds_fresh_and_runs_everything():
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert script.startswith("#!/usr/bin/env bash")
    assert "set -euo pipefail" in script
    assert "rm -rf .venv _build" in script
    assert "make book FORCE=1" in script and "make test" in script
    assert "HF_HUB_OFFLINE=1" in script


def test_gpu_workflow_runs_full_profile_on_a_configurable_runner():
    wf = _load(ROOT / ".github" / "workflows" / "gpu.yml")
    job = wf["jobs"]["full-profile"]
    assert "vars.GPU_RUNNER_LABELS" in job["runs-on"]
    assert job["env"]["LABCODE_PROFILE"] == "full"
    runs = " ".join(step.get("run", "") for step in job["steps"])
    assert "make gpu-check" in runs
    uploads = [s for s in job["steps"] if "upload-artifact" in s.get("uses", "")]
    assert uploads and "_build/gpu" in uploads[0]["with"]["path"]
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "\ngpu-check:" in makefile and "LABCODE_PROFILE=full" in makefile
