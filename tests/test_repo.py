"""El repositorio cumple su contrato de instalación."""

from __future__ import annotations

import re
import tomllib
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
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert data["project"]["name"] == "labcode"
    assert data["project"]["requires-python"] == ">=3.10"


def test_makefile_targets_and_offline_data_are_not_in_repo():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in ["book:", "test:", "venv:", "lint:", "clean:"]:
        assert f"\n{target}" in makefile
    assert "-W -n --keep-going" in makefile
    # Los datos se leen de una carpeta configurable; nunca se copian al repositorio.
    assert not list(ROOT.glob("**/pg2000.txt"))
    assert not [p for p in ROOT.glob("**/*.jsonl") if ".venv" not in p.parts]
