"""The caseload leads (issue 15, point 3): sign-in lands on it, the most serious case
comes first (by the engine's reason kinds, this week before last, then last name), and
its head counts who is out of compliance, tests overdue, court reports due and open
violations.

Records are laid out relative to the real clock, as the caseload judges this and last
week on the program's today (program A is America/Chicago)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from compliance.records.analytes import seed_program_analytes
from tests.support.records import enroll, group_session
from tests.support.staff import (
    PASSWORD,
    World,
    csrf_token,
    make_world,
    signed_in_demo,
    signed_in_world,
)

ZONE = ZoneInfo("America/Chicago")


@dataclass
class Week:
    """This and last week on program A's clock, and a moment of this week already past."""

    now: datetime
    this_monday: date
    last_monday: date

    @classmethod
    def today(cls) -> Week:
        now = datetime.now(ZONE)
        monday = now.date() - timedelta(days=now.weekday())
        return cls(now, monday, monday - timedelta(days=7))

    def last(self, day: int, hour: int) -> str:
        """Last week's ``day`` (0 Monday) at ``hour``, as the API's local time."""
        return f"{self.last_monday + timedelta(days=day)}T{hour:02d}:00"

    def so_far(self) -> str:
        """A moment this week that has already happened (Monday 00:01 at the earliest)."""
        start = datetime.combine(self.this_monday, time(0, 1), ZONE)
        return max(start, self.now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")


# Client id -> (first name, last name, mandate source, what happened).
CASES = {
    "S-1": ("Ann", "Zeller", "eap", "positive this week"),
    "S-2": ("Bob", "Young", "court", "positive last week"),
    "S-3": ("Cy", "Nash", "eap", "missed last week"),
    "S-4": ("Di", "Mills", "eap", "unexcused absence last week"),
    "S-5": ("Ed", "Baker", "court", "excused absence last week"),
    "S-6": ("Fay", "Zimmer", "eap", "late specimen last week"),
    "S-7": ("Zed", "Adams", "eap", "nothing"),
    "S-8": ("Abe", "Carter", "eap", "nothing"),
}
# Most serious first; then this week before last; then last name (Adams before Carter,
# though Abe comes before Zed).
EXPECTED = ["S-1", "S-2", "S-3", "S-4", "S-5", "S-6", "S-7", "S-8"]
THC_CONFIRMED = {
    "analyte": "thc",
    "screen_result": "positive",
    "confirmation_result": "positive",
    "confirmation_method": "GC-MS",
}


async def _ok(response: httpx.Response) -> dict:
    assert response.status_code in (200, 201), response.text
    return response.json()


async def _enroll(client: httpx.AsyncClient, world: World, week: Week) -> dict[str, int]:
    admitted = str(week.this_monday - timedelta(weeks=8))
    people = {}
    for client_id, (first, last, source, _) in CASES.items():
        pid = await enroll(client, world.program_a, client_id, first, last, admitted)
        court = {"case_number": f"CR-{client_id}", "court_name": "Drug Court"}
        phase = {
            "name": "Phase 1",
            "required_hours_per_week": "9",
            "required_tests_per_week": 0,
            "started_on": admitted,
        }
        mandate = {"source": source, "starts_on": admitted, "phases": [phase]}
        await _ok(
            await client.post(
                f"/api/participants/{pid}/mandates",
                json=mandate | (court if source == "court" else {}),
            )
        )
        people[client_id] = pid
    return people


async def _caseload(client: httpx.AsyncClient, world: World) -> None:
    """The eight cases above, each made through the API the way staff record them."""
    await seed_program_analytes(world.program_a)
    week = Week.today()
    people = await _enroll(client, world, week)
    # Last week's three groups (Mon, Wed, Thu 18:00, 3 h each): everyone present but
    # Mills (absent, no excuse on Wednesday) and Baker (excused on Monday).
    exceptions = {(0, "S-5"): "absent_excused", (2, "S-4"): "absent_unexcused"}
    for day in (0, 2, 3):
        session = await group_session(
            client, world.program_a, week.last(day, 18), title="Relapse prevention"
        )
        entries = [
            {"participant_id": pid, "status": exceptions.get((day, cid), "present")}
            for cid, pid in people.items()
        ]
        await _ok(await client.put(f"/api/sessions/{session}/roster", json={"entries": entries}))
    tests = {
        "S-1": {"collected_at": week.so_far(), "results": [THC_CONFIRMED]},
        "S-2": {"collected_at": week.last(1, 9), "results": [THC_CONFIRMED]},
        "S-3": {"collection_status": "no_show", "called_at": week.last(1, 7)},
        # Called at 07:00, delivered at 18:00: 11 hours, past the 8-hour window.
        "S-6": {
            "called_at": week.last(1, 7),
            "collected_at": week.last(1, 18),
            "results": [{"analyte": "thc", "screen_result": "negative"}],
        },
    }
    for cid, body in tests.items():
        await _ok(
            await client.post(
                f"/api/participants/{people[cid]}/drug-tests", json={"reason": "random", **body}
            )
        )


@pytest.fixture
async def world(client: httpx.AsyncClient) -> World:
    return await signed_in_world(client)


async def test_the_most_serious_case_leads_then_this_week_then_last_name(client, world) -> None:
    await _caseload(client, world)
    rows = (await client.get("/api/caseload")).json()
    by_id = {r["client_id"]: r for r in rows}
    assert [r["client_id"] for r in rows] == EXPECTED, [
        (r["client_id"], r["kinds_this_week"], r["kinds_last_week"]) for r in rows
    ]
    # The order comes from the engine's reason kinds, not from the sentences.
    assert by_id["S-1"]["kinds_this_week"] == ["positive"]
    assert by_id["S-2"]["kinds_last_week"] == ["positive"]
    assert by_id["S-3"]["kinds_last_week"] == ["missed"]
    assert by_id["S-4"]["kinds_last_week"] == ["absence"]
    assert by_id["S-5"]["kinds_last_week"] == ["hours"]
    # A confirmed positive outranks an hours shortfall in the same week.
    assert rows.index(by_id["S-2"]) < rows.index(by_id["S-5"])
    # The excused absence is said as excused, in the engine's words.
    assert by_id["S-5"]["reasons_last_week"] == [
        "Attended 6:00 of 9:00 required hours (1 excused absence)"
    ]
    assert by_id["S-6"]["tests_overdue"] == 1 and by_id["S-3"]["tests_overdue"] == 0
    assert [by_id[c]["last_week"] for c in ("S-6", "S-7", "S-8")] == ["compliant"] * 3

    # Sorting by name is by last name, then first name, everywhere.
    by_name = (await client.get("/api/caseload", params={"sort": "name"})).json()
    assert [r["last_name"] for r in by_name] == [
        "Adams",
        "Baker",
        "Carter",
        "Mills",
        "Nash",
        "Young",
        "Zeller",
        "Zimmer",
    ]
    listed = await client.get("/participants")
    names = ["Adams, Zed", "Baker, Ed", "Carter, Abe", "Zeller, Ann", "Zimmer, Fay"]
    positions = [listed.text.index(n) for n in names]
    assert positions == sorted(positions)

    # The page shows the same order, last name first, and each case's reason.
    page = await client.get("/caseload")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    shown = [page.text.index(f"{CASES[c][1]}, {CASES[c][0]}</a>") for c in EXPECTED]
    assert shown == sorted(shown)
    assert "Attended 6:00 of 9:00 required hours (1 excused absence)" in page.text
    assert "1 test overdue" in page.text


async def test_the_head_counts_and_each_count_lists_its_clients(client, world) -> None:
    await _caseload(client, world)

    async def shown(show: str) -> list[str]:
        rows = (await client.get("/api/caseload", params={"show": show})).json()
        return sorted(r["client_id"] for r in rows)

    assert await shown("this_week") == ["S-1"]
    assert await shown("last_week") == ["S-2", "S-3", "S-4", "S-5"]
    assert await shown("tests_overdue") == ["S-6"]  # the no-show is missed, not overdue
    # Positives and the absence are violations; the shortfall and the late specimen not.
    assert await shown("violations") == ["S-1", "S-2", "S-3", "S-4"]
    # The court clients, enrolled 8 weeks ago with no court report signed yet.
    assert await shown("reports_due") == ["S-2", "S-5"]

    page = (await client.get("/caseload")).text
    for words in (
        "<strong>1</strong> not compliant this week",
        "<strong>4</strong> not compliant last week",
        "<strong>1</strong> test overdue",
        "<strong>2</strong> court reports due",
        "<strong>4</strong> open violations (4 clients)",
    ):
        assert words in page, words
    words = " ".join(page.split())
    assert "no court progress report signed in the last 7 days" in words
    assert "specimen came after the 8-hour collection window" in words
    filtered = await client.get("/caseload", params={"show": "tests_overdue"})
    assert "Showing 1 of 8 active clients" in filtered.text
    assert "Zimmer, Fay" in filtered.text and "Adams, Zed" not in filtered.text


async def test_a_signed_court_report_clears_report_due(client) -> None:
    demo = await signed_in_demo(client, "due@example.org")
    court = demo["people"]["RB-1001"]

    async def due() -> dict[str, bool]:
        rows = (await client.get("/api/caseload")).json()
        return {r["client_id"]: r["report_due"] for r in rows}

    # Only the court client can be due; the EAP and DOT clients never are.
    assert await due() == {"RB-1001": True, "RB-1002": False, "RB-1003": False}
    today = datetime.now(ZoneInfo("America/Chicago")).date()
    made = await client.post(
        f"/api/participants/{court}/reports",
        json={
            "kind": "court_progress",
            "recipient_id": demo["recipients"]["Dana Whitfield"],
            "period_start": str(today - timedelta(weeks=4)),
            "period_end": str(today),
        },
        headers={"x-csrftoken": await csrf_token(client)},
    )
    assert made.status_code == 201, made.text
    assert await due() == {"RB-1001": False, "RB-1002": False, "RB-1003": False}
    [row] = (await client.get("/api/caseload", params={"q": "RB-1001"})).json()
    assert row["last_court_report"] == str(today)


async def test_sign_in_lands_on_the_caseload(client) -> None:
    world = await make_world()
    welcome = await client.get("/")
    assert welcome.status_code == 200 and "Staff sign-in" in welcome.text
    token = await csrf_token(client)
    form = {"email": world.clinician_a, "password": PASSWORD, "_csrf_token": token}
    signed_in = await client.post("/login", data=form)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/caseload"
    home = await client.get("/")
    assert home.status_code == 303 and home.headers["location"] == "/caseload"
    caseload = await client.get("/caseload")
    assert caseload.status_code == 200 and "<h1>Caseload</h1>" in caseload.text
    # A page that sent you to sign in still gets you back.
    client.cookies.clear()
    token = await csrf_token(client)
    back = await client.post("/login", data={**form, "_csrf_token": token, "next": "/sessions"})
    assert back.status_code == 303 and back.headers["location"] == "/sessions"
