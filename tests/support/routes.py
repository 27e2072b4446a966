"""The access matrix, shared by the tests that walk the app's route table
(test_access_matrix, test_security, test_staff_forms): the routes anyone may call,
request bodies valid enough to reach each handler, and one record of every kind for
the path parameters."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from compliance.tables import (
    Attendance,
    MissedCheckIn,
    Report,
    ReportSchedule,
    SecureLink,
    TestingCall,
    Violation,
)
from tests.support.records import enroll, group_session, recipient
from tests.support.staff import World, signed_in_world

PUBLIC = {
    ("/health", "GET"),
    ("/", "GET"),
    ("/login", "GET"),
    ("/login", "POST"),
    ("/logout", "POST"),
    ("/api/session", "POST"),
    ("/api/session", "DELETE"),
    # Verification answers anyone holding a PDF, and says nothing about the client.
    ("/verify", "GET"),
    ("/verify", "POST"),
    ("/verify/{public_id:str}", "GET"),
    ("/api/verify", "POST"),
    ("/api/verify/{public_id:str}", "GET"),
    # Officers' secure links: the token is the key (test_links covers them).
    ("/l/{token:str}", "GET"),
    ("/l/{token:str}/code", "POST"),
    ("/l/{token:str}/reports/{report_id:int}/pdf", "GET"),
    # A new staff member's set-password link: its token is the key (test_admin_pages).
    ("/set-password/{token:str}", "GET"),
    ("/set-password/{token:str}", "POST"),
    ("/set-password/done", "GET"),
    # Participants' call-in (number and PIN) and the program's phone line (its own key):
    # test_random_testing covers both.
    ("/call-in/{program_code:str}", "GET"),
    ("/call-in/{program_code:str}", "POST"),
    ("/api/call-in", "POST"),
}
GROUP = {"name": "G", "scheduled_minutes": 60, "weekdays": ["mon"], "start_time": "18:00"}
TEST = {
    "collected_at": "2026-03-04T08:15",
    "results": [{"analyte": "thc", "screen_result": "negative"}],
}
# Bodies valid enough to reach the handler, so a 404 comes from the access check.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("/api/participants/{participant_id:int}/discharge", "POST"): {
        "json": {"discharged_on": "2026-10-01", "reason": "completed"}
    },
    ("/api/participants/{participant_id:int}", "PATCH"): {"json": {"first_name": "X"}},
    ("/participants/{participant_id:int}/discharge", "POST"): {
        "data": {"discharged_on": "2026-10-01", "reason": "completed"}
    },
    ("/participants/{participant_id:int}/edit", "POST"): {"data": {"first_name": "X"}},
    ("/participants/{participant_id:int}/disclosures.pdf", "POST"): {"data": {}},
    ("/api/sessions/{session_id:int}/roster", "PUT"): {
        "json": {"entries": [{"participant_id": 1, "status": "present"}]}
    },
    ("/api/attendance/{attendance_id:int}/corrections", "POST"): {
        "json": {"status": "absent_excused", "reason": "x"}
    },
    ("/api/participants/{participant_id:int}/outside-meetings", "POST"): {
        "json": {
            "occurred_at": "2026-03-07T10:00",
            "scheduled_minutes": 60,
            "meeting_name": "AA",
            "proof": "slip",
        }
    },
    ("/api/drug-tests/{test_id:int}/corrections", "POST"): {
        "json": {**TEST, "correction_reason": "x"}
    },
    ("/api/participants/{participant_id:int}/drug-tests", "POST"): {"json": TEST},
    ("/api/participants/{participant_id:int}/mandates", "POST"): {
        "json": {
            "source": "eap",
            "starts_on": "2026-01-05",
            "phases": [{"name": "P", "required_hours_per_week": "9", "required_tests_per_week": 1}],
        }
    },
    ("/api/mandates/{mandate_id:int}/phases/{sequence:int}/start", "POST"): {
        "json": {"started_on": "2026-03-02"}
    },
    # Issue 21's random testing.
    ("/api/programs/{program_id:int}/testing-groups", "POST"): {
        "json": {"name": "Blue", "tests_per_week": 3}
    },
    ("/api/testing-groups/{testing_group_id:int}/retire", "POST"): {},
    ("/api/testing-groups/{testing_group_id:int}/reinstate", "POST"): {},
    ("/api/participants/{participant_id:int}/testing-group", "PUT"): {"json": {"reason": "x"}},
    ("/api/programs/{program_id:int}/draws", "POST"): {"json": {}},
    ("/api/participants/{participant_id:int}/testing-calls", "POST"): {"json": {"note": "x"}},
    ("/api/participants/{participant_id:int}/call-in-pin", "POST"): {},
    ("/api/testing-calls/{call_id:int}/excuse", "POST"): {"json": {"reason": "x"}},
    ("/programs/{program_id:int}/testing/calls/{call_id:int}/excuse", "POST"): {
        "data": {"reason": "x"}
    },
    ("/api/missed-check-ins/{missed_id:int}/excuse", "POST"): {"json": {"reason": "x"}},
    ("/programs/{program_id:int}/testing/missed-check-ins/{missed_id:int}/excuse", "POST"): {
        "data": {"reason": "x"}
    },
    (
        "/participants/{participant_id:int}/testing/missed-check-ins/{missed_id:int}/excuse",
        "POST",
    ): {"data": {"reason": "x"}},
    ("/api/participants/{participant_id:int}/report-schedules", "POST"): {
        "json": {"recipient_id": 1, "kind": "eap_status", "frequency": "weekly", "send_day": 0}
    },
    ("/api/report-schedules/{schedule_id:int}/end", "POST"): {},
    ("/participants/{participant_id:int}/report-schedules", "POST"): {
        "data": {"recipient_id": "1", "kind": "eap_status", "frequency": "weekly", "send_day": "0"}
    },
    ("/report-schedules/{schedule_id:int}/end", "POST"): {"data": {}},
    ("/api/report-schedules/{schedule_id:int}/take-over", "POST"): {},
    ("/report-schedules/{schedule_id:int}/take-over", "POST"): {"data": {}},
    ("/programs/{program_id:int}/testing/draw", "POST"): {"data": {}},
    ("/programs/{program_id:int}/testing/groups", "POST"): {
        "data": {"name": "Blue", "tests_per_week": "3"}
    },
    ("/programs/{program_id:int}/testing/groups/{testing_group_id:int}/retire", "POST"): {
        "data": {}
    },
    ("/programs/{program_id:int}/testing/groups/{testing_group_id:int}/reinstate", "POST"): {
        "data": {}
    },
    ("/participants/{participant_id:int}/testing/group", "POST"): {"data": {"reason": "x"}},
    ("/participants/{participant_id:int}/testing/call", "POST"): {"data": {"note": "x"}},
    ("/participants/{participant_id:int}/testing/pin", "POST"): {"data": {}},
    ("/api/mandates/{mandate_id:int}/followup-plan", "PUT"): {
        "json": {
            "tests_first_year": 6,
            "months": 12,
            "substances": "both",
            "set_by": "S",
            "set_on": "2026-03-02",
        }
    },
    ("/mandates/{mandate_id:int}/followup-plan", "POST"): {
        "data": {"tests_first_year": "6", "months": "12", "set_by": "S"}
    },
    ("/api/consents/{consent_id:int}/document", "PUT"): {
        "files": {"document": ("c.pdf", b"%PDF-1.7 x", "application/pdf")}
    },
    ("/api/participants/{participant_id:int}/consents", "POST"): {
        "json": {
            "recipient_id": 1,
            "information_categories": ["attendance"],
            "information_description": "x",
            "purposes": ["employment"],
            "revocation_instructions": "x",
            "signed_by_name": "x",
            # Valid today whenever the suite runs: a fixed year ran out on 5 Jan 2027.
            "signed_on": str(date.today() - timedelta(days=60)),
            "expires_on": str(date.today() + timedelta(days=365)),
        }
    },
    ("/api/consents/{consent_id:int}/revoke", "POST"): {"json": {"note": "x"}},
    ("/api/imports/{batch_id:int}/commit", "POST"): {},
    ("/imports/{batch_id:int}/commit", "POST"): {"data": {}},
    ("/api/imports/{batch_id:int}/identity-confirmations", "POST"): {
        "json": {"location": "line 2", "reason": "x"}
    },
    ("/imports/{batch_id:int}/identity", "POST"): {"data": {"location": "line 2", "reason": "x"}},
    ("/sessions/{session_id:int}/roster", "POST"): {"data": {}},
    ("/attendance/{attendance_id:int}/correct", "POST"): {
        "data": {"status": "present", "reason": "x"}
    },
    ("/drug-tests/{test_id:int}/correct", "POST"): {"data": {"correction_reason": "x"}},
    ("/drug-tests/{test_id:int}/confirmation", "POST"): {
        "data": {"confirmed_at": "2026-03-05T10:00", "confirmation_result:thc": "negative"}
    },
    ("/drug-tests/{test_id:int}/mro-review", "POST"): {
        "data": {"mro_name": "M", "reviewed_at": "2026-03-05T10:00", "mro_result:thc": "positive"}
    },
    ("/api/drug-tests/{test_id:int}/confirmations", "POST"): {
        "json": {
            "confirmed_at": "2026-03-05T10:00",
            "results": [
                {"analyte": "thc", "confirmation_result": "negative", "confirmation_method": "X"}
            ],
        }
    },
    ("/api/drug-tests/{test_id:int}/mro-reviews", "POST"): {
        "json": {
            "mro_name": "M",
            "reviewed_at": "2026-03-05T10:00",
            "results": [{"analyte": "thc", "mro_result": "positive"}],
        }
    },
    ("/participants/{participant_id:int}/mandates", "POST"): {"data": {"source": "eap"}},
    ("/participants/{participant_id:int}/consents", "POST"): {"data": {"recipient_id": "1"}},
    ("/participants/{participant_id:int}/outside-meetings", "POST"): {"data": {"proof": "x"}},
    ("/participants/{participant_id:int}/drug-tests", "POST"): {"data": {"screen:thc": "negative"}},
    ("/mandates/{mandate_id:int}/phases/{sequence:int}/start", "POST"): {
        "data": {"started_on": "2026-03-02"}
    },
    ("/consents/{consent_id:int}/revoke", "POST"): {"data": {"note": "x"}},
    ("/api/violations/{violation_id:int}/review", "POST"): {"json": {"note": "x"}},
    ("/violations/{violation_id:int}/review", "POST"): {"data": {"note": "x"}},
    ("/api/participants/{participant_id:int}/reports", "POST"): {
        "json": {"kind": "eap_status", "recipient_id": 1}
    },
    ("/participants/{participant_id:int}/reports", "POST"): {
        "data": {"kind": "eap_status", "recipient_id": "1"}
    },
    ("/api/reports/{report_id:int}/revoke", "POST"): {"json": {"reason": "x"}},
    ("/api/participants/{participant_id:int}/links", "POST"): {"json": {"recipient_id": 1}},
    ("/participants/{participant_id:int}/links", "POST"): {"data": {"recipient_id": "1"}},
    ("/api/links/{link_id:int}/revoke", "POST"): {"json": {}},
    ("/api/reports/{report_id:int}/send", "POST"): {"json": {}},
    ("/api/participants/{participant_id:int}/disclosures/report", "POST"): {},
    ("/reports/{report_id:int}/send", "POST"): {"data": {}},
    ("/links/{link_id:int}/revoke", "POST"): {"data": {}},
    ("/reports/{report_id:int}/revoke", "POST"): {"data": {"reason": "x"}},
    ("/api/reports/{report_id:int}/new-version", "POST"): {},
    ("/reports/{report_id:int}/new-version", "POST"): {"data": {}},
    ("/api/programs/{program_id:int}/analytes/codes", "POST"): {
        "json": {"analyte_key": "thc", "coding_system": "X", "code": "Y"}
    },
    # Issue 15's roster: groups, their members and sessions, clients added to a session.
    ("/api/sessions/{session_id:int}/participants", "POST"): {"json": {"participant_ids": [1]}},
    ("/sessions/{session_id:int}/participants", "POST"): {"data": {"add-1": "on"}},
    ("/api/groups/{group_id:int}", "PUT"): {"json": GROUP},
    ("/api/groups/{group_id:int}/members", "POST"): {"json": {"participant_ids": [1]}},
    ("/api/groups/{group_id:int}/members/{participant_id:int}", "DELETE"): {},
    ("/api/groups/{group_id:int}/sessions", "POST"): {"json": {}},
    ("/groups/{group_id:int}", "POST"): {"data": {"name": "X", "weekday-mon": "on"}},
    ("/groups/{group_id:int}/members", "POST"): {"data": {"add-1": "on"}},
    ("/groups/{group_id:int}/members/{participant_id:int}/remove", "POST"): {"data": {}},
    ("/groups/{group_id:int}/sessions", "POST"): {"data": {}},
    ("/programs/{program_id:int}/analytes", "POST"): {
        "data": {"analyte_key": "thc", "coding_system": "X", "code": "Y"}
    },
    # Issue 16's program analytes: adding, retiring, and the CSV code map.
    ("/api/programs/{program_id:int}/analytes", "POST"): {"json": {"name": "Xylazine"}},
    ("/api/programs/{program_id:int}/analytes/retire", "POST"): {"json": {"analyte": "thc"}},
    ("/api/programs/{program_id:int}/analytes/reinstate", "POST"): {"json": {"analyte": "thc"}},
    ("/api/programs/{program_id:int}/analytes/code-map/preview", "POST"): {
        "files": {"file": ("c.csv", b"code,coding_system,analyte\nX,L,thc\n")}
    },
    ("/api/programs/{program_id:int}/analytes/code-map", "POST"): {
        "files": {"file": ("c.csv", b"code,coding_system,analyte\nX,L,thc\n")}
    },
    ("/programs/{program_id:int}/analytes/new", "POST"): {"data": {"name": "Xylazine"}},
    ("/programs/{program_id:int}/analytes/retire", "POST"): {"data": {"analyte": "thc"}},
    ("/programs/{program_id:int}/analytes/reinstate", "POST"): {"data": {"analyte": "thc"}},
    ("/programs/{program_id:int}/analytes/code-map", "POST"): {
        "data": {},
        "files": {"file": ("c.csv", b"code,coding_system,analyte\nX,L,thc\n")},
    },
    ("/programs/{program_id:int}/analytes/code-map/apply", "POST"): {
        "data": {"content": "", "confirmation": ""}
    },
}
ADMIN_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("/api/admin/users", "POST"): {
        "email": "x@y.org",
        "full_name": "X",
        "role": "clinician",
        "password": "long enough password",
        "program_ids": [1],
    },
    ("/api/admin/invites", "POST"): {
        "email": "x@y.org",
        "full_name": "X",
        "role": "clinician",
        "program_ids": [1],
    },
}
# Routes without a record in the path: what another program's user gets.
COLLECTIONS: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {
    ("/api/participants", "GET"): (200, {}),
    ("/api/participants", "POST"): (
        422,
        {
            "json": {
                "program_id": "A",
                "client_id": "Z",
                "first_name": "Z",
                "last_name": "Z",
                "admitted_on": "2026-01-05",
            }
        },
    ),
    ("/participants", "GET"): (200, {}),
    ("/participants/new", "GET"): (200, {}),
    ("/participants/new", "POST"): (
        422,
        {
            "data": {
                "program_id": "A",
                "client_id": "Z",
                "first_name": "Z",
                "last_name": "Z",
                "admitted_on": "2026-01-05",
            }
        },
    ),
    ("/api/sessions", "GET"): (200, {}),
    ("/api/sessions", "POST"): (
        422,
        {
            "json": {
                "program_id": "A",
                "session_type": "group",
                "starts_at": "2026-03-03T18:00",
                "scheduled_minutes": 60,
            }
        },
    ),
    ("/api/recipients", "GET"): (200, {}),
    ("/api/recipients", "POST"): (
        422,
        {"json": {"program_id": "A", "kind": "sap", "name": "X", "email": "x@y.z"}},
    ),
    ("/api/imports", "POST"): (
        404,
        {
            "data": {"program_id": "A", "kind": "hl7_oru"},
            "files": {"file": ("a.hl7", b"MSH|^~\\\\&|")},
        },
    ),
    ("/imports", "GET"): (200, {}),
    ("/imports/help", "GET"): (200, {}),
    ("/imports", "POST"): (
        404,
        {
            "data": {"program_id": "A", "kind": "hl7_oru"},
            "files": {"file": ("a.hl7", b"MSH|^~\\\\&|")},
        },
    ),
    ("/api/session", "GET"): (200, {}),
    ("/outbox", "GET"): (303, {}),
    ("/sessions", "GET"): (200, {}),
    ("/sessions/new", "GET"): (200, {}),
    ("/sessions/minutes.js", "GET"): (200, {}),
    ("/testing", "GET"): (303, {}),  # one program: to its own day
    ("/api/groups", "GET"): (200, {}),
    ("/api/groups", "POST"): (422, {"json": {**GROUP, "program_id": "A"}}),
    ("/groups", "GET"): (200, {}),
    ("/groups/new", "GET"): (200, {}),
    ("/groups", "POST"): (
        422,
        {"data": {"program_id": "A", "name": "X", "scheduled_minutes": "60", "start_time": "9:00"}},
    ),
    ("/api/caseload", "GET"): (200, {}),
    ("/caseload", "GET"): (200, {}),
    ("/recipients", "GET"): (200, {}),
    ("/recipients", "POST"): (
        422,
        {"data": {"program_id": "A", "kind": "sap", "name": "X", "email": "x@y.z"}},
    ),
    ("/sessions", "POST"): (
        422,
        {
            "data": {
                "program_id": "A",
                "session_type": "group",
                "starts_at": "2026-03-03T18:00",
                "scheduled_minutes": "60",
            }
        },
    ),
}


async def records_of_every_kind(client: httpx.AsyncClient) -> tuple[World, dict[str, int | str]]:
    """One record of every kind in program A, made through the API as clinician A, who
    stays signed in; returns the world and each record's id by its path parameter."""
    world = await signed_in_world(client, analytes=True)
    pid = await enroll(client, world.program_a, "A1", "Ann", "Able")
    sid = await group_session(client, world.program_a, minutes=60)
    await client.put(
        f"/api/sessions/{sid}/roster",
        json={"entries": [{"participant_id": pid, "status": "present"}]},
    )
    tid = (await client.post(f"/api/participants/{pid}/drug-tests", json=TEST)).json()["id"]
    gid = (await client.post("/api/groups", json={**GROUP, "program_id": world.program_a})).json()[
        "id"
    ]
    await client.post(f"/api/groups/{gid}/members", json={"participant_ids": [pid]})
    mid = (
        await client.post(
            f"/api/participants/{pid}/mandates",
            json=BODIES[("/api/participants/{participant_id:int}/mandates", "POST")]["json"],
        )
    ).json()["id"]
    rid = await recipient(client, world.program_a, "S", "s@x.org", "eap_case_manager")
    consent = {
        **BODIES[("/api/participants/{participant_id:int}/consents", "POST")]["json"],
        "recipient_id": rid,
    }
    cid = (await client.post(f"/api/participants/{pid}/consents", json=consent)).json()["id"]
    bid = (
        await client.post(
            "/api/imports",
            data={"program_id": str(world.program_a), "kind": "hl7_oru"},
            files={"file": ("x.hl7", b"not hl7")},
        )
    ).json()["batch_id"]
    missed = {"collection_status": "no_show", "called_at": "2026-03-05T08:00", "results": []}
    assert (await client.post(f"/api/participants/{pid}/drug-tests", json=missed)).is_success
    aid = (await Attendance.select(Attendance.id).first())["id"]
    call_id = (
        await client.post(f"/api/participants/{pid}/testing-calls", json={"note": "matrix"})
    ).json()["id"]
    call = await TestingCall.select(TestingCall.draw).where(TestingCall.id == call_id).first()
    missed_check_in = MissedCheckIn(
        draw=call["draw"], participant=pid, due_by=datetime(2026, 3, 2, 20, tzinfo=UTC)
    )
    await missed_check_in.save()
    testing_group = (
        await client.post(
            f"/api/programs/{world.program_a}/testing-groups",
            json={"name": "Red", "tests_per_week": 2},
        )
    ).json()["id"]
    vid = (await Violation.select(Violation.id).first())["id"]
    # A report row of program A (rendering one is tested in test_reports).
    report = Report(
        public_id="R-TEST-0000-00000",
        participant=pid,
        kind="eap_status",
        period_start=date(2026, 3, 2),
        period_end=date(2026, 3, 8),
        sha256="0" * 64,
        stored_path="00/missing.pdf",
        recipient=rid,
        consent=cid,
    )
    await report.save()
    link = SecureLink(
        token_hash="f" * 64,
        scope="participant",
        participant=pid,
        recipient=rid,
        consent=cid,
        expires_at=datetime(2030, 1, 1, tzinfo=UTC),
    )
    await link.save()
    schedule = ReportSchedule(
        participant=pid,
        recipient=rid,
        kind="eap_status",
        frequency="weekly",
        send_day=0,
        created_by=1,
    )
    await schedule.save()
    ids = {
        "program_id": world.program_a,
        "user_id": 1,
        "participant_id": pid,
        "session_id": sid,
        "attendance_id": aid,
        "test_id": tid,
        "mandate_id": mid,
        "sequence": 1,
        "consent_id": cid,
        "batch_id": bid,
        "violation_id": vid,
        "report_id": report.id,
        "link_id": link.id,
        "group_id": gid,
        "testing_group_id": testing_group,
        "day": "2026-03-02",
        "program_code": "A",
        "schedule_id": schedule.id,
        "call_id": call_id,
        "missed_id": missed_check_in.id,
        "invite_id": 1,  # administrators only: refused before any invitation is looked up
        # The job queue's view (administrators of every program only: refused first).
        "queue_id": "compliance",
        "job_id": "any",
        "file_path": "app.js",
    }
    return world, ids


def fill(path: str, ids: dict[str, int | str]) -> str:
    def one(match: re.Match) -> str:
        name = match.group(1)
        assert name in ids, f"no record id for path parameter {name!r}: add it to the matrix"
        return str(ids[name])

    return re.sub(r"\{(\w+):\w+\}", one, path)


def with_program(kwargs: dict[str, Any], program_id: int) -> dict[str, Any]:
    out = {}
    for key, value in kwargs.items():
        if isinstance(value, dict) and value.get("program_id") == "A":
            value = {**value, "program_id": program_id if key == "json" else str(program_id)}
        out[key] = value
    return out
