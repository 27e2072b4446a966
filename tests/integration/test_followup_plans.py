"""The DOT SAP follow-up testing plan (49 CFR 40.307): recorded and changed through the
API and the participant page, append-only with who, when and why, refused with a reason
(and nothing stored) when it breaks the regulation, and its plan years."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from compliance.records.followup_plans import FollowUpPlanView, plan_in_words, plan_years
from compliance.tables import AuditEvent, FollowUpPlan, Mandate, Participant
from tests.support.openapi import conforms, schema_from
from tests.support.staff import World, make_world, post_form, sign_in, signed_in_demo

PHASE = {"name": "Follow-up", "required_hours_per_week": "9", "required_tests_per_week": 1}
PLAN = {
    "return_to_duty_on": "2026-10-05",
    "tests_first_year": 6,
    "months": 24,
    "substances": "both",
    "set_by": "Ellen Marsh",
    "set_on": "2026-10-02",
    "notes": "Unannounced.",
}
WORDS = (
    "Returned to duty Mon 5 Oct 2026 · at least 6 directly observed tests in the first "
    "12 months · then as the SAP directs · plan runs 24 months · drugs and alcohol · "
    "set by Ellen Marsh, SAP, on 2 Oct 2026"
)
# Beyond the program's today whatever the hour: America/Chicago trails UTC.
FUTURE = (date.today() + timedelta(days=2)).isoformat()


@pytest.fixture
async def dot(client: httpx.AsyncClient) -> tuple[World, int, int, int]:
    """Program A's clinician signed in; a participant with a DOT SAP mandate and a court
    one, both made through the API: (world, participant, dot mandate, court mandate)."""
    world = await make_world()
    await sign_in(client, world.clinician_a)
    made = await client.post(
        "/api/participants",
        json={
            "program_id": world.program_a,
            "client_id": "D1",
            "first_name": "Terry",
            "last_name": "Boyd",
            "admitted_on": "2026-01-05",
        },
    )
    pid = made.json()["id"]
    ids = []
    for body in (
        {"source": "dot_sap", "contact_name": "Ellen Marsh", "starts_on": "2026-01-05"},
        {
            "source": "court",
            "case_number": "CR-1",
            "court_name": "Drug Court",
            "starts_on": "2026-01-05",
        },
    ):
        answer = await client.post(
            f"/api/participants/{pid}/mandates", json={**body, "phases": [PHASE]}
        )
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["id"])
    return world, pid, ids[0], ids[1]


async def stored() -> tuple[int, int]:
    """Plan rows and plan audit events: what a refused request must leave unchanged."""
    events = await AuditEvent.count().where(AuditEvent.action == "followup_plan.set")
    return await FollowUpPlan.count(), events


async def test_api_records_the_plan_then_a_change_as_a_new_version(client, dot) -> None:
    _, _, mandate, _ = dot
    url = f"/api/mandates/{mandate}/followup-plan"
    assert (await client.get(url)).status_code == 404  # none yet
    assert (await client.get(f"{url}/history")).json() == []

    first = await client.put(url, json=PLAN)
    assert first.status_code == 201, first.text
    v1 = first.json()
    assert (v1["version"], v1["mandate_id"], v1["tests_first_year"], v1["months"]) == (
        1,
        mandate,
        6,
        24,
    )
    assert v1["directly_observed"] is True  # not sent: §40.67(b) is the rule
    assert (v1["substances"], v1["return_to_duty_on"], v1["change_reason"]) == (
        "both",
        "2026-10-05",
        "",
    )
    assert v1["recorded_by"] == "A"  # the clinician's name (make_world: "a@…" -> "A")
    assert (await client.get(url)).json() == v1

    # A change must say why; refused, nothing stored.
    before = await stored()
    unexplained = await client.put(url, json={**PLAN, "months": 36})
    assert unexplained.status_code == 422
    assert [e["field"] for e in unexplained.json()["errors"]] == ["change_reason"]
    assert await stored() == before

    changed = await client.put(
        url,
        json={
            **PLAN,
            "months": 36,
            "tests_per_later_year": 4,
            "change_reason": "SAP extended follow-up after a dilute specimen",
            "replaces_version": 1,
        },
    )
    assert changed.status_code == 200, changed.text
    v2 = changed.json()
    assert (v2["version"], v2["months"], v2["tests_per_later_year"]) == (2, 36, 4)
    assert (await client.get(url)).json() == v2

    history = (await client.get(f"{url}/history")).json()
    assert [h["version"] for h in history] == [1, 2]
    assert history[0] == v1  # the first version is untouched: append-only
    assert history[1]["change_reason"] == "SAP extended follow-up after a dilute specimen"
    assert history[1]["recorded_by"] == "A"
    recorded = datetime.fromisoformat(history[1]["recorded_at"])
    assert abs(datetime.now(UTC) - recorded) < timedelta(minutes=1)
    rows = await FollowUpPlan.select().order_by(FollowUpPlan.version)
    assert rows[1]["supersedes"] == rows[0]["id"] and rows[0]["supersedes"] is None
    assert await stored() == (2, 2)

    # Someone still looking at version 1 cannot override version 2.
    stale = await client.put(
        url, json={**PLAN, "change_reason": "back to 24 months", "replaces_version": 1}
    )
    assert stale.status_code == 409 and "version 2" in stale.json()["detail"]
    assert await stored() == (2, 2)


@pytest.mark.parametrize(
    ("change", "field", "fragment"),
    [
        ({"tests_first_year": 5}, "tests_first_year", "49 CFR 40.307(d) requires at least 6"),
        ({"tests_first_year": 366}, "tests_first_year", "at most 365"),
        ({"months": 61}, "months", "from 12 to 60 months"),
        ({"months": 11}, "months", "from 12 to 60 months"),
        ({"tests_per_later_year": -1}, "tests_per_later_year", "at least 0"),
        ({"return_to_duty_on": FUTURE}, "return_to_duty_on", "is in the future"),
        ({"set_on": FUTURE}, "set_on", "is in the future"),
        ({"return_to_duty_on": "2026-01-02"}, "return_to_duty_on", "before the mandate starts"),
        ({"directly_observed": False}, "directly_observed", "40.67(b)"),
        ({"set_by": ""}, "set_by", "is required"),
        ({"change_reason": "first time"}, "change_reason", "no plan yet"),
    ],
)
async def test_a_plan_against_the_rules_is_refused_and_nothing_stored(
    client, dot, change, field, fragment
) -> None:
    _, _, mandate, _ = dot
    before = await stored()
    answer = await client.put(f"/api/mandates/{mandate}/followup-plan", json={**PLAN, **change})
    assert answer.status_code == 422, answer.text
    reasons = {e["field"]: e["reason"] for e in answer.json()["errors"]}
    assert list(reasons) == [field] and fragment in reasons[field]
    assert await stored() == before


async def test_alcohol_only_plan_need_not_be_observed(client, dot) -> None:
    """Direct observation (§40.67(b)) is a drug-collection rule; a breath test has none."""
    _, _, mandate, _ = dot
    body = {**PLAN, "substances": "alcohol", "directly_observed": False}
    answer = await client.put(f"/api/mandates/{mandate}/followup-plan", json=body)
    assert answer.status_code == 201, answer.text
    assert "at least 6 tests in the first 12 months" in plan_in_words(
        FollowUpPlanView(**{**answer.json(), **_dates(answer.json())})
    )


def _dates(view: dict) -> dict:
    return {
        "return_to_duty_on": date.fromisoformat(view["return_to_duty_on"]),
        "set_on": date.fromisoformat(view["set_on"]),
        "recorded_at": datetime.fromisoformat(view["recorded_at"]),
    }


async def test_court_mandate_is_refused_and_another_programs_is_not_found(client, dot) -> None:
    world, _, mandate, court = dot
    before = await stored()
    refused = await client.put(f"/api/mandates/{court}/followup-plan", json=PLAN)
    assert refused.status_code == 422
    reasons = {e["field"]: e["reason"] for e in refused.json()["errors"]}
    assert list(reasons) == ["mandate"] and "court mandate" in reasons["mandate"]
    assert (await client.get(f"/api/mandates/{court}/followup-plan")).status_code == 404

    await sign_in(client, world.clinician_b)
    url = f"/api/mandates/{mandate}/followup-plan"
    for answer in (
        await client.put(url, json=PLAN),
        await client.get(url),
        await client.get(f"{url}/history"),
        await client.get(f"/mandates/{mandate}/followup-plan"),
        await post_form(client, f"/mandates/{mandate}/followup-plan", {"months": "24"}),
    ):
        assert answer.status_code == 404, answer.request.url
    assert (await client.put("/api/mandates/999999/followup-plan", json=PLAN)).status_code == 404
    assert await stored() == before


async def test_the_participant_page_form_records_and_changes_the_plan(client, dot) -> None:
    _, pid, mandate, court = dot
    page = await client.get(f"/participants/{pid}")
    assert "No plan recorded yet" in page.text
    assert f'action="/mandates/{mandate}/followup-plan"' in page.text
    assert f'action="/mandates/{court}/followup-plan"' not in page.text  # DOT mandates only
    assert 'value="Ellen Marsh"' in page.text  # the mandate's SAP, to start from

    form = {k: str(v) for k, v in PLAN.items()} | {"directly_observed": "true"}
    before = await stored()
    bad = await post_form(client, f"/mandates/{mandate}/followup-plan", {**form, "months": "61"})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("text/html")
    assert "Nothing was saved" in bad.text
    assert "Months of follow-up testing is 61: a follow-up plan runs from 12 to 60 months" in (
        bad.text
    )
    assert 'value="61"' in bad.text and 'value="Ellen Marsh"' in bad.text  # input kept
    unticked = {k: v for k, v in form.items() if k != "directly_observed"}
    unobserved = await post_form(client, f"/mandates/{mandate}/followup-plan", unticked)
    assert unobserved.status_code == 422 and "40.67(b)" in unobserved.text
    assert await stored() == before

    done = await post_form(client, f"/mandates/{mandate}/followup-plan", form)
    assert done.status_code == 303
    assert done.headers["location"] == f"/participants/{pid}#plan-{mandate}"
    page = await client.get(f"/participants/{pid}")
    assert WORDS in page.text and "Version 1, recorded" in page.text
    assert "Change the plan" in page.text and 'name="replaces_version" value="1"' in page.text

    no_reason = await post_form(
        client, f"/mandates/{mandate}/followup-plan", {**form, "replaces_version": "1"}
    )
    assert no_reason.status_code == 422
    assert "Reason for the change is required: say why the plan changes" in no_reason.text
    changed = await post_form(
        client,
        f"/mandates/{mandate}/followup-plan",
        {
            **form,
            "tests_first_year": "8",
            "replaces_version": "1",
            "change_reason": "New SAP order",
        },
    )
    assert changed.status_code == 303
    page = await client.get(f"/participants/{pid}")
    assert "at least 8 directly observed tests" in page.text and "New SAP order" in page.text

    history = await client.get(f"/mandates/{mandate}/followup-plan")
    assert history.status_code == 200
    assert WORDS in history.text  # version 1, as it was
    assert "why: New SAP order" in history.text and "the first plan" in history.text
    assert history.text.count(" by A ·") == 2  # who recorded each version

    stale = await post_form(
        client,
        f"/mandates/{mandate}/followup-plan",
        {**form, "replaces_version": "1", "change_reason": "late"},
    )
    assert stale.status_code == 409 and "it is now version 2" in stale.text
    assert await stored() == (2, 2)


async def test_court_mandate_plan_page_refuses_in_html(client, dot) -> None:
    _, _, _, court = dot
    page = await client.get(f"/mandates/{court}/followup-plan")
    assert page.status_code == 200 and "belongs to a DOT SAP mandate" in page.text
    refused = await post_form(
        client, f"/mandates/{court}/followup-plan", {k: str(v) for k, v in PLAN.items()}
    )
    assert refused.status_code == 422 and refused.headers["content-type"].startswith("text/html")
    assert "this mandate is a court mandate" in refused.text
    assert await FollowUpPlan.count() == 0


async def test_demo_dot_client_has_the_sap_plan(client) -> None:
    demo = await signed_in_demo(client, "clin@riverbend.example")
    pid = demo["people"]["RB-1003"]
    person = await Participant.select().where(Participant.id == pid).first()
    mandate = await Mandate.select().where(Mandate.participant == pid).first()
    plan = (await client.get(f"/api/mandates/{mandate['id']}/followup-plan")).json()
    assert plan["version"] == 1 and plan["set_by"] == "Ellen Marsh"
    assert (plan["tests_first_year"], plan["months"], plan["substances"]) == (6, 24, "both")
    assert plan["directly_observed"] is True
    assert plan["return_to_duty_on"] == person["admitted_on"].isoformat()
    page = await client.get(f"/participants/{pid}")
    assert "at least 6 directly observed tests in the first 12 months" in page.text
    assert "set by Ellen Marsh, SAP" in page.text
    # The court client's mandate has no plan and no plan form.
    court = await client.get(f"/participants/{demo['people']['RB-1001']}")
    assert "Follow-up testing plan" not in court.text


async def test_one_row_per_mandate_and_version(client, dot) -> None:
    """The migration's unique key: two changes made at once cannot both be version 2."""
    _, _, mandate, _ = dot
    view = (await client.put(f"/api/mandates/{mandate}/followup-plan", json=PLAN)).json()
    row = await FollowUpPlan.select().where(FollowUpPlan.id == view["id"]).first()
    with pytest.raises(Exception, match=r"(?i)unique"):
        await FollowUpPlan.insert(FollowUpPlan(**{k: v for k, v in row.items() if k != "id"}))
    assert await FollowUpPlan.count() == 1


