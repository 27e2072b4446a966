"""The audit chain: appended with the change it records, and any edit is found."""

import asyncio
import itertools
from pathlib import Path

import pytest

from compliance import audit
from compliance.core import db
from compliance.tables import AuditEvent, Program
from tests.support.cli import run_cli, settings_env

ALICE = audit.Actor("user:1", "203.0.113.7")


async def write_events(n: int) -> None:
    for i in range(n):
        await audit.record("participant.create", ALICE, "participant", i, {"n": i})


async def test_chain_of_events_verifies(bound_engine: db.Engine) -> None:
    await write_events(5)
    report = await audit.verify_chain()
    assert report.intact and report.events == 5
    rows = await AuditEvent.select().order_by(AuditEvent.id)
    assert rows[0]["prev_hash"] == audit.GENESIS
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5]
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(rows))
    assert rows[2]["origin"] == "203.0.113.7" and rows[2]["actor"] == "user:1"


async def test_event_rolls_back_with_the_change_it_records(bound_engine: db.Engine) -> None:
    await write_events(1)
    with pytest.raises(RuntimeError):
        async with db.transaction():
            await Program.insert(Program(code="X", name="X"))
            await audit.record("program.create", ALICE, "program", "X")
            raise RuntimeError("abort")
    assert await AuditEvent.count() == 1
    await audit.record("program.create", ALICE, "program", "Y")
    assert (await audit.verify_chain()).intact


async def test_an_edited_event_is_named(bound_engine: db.Engine) -> None:
    await write_events(6)
    target = (await AuditEvent.select(AuditEvent.seq).order_by(AuditEvent.seq))[3]["seq"]
    await AuditEvent.update({AuditEvent.detail: '{"n":99}'}).where(AuditEvent.seq == target)
    report = await audit.verify_chain()
    assert report.broken_at == target == 4
    assert "content does not match its MAC" in report.reason


async def test_a_deleted_event_is_named_missing(bound_engine: db.Engine) -> None:
    await write_events(6)
    await AuditEvent.delete().where(AuditEvent.seq == 3)
    report = await audit.verify_chain()
    assert report.broken_at == 3
    assert "event #3 missing (deleted)" in report.reason


async def test_concurrent_writers_never_fork_the_chain(bound_engine: db.Engine) -> None:
    await asyncio.gather(
        *(audit.record("login.success", ALICE, "staff_user", i) for i in range(20))
    )
    report = await audit.verify_chain()
    assert report.intact and report.events == 20
    # Every commit appended its line to this instance's head file, in REPORTS_DIR.
    assert (report.head, report.head_files) == (20, 1)
    [head_file] = audit.instance_head_files(audit.trail().settings)
    lines = head_file.read_text().splitlines()
    assert sorted(int(line.split()[0]) for line in lines) == list(range(1, 21))


def test_cli_reports_intact_then_names_the_edited_event(database_url: str, tmp_path: Path) -> None:
    env = settings_env(database_url, tmp_path)
    assert run_cli("demo", env=env).returncode == 0
    ok = run_cli("audit", "verify", env=env)
    assert ok.returncode == 0, ok.stderr
    assert "audit chain intact: 3 events; all keyed; head #3 matches 1 head file(s)" in ok.stdout

    async def tamper() -> None:
        from compliance.core.settings import load_settings

        engine = db.create_engine(load_settings(env).database)
        db.bind(engine)
        await AuditEvent.update({AuditEvent.actor: "user:2"}).where(AuditEvent.id > 0)

    asyncio.run(tamper())
    broken = run_cli("audit", "verify", env=env)
    assert broken.returncode == 1
    assert "audit chain broken at event #" in broken.stderr
    assert "'user.create'" in broken.stderr
