"""The ``compliance`` entry point builds the app only for the commands that serve or
read it: the list of commands comes without it, and ``routes`` (like ``run``) gets the
one app the process makes."""

from pathlib import Path

from litestar.cli.main import litestar_group

from compliance.app import create_app
from compliance.cli import OWN_COMMANDS, job_commands
from compliance.cli.reports_and_backups import COMMANDS
from compliance.core.settings import Settings
from tests.support.cli import run_cli, settings_env

EVERY_COMMAND = {
    *(c.name for c in (*OWN_COMMANDS, *COMMANDS, *job_commands.COMMANDS)),
    *litestar_group.commands,  # run, routes, schema, info, sessions, version
}


def test_help_lists_every_command_without_loading_the_app(tmp_path: Path) -> None:
    # An app path that cannot be imported: listing the commands must not try.
    env = {
        **settings_env(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path),
        "LITESTAR_APP": "compliance.no_such_module:app",
        "COLUMNS": "120",
    }
    for args, code in ((["--help"], 0), (["-h"], 0), ([], 2)):  # no command: click's usage error
        done = run_cli(*args, env=env)
        assert done.returncode == code, done.stdout + done.stderr
        listed = {
            line.strip("│ ").split(" ")[0]
            for line in done.stdout.splitlines()
            if line.startswith("│ ") and not line.startswith("│  ")
        }
        assert EVERY_COMMAND <= listed, EVERY_COMMAND - listed


def test_the_list_needs_no_app_because_the_app_adds_no_commands(settings: Settings) -> None:
    """What makes skipping the app for ``--help`` safe: Litestar loads it only so its CLI
    plugins can add commands, and this app has none."""
    assert create_app(settings).plugins.cli == ()


def test_routes_reads_the_app_the_command_builds(database_url: str, tmp_path: Path) -> None:
    done = run_cli("routes", env={**settings_env(database_url, tmp_path), "COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    assert "/health (HTTP)" in done.stdout.splitlines()
    assert "health_check async GET" in done.stdout
