"""Backups, restores and tamper evidence for the report store.

``compliance backup`` is taken while writes go on; restoring it into a fresh folder
and database gives a service that signs people in, verifies the old report, passes
``compliance reports check`` and ``compliance audit verify``, and signs new reports
with the same certificate. A changed or missing stored PDF is named by report id.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from compliance import audit
from compliance.core.settings import load_settings
from compliance.reporting import store
from compliance.tables import Report
from tests.support.app import app_client
from tests.support.cli import run_cli, settings_env
from tests.support.demo import court_report, report_pdf, verify_pdf
from tests.support.staff import sign_in

pytestmark = pytest.mark.db


async def test_backup_during_writes_restores_a_working_service(
    client, demo, settings, database_url, fresh_database_url, tmp_path
) -> None:
    report = await court_report(client, demo)
    pdf = await report_pdf(client, report)
    env = settings_env(database_url, tmp_path)

    # Audit events keep committing while the backup runs: the copy must be one snapshot.
    stop = asyncio.Event()
    written = 0

    async def writer() -> None:
        nonlocal written
        while not stop.is_set():
            await audit.record("test.write", audit.SYSTEM, "test", written)
            written += 1

    task = asyncio.create_task(writer())
    await asyncio.sleep(0.05)
    backup_dir = tmp_path / "backup"
    done = await asyncio.to_thread(run_cli, "backup", str(backup_dir), env=env)
    stop.set()
    await task
    assert done.returncode == 0, done.stderr
    assert written > 0
    manifest = json.loads((backup_dir / "MANIFEST.json").read_text())
    assert manifest["reports"] == 1
    assert "signing" in manifest["var"]  # the tests' SECRET_KEY comes from the environment
    # Nothing half-copied: the backup holds exactly the stored file, intact.
    copied = list(store.stored_files(backup_dir / "reports"))
    assert len(copied) == 1
    assert store.file_sha256(backup_dir / "reports" / copied[0]) == store.sha256(pdf)

    # A second backup into the same folder is refused rather than mixed in.
    again = await asyncio.to_thread(run_cli, "backup", str(backup_dir), env=env)
    assert again.returncode != 0 and "not empty" in again.stderr

    # Restore into a fresh folder and an empty database.
    fresh = tmp_path / "restored"
    fresh_env = settings_env(fresh_database_url, fresh)
    restored = await asyncio.to_thread(run_cli, "restore", str(backup_dir), env=fresh_env)
    assert restored.returncode == 0, restored.stderr
    # Restoring twice would overwrite: refused.
    twice = await asyncio.to_thread(run_cli, "restore", str(backup_dir), env=fresh_env)
    assert twice.returncode != 0

    checked = await asyncio.to_thread(run_cli, "reports", "check", env=fresh_env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "1 of 1 report(s) intact" in checked.stdout
    chain = await asyncio.to_thread(run_cli, "audit", "verify", env=fresh_env)
    assert chain.returncode == 0, chain.stderr
    events = int(chain.stdout.split(":")[1].split()[0])
    assert events >= 1

    fresh_settings = load_settings(fresh_env)
    async with app_client(fresh_settings) as restored_client:
        assert (await verify_pdf(restored_client, pdf))["status"] == "authentic_current"
        await sign_in(restored_client, "staff@example.org")
        caseload = await restored_client.get("/api/caseload")
        assert caseload.status_code == 200
        assert {row["client_id"] for row in caseload.json()} <= set(demo["people"])
        assert caseload.json()
        newer = await court_report(restored_client, demo)
        assert newer["version"] == 2
        rows = await Report.select(Report.certificate_sha256).order_by(Report.id)
        assert rows[0]["certificate_sha256"] == rows[1]["certificate_sha256"]
        assert (await verify_pdf(restored_client, pdf))["status"] == "authentic_superseded"


async def test_reports_check_names_a_changed_and_a_missing_report(
    client, demo, settings, database_url, tmp_path
) -> None:
    first = await court_report(client, demo)
    second = await court_report(client, demo, narrative="A second version.")
    env = settings_env(database_url, tmp_path)
    ok = await asyncio.to_thread(run_cli, "reports", "check", env=env)
    assert ok.returncode == 0 and "2 of 2 report(s) intact" in ok.stdout, ok.stdout + ok.stderr

    rows = {r["id"]: r for r in await Report.select(Report.id, Report.stored_path)}
    changed = settings.reports_dir / rows[first["id"]]["stored_path"]
    os.chmod(changed, 0o640)
    data = bytearray(changed.read_bytes())
    data[len(data) // 2] ^= 0x01
    changed.write_bytes(bytes(data))
    (settings.reports_dir / rows[second["id"]]["stored_path"]).unlink()
    # A crash's leftovers: a temporary, and a whole file no report names.
    stray = changed.parent / f"{store.TEMPORARY}crash"
    stray.write_bytes(b"%PDF-1.7 half")
    store.put(settings.reports_dir, b"%PDF-1.7 never recorded")

    bad = await asyncio.to_thread(run_cli, "reports", "check", env=env)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert f"CHANGED  report {first['id']}" in bad.stdout
    assert f"MISSING  report {second['id']}" in bad.stdout
    assert "0 of 2 report(s) intact" in bad.stdout
    assert "1 stored file(s) no report names" in bad.stdout
    # A young temporary may be a write in progress elsewhere: kept; an old one is swept.
    assert stray.exists()
    os.utime(stray, (1, 1))
    swept = await asyncio.to_thread(run_cli, "reports", "check", env=env)
    assert "removed 1 temporary file(s)" in swept.stdout
    assert not stray.exists()

    # /verify says the changed file was signed here but changed after signing.
    assert (await verify_pdf(client, bytes(data)))["status"] == "changed_after_signing"


def test_restore_refuses_a_backup_of_the_other_engine(tmp_path: Path, database_url: str) -> None:
    fake = tmp_path / "backup"
    fake.mkdir()
    other = "postgres" if database_url.startswith("sqlite") else "sqlite"
    (fake / "MANIFEST.json").write_text(
        json.dumps(
            {
                "format": 1,
                "created_at": "2026-12-01T00:00:00+00:00",
                "engine": other,
                "database": "database.x",
                "reports": 0,
                "var": [],
            }
        )
    )
    done = run_cli("restore", str(fake), env=settings_env(database_url, tmp_path / "t"))
    assert done.returncode != 0
    assert f"backup is of a {other} database" in done.stderr
