"""Crash safety: kill -9 in the middle of a large import's commit and of a report batch.

After a restart the import is either all there or not there at all (and can then be
committed whole), no half-written PDF sits in the store under a real name or is named
by the database, every stored report still hashes to its record, and the audit chain
verifies. On SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import asyncpg
import httpx
import pytest

from compliance import audit
from compliance.reporting import store
from compliance.tables import DrugTest, ImportBatch, Report
from tests.support.cli import BIN, run_cli, settings_env
from tests.support.lab_files import make_drug_test_csv
from tests.support.live import serve
from tests.support.staff import PASSWORD, clone_court_client, demo_with_clinician, lab_file_program

pytestmark = pytest.mark.db

SPECIMENS = 3000  # 30,000 rows: a commit long enough to be caught in the middle
ROWS = 10
COPIES = 6  # court clients in the batch


async def _writing(database_url: str, wal: Path | None, wal_before: int) -> bool:
    """Is the server inside its write transaction, with rows written but not committed?"""
    if wal is not None:
        # SQLite: the transaction's pages spill into the WAL, and the write lock is held
        # until it commits (a probe that cannot take the lock at once sees it held).
        if not wal.exists() or wal.stat().st_size < wal_before + 256_000:
            return False
        probe = sqlite3.connect(wal.with_name(wal.name.removesuffix("-wal")), timeout=0)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            probe.close()
    conn = await asyncpg.connect(database_url)
    try:  # PostgreSQL: a transaction that has written has a transaction id
        busy = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()
    return busy > 0


def _sign_in(http: httpx.Client, email: str) -> None:
    http.get("/login")
    http.headers["x-csrftoken"] = http.cookies["csrftoken"]
    response = http.post("/api/session", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    http.headers["x-csrftoken"] = http.cookies["csrftoken"]  # bound to the new session


async def test_kill_during_import_commit_leaves_all_or_nothing(
    bound_engine, settings, database_url, tmp_path
) -> None:
    program_id = await lab_file_program("crash@example.org")
    content = make_drug_test_csv(rows_per_specimen=ROWS, specimens=SPECIMENS)
    env = settings_env(database_url, tmp_path)
    wal = (
        settings.database.sqlite_path.with_name(settings.database.sqlite_path.name + "-wal")
        if settings.database.sqlite_path
        else None
    )

    server = await asyncio.to_thread(serve, env, tmp_path / "server.log")
    with server, httpx.Client(base_url=server.url, timeout=300) as http:
        _sign_in(http, "crash@example.org")
        preview = http.post(
            "/api/imports",
            data={"program_id": str(program_id), "kind": "drug_test_csv"},
            files={"file": ("lab.csv", content, "text/csv")},
        )
        assert preview.status_code == 201, preview.text[:500]
        batch_id = preview.json()["batch_id"]
        if wal is not None:
            # The preview stored the file in the database: its pages fill the WAL, which
            # SQLite then reuses from the start without growing. Emptied, the commit's
            # writes show as growth again.
            with contextlib.closing(sqlite3.connect(settings.database.sqlite_path)) as c:
                c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        wal_before = wal.stat().st_size if wal is not None and wal.exists() else 0

        answered: list[httpx.Response | Exception] = []

        def commit() -> None:
            try:
                answered.append(http.post(f"/api/imports/{batch_id}/commit"))
            except httpx.TransportError as exc:
                answered.append(exc)

        committing = asyncio.create_task(asyncio.to_thread(commit))
        deadline = time.monotonic() + 120
        while not await _writing(database_url, wal, wal_before):
            assert time.monotonic() < deadline, "the commit never started writing"
            assert not committing.done(), f"the commit finished first: {answered}"
            await asyncio.sleep(0.02)
        server.crash()
        await committing
    assert isinstance(answered[0], httpx.TransportError), answered  # killed mid-commit

    # Nothing of it is there (the kill came before the commit; a few milliseconds
    # later all of it would be), and the file can be committed again, whole.
    stored = await DrugTest.count().where(DrugTest.import_batch == batch_id)
    row = await ImportBatch.select(ImportBatch.status).where(ImportBatch.id == batch_id).first()
    assert (stored, row["status"]) == (0, "previewed"), (stored, row)
    assert await DrugTest.count() == 0
    chain = await asyncio.to_thread(run_cli, "audit", "verify", env=env)
    assert chain.returncode == 0, chain.stderr

    server = await asyncio.to_thread(serve, env, tmp_path / "server.log")
    try:
        with httpx.Client(base_url=server.url, timeout=300) as http:
            _sign_in(http, "crash@example.org")
            again = http.post(f"/api/imports/{batch_id}/commit")
    finally:
        log = await asyncio.to_thread(server.stop)
    assert again.status_code == 200, again.text[:500]
    assert again.json()["status"] == "committed"
    assert await DrugTest.count().where(DrugTest.import_batch == batch_id) == SPECIMENS
    assert "Traceback" not in log
    chain = await asyncio.to_thread(run_cli, "audit", "verify", env=env)
    assert chain.returncode == 0, chain.stderr


def _store_is_whole(root: Path) -> None:
    """Every file under a real name hashes to that name; anything else is a temporary."""
    for rel in store.stored_files(root):
        assert store.file_sha256(root / rel) == Path(rel).stem, rel
    beside = {audit.HEADS_DIR, audit.CHECKPOINT_DIR}  # the audit trail's copies share the volume
    for path in root.rglob("*"):
        if path.is_file() and path.parent.name not in beside:
            assert path.name.endswith(".pdf") or path.name.startswith(store.TEMPORARY), path


async def test_kill_during_report_batch_leaves_no_half_report(
    bound_engine, database_url, tmp_path
) -> None:
    program = await demo_with_clinician("batch@example.org")
    await clone_court_client(COPIES - 1)  # court clients with consent
    env = settings_env(database_url, tmp_path)
    command = [
        str(BIN / "compliance"),
        *("reports", "batch", "--program", program["code"], "--signer", "batch@example.org"),
        *("--start", "2026-11-09", "--end", "2026-11-15"),
    ]
    # Its own process group: kill -9 takes the batch and its rendering workers at once,
    # as a power cut would.
    output = tmp_path / "batch.log"
    with output.open("wb") as out:
        batch = subprocess.Popen(
            command,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 180
    try:
        while await Report.count() < 1:
            assert batch.poll() is None, f"the batch ended first:\n{output.read_text()[-2000:]}"
            assert time.monotonic() < deadline, "the batch signed nothing"
            await asyncio.sleep(0.05)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(batch.pid, signal.SIGKILL)
        batch.wait()
    made = await Report.count()
    assert 1 <= made < COPIES, made

    reports_dir = tmp_path / "reports"
    _store_is_whole(reports_dir)
    for row in await Report.select(Report.stored_path, Report.sha256):
        assert not Path(row["stored_path"]).name.startswith(store.TEMPORARY)
    checked = await asyncio.to_thread(run_cli, "reports", "check", env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"{made} of {made} report(s) intact" in checked.stdout
    chain = await asyncio.to_thread(run_cli, "audit", "verify", env=env)
    assert chain.returncode == 0, chain.stderr

    # Run again: the rest are signed; those already signed get a next version.
    again = await asyncio.to_thread(run_cli, *command[1:], env=env, timeout=300)
    assert again.returncode == 1, again.stdout + again.stderr  # two demo clients lack consent
    assert f"signed {COPIES} report(s)" in again.stdout
    current = await Report.count().where(Report.status == "current")
    assert current == COPIES
    assert await Report.count() == made + COPIES
    _store_is_whole(reports_dir)
    checked = await asyncio.to_thread(run_cli, "reports", "check", env=env)
    assert checked.returncode == 0, checked.stdout
