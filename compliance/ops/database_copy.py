"""Copies of the whole database for backups and restores: SQLite's online backup API,
PostgreSQL's pg_dump and pg_restore. The engine-specific part of ``compliance.ops.backup``."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from compliance.core.db import SQLITE_BUSY_TIMEOUT_S
from compliance.core.settings import DatabaseTarget


class CopyFailed(Exception):
    """A backup or restore of the database could not be made; the message says why."""


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """The DSN without its password, and the password in PGPASSWORD, so it never shows
    in the process list."""
    parts = urlsplit(url)
    env = dict(os.environ)
    if parts.password:
        env["PGPASSWORD"] = unquote(parts.password)
        host = parts.hostname or ""
        user = f"{parts.username}@" if parts.username else ""
        port = f":{parts.port}" if parts.port else ""
        parts = parts._replace(netloc=f"{user}{host}{port}")
    scheme = "postgresql" if parts.scheme.startswith("postgres") else parts.scheme
    return urlunsplit(parts._replace(scheme=scheme)), env


def _run_tool(name: str, args: list[str], env: dict[str, str]) -> str:
    """Run a PostgreSQL client tool; its output, or CopyFailed with its last error line."""
    tool = shutil.which(name)
    if tool is None:
        raise CopyFailed(f"{name} is not installed (Debian package postgresql-client)")
    done = subprocess.run(  # noqa: S603  (our own arguments, no shell)
        [tool, *args], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise CopyFailed(f"{name}: {(done.stderr.strip().splitlines() or ['failed'])[-1]}")
    return done.stdout


def snapshot_to(target: DatabaseTarget, folder: Path) -> str:
    """Copy the whole database as it was at one moment, while the service keeps running;
    return the copy's file name inside ``folder``.

    SQLite: the online backup API, in one step so the copy is one snapshot (in WAL mode
    writers go on meanwhile), then an integrity check of the copy. PostgreSQL: pg_dump,
    which reads in one snapshot transaction.
    """
    if target.engine == "sqlite":
        assert target.sqlite_path is not None
        name = "database.sqlite3"
        source = sqlite3.connect(
            f"file:{quote(str(target.sqlite_path))}?mode=ro",
            uri=True,
            timeout=SQLITE_BUSY_TIMEOUT_S,
        )
        copy = sqlite3.connect(folder / name)
        try:
            source.backup(copy)
            verdict = copy.execute("PRAGMA integrity_check").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise CopyFailed(f"SQLite backup failed: {exc}") from None
        finally:
            copy.close()
            source.close()
        if verdict != "ok":
            raise CopyFailed(f"the copy failed SQLite's integrity check: {verdict}")
        return name
    name = "database.pgdump"
    dsn, env = _libpq(target.url)
    # The job queue's tables (SAQ's, in this database when there is no REDIS_URL) are
    # copied empty: a restored database must not run again what was queued back then.
    _run_tool(
        "pg_dump",
        [
            "--format=custom",
            "--exclude-table-data=saq_jobs",
            "--exclude-table-data=saq_stats",
            f"--file={folder / name}",
            f"--dbname={dsn}",
        ],
        env,
    )
    return name


def restore_from(copy: Path, target: DatabaseTarget) -> None:
    """Load a copy made by ``snapshot_to`` into an empty database (never over one in use)."""
    if target.engine == "sqlite":
        assert target.sqlite_path is not None
        if copy.suffix != ".sqlite3":
            raise CopyFailed("this backup holds a PostgreSQL dump; DATABASE_URL names SQLite")
        if target.sqlite_path.exists() and target.sqlite_path.stat().st_size > 0:
            raise CopyFailed(f"{target.sqlite_path} already exists; restore into a new file")
        target.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        source = sqlite3.connect(f"file:{quote(str(copy))}?mode=ro", uri=True)
        into = sqlite3.connect(target.sqlite_path)
        try:
            source.backup(into)
        finally:
            into.close()
            source.close()
        return
    if copy.suffix != ".pgdump":
        raise CopyFailed("this backup holds a SQLite file; DATABASE_URL names PostgreSQL")
    dsn, env = _libpq(target.url)
    tables = _run_tool(
        "psql", ["-tAc", "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", dsn], env
    )
    if tables.strip() != "0":
        raise CopyFailed(f"{target.display} is not empty; restore into a new database")
    _run_tool(
        "pg_restore",
        [
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            f"--dbname={dsn}",
            str(copy),
        ],
        env,
    )
