"""Officer link views at once (issue 18): every view records exactly one disclosure and
none fails or waits out SQLite's busy handler. Writers of one process queue on the
engine's writer lock (SQLite) before BEGIN IMMEDIATE; PostgreSQL has row locks and no
writer lock, and the same views must hold there too."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from compliance.core import db
from compliance.core.settings import Settings
from compliance.disclosure import links
from compliance.staff import accounts
from compliance.tables import Disclosure, Participant, Recipient, SecureLink, StaffUser
from tests.support.cli import run_cli, settings_env
from tests.support.databases import ENGINE
from tests.support.live import serve
from tests.support.staff import demo_with_clinician

pytestmark = pytest.mark.db

CLIENTS = 8
VIEWS_PER_CLIENT = 6
RAISED_LIMITS = {"LINK_RATE_PER_CLIENT": "10000000", "LINK_RATE_PER_TOKEN": "10000000"}


async def _officer_link(settings: Settings) -> tuple[int, str]:
    """The demo, and one participant-scope link for its probation officer: (id, token)."""
    await demo_with_clinician("views@example.org")
    user = await StaffUser.select().where(StaffUser.email == "views@example.org").first()
    principal = await accounts.load_principal(user["id"])
    assert principal is not None
    person = await Participant.select().where(Participant.client_id == "RB-1001").first()
    officer = await Recipient.select().where(Recipient.name == "Dana Whitfield").first()
    made = await links.create_link(principal, settings, person["id"], officer["id"])
    return made.link.id, made.url.rsplit("/", 1)[1]


async def _link_counts(link_id: int) -> tuple[int, int]:
    """(disclosures recorded for the link, the link's use count)."""
    disclosures = await Disclosure.count().where(Disclosure.link == link_id)
    link = await SecureLink.select(SecureLink.use_count).where(SecureLink.id == link_id).first()
    return disclosures, link["use_count"]


async def test_concurrent_officer_views_each_record_one_disclosure(
    bound_engine, database_url: str, settings: Settings, tmp_path: Path
) -> None:
    link_id, token = await _officer_link(settings)
    before = await _link_counts(link_id)
    env = {**settings_env(database_url, tmp_path), **RAISED_LIMITS}
    server = await asyncio.to_thread(serve, env, tmp_path / "server.log")
    statuses: list[int] = []

    async def officer() -> None:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            for _ in range(VIEWS_PER_CLIENT):
                response = await http.get(f"/l/{token}")
                statuses.append(response.status_code)
                assert "Dana Whitfield" in response.text or response.status_code != 200

    try:
        await asyncio.gather(*(officer() for _ in range(CLIENTS)))
    finally:
        log = await asyncio.to_thread(server.stop)

    views = CLIENTS * VIEWS_PER_CLIENT
    assert statuses == [200] * views
    assert await _link_counts(link_id) == (before[0] + views, before[1] + views)
    assert "database is locked" not in log
    assert "Traceback" not in log
    chain = await asyncio.to_thread(run_cli, "audit", "verify", env=env)
    assert chain.returncode == 0, chain.stderr


@pytest.mark.skipif(ENGINE != "sqlite", reason="the writer lock is SQLite's")
async def test_in_process_writers_queue_on_the_writer_lock_not_the_busy_handler(
    bound_engine, settings: Settings
) -> None:
    """With SQLite's busy timeout at 50 ms, writers that queued in SQLite's busy handler
    fail with "database is locked" (48 of them take far longer than that together);
    queued on the writer lock, none waits there. The margin is for a WAL checkpoint that
    closing the last connection runs under SQLite's lock. Covers transactions (the
    officer view) and Piccolo's single-statement writes."""
    link_id, token = await _officer_link(settings)
    grant = await links.resolve(token)
    before = await _link_counts(link_id)
    impatient = db.create_engine(settings.database, must_exist=True)
    impatient.connection_kwargs["timeout"] = 0.05  # type: ignore[attr-defined]
    db.bind(impatient)
    try:

        async def touch() -> None:
            await SecureLink.update({SecureLink.failed_code_attempts: 0}).where(
                SecureLink.id == link_id
            )

        views = [links.officer_view(grant, "test") for _ in range(24)]
        results = await asyncio.gather(
            *views, *(touch() for _ in range(24)), return_exceptions=True
        )
    finally:
        db.bind(bound_engine)
    failures = [r for r in results if isinstance(r, BaseException)]
    assert not failures, failures[:3]
    assert await _link_counts(link_id) == (before[0] + 24, before[1] + 24)
