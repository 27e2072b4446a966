"""Acting on the signed-in demo (see ``staff.signed_in_demo``) through the API: JSON
posts with the CSRF header, the court client's report and its PDF, the public check of
a PDF, and secure links opened from a second browser, the officer's phone."""

from __future__ import annotations

import httpx

from tests.support.staff import csrf_token

# The demo's first eight weeks: every one of them wholly in the past at the demo's now.
PERIOD = {"period_start": "2026-09-28", "period_end": "2026-11-22"}


async def post_json(
    client: httpx.AsyncClient, url: str, body: dict | None = None
) -> httpx.Response:
    return await client.post(
        url, json=body or {}, headers={"x-csrftoken": await csrf_token(client)}
    )


async def court_report(client: httpx.AsyncClient, demo: dict, **extra: object) -> dict:
    """A signed court progress report on the demo's court client for his officer; a
    field given as None is left out of the request (``narrative=None``: no narrative)."""
    pid = demo["people"]["RB-1001"]
    body = {
        "kind": "court_progress",
        "recipient_id": demo["recipients"]["Dana Whitfield"],
        "narrative": "Engaged in group; working on relapse-prevention plan.",
        **PERIOD,
        **extra,
    }
    body = {name: value for name, value in body.items() if value is not None}
    response = await post_json(client, f"/api/participants/{pid}/reports", body)
    assert response.status_code == 201, response.text
    return response.json()


async def report_pdf(client: httpx.AsyncClient, report: dict) -> bytes:
    response = await client.get(f"/api/reports/{report['id']}/pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    return response.content


async def verify_pdf(client: httpx.AsyncClient, pdf: bytes) -> dict:
    """What the public check answers about a PDF someone holds."""
    response = await client.post(
        "/api/verify",
        files={"file": ("report.pdf", pdf, "application/pdf")},
        headers={"x-csrftoken": await csrf_token(client)},
    )
    assert response.status_code == 200, response.text
    return response.json()


def officer_browser(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """A second browser with no staff session: the officer's phone."""
    return httpx.AsyncClient(transport=client._transport, base_url="http://testserver")


async def secure_link(client: httpx.AsyncClient, demo: dict, **extra: object) -> dict:
    """A secure link to the court client's records for his officer."""
    pid = demo["people"]["RB-1001"]
    body = {"recipient_id": demo["recipients"]["Dana Whitfield"], **extra}
    response = await post_json(client, f"/api/participants/{pid}/links", body)
    assert response.status_code == 201, response.text
    return response.json()


def link_path(made: dict) -> str:
    """The link's path on the test app, from the URL the API answered with."""
    return made["url"].removeprefix("http://testserver")
