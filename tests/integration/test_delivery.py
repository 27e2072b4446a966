"""Report delivery and violation notices through the outbox, delivered to a real local
SMTP server (aiosmtpd) that is down at first and then up: nothing is lost, nothing is
sent twice, and no e-mail carries health information or is stored readable; the outbox
never shows a live link."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from email import message_from_bytes

import httpx
import pytest
from aiosmtpd.controller import Controller

from compliance.disclosure import notices, outbox
from compliance.tables import Disclosure, OutboxMessage, SecureLink, Violation
from tests.support.demo import court_report, officer_browser, post_json
from tests.support.live import free_port

pytestmark = pytest.mark.db


class Inbox:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


async def test_sent_report_survives_a_down_mail_server(client, demo, settings) -> None:
    report = await court_report(client, demo, narrative=None)
    sent = await post_json(client, f"/api/reports/{report['id']}/send", {"access_code": True})
    assert sent.status_code == 201, sent.text
    body = sent.json()
    url, code = body["link"]["url"], body["link"]["access_code"]
    assert body["to"] == "dwhitfield@probation.example" and code
    token = url.rsplit("/", 1)[1]
    stored = await OutboxMessage.select().first()
    assert token not in str(stored) and "Marcus" not in str(stored)  # sealed at rest
    assert [d["kind"] for d in await Disclosure.select().order_by(Disclosure.id)] == [
        "link_created",
        "report_sent",
    ]
    # With no SMTP configured the outbox is readable by staff, the link hidden.
    page = await client.get(f"/programs/{demo['program']['id']}/outbox")
    assert page.status_code == 200 and "/l/[hidden]" in page.text and token not in page.text
    # The mail server is down: the message waits, with the error and the next try.
    port = free_port()
    mail = dataclasses.replace(
        settings, smtp_host="127.0.0.1", smtp_port=port, smtp_security="none"
    )
    now = datetime.now(UTC)
    first = await outbox.deliver_due(mail, now=now)
    assert (first.sent, first.retrying) == (0, 1)
    row = await OutboxMessage.select().first()
    assert row["status"] == "pending" and row["attempts"] == 1 and row["last_error"]
    assert row["next_attempt_at"] >= now + timedelta(seconds=29)
    assert (await outbox.deliver_due(mail, now=now + timedelta(seconds=5))).retrying == 0
    # The server comes up: delivered once, and only once.
    inbox = Inbox()
    server = Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()
    try:
        later = now + timedelta(seconds=31)
        assert (await outbox.deliver_due(mail, now=later)).sent == 1
        assert (await outbox.deliver_due(mail, now=later + timedelta(hours=9))).sent == 0
    finally:
        server.stop()
    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    text = message.get_payload()
    assert message["To"] == "dwhitfield@probation.example"
    assert url in text and report["public_id"] in text
    assert code not in text  # the access code goes another way
    for private in ("Marcus", "Hale", "RB-1001", "positive", "cocaine", "THC"):
        assert private not in text and private not in message["Subject"]
    assert (await OutboxMessage.select().first())["status"] == "sent"


async def test_one_notice_per_violation_to_the_court_recipient(client, demo, settings) -> None:
    court = demo["people"]["RB-1001"]
    open_violations = await Violation.count().where(Violation.participant == court)
    assert open_violations > 0
    queued = await notices.send_violation_notices(settings)
    assert queued == open_violations
    rows = await OutboxMessage.select()
    assert {r["to_address"] for r in rows} == {"dwhitfield@probation.example"}
    assert await notices.send_violation_notices(settings) == 0  # never twice
    # A new violation (a missed random test) gives exactly one more notice.
    missed = {"collection_status": "no_show", "called_at": "2026-11-23T08:00", "results": []}
    response = await post_json(client, f"/api/participants/{court}/drug-tests", missed)
    assert response.status_code == 201, response.text
    assert await notices.send_violation_notices(settings) == 1
    assert await OutboxMessage.count() == open_violations + 1
    bodies = [
        outbox.unseal(settings.secret_key, r["body_text"]) for r in await OutboxMessage.select()
    ]
    for body in bodies:
        assert "/l/" in body and "Marcus" not in body and "missed" not in body.lower()
    # Each notice's link opens the status page.
    link = bodies[-1].split("here: ", 1)[1].split()[0].removeprefix("http://testserver")
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as po:
        assert (await po.get(link)).status_code == 200
    assert await SecureLink.count() == open_violations + 1
    notices_sent = await Disclosure.count().where(Disclosure.kind == "notice_sent")
    assert notices_sent == open_violations + 1


async def test_the_outbox_never_shows_a_live_link(client, demo) -> None:
    """The link's address is shown once, when made; the outbox (page and API, every
    program user, every view) shows the message with the address hidden."""
    report = await court_report(client, demo)
    sent = await post_json(client, f"/api/reports/{report['id']}/send", {"access_code": False})
    assert sent.status_code == 201, sent.text
    url = sent.json()["link"]["url"]
    token = url.rsplit("/", 1)[1]
    program = demo["program"]["id"]
    for _ in range(2):
        page = await client.get(f"/programs/{program}/outbox")
        api = await client.get(f"/api/programs/{program}/outbox")
        assert page.status_code == 200 and api.status_code == 200
        for shown in (page.text, api.text):
            assert token not in shown and url not in shown
        assert "/l/[hidden]" in api.json()[0]["body"]
        assert "/l/[hidden]" in page.text
    async with officer_browser(client) as officer:  # the link itself still works
        assert (await officer.get(httpx.URL(url).path)).status_code == 200
