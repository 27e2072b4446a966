"""Settings come from the environment; every bad value is one clear error naming it."""

import os
import stat
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import pytest

from compliance.core.settings import SettingsError, load_settings, parse_database_url, redact_url


def env_for(tmp_path: Path, **overrides: str) -> dict[str, str]:
    base = {"VAR_DIR": str(tmp_path / "var"), "REPORTS_DIR": str(tmp_path / "reports")}
    return {**base, **overrides}


def test_defaults_use_sqlite_under_var_and_create_directories(tmp_path: Path) -> None:
    s = load_settings(env_for(tmp_path))
    assert s.database.engine == "sqlite"
    assert s.database.sqlite_path == tmp_path / "var" / "compliance.sqlite3"
    assert s.reports_dir.is_dir() and s.var_dir.is_dir()
    assert (s.host, s.port, s.base_url) == ("127.0.0.1", 8000, "http://127.0.0.1:8000")


def test_secret_key_is_generated_once_kept_private_and_reused(tmp_path: Path) -> None:
    first = load_settings(env_for(tmp_path)).secret_key
    key_file = tmp_path / "var" / "secret_key"
    assert key_file.read_text().strip() == first
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert len(first) >= 32
    assert load_settings(env_for(tmp_path)).secret_key == first


def test_explicit_secret_key_wins_and_is_not_written(tmp_path: Path) -> None:
    key = "k" * 40
    assert load_settings(env_for(tmp_path, SECRET_KEY=key)).secret_key == key
    assert not (tmp_path / "var" / "secret_key").exists()


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("DATABASE_URL", "mysql://root@localhost/db", "unsupported scheme 'mysql'"),
        ("DATABASE_URL", "not a url", "is not a URL"),
        ("DATABASE_URL", "sqlite://", "needs a file path"),
        ("DATABASE_URL", "sqlite:///:memory:", "in-memory"),
        ("DATABASE_URL", "postgresql://user@host:notaport/db", "malformed PostgreSQL URL"),
        ("DATABASE_URL", "postgresql://user@host:5432/", "needs a database name"),
        ("DATABASE_URL", "postgresql:///db", "needs a host"),
        ("PORT", "eighty", "is not a port number"),
        ("PORT", "70000", "is not a port number"),
        ("BASE_URL", "ftp://example.org", "is not an http(s) URL"),
        ("SECRET_KEY", "short", "at least 32 characters"),
        ("DATABASE_POOL_SIZE", "0", "positive whole number"),
    ],
)
def test_bad_values_name_the_setting(tmp_path: Path, name: str, value: str, fragment: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(env_for(tmp_path, **{name: value}))
    assert caught.value.name == name
    assert str(caught.value).startswith(f"{name}: ")
    assert fragment in str(caught.value)
    assert "\n" not in str(caught.value)


def test_unwritable_reports_dir_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(SettingsError) as caught:
        load_settings(env_for(tmp_path, REPORTS_DIR=str(blocker / "reports")))
    assert caught.value.name == "REPORTS_DIR"
    assert "not a writable directory" in str(caught.value)


def test_postgres_urls_are_normalised_and_passwords_never_shown() -> None:
    target = parse_database_url("postgres://app:s3cret@db.internal:5433/compliance")
    assert target.engine == "postgres"
    assert target.url == "postgresql://app:s3cret@db.internal:5433/compliance"
    assert "s3cret" not in target.display
    assert redact_url("postgresql://app:s3cret@h/db") == "postgresql://app:***@h/db"
    with pytest.raises(SettingsError) as caught:
        parse_database_url("mysql://app:s3cret@h/db")
    assert "s3cret" not in str(caught.value)


def test_relative_sqlite_path_resolves_against_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    target = parse_database_url("sqlite:///data/app.sqlite3")
    assert target.sqlite_path == tmp_path / "data" / "app.sqlite3"


def test_base_url_must_be_given_when_listening_beyond_loopback(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(env_for(tmp_path, HOST="0.0.0.0"))
    assert caught.value.name == "BASE_URL"
    s = load_settings(env_for(tmp_path, HOST="0.0.0.0", BASE_URL="https://iop.example.org/"))
    assert s.base_url == "https://iop.example.org"
    assert load_settings(env_for(tmp_path, HOST="::1")).base_url == "http://[::1]:8000"


def test_repr_never_shows_the_secret_key_or_database_password(tmp_path: Path) -> None:
    s = load_settings(
        env_for(tmp_path, SECRET_KEY="s" * 40, DATABASE_URL="postgresql://u:pw123@h/db")
    )
    assert "s" * 40 not in repr(s)
    assert "pw123" not in repr(s)


def _load_key(var_dir: str) -> str:
    return load_settings({"VAR_DIR": var_dir, "REPORTS_DIR": var_dir + "/reports"}).secret_key


def test_processes_starting_together_agree_on_one_generated_key(tmp_path: Path) -> None:
    for round_ in range(5):
        var_dir = str(tmp_path / f"var{round_}")
        with ProcessPoolExecutor(max_workers=6, mp_context=get_context("spawn")) as pool:
            keys = list(pool.map(_load_key, [var_dir] * 12))
        assert len(set(keys)) == 1
        assert len(keys[0]) >= 32
