"""The `compliance` command as an operator meets it: one clear line on bad input."""

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support.cli import run_cli, settings_env
from tests.support.databases import ENGINE

MIGRATIONS = len(
    list(
        (Path(__file__).parent.parent.parent / "compliance" / "migrations").glob("compliance_*.py")
    )
)


def assert_one_line_error(done, setting: str) -> None:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr
    assert lines == [lines[0]], done.stderr
    assert lines[0].startswith(f"compliance: error: {setting}: "), lines[0]


@pytest.mark.parametrize("command", [["migrate"], ["demo"], ["run"], ["check"]])
def test_malformed_database_url_stops_every_command(tmp_path: Path, command: list[str]) -> None:
    env = settings_env("mysql://u:pw@h/db", tmp_path)
    done = run_cli(*command, env=env)
    assert_one_line_error(done, "DATABASE_URL")
    assert done.returncode == 2
    assert "pw@" not in done.stderr


def test_unwritable_reports_dir_stops_start_up(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    env = {
        **settings_env(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path),
        "REPORTS_DIR": str(blocker / "reports"),
    }
    done = run_cli("run", env=env)
    assert_one_line_error(done, "REPORTS_DIR")


def test_unreachable_postgres_is_one_line_and_nothing_starts(tmp_path: Path) -> None:
    # Port 1 on loopback: nothing listens, so the connection is refused at once.
    env = settings_env("postgresql://postgres@127.0.0.1:1/nowhere", tmp_path)
    for command in (["migrate"], ["run", "--port", "8791"]):
        done = run_cli(*command, env=env)
        assert_one_line_error(done, "DATABASE_URL")
        assert "cannot reach postgresql://postgres@127.0.0.1:1/nowhere" in done.stderr


def test_unreadable_sqlite_file_is_one_line(tmp_path: Path) -> None:
    garbage = tmp_path / "db.sqlite3"
    garbage.write_bytes(b"this is not a database" * 100)
    done = run_cli("migrate", env=settings_env(f"sqlite:///{garbage}", tmp_path))
    assert_one_line_error(done, "DATABASE_URL")


def test_migrate_check_and_run_refuse_an_unmigrated_database(
    fresh_database_url: str, tmp_path: Path
) -> None:
    env = settings_env(fresh_database_url, tmp_path)
    check = run_cli("migrate", "--check", env=env)
    assert check.returncode == 1
    assert "migration(s) pending" in check.stderr
    done = run_cli("run", "--port", "8792", env=env)
    assert done.returncode == 1
    assert "not applied; run `compliance migrate` first" in done.stderr
    assert "Traceback" not in done.stderr


def test_migrate_then_demo_twice_prints_credentials_once(
    fresh_database_url: str, tmp_path: Path
) -> None:
    env = settings_env(fresh_database_url, tmp_path)
    first = run_cli("migrate", env=env)
    assert first.returncode == 0, first.stderr
    assert f"applied {MIGRATIONS} migration(s)" in first.stdout
    assert "up to date" in run_cli("migrate", env=env).stdout
    demo = run_cli("demo", "--if-empty", env=env)
    assert demo.returncode == 0, demo.stderr
    assert "demo data loaded: 3 participants" in demo.stdout
    assert "clinician@riverbend.example" in demo.stdout
    again = run_cli("demo", env=env)
    assert again.returncode == 0, again.stderr
    assert "already there" in again.stdout
    assert "riverbend.example" not in again.stdout


def test_migrate_leaves_a_new_sqlite_file_in_wal_mode(fresh_database_url: str, tmp_path: Path):
    done = run_cli("migrate", env=settings_env(fresh_database_url, tmp_path))
    assert done.returncode == 0, done.stderr
    if ENGINE == "sqlite":
        with sqlite3.connect(urlsplit(fresh_database_url).path) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_concurrent_migrate_and_demo_runs_do_the_work_once(
    fresh_database_url: str, tmp_path: Path
) -> None:
    env = settings_env(fresh_database_url, tmp_path)
    run_cli("check", env=env)  # creates var/ and the secret key once, up front
    with ThreadPoolExecutor(max_workers=3) as pool:
        migrations = list(pool.map(lambda _: run_cli("migrate", env=env), range(3)))
    assert [m.returncode for m in migrations] == [0, 0, 0], [m.stderr for m in migrations]
    assert sum(f"applied {MIGRATIONS} migration(s)" in m.stdout for m in migrations) == 1
    with ThreadPoolExecutor(max_workers=3) as pool:
        demos = list(pool.map(lambda _: run_cli("demo", env=env), range(3)))
    assert [d.returncode for d in demos] == [0, 0, 0], [d.stderr for d in demos]
    assert sum("demo data loaded" in d.stdout for d in demos) == 1


def test_users_create_list_deactivate(database_url: str, tmp_path: Path) -> None:
    env = settings_env(database_url, tmp_path)
    assert run_cli("demo", env=env).returncode == 0
    created = subprocess_input(
        [
            "users",
            "create",
            "--email",
            "New.Person@Example.org",
            "--name",
            "New Person",
            "--role",
            "clinician",
            "--program",
            "DEMO",
            "--credentials",
            "LPC",
            "--password-stdin",
        ],
        env,
        "a long enough password\n",
    )
    assert created.returncode == 0, created.stderr
    assert "created clinician new.person@example.org" in created.stdout
    again = subprocess_input(
        ["users", "create", "--email", "new.person@example.org", "--name", "X", "--password-stdin"],
        env,
        "a long enough password\n",
    )
    assert again.returncode == 1
    assert again.stderr.strip() == (
        "compliance: error: an account for new.person@example.org already exists"
    )
    short = subprocess_input(
        ["users", "create", "--email", "b@example.org", "--name", "B", "--password-stdin"],
        env,
        "short\n",
    )
    assert short.returncode == 1 and "at least 12 characters" in short.stderr
    unknown = subprocess_input(
        [
            "users",
            "create",
            "--email",
            "c@example.org",
            "--name",
            "C",
            "--program",
            "NOPE",
            "--password-stdin",
        ],
        env,
        "a long enough password\n",
    )
    assert unknown.returncode == 1 and "no program with code NOPE" in unknown.stderr
    listing = run_cli("users", "list", env=env).stdout
    line = next(row for row in listing.splitlines() if row.startswith("new.person@example.org"))
    assert "clinician" in line and "active" in line and "DEMO" in line
    assert "a long enough password" not in listing
    assert run_cli("users", "deactivate", "NEW.person@example.org", env=env).returncode == 0
    listing = run_cli("users", "list", env=env).stdout
    assert "deactivated" in next(r for r in listing.splitlines() if r.startswith("new.person"))
    assert "audit chain intact" in run_cli("audit", "verify", env=env).stdout


def subprocess_input(args: list[str], env: dict[str, str], stdin: str):
    import os
    import subprocess

    from tests.support.cli import BIN

    return subprocess.run(
        [str(BIN / "compliance"), *args],
        env={**os.environ, **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_programs_create_and_list(database_url: str, tmp_path: Path) -> None:
    env = settings_env(database_url, tmp_path)
    made = run_cli(
        "programs",
        "create",
        "--code",
        "north",
        "--name",
        "North IOP",
        "--time-zone",
        "America/Denver",
        env=env,
    )
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("created program NORTH")
    again = run_cli(
        "programs",
        "create",
        "--code",
        "NORTH",
        "--name",
        "X",
        "--time-zone",
        "America/Denver",
        env=env,
    )
    assert again.returncode == 1
    assert again.stderr.strip() == "compliance: error: a program with code NORTH already exists"
    bad_zone = run_cli(
        "programs", "create", "--code", "S", "--name", "S", "--time-zone", "Mars/Olympus", env=env
    )
    assert bad_zone.returncode == 2 and "not an IANA time zone" in bad_zone.stderr
    assert "NORTH" in run_cli("programs", "list", env=env).stdout