async def test_answers_are_as_documented(client, dot) -> None:
    """201 for the first plan, 200 for a change, and the errors: all in the schema."""
    _, _, mandate, court = dot
    raw = (await client.get("/schema/openapi.json")).json()
    schema = schema_from(raw)
    path = "/api/mandates/{mandate_id}/followup-plan"
    assert {"200", "201", "409", "422"} <= set(raw["paths"][path]["put"]["responses"])
    url = f"/api/mandates/{mandate}/followup-plan"
    answers = [
        ("GET", path, await client.get(url), mandate),
        ("PUT", path, await client.put(url, json=PLAN), mandate),
        ("PUT", path, await client.put(url, json={**PLAN, "change_reason": "x"}), mandate),
        ("PUT", path, await client.put(url, json={**PLAN, "months": 61}), mandate),
        (
            "PUT",
            path,
            await client.put(url, json={**PLAN, "change_reason": "y", "replaces_version": 9}),
            mandate,
        ),
        ("GET", path, await client.get(url), mandate),
        ("GET", path + "/history", await client.get(f"{url}/history"), mandate),
        ("GET", path, await client.get(f"/api/mandates/{court}/followup-plan"), court),
    ]
    assert [a[2].status_code for a in answers] == [404, 201, 200, 422, 409, 200, 200, 404]
    for method, template, response, mid in answers:
        await conforms(schema, method, template, response, mandate_id=mid)


