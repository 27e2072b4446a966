"""Administrators' pages (issue 15, point 8): a new staff member is invited by a
single-use, expiring set-password link and chooses their own password; a policy change
is previewed (what it does to past weeks and violations) and saved only from that
preview. Clinicians are refused all of it."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from compliance.core.settings import Settings
from compliance.disclosure.outbox import unseal
from compliance.records.analytes import seed_program_analytes
from compliance.staff.accounts import hash_password
from compliance.tables import (
    AuditEvent,
    OutboxMessage,
    Participant,
    Program,
    StaffInvite,
    StaffUser,
    Violation,
)
from tests.support.app import another_browser
from tests.support.staff import (
    PASSWORD,
    World,
    csrf_token,
    demo_with_clinician,
    make_world,
    post_form,
    sign_in,
)

pytestmark = pytest.mark.db
NEW_PASSWORD = "plum tractor lantern 1987"
LINK = re.compile(r"http://testserver/set-password/([A-Za-z0-9_\-]{43})")


@pytest.fixture
async def world(client: httpx.AsyncClient) -> World:
    return await make_world()


async def _invite(client: httpx.AsyncClient, world: World, email: str) -> tuple[str, str]:
    """The admin's form, as a browser sends it; returns the page's link and its path."""
    made = await post_form(
        client,
        "/admin/staff/new",
        {
            "full_name": "Casey Morgan",
            "email": email,
            "credentials": "LPC",
            "role": "clinician",
            f"program_{world.program_a}": "on",
        },
    )
    assert made.status_code == 303, made.text
    shown = await client.get(made.headers["location"])
    assert shown.status_code == 200
    found = LINK.search(shown.text)
    assert found, shown.text
    return found.group(0), made.headers["location"]


async def _sign_in_as(client: httpx.AsyncClient, email: str, password: str) -> int:
    async with another_browser(client) as browser:
        token = await csrf_token(browser)
        answer = await browser.post(
            "/api/session",
            json={"email": email, "password": password},
            headers={"x-csrftoken": token},
        )
        return answer.status_code


async def _set_password(
    client: httpx.AsyncClient, path: str, password: str, confirm: str | None = None
) -> httpx.Response:
    """The new user's browser: opens the link, then submits the form."""
    async with another_browser(client) as browser:
        await browser.get(path)
        return await browser.post(
            path,
            data={
                "password": password,
                "confirm": password if confirm is None else confirm,
                "_csrf_token": await csrf_token(browser),
            },
        )


