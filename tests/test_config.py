from __future__ import annotations

import pytest

from labcode.utils import config


def test_profile_defaults_to_quick(monkeypatch):
    monkeypatch.delenv("LABCODE_PROFILE", raising=False)
    assert config.get_profile() == "quick"


@pytest.mark.parametrize("value,expected", [("full", "full"), (" QUICK ", "quick"), ("", "quick")])
def test_profile_is_normalised(monkeypatch, value, expected):
    monkeypatch.setenv("LABCODE_PROFILE", value)
    assert config.get_profile() == expected


def test_bad_profile_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("LABCODE_PROFILE", "turbo")
    with pytest.raises(ValueError, match="LABCODE_PROFILE.*'turbo'"):
        config.get_profile()


def test_data_dir_from_environment(monkeypatch, tmp_path):
    (tmp_path / "quijote").mkdir()
    (tmp_path / "quijote" / "pg2000.txt").write_text("hola")
    monkeypatch.setenv("LABCODE_DATA", str(tmp_path))
    assert config.data_dir() == tmp_path.resolve()
    assert config.data_path("quijote", "pg2000.txt").read_text() == "hola"


def test_missing_data_dir_explains_how_to_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("LABCODE_DATA", str(tmp_path / "no-existe"))
    with pytest.raises(config.DataNotFoundError, match="no-existe no es una carpeta"):
        config.data_dir()
    monkeypatch.delenv("LABCODE_DATA")
    with pytest.raises(config.DataNotFoundError, match="LABCODE_DATA no está definida"):
        config.data_dir()
    assert config.data_dir(required=False) is None
    assert config.data_path("sst2", required=False) is None


def test_missing_file_inside_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("LABCODE_DATA", str(tmp_path))
    with pytest.raises(config.DataNotFoundError, match="sst2/train.jsonl"):
        config.data_path("sst2", "train.jsonl")


def test_cache_dir_follows_labcode_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("LABCODE_CACHE", str(tmp_path))
    assert config.cache_dir() == tmp_path
    monkeypatch.delenv("LABCODE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert config.cache_dir() == tmp_path / "xdg" / "labcode"