# --- plan years: pure ----------------------------------------------------------------

BASE = FollowUpPlanView(
    id=1,
    mandate_id=1,
    version=1,
    return_to_duty_on=date(2026, 10, 5),
    tests_first_year=6,
    tests_per_later_year=4,
    months=24,
    directly_observed=True,
    substances="both",
    set_by="Ellen Marsh",
    set_on=date(2026, 10, 2),
    notes="",
    change_reason="",
    recorded_by="Priya Raman",
    recorded_at=datetime(2026, 10, 2, 15, tzinfo=UTC),
)


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 10, 4), []),  # not yet back at work
        (date(2026, 10, 5), [(1, date(2026, 10, 5), date(2027, 10, 4), 6)]),
        (date(2027, 10, 4), [(1, date(2026, 10, 5), date(2027, 10, 4), 6)]),
        (
            date(2027, 10, 5),
            [
                (1, date(2026, 10, 5), date(2027, 10, 4), 6),
                (2, date(2027, 10, 5), date(2028, 10, 4), 4),
            ],
        ),
        (
            date(2031, 1, 1),  # long after the plan ended: still its two years, no more
            [
                (1, date(2026, 10, 5), date(2027, 10, 4), 6),
                (2, date(2027, 10, 5), date(2028, 10, 4), 4),
            ],
        ),
    ],
)
def test_plan_years_of_a_24_month_plan(today: date, expected: list) -> None:
    years = plan_years(BASE, today)
    assert [(y.number, y.start, y.end, y.tests_required) for y in years] == expected


