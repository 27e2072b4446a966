"""The demo copied from the session's first load (tests/conftest.py ``DemoCopies``) is the
one ``load_demo`` makes: same rows and ids, an audit chain that verifies against the head
file in this test's own VAR_DIR, and sequences that go on after the copied rows."""

from __future__ import annotations

from datetime import date

import pytest

from compliance import audit, db
from compliance.tables import AuditEvent, Participant, Program
from tests.conftest import DemoCopies
from tests.staff import DEMO_NOW

pytestmark = pytest.mark.db


@pytest.mark.parametrize("run", ["loaded", "copied"])
async def test_the_demo_copy_is_what_load_demo_made(
    bound_engine: db.Engine, demo_copies: DemoCopies, run: str
) -> None:
    await demo_copies.load(DEMO_NOW)
    assert len(demo_copies.copies) >= 1

    report = await audit.verify_chain()
    assert report.intact, report.findings
    assert report.events == await AuditEvent.count() > 0
    assert report.head == report.events  # the head file came with the copy

    people = await Participant.select(Participant.id, Participant.client_id).order_by(
        Participant.id
    )
    assert [p["client_id"] for p in people] == ["RB-1001", "RB-1002", "RB-1003"]
    program = await Program.select().first()
    added = Participant(
        program=program["id"],
        client_id="RB-2000",
        first_name="New",
        last_name="Client",
        admitted_on=date(2026, 11, 1),
    )
    await added.save()
    assert added.id == people[-1]["id"] + 1
    await audit.record("test.after_copy", audit.SYSTEM)
    assert (await audit.verify_chain()).intact


async def test_a_database_already_written_to_gets_the_real_load(
    bound_engine: db.Engine, demo_copies: DemoCopies
) -> None:
    await Program(code="X", name="Other", time_zone="America/Chicago").save()
    await demo_copies.load(DEMO_NOW)
    assert await Program.count() == 2
    assert (await audit.verify_chain()).intact
