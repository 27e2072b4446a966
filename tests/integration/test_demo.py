"""Demo data holds the cases DOMAIN.md calls out, and loading it twice changes nothing."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from compliance.core import db
from compliance.ops.demo import WEEKS, load_demo
from compliance.staff.accounts import verify_password
from compliance.tables import (
    ALL_TABLES,
    AnalyteResult,
    Attendance,
    Consent,
    DrugTest,
    Mandate,
    MandatePhase,
    Participant,
    PhaseSessionRequirement,
    Program,
    Recipient,
    StaffUser,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=ZoneInfo("America/Chicago"))


async def table_counts() -> dict[str, int]:
    return {t.__name__: await t.count() for t in ALL_TABLES}


async def test_demo_holds_three_mandated_clients_and_the_notable_cases(
    bound_engine: db.Engine,
) -> None:
    result = await load_demo(now=NOW)
    assert result.created
    assert await Program.count() == 1
    people = await Participant.select(Participant.id, Participant.client_id)
    assert len(people) == 3
    sources = sorted(m["source"] for m in await Mandate.select(Mandate.source))
    assert sources == ["court", "dot_sap", "eap"]

    court = await Mandate.select().where(Mandate.source == "court").first()
    assert court["case_number"] and court["court_name"]
    phases = (
        await MandatePhase.select()
        .where(MandatePhase.mandate == court["id"])
        .order_by(MandatePhase.sequence)
    )
    assert phases[0]["started_on"] is not None and phases[1]["started_on"] is None
    assert (
        await PhaseSessionRequirement.count().where(
            PhaseSessionRequirement.phase == phases[0]["id"]
        )
        == 2
    )

    # Everyone has a recipient and a consent naming them.
    assert await Recipient.count() == 3
    consents = await Consent.select()
    assert len(consents) == 3
    cj = [c for c in consents if c["is_criminal_justice"]]
    assert len(cj) == 1 and cj[0]["revocable_after"] is not None
    eap = next(c for c in consents if c["purposes"] == ["employment"])
    assert "drug_tests" not in eap["information_categories"]

    statuses = {r["status"] for r in await Attendance.select(Attendance.status)}
    assert {"absent_excused", "absent_unexcused", "late", "left_early", "present"} <= statuses
    assert await Attendance.exists().where(
        (Attendance.session.is_null()) & (Attendance.proof != "")
    )

    collection = {r["collection_status"] for r in await DrugTest.select(DrugTest.collection_status)}
    assert {"collected", "dilute", "no_show"} <= collection
    confirmed_positive = await AnalyteResult.select().where(
        (AnalyteResult.confirmation_result == "positive") & (AnalyteResult.mro_result.is_null())
    )
    assert len(confirmed_positive) == 1
    assert confirmed_positive[0]["confirmation_method"] == "GC-MS"
    assert await AnalyteResult.exists().where(AnalyteResult.mro_result == "negative")

    # About eight weeks of history, none of it in the future.
    first = await Attendance.select(Attendance.occurred_at).order_by(Attendance.occurred_at).first()
    last = (
        await Attendance.select(Attendance.occurred_at)
        .order_by(Attendance.occurred_at, ascending=False)
        .first()
    )
    assert first["occurred_at"] >= NOW - timedelta(weeks=WEEKS + 1)
    assert last["occurred_at"] <= NOW
    assert (last["occurred_at"] - first["occurred_at"]).days >= 7 * (WEEKS - 1)


async def test_demo_is_idempotent_and_credentials_work(bound_engine: db.Engine) -> None:
    first = await load_demo(now=NOW)
    before = await table_counts()
    second = await load_demo(now=NOW)
    assert not second.created and second.credentials == []
    assert await table_counts() == before
    for role, email, password in first.credentials:
        user = await StaffUser.select().where(StaffUser.email == email).first()
        assert user["role"] == role
        assert user["password_hash"].startswith("$argon2id$")
        assert verify_password(user["password_hash"], password)
        assert not verify_password(user["password_hash"], password + "x")


async def test_if_empty_leaves_a_database_with_programs_alone(bound_engine: db.Engine) -> None:
    await Program.insert(Program(code="REAL", name="A real program"))
    result = await load_demo(if_empty=True, now=NOW)
    assert not result.created
    assert await Participant.count() == 0
