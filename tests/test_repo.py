"""El repositorio cumple su contrato de instalación."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _requirements(name: str) -> list[str]:
    lines = (ROOT / name).read_text(encoding="utf-8").splitlines()
    return [ln.split("#")[0].strip() for ln in lines if ln.split("#")[0].strip()]


def test_readme_opens_with_the_two_setup_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = re.search(r"```bash\n(.*?)```", readme, flags=re.S).group(1)
    commands = [ln.split("#")[0].strip() for ln in first_block.splitlines() if ln.strip()]
    assert commands == ["make book", "make test"]
    assert "English summary" in readme
    for var in ["LABCODE_DATA", "LABCODE_PROFILE", "HF_HUB_OFFLINE"]:
        assert var in readme


def test_every_dependency_is_pinned_exactly():
    for name in ["requirements.txt", "requirements-models.txt"]:
        for req in _requirements(name):
            assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[0-9][A-Za-z0-9.]*", req), (
                f"{name}: {req!r} no está fijada a una versión exacta"
            )
    assert "torch==2.13.0" in _requirements("requirements.txt")


def test_pyproject_declares_installable_package():
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^name = "labcode"$', text, flags=re.M)
    assert re.search(r'^requires-python = ">=3.10"$', text, flags=re.M)
    assert re.search(r'^include = \["labcode\*"\]$', text, flags=re.M)


def test_makefile_targets_and_offline_data_are_not_in_repo():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in ["book:", "test:", "venv:", "lint:", "clean:"]:
        assert f"\n{target}" in makefile
    assert "-W -n --keep-going" in makefile



def test_data_is_never_copied_into_the_repository():
    """Los datos se leen de una carpeta configurable; nunca se versionan."""
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.splitlines()
    assert files, "git ls-files no devolvió nada"
    offenders = [f for f in files if f.endswith((".jsonl", "pg2000.txt", ".gguf", ".safetensors"))]
    assert not offenders, f"datos o pesos dentro del repositorio: {offenders}"
