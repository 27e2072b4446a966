"""The change counter behind cached views (issue 18): every committed change to the
records adds one, on every path; a link's use, its disclosure, the audit trail and a
rollback add nothing; and an open officer page shows a change made by another process
(here a second engine on the same database: its own connections, its own caches) on
the very next view."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from compliance import audit
from compliance.core import db
from compliance.core.settings import Settings
from compliance.disclosure.record import disclosed
from compliance.tables import Consent, Participant, Program, SecureLink
from tests.support.demo import court_report, link_path, officer_browser, post_json, secure_link

pytestmark = pytest.mark.db


async def _program(code: str) -> int:
    row = await Program.insert(Program(code=code, name=f"Program {code}", time_zone="UTC"))
    return row[0]["id"]


async def test_each_committed_change_counts_once_and_nothing_else_does(bound_engine) -> None:
    start = await db.records_version()
    program = await _program("ONE")  # a single statement: its own transaction
    assert await db.records_version() == start + 1

    async with db.transaction():
        await Program.update({Program.name: "Renamed"}).where(Program.id == program)
        await db.insert_many(Program, [{"code": "TWO", "name": "Two", "time_zone": "UTC"}])
        assert await db.records_version() == start + 1  # counted at commit, once
    assert await db.records_version() == start + 2

    with contextlib.suppress(RuntimeError):
        async with db.transaction():
            await Program.update({Program.name: "Never"}).where(Program.id == program)
            raise RuntimeError("rolled back")
    assert await db.records_version() == start + 2
    assert (await Program.select(Program.name).where(Program.id == program).first()) == {
        "name": "Renamed"
    }

    # What a view does to record itself changes nothing it shows.
    await audit.record("test.event", audit.Actor("cli", "test"), "program", program)
    assert await db.records_version() == start + 2


async def test_a_disclosure_and_a_links_use_do_not_count(client, demo) -> None:
    made = await secure_link(client, demo)
    before = await db.records_version()
    async with officer_browser(client) as officer:
        for _ in range(3):
            assert (await officer.get(link_path(made))).status_code == 200
    assert await db.records_version() == before
    link = await SecureLink.select().where(SecureLink.id == made["link"]["id"]).first()
    assert link["use_count"] == 3
    async with db.transaction():
        await disclosed(
            participant=link["participant"],
            kind="link_opened",
            description="test",
            recipient=link["recipient"],
            consent=link["consent"],
        )
    assert await db.records_version() == before


async def test_a_change_declared_as_one_participants_keeps_the_others_views(
    bound_engine,
) -> None:
    """``transaction(touching=p)`` counts for every view (``records_version``) and for
    p's own (``participant_version``), not for other participants'. Undeclared changes,
    and declared ones nested inside an undeclared transaction, count for everyone."""
    program = await _program("PV")
    shared, _ = await db.participant_version(101)
    start = await db.records_version()

    async with db.transaction(touching=101):
        await Program.update({Program.name: "Declared"}).where(Program.id == program)
    assert await db.records_version() == start + 1
    assert await db.participant_version(101) == (shared, 1)
    assert await db.participant_version(202) == (shared, 0)

    await Program.update({Program.name: "Undeclared"}).where(Program.id == program)
    assert await db.participant_version(202) == (shared + 1, 0)

    async with db.transaction():
        async with db.transaction(touching=202):
            await Program.update({Program.name: "Nested"}).where(Program.id == program)
    assert await db.participant_version(202) == (shared + 2, 0)
    assert await db.participant_version(101) == (shared + 2, 1)

    async with db.transaction(touching=101):  # read, nothing written: nothing counted
        await Program.count()
    with contextlib.suppress(RuntimeError):
        async with db.transaction(touching=101):
            await Program.update({Program.name: "Never"}).where(Program.id == program)
            raise RuntimeError("rolled back")
    assert await db.participant_version(101) == (shared + 2, 1)
    assert await db.records_version() == start + 3


async def test_another_clients_report_keeps_the_page_and_this_clients_shows_at_once(
    client: httpx.AsyncClient,
    demo,
) -> None:
    """A batch signing other clients' reports leaves an officer's page as it was read;
    a report signed for this client is on the very next view."""
    made = await secure_link(client, demo)
    mine, other = demo["people"]["RB-1001"], demo["people"]["RB-1002"]
    async with officer_browser(client) as officer:
        assert (await officer.get(link_path(made))).status_code == 200
        before = await db.participant_version(mine)

        signed = await post_json(client, f"/api/participants/{other}/disclosures/report", {})
        assert signed.status_code in (200, 201), signed.text
        assert await db.participant_version(mine) == before
        assert (await officer.get(link_path(made))).status_code == 200

        report = await court_report(client, demo, narrative=None)
        shared, own = await db.participant_version(mine)
        assert (shared, own) == (before[0], before[1] + 1)
        page = await officer.get(link_path(made))
        assert page.status_code == 200
        assert f"report {report['public_id']}, version 1" in page.text


@contextlib.asynccontextmanager
async def _another_process(settings: Settings) -> AsyncIterator[None]:
    """The tables bound to a second engine on the same database for the block."""
    mine = db.current_engine()
    other = db.create_engine(settings.database, must_exist=True)
    await db.open_pool(other, 1)
    db.bind(other)
    try:
        yield
    finally:
        db.bind(mine)
        await db.close_pool(other)


async def test_an_open_page_shows_another_processs_change_on_the_next_view(
    client: httpx.AsyncClient,
    demo,
    settings: Settings,
) -> None:
    made = await secure_link(client, demo)
    person = demo["people"]["RB-1001"]
    async with officer_browser(client) as officer:
        first = await officer.get(link_path(made))
        assert first.status_code == 200 and "Marcus Hale" in first.text
        again = await officer.get(link_path(made))  # from the cache
        assert again.status_code == 200 and "Marcus Hale" in again.text

        async with _another_process(settings):
            await Participant.update({Participant.first_name: "Marcel"}).where(
                Participant.id == person
            )
        renamed = await officer.get(link_path(made))
        assert renamed.status_code == 200
        assert "Marcel Hale" in renamed.text and "Marcel" not in again.text

        async with _another_process(settings), db.transaction():
            await Consent.update({Consent.revoked_at: datetime.now(UTC)}).where(
                Consent.id == made["link"]["consent_id"]
            )
        gone = await officer.get(link_path(made))
        assert gone.status_code == 410
        assert "consent no longer allows" in gone.text