async def test_invite_then_set_password_then_sign_in(
    client: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    await sign_in(client, world.admin_a)
    url, shown_at = await _invite(client, world, "Casey@Example.org")
    token = LINK.match(url).group(1)
    path = url.removeprefix("http://testserver")
    # Shown once: the page again holds no link.
    again = await client.get(shown_at)
    assert again.status_code == 200 and "/set-password/" not in again.text
    assert "shown once" in again.text
    # Only the token's hash is stored; neither the database nor the audit trail holds it.
    invite = await StaffInvite.select().first()
    assert invite["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert invite["expires_at"] - invite["created_at"] == timedelta(hours=72)
    events = await AuditEvent.select().order_by(AuditEvent.id)
    assert not any(token in e["detail"] for e in events)
    assert {"user.create", "user.invite"} <= {e["action"] for e in events}
    # The e-mail to the new user, in the program's outbox, carries the same link.
    mail = await OutboxMessage.select().where(OutboxMessage.to_address == "casey@example.org")
    assert len(mail) == 1 and mail[0]["program"] == world.program_a
    assert token not in mail[0]["body_text"]  # sealed at rest
    assert url in unseal(settings.secret_key, mail[0]["body_text"])
    # Listed as invited; nobody can sign in yet, whatever they try.
    staff = {s["email"]: s for s in (await client.get("/api/admin/users")).json()}
    assert staff["casey@example.org"]["status"] == "invited"
    assert await _sign_in_as(client, "casey@example.org", NEW_PASSWORD) == 401
    # The new user's page: who the account is, then the rules for the password.
    async with another_browser(client) as browser:
        page = await browser.get(path)
        assert page.status_code == 200 and "casey@example.org" in page.text
        assert page.headers["referrer-policy"] == "no-referrer"
        assert "no-store" in page.headers["cache-control"]
    short = await _set_password(client, path, "too short")
    assert short.status_code == 422 and "at least 12 characters" in short.text
    mismatch = await _set_password(client, path, NEW_PASSWORD, NEW_PASSWORD + "x")
    assert mismatch.status_code == 422 and "not the same" in mismatch.text
    done = await _set_password(client, path, NEW_PASSWORD)
    assert done.status_code == 303 and done.headers["location"] == "/set-password/done"
    assert await _sign_in_as(client, "casey@example.org", NEW_PASSWORD) == 200
    staff = {s["email"]: s for s in (await client.get("/api/admin/users")).json()}
    assert staff["casey@example.org"]["status"] == "active"
    assert staff["casey@example.org"]["program_ids"] == [world.program_a]
    assert await AuditEvent.count().where(AuditEvent.action == "user.password_set") == 1


async def test_a_link_works_once_and_expires(client: httpx.AsyncClient, world: World) -> None:
    await sign_in(client, world.admin_a)
    url, _ = await _invite(client, world, "once@example.org")
    path = url.removeprefix("http://testserver")
    assert (await _set_password(client, path, NEW_PASSWORD)).status_code == 303
    second = await _set_password(client, path, "another long password")
    assert second.status_code == 410 and "used already" in second.text
    assert await _sign_in_as(client, "once@example.org", "another long password") == 401
    assert await _sign_in_as(client, "once@example.org", NEW_PASSWORD) == 200

    url, _ = await _invite(client, world, "late@example.org")
    path = url.removeprefix("http://testserver")
    await StaffInvite.update(
        {StaffInvite.expires_at: datetime.now(UTC) - timedelta(minutes=1)}
    ).where(StaffInvite.used_at.is_null())
    expired = await _set_password(client, path, NEW_PASSWORD)
    assert expired.status_code == 410 and "expired" in expired.text
    staff = {s["email"]: s for s in (await client.get("/api/admin/users")).json()}
    assert staff["late@example.org"]["status"] == "invitation expired"
    # A new invitation: the old link stays dead, the new one works.
    user_id = staff["late@example.org"]["id"]
    renewed = await post_form(client, f"/admin/staff/{user_id}/invite", {})
    assert renewed.status_code == 303
    fresh = LINK.search((await client.get(renewed.headers["location"])).text).group(0)
    assert fresh != url
    assert (await _set_password(client, path, NEW_PASSWORD)).status_code == 410
    fresh_path = fresh.removeprefix("http://testserver")
    assert (await _set_password(client, fresh_path, NEW_PASSWORD)).status_code == 303
    assert await _sign_in_as(client, "late@example.org", NEW_PASSWORD) == 200
    # An unknown token says so, as a page.
    unknown = await client.get("/set-password/" + "A" * 43)
    assert unknown.status_code == 404 and unknown.headers["content-type"].startswith("text/html")


async def test_invitation_form_refusals_store_nothing(client: httpx.AsyncClient, world) -> None:
    await sign_in(client, world.admin_a)
    users = await StaffUser.count()
    empty = await post_form(client, "/admin/staff/new", {})
    assert empty.status_code == 422 and empty.headers["content-type"].startswith("text/html")
    assert 'aria-invalid="true"' in empty.text and "choose at least one program" in empty.text
    taken = await post_form(
        client,
        "/admin/staff/new",
        {
            "full_name": "Again",
            "email": world.clinician_a,
            "role": "clinician",
            f"program_{world.program_a}": "on",
        },
    )
    assert taken.status_code == 422 and "already exists" in taken.text
    assert 'value="Again"' in taken.text  # what was typed stays
    # Program B is not the admin's: the API refuses naming it.
    elsewhere = await client.post(
        "/api/admin/invites",
        json={
            "email": "z@example.org",
            "full_name": "Z",
            "role": "clinician",
            "program_ids": [world.program_b],
        },
    )
    assert elsewhere.status_code == 422
    assert await StaffUser.count() == users
    assert await StaffInvite.count() == 0 and await OutboxMessage.count() == 0
    # The API invitation answers with the link once.
    made = await client.post(
        "/api/admin/invites",
        json={
            "email": "api@example.org",
            "full_name": "Api Person",
            "role": "admin",
            "program_ids": [world.program_a],
        },
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert LINK.fullmatch(body["url"]) and body["user"]["status"] == "invited"
    assert body["user"]["role"] == "admin" and body["emailed_to"] == "api@example.org"


async def test_clinicians_are_refused_the_admin_pages(client: httpx.AsyncClient, world) -> None:
    await sign_in(client, world.clinician_a)
    for path in (
        "/admin",
        "/admin/staff",
        "/admin/staff/new",
        f"/admin/programs/{world.program_a}/policy",
    ):
        page = await client.get(path, headers={"accept": "text/html"})
        assert page.status_code == 403, path
        assert page.headers["content-type"].startswith("text/html")
        assert "Administrators only" in page.text
    users = await StaffUser.count()
    refused = await post_form(
        client,
        "/admin/staff/new",
        {
            "full_name": "Sneaky",
            "email": "sneaky@example.org",
            "role": "admin",
            f"program_{world.program_a}": "on",
        },
    )
    assert refused.status_code == 403
    assert await StaffUser.count() == users and await StaffInvite.count() == 0
    admin_id = (await StaffUser.select().where(StaffUser.email == world.admin_a).first())["id"]
    off = await post_form(client, f"/admin/staff/{admin_id}/deactivate", {})
    assert off.status_code == 403
    assert (await StaffUser.select().where(StaffUser.id == admin_id).first())["active"]
    # The menu offers the outbox to everyone, administration to administrators only.
    home = await client.get("/caseload")
    assert 'href="/outbox"' in home.text and 'href="/admin"' not in home.text
    await sign_in(client, world.admin_a)
    assert 'href="/admin"' in (await client.get("/caseload")).text


async def test_admin_deactivates_from_the_staff_page(client: httpx.AsyncClient, world) -> None:
    await sign_in(client, world.admin_a)
    clinician = (await StaffUser.select().where(StaffUser.email == world.clinician_a).first())["id"]
    page = await client.get("/admin/staff")
    assert page.status_code == 200 and world.clinician_a in page.text
    assert world.clinician_b not in page.text  # program B's staff are not listed
    off = await post_form(client, f"/admin/staff/{clinician}/deactivate", {})
    assert off.status_code == 303
    assert await _sign_in_as(client, world.clinician_a, PASSWORD) == 401
    assert "Deactivated" in (await client.get("/admin/staff")).text
    b_user = (await StaffUser.select().where(StaffUser.email == world.clinician_b).first())["id"]
    assert (await post_form(client, f"/admin/staff/{b_user}/deactivate", {})).status_code == 404
    on = await post_form(client, f"/admin/staff/{clinician}/reactivate", {})
    assert on.status_code == 303
    assert await _sign_in_as(client, world.clinician_a, PASSWORD) == 200


# --- program policy -------------------------------------------------------------------


async def _demo_admin(client: httpx.AsyncClient) -> dict:
    """The demo program, its administrator signed in (with a password the test knows)."""
    program = await demo_with_clinician("staff@example.org")
    admin = (await StaffUser.select().where(StaffUser.role == "admin").first())["email"]
    await StaffUser.update({StaffUser.password_hash: hash_password(PASSWORD)}).where(
        StaffUser.email == admin
    )
    await sign_in(client, admin)
    return program


FLAGS_OFF = {
    "week_starts_on": "0",
    "stepdown_compliant_weeks": "4",
    "stepdown_consecutive_negative_tests": "6",
    "collection_window_hours": "8",
    "results_due_hours": "48",
    "notice_window_hours": "24",
    "dilute_creatinine_mg_dl": "20",
}


async def test_policy_preview_lists_the_effect_and_saving_needs_it(
    client: httpx.AsyncClient,
) -> None:
    program = await _demo_admin(client)
    url = f"/admin/programs/{program['id']}/policy"
    form = await client.get(url)
    assert form.status_code == 200 and "A dilute specimen counts as positive" in form.text
    # Every setting the program table holds is offered, the presumptive one included.
    assert 'name="presumptive_counts_before_confirmation"' in form.text
    violations = await Violation.count()
    proposal = {**FLAGS_OFF, "dilute_counts_as_positive": "true"}
    preview = await post_form(client, f"{url}/preview", proposal)
    assert preview.status_code == 200, preview.text
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", preview.text))
    hale = await Participant.select().where(Participant.client_id == "RB-1001").first()
    # The demo's one dilute specimen (Marcus Hale) becomes a violation; its week turns.
    assert "1 week changes status, 1 new violation (RB-1001: Dilute specimen collected" in text
    assert "RB-1001 Hale, Marcus" in text and "Compliant Not compliant" in text
    confirmation = re.search(r'name="confirmation" value="([^"]+)"', preview.text).group(1)
    # Saving without the preview's confirmation, or with one for another change, stores
    # nothing: the program's policy and its violations stay as they were.
    for token in ("", "123.abc", confirmation):
        data = {**proposal, "confirmation": token}
        if token == confirmation:
            data["results_due_hours"] = "24"  # not what was previewed
        refused = await post_form(client, url, data)
        assert refused.status_code == 422 and "Nothing was saved" in refused.text, token
        row = await Program.select().where(Program.id == program["id"]).first()
        assert row["dilute_counts_as_positive"] is False and row["results_due_hours"] == 48
        assert await Violation.count() == violations
    saved = await post_form(client, url, {**proposal, "confirmation": confirmation})
    assert saved.status_code == 303
    row = await Program.select().where(Program.id == program["id"]).first()
    assert row["dilute_counts_as_positive"] is True
    dilutes = await Violation.select().where(
        (Violation.participant == hale["id"]) & (Violation.kind == "dilute_specimen")
    )
    assert len(dilutes) == 1 and await Violation.count() == violations + 1
    after = await client.get(url)
    assert "The settings are saved." in after.text and "1 new violation" in after.text
    assert "The settings are saved." not in (await client.get(url)).text  # said once
    event = await AuditEvent.select().where(AuditEvent.action == "program.settings").first()
    assert '"violations_recorded":1' in event["detail"] and '"weeks_changed":1' in event["detail"]
    assert "RB-1001" not in event["detail"]  # the audit trail holds no client details
    # The confirmation is spent with the settings it was made for: it cannot redo it.
    replay = await post_form(client, url, {**FLAGS_OFF, "confirmation": confirmation})
    assert replay.status_code == 422


async def test_policy_form_refuses_bad_values_in_the_page(client: httpx.AsyncClient) -> None:
    program = await _demo_admin(client)
    url = f"/admin/programs/{program['id']}/policy"
    bad = await post_form(client, f"{url}/preview", {**FLAGS_OFF, "results_due_hours": "0"})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("text/html")
    assert 'aria-invalid="true" aria-describedby="results_due_hours-error"' in bad.text
    assert 'value="0"' in bad.text
    same = await post_form(client, f"{url}/preview", FLAGS_OFF)
    assert same.status_code == 200 and "nothing changes" in same.text
    assert 'name="confirmation"' not in same.text


async def test_policy_of_another_program_is_not_found(client: httpx.AsyncClient, world) -> None:
    await sign_in(client, world.admin_a)
    assert (await client.get(f"/admin/programs/{world.program_b}/policy")).status_code == 404
    preview = await post_form(
        client, f"/admin/programs/{world.program_b}/policy/preview", FLAGS_OFF
    )
    assert preview.status_code == 404


async def test_admin_menu_reaches_the_analyte_table(client: httpx.AsyncClient, world) -> None:
    await seed_program_analytes(world.program_a)
    await sign_in(client, world.admin_a)
    menu = await client.get("/admin")
    for href in ("/admin/staff", f"/admin/programs/{world.program_a}/policy"):
        assert f'href="{href}"' in menu.text
    assert f'href="/programs/{world.program_a}/analytes"' in menu.text
    assert f'href="/programs/{world.program_a}/outbox"' in menu.text
    assert f"/programs/{world.program_b}/" not in menu.text
    table = await client.get(f"/programs/{world.program_a}/analytes")
    # Cutoffs read as numbers of ng/mL on every engine (PostgreSQL keeps "15.000").
    thc = table.text.split("Marijuana metabolite (THC-COOH)")[1].split("</tr>")[0]
    assert re.findall(r"<td>([^<]*)</td>", thc)[:2] == ["50", "15"]
    assert "Screen cutoff (ng/mL)" in table.text
    # The default table's codes are "local THC": the same code in capitals is no new one.
    again = await post_form(
        client,
        f"/programs/{world.program_a}/analytes",
        {"analyte_key": "cocaine", "coding_system": "LOCAL", "code": "thc"},
    )
    assert again.status_code == 422 and "LOCAL THC is already mapped" in again.text
    codes = (await client.get(f"/api/programs/{world.program_a}/analytes")).json()
    assert [c["code"] for a in codes for c in a["codes"] if c["code"] == "THC"] == ["THC"]
    # With one program, the menu's outbox goes straight to it.
    outbox = await client.get("/outbox")
    assert outbox.status_code == 303
    assert outbox.headers["location"] == f"/programs/{world.program_a}/outbox"