def test_plan_years_edges() -> None:
    assert plan_years(replace(BASE, return_to_duty_on=None), date(2030, 1, 1)) == []
    # 18 months: the second year is the last 6 months.
    short = plan_years(replace(BASE, months=18), date(2030, 1, 1))
    assert [(y.start, y.end) for y in short] == [
        (date(2026, 10, 5), date(2027, 10, 4)),
        (date(2027, 10, 5), date(2028, 4, 4)),
    ]
    # From 29 Feb: a year later is 28 Feb, and the years still meet without a gap.
    leap = plan_years(replace(BASE, return_to_duty_on=date(2028, 2, 29)), date(2030, 1, 1))
    assert [(y.start, y.end) for y in leap] == [
        (date(2028, 2, 29), date(2029, 2, 27)),
        (date(2029, 2, 28), date(2030, 2, 27)),
    ]
    sixty = plan_years(replace(BASE, months=60, tests_per_later_year=0), date(2040, 1, 1))
    assert [y.number for y in sixty] == [1, 2, 3, 4, 5]
    assert [y.tests_required for y in sixty] == [6, 0, 0, 0, 0]  # 0: as the SAP directs
    assert sixty[-1].end == date(2031, 10, 4)


def test_plan_in_words() -> None:
    assert plan_in_words(replace(BASE, tests_per_later_year=0)) == WORDS
    later = plan_in_words(replace(BASE, return_to_duty_on=None, months=12, substances="drugs"))
    assert later.startswith("Not yet returned to duty · at least 6 directly observed tests")
    assert "then" not in later and " · drugs · " in later
