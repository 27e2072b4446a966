"""Staff forms answer in the page (issue 15): a refused form comes back as HTML with its
errors, never as JSON the browser prints as markup; a form that discloses or stores
follows Post/Redirect/Get, so a refresh repeats nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from compliance.tables import Disclosure, OutboxMessage, SecureLink
from tests.support.app import all_routes, app_of
from tests.support.routes import fill
from tests.support.staff import csrf_token, post_form, signed_in_demo

pytestmark = pytest.mark.db
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

# Page forms that do not take a form a person fills in (or are not staff pages at all).
NOT_FORMS = {
    "/login",
    "/logout",
    "/verify",
    "/l/{token:str}/code",
}


def _page_forms(client: httpx.AsyncClient) -> list[str]:
    return sorted(
        path
        for path, method in all_routes(app_of(client))
        if method == "POST" and not path.startswith("/api/") and path not in NOT_FORMS
    )


async def test_every_refused_staff_form_answers_html(
    client: httpx.AsyncClient,
    program_a_records: tuple[Any, dict[str, int]],
) -> None:
    """An empty submit of every staff form: either done (a redirect) or refused in a
    page, labelled HTML; never a JSON body."""
    _, ids = program_a_records
    ids = {**ids, "token": "x" * 43}
    forms = _page_forms(client)
    assert len(forms) > 15, forms
    refused = []
    for path in forms:
        response = await client.post(
            fill(path, ids),
            data={"_csrf_token": await csrf_token(client)},
            headers={"accept": BROWSER_ACCEPT},
        )
        where = f"POST {path}: {response.status_code} {response.headers.get('content-type')}"
        assert response.status_code < 500, where
        if response.status_code in (301, 302, 303):
            continue
        kind = response.headers.get("content-type", "")
        if kind.startswith("application/pdf"):
            continue  # the client's accounting of disclosures needs no field
        assert kind.startswith("text/html"), where
        assert not response.text.lstrip().startswith("{"), where
        refused.append(path)
    assert len(refused) > 10, refused


async def test_a_refresh_after_creating_a_link_creates_nothing(client: httpx.AsyncClient) -> None:
    demo = await signed_in_demo(client, "forms@example.org")
    pid = demo["people"]["RB-1001"]
    made = await post_form(
        client,
        f"/participants/{pid}/links",
        {"recipient_id": str(demo["recipients"]["Dana Whitfield"]), "access_code": "true"},
    )
    assert made.status_code == 303
    page_url = made.headers["location"]
    assert page_url.startswith("/links/") and page_url.endswith("/created")
    first = await client.get(page_url)
    assert first.status_code == 200 and first.headers["content-type"].startswith("text/html")
    assert "http://testserver/l/" in first.text and "Access code:" in first.text
    links_before = await SecureLink.count()
    disclosures_before = await Disclosure.count()
    # The browser's refresh is a GET of that page: nothing is made again, nothing shown.
    again = await client.get(page_url)
    assert again.status_code == 200
    assert "/l/" not in again.text and "Access code:" not in again.text
    assert "shown once" in again.text
    assert await SecureLink.count() == links_before == 1
    assert await Disclosure.count() == disclosures_before


async def test_sending_a_report_twice_needs_two_submits(client: httpx.AsyncClient) -> None:
    demo = await signed_in_demo(client, "forms@example.org")
    pid = demo["people"]["RB-1001"]
    report = await client.post(
        f"/api/participants/{pid}/reports",
        json={
            "kind": "court_progress",
            "recipient_id": demo["recipients"]["Dana Whitfield"],
            "period_start": "2026-10-05",
            "period_end": "2026-11-22",
        },
        headers={"x-csrftoken": await csrf_token(client)},
    )
    assert report.status_code == 201, report.text
    sent = await post_form(client, f"/reports/{report.json()['id']}/send", {})
    assert sent.status_code == 303
    shown = await client.get(sent.headers["location"])
    assert "An e-mail with this link is in the outbox" in shown.text
    await client.get(sent.headers["location"])
    assert await OutboxMessage.count() == 1 and await SecureLink.count() == 1
