"""Profiles: AiiDA config.json reading, fastdos' own store, DSNs, password masking, repository URIs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fastdos.errors import ConfigurationError
from fastdos.profile import Profile, list_profiles, load_profile, save_profile

SECRET = "s3cr3t-p4ss"


def aiida_config(folder: Path, repo: Path) -> Path:
    folder.mkdir(parents=True)
    config = {
        "CONFIG_VERSION": {"CURRENT": 9, "OLDEST_COMPATIBLE": 9},
        "default_profile": "research",
        "profiles": {
            "research": {
                "PROFILE_UUID": "abc",
                "default_user_email": "me@example.org",
                "storage": {
                    "backend": "core.psql_dos",
                    "config": {
                        "database_engine": "postgresql_psycopg",
                        "database_hostname": "localhost",
                        "database_port": 5432,
                        "database_username": "aiida",
                        "database_password": SECRET,
                        "database_name": "aiida_research",
                        "repository_uri": repo.as_uri(),
                    },
                },
                "process_control": {"backend": "core.rabbitmq", "config": {}},
            },
            "lite": {"storage": {"backend": "core.sqlite_dos", "config": {}}},
        },
    }
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_from_aiida_reads_default_profile(tmp_path: Path) -> None:
    folder = aiida_config(tmp_path / ".aiida", tmp_path / "repo")
    profile = Profile.from_aiida(config_dir=folder)
    assert profile.name == "research"
    assert profile.default_user_email == "me@example.org"
    assert profile.container_path == tmp_path / "repo" / "container"
    assert "password=s3cr3t-p4ss" in profile.conninfo()
    assert "dbname=aiida_research" in profile.conninfo()


def test_from_aiida_honours_aiida_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    aiida_config(tmp_path / "somewhere" / ".aiida", tmp_path / "repo")
    monkeypatch.setenv("AIIDA_PATH", f"{tmp_path / 'missing'}:{tmp_path / 'somewhere'}")
    assert Profile.from_aiida("research").name == "research"


def test_from_aiida_errors(tmp_path: Path) -> None:
    folder = aiida_config(tmp_path / ".aiida", tmp_path / "repo")
    with pytest.raises(ConfigurationError, match="'nope' not found"):
        Profile.from_aiida("nope", config_dir=folder)
    with pytest.raises(ConfigurationError, match="only core.psql_dos"):
        Profile.from_aiida("lite", config_dir=folder)
    with pytest.raises(ConfigurationError, match="no AiiDA configuration"):
        Profile.from_aiida(config_dir=tmp_path / "empty")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text("{not json")
    with pytest.raises(ConfigurationError, match="not valid JSON"):
        Profile.from_aiida(config_dir=tmp_path / "bad")


def test_password_never_printed(tmp_path: Path) -> None:
    profile = Profile.from_dsn("p", f"host=db.example port=5433 user=u password={SECRET} dbname=d", tmp_path)
    assert profile.password == SECRET
    for text in (str(profile), repr(profile), profile.safe_url()):
        assert SECRET not in text
    assert profile.safe_url() == "postgresql+psycopg://u:***@db.example:5433/d"
    url_profile = Profile.from_dsn("p", f"postgresql://u:{SECRET}@h:1/d", tmp_path)
    assert SECRET not in repr(url_profile)


def test_repository_uri_validation(tmp_path: Path) -> None:
    profile = Profile("p", {"repository_uri": "http://example.org/repo"})
    with pytest.raises(ConfigurationError, match="scheme must be `file`"):
        _ = profile.repository_path
    profile = Profile("p", {"repository_uri": "file://relative/path"})
    with pytest.raises(ConfigurationError, match="must be absolute"):
        _ = profile.repository_path
    with pytest.raises(KeyError):
        _ = Profile("p", {}).repository_path


def test_invalid_dsn(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="invalid DSN"):
        Profile.from_dsn("p", f"host='unterminated password={SECRET}", tmp_path)


def test_fastdos_store_roundtrip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTDOS_HOME", str(tmp_path / "home"))
    default = load_profile()
    assert default.name == "default" and default.embedded is not None
    assert default.embedded.data_dir == tmp_path / "home" / "pgdata"
    assert default.repository_path == tmp_path / "home" / "repository"
    other = Profile.from_dsn("other", f"host=h user=u password={SECRET} dbname=x", tmp_path / "r")
    path = save_profile(other)
    assert path.stat().st_mode & 0o077 == 0, "config.json may hold passwords: owner-only"
    assert load_profile("other").conninfo() == other.conninfo()
    assert list_profiles() == ["default", "other"]
    with pytest.raises(ConfigurationError, match="'missing' not found"):
        load_profile("missing")
