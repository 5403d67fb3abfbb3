"""Reglas de los workflows del sitio (pages, gpu, linkcheck, colab), sin red.

- Ningún checkout deja el token en ``.git/config`` (``persist-credentials:
  false``): lo que necesita credenciales las recibe sólo en su orden.
- Toda subida de artefacto que incluye una carpeta que empieza por punto
  (``.jupyter_cache``) lleva ``include-hidden-files: true`` (upload-artifact
  las omite por omisión desde la v4.4).
- ``colab.yml`` ejecuta cada semana (y a mano) los cuadernos publicados en la
  imagen pública de Colab.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WF = ROOT / ".github" / "workflows"
OWNED = ["pages.yml", "gpu.yml", "linkcheck.yml", "colab.yml"]


def _load(name: str) -> dict:
    data = yaml.safe_load((WF / name).read_text(encoding="utf-8"))
    data["on"] = data.pop(True, data.get("on"))
    return data


def _steps(wf: dict) -> list[dict]:
    return [s for job in wf["jobs"].values() for s in job.get("steps", [])]


@pytest.mark.parametrize("name", OWNED)
def test_checkouts_do_not_persist_credentials(name):
    checkouts = [s for s in _steps(_load(name))
                 if s.get("uses", "").startswith("actions/checkout@")]
    assert checkouts, f"{name} no hace checkout"
    for step in checkouts:
        assert (step.get("with") or {}).get("persist-credentials") is False, name


@pytest.mark.parametrize("name", OWNED)
def test_uploads_of_dot_folders_include_hidden_files(name):
    for step in _steps(_load(name)):
        if not step.get("uses", "").startswith("actions/upload-artifact@"):
            continue
        paths = str(step["with"]["path"]).split()
        if any(part.startswith(".") for p in paths for part in Path(p).parts):
            assert step["with"].get("include-hidden-files") is True, (name, paths)


def test_gpu_artifact_keeps_the_execution_cache():
    upload = next(s for s in _steps(_load("gpu.yml")) if "upload-artifact" in s.get("uses", ""))
    assert "_build/gpu/_build/.jupyter_cache" in upload["with"]["path"]
    assert upload["with"]["include-hidden-files"] is True


def test_git_commands_that_need_the_token_receive_it_explicitly():
    git_steps = [s for s in _steps(_load("pages.yml"))
                 if " push " in s.get("run", "") or " fetch " in s.get("run", "")]
    assert len(git_steps) == 2  # traer el commit de la GPU y publicar la rama notebooks
    for step in git_steps:
        assert "extraheader" in step["run"] and step["env"]["GH_TOKEN"] == "${{ github.token }}"


def test_colab_workflow_runs_the_published_notebooks_in_the_colab_image():
    wf = _load("colab.yml")
    assert wf["on"]["schedule"][0]["cron"] and "workflow_dispatch" in wf["on"]
    assert "push" not in wf["on"] and "pull_request" not in wf["on"]
    assert wf["permissions"] == {"contents": "read"}
    (job,) = wf["jobs"].values()
    assert job["container"]["image"].startswith("us-docker.pkg.dev/colab-images/public/runtime")
    checkout = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["ref"] == "notebooks"
    run = "\n".join(s.get("run", "") for s in job["steps"])
    assert "NotebookClient" in run and "import google.colab" in run
    assert "LABCODE_DATA" not in job.get("env", {}), "en Colab los datos se descargan"
    upload = next(s for s in job["steps"] if "upload-artifact" in s.get("uses", ""))
    assert upload.get("if") == "always()"
