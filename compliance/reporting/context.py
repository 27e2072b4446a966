"""What a report shows, built from the consent decision: a category the consent does not
cover never enters the context, so no template can leak it.

``build`` is pure (records in, a plain picklable dict out) so it can be tested alone
and shipped to a worker process; ``ReportInputs`` is what the service loads for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from compliance.consent.gate import CATEGORY_WORDS, PURPOSE_WORDS, Decision
from compliance.core.local_time import spoken_day
from compliance.core.vocabulary import REPORT_TITLES, WEEK_STATUS_WORDS, ReportKind
from compliance.core.vocabulary import InformationCategory as C
from compliance.engine.rules import Evaluation, WeekResult, hm, is_full, session_words
from compliance.records.attendance import AttendanceView
from compliance.records.drug_tests import DrugTestView
from compliance.records.mandates import MandateView
from compliance.reporting import charts, drug_test_rows, summary

NOTICE = (
    "This record which has been disclosed to you is protected by Federal confidentiality "
    "rules (42 CFR part 2). These rules prohibit you from using or disclosing this record, "
    "or testimony that describes the information contained in this record, in any civil, "
    "criminal, administrative, or legislative proceedings by any Federal, State, or local "
    "authority, against the patient, unless authorized by the consent of the patient, "
    "except as provided at 42 CFR 2.12(c)(5) or as authorized by a court in accordance "
    "with 42 CFR 2.64 or 2.65. In addition, the Federal rules prohibit you from making any "
    "other use or disclosure of this record unless at least one of the following applies: "
    "(i) Further use or disclosure is expressly permitted by the written consent of the "
    "individual whose information is being disclosed in this record or as otherwise "
    "permitted by 42 CFR part 2. (ii) You are a covered entity or business associate and "
    "have received the record for treatment, payment, or health care operations, or (iii) "
    "You have received the record from a covered entity or business associate as permitted "
    "by 45 CFR part 164, subparts A and E. A general authorization for the release of "
    "medical or other information is NOT sufficient to meet the required elements of "
    "written consent to further use or redisclose the record (see 42 CFR 2.31)."
)
SHORT_NOTICE = "42 CFR part 2 prohibits unauthorized use or disclosure of these records."

TITLES = REPORT_TITLES
STATUS_WORDS = WEEK_STATUS_WORDS
LEVEL_WORDS = {
    "1": "Outpatient (ASAM level 1)",
    "2.1": "Intensive outpatient (ASAM level 2.1)",
    "2.5": "Partial hospitalization (ASAM level 2.5)",
    "aftercare": "Aftercare",
}
DISCHARGE_WORDS = {
    "completed": "completed treatment",
    "administrative": "administrative discharge",
    "against_advice": "left treatment against clinical advice",
    "transferred": "transferred to another level of care or program",
    "incarcerated": "incarcerated",
    "moved": "moved away",
    "deceased": "deceased",
    "other": "other",
}
SOURCE_WORDS = {
    "court": "court",
    "probation": "probation",
    "eap": "employee assistance program",
    "dot_sap": "DOT Substance Abuse Professional",
    "other": "",
}


@dataclass
class ReportInputs:
    """Everything a report could show; ``build`` keeps what the consent covers."""

    kind: str
    report_id: str
    version: int
    supersedes: str | None
    verify_url: str
    generated_at: datetime
    period_start: date
    period_end: date
    program: dict[str, Any]
    participant: dict[str, Any]
    recipient: dict[str, Any]
    signer_name: str
    signer_credentials: str
    evaluation: Evaluation | None = None
    mandate: MandateView | None = None
    attendance: list[AttendanceView] = field(default_factory=list)
    tests: list[DrugTestView] = field(default_factory=list)
    # Earlier versions of corrected tests and attendance, by the current version's id.
    test_history: dict[int, list[DrugTestView]] = field(default_factory=dict)
    attendance_history: dict[int, list[AttendanceView]] = field(default_factory=dict)
    narrative: str = ""
    fitness_statement: str = ""
    # A DOT SAP report: the follow-up plan and every test since return to duty.
    followup_plan: Any = None
    plan_tests: list[DrugTestView] = field(default_factory=list)


def _week_row(week: WeekResult, show: set[str], phase_change: bool) -> dict[str, Any]:
    row: dict[str, Any] = {
        "span": summary.week_span(week),
        "short_span": summary.short_span(week),
        "start": week.start,
        "phase": week.phase or "",
        "phase_change": phase_change and bool(week.phase),
        "status": week.status,
    }
    due = week.status != "not_yet_due"
    if C.compliance_status in show:
        row["status_label"] = STATUS_WORDS.get(week.status, week.status)
        row["reasons"] = [r.text for r in summary.shown_reasons(week, show)]
        if len(row["reasons"]) < len(week.reasons):
            row["reasons"].append("A requirement this consent does not cover was not met")
    if C.attendance in show:
        row["hours"] = (
            f"{hm(week.attended_minutes)} / {hm(week.required_minutes)}" if due else summary.DASH
        )
        row["sessions"] = (
            [
                f"{session_words(kind)} {week.sessions_attended.get(kind, 0)}/{needed}"
                for kind, needed in sorted(week.sessions_required.items())
            ]
            if due
            else []
        )
    if C.drug_tests in show:
        row["tests"] = f"{week.tests_collected}/{week.tests_required}" if due else summary.DASH
    return row


def _weeks(ev: Evaluation, show: set[str]) -> list[dict[str, Any]]:
    rows, phase = [], None
    for w in ev.weeks:
        rows.append(_week_row(w, show, w.phase != phase))
        phase = w.phase
    return rows


def _identity(inputs: ReportInputs, show: set[str], zone: ZoneInfo) -> dict[str, Any]:
    p = inputs.participant
    # Level of care is treatment information: on a court report it is the mandate's
    # subject; elsewhere it appears only when the consent covers treatment progress.
    level = (
        LEVEL_WORDS.get(p["level_of_care"], p["level_of_care"])
        if inputs.kind == ReportKind.court_progress or C.treatment_progress in show
        else ""
    )
    return {
        "kind": inputs.kind,
        "title": TITLES[inputs.kind],
        "report_id": inputs.report_id,
        "version": inputs.version,
        "supersedes": inputs.supersedes,
        "verify_url": inputs.verify_url,
        "generated_at": inputs.generated_at.astimezone(zone),
        "period_start": inputs.period_start,
        "period_end": inputs.period_end,
        "program": {
            k: inputs.program[k] for k in ("name", "address", "phone", "contact_email", "code")
        },
        "participant": {
            "name": f"{p['first_name']} {p['last_name']}",
            "first_name": p["first_name"],
            "last_name": p["last_name"],
            "date_of_birth": p["date_of_birth"],
            "client_id": p["client_id"],
            "level_of_care": level,
            "admitted_on": p["admitted_on"],
        },
        "recipient": {
            "name": inputs.recipient["name"],
            "title": inputs.recipient["title"],
            "organization": inputs.recipient["organisation"],
            "kind": inputs.recipient["kind"],
        },
        "show": {c.value: c.value in show for c in C},
        "shown_words": sorted(CATEGORY_WORDS[c] for c in show),
        "signer": {"name": inputs.signer_name, "credentials": inputs.signer_credentials},
    }


def _mandate(m: MandateView | None, kind: str) -> dict[str, Any] | None:
    if m is None:
        return None
    out: dict[str, Any] = {
        "source": m.source,
        "source_words": SOURCE_WORDS.get(m.source, m.source.replace("_", " ")),
        "case_number": m.case_number,
        "court_name": m.court_name,
        "referring_agency": m.referring_agency,
        "officer": m.contact_name,
        "starts_on": m.starts_on,
        "ends_on": m.ends_on,
    }
    if kind == ReportKind.court_progress:
        out["phases"] = [
            {
                "name": ph.name,
                "hours": hm(round(ph.required_hours_per_week * 60)),
                "tests": ph.required_tests_per_week,
                "sessions": ", ".join(
                    f"{n} {session_words(t)}" for t, n in sorted(ph.sessions_per_week.items())
                ),
                "started_on": ph.started_on,
            }
            for ph in m.phases
        ]
    return out


def _next_phase(m: MandateView | None, current: str | None) -> str | None:
    if m is None or current is None:
        return None
    ordered = sorted(m.phases, key=lambda ph: ph.sequence)
    names = [ph.name for ph in ordered]
    if current not in names:
        return None
    later = names[names.index(current) + 1 :]
    return later[0] if later else None


def _glance(inputs: ReportInputs, ev: Evaluation, show: set[str], zone: ZoneInfo) -> dict:
    today = inputs.generated_at.astimezone(zone).date()
    out: dict[str, Any] = {"as_of": ev.as_of}
    if C.compliance_status in show:
        out["now"] = summary.status_now(ev, show, today)
        out["period"] = summary.period_words(ev)
        out["stepdown"] = summary.stepdown(ev, _next_phase(inputs.mandate, ev.current_phase))
    out["phase"] = ev.current_phase or ""
    if C.drug_tests in show:
        out["last_positive"] = summary.last_positive(ev)
    out["violations"] = summary.violations(ev, show)
    out["shortfalls"] = summary.shortfalls(ev, show) if C.compliance_status in show else []
    out["counts"] = summary.counts(ev, show)
    return out


def _attendance(inputs: ReportInputs, zone: ZoneInfo) -> dict[str, Any]:
    ordered = sorted(inputs.attendance, key=lambda a: a.occurred_at)
    return {
        "absences": [
            {
                "when": a.occurred_at.astimezone(zone),
                "type": a.session_type.replace("_", " "),
                "status": "excused" if a.status == "absent_excused" else "unexcused",
                "note": a.note,
            }
            for a in ordered
            if a.status in ("absent_excused", "absent_unexcused")
        ],
        "attendance_corrections": [
            {
                "when": a.occurred_at.astimezone(zone),
                "type": a.session_type.replace("_", " "),
                "now": drug_test_rows.attendance_words(a),
                "lines": drug_test_rows.corrections(
                    a, earlier, zone, drug_test_rows.attendance_words
                ),
            }
            for a in ordered
            if (earlier := inputs.attendance_history.get(a.id))
        ],
    }


def _eap(ev: Evaluation, show: set[str], today: date) -> dict[str, Any]:
    """An employer's question first: is the employee meeting the program's requirements
    now? Then the history, each week short of them with its reasons (within the consent)."""
    judged = [w for w in ev.weeks if is_full(w, ev.over_by)]
    current = next((w for w in ev.weeks if w.start <= (ev.as_of or today) <= w.end), None)
    streak = 0
    for w in reversed(judged):
        if w.status != "compliant":
            break
        streak += 1
    out: dict[str, Any] = {}
    if not judged:
        out["answer"], out["words"] = "Not yet known", "No full week has ended yet."
    elif judged[-1].status == "compliant" and (
        current is None or current.status != "non_compliant"
    ):
        since = judged[-streak].start
        out["answer"] = "Yes"
        out["words"] = (
            f"Met the program's requirements in each of the last {streak} full "
            f"week{'s' if streak != 1 else ''} (since {spoken_day(since)})."
        )
    else:
        bad = current if current and current.status == "non_compliant" else judged[-1]
        out["answer"] = "No"
        out["words"] = f"Week of {summary.week_span(bad)}: " + summary.week_words(bad, show, today)
    out["now"] = summary.status_now(ev, show, today)
    out["history"] = summary.period_words(ev)
    out["not_met"] = [
        {"span": summary.week_span(w), "words": summary.week_words(w, show)}
        for w in judged
        if w.status == "non_compliant"
    ]
    return out


def _discharge(inputs: ReportInputs, zone: ZoneInfo) -> dict[str, Any]:
    p = inputs.participant
    m = inputs.mandate
    on, reason = p["discharged_on"], p["discharge_reason"] or ""
    completed = reason == "completed"
    mandate_words = ""
    if m is not None and on is not None:
        who = m.court_name or m.referring_agency or "the referral"
        case = f" (case {m.case_number})" if m.case_number else ""
        if m.ends_on is not None and m.ends_on > on:
            mandate_words = (
                f"The {SOURCE_WORDS.get(m.source, '')} mandate from {who}{case} runs until "
                f"{spoken_day(m.ends_on)}; "
                + (
                    "completing treatment here does not end it."
                    if completed
                    else "the treatment it requires was not completed here."
                )
            )
        elif m.ends_on is not None:
            mandate_words = (
                f"The {SOURCE_WORDS.get(m.source, '')} mandate from {who}{case} ended on "
                f"{spoken_day(m.ends_on)}."
            )
    return {
        "discharged_on": on,
        "completed": completed,
        "reason": DISCHARGE_WORDS.get(reason, reason.replace("_", " ")),
        "note": p["discharge_note"],
        "mandate_words": mandate_words.replace("  ", " "),
    }


def _salutation(recipient: dict[str, Any]) -> str:
    return f"Dear {recipient['name']},"


def build(inputs: ReportInputs, decision: Decision) -> dict[str, Any]:
    """The template context: identity, period and signer always; the rest by category."""
    show = set(decision.categories)
    zone = ZoneInfo(inputs.program["time_zone"])
    today = inputs.generated_at.astimezone(zone).date()
    context = _identity(inputs, show, zone)
    context.update(
        consent_scope=decision.scope,
        purpose=PURPOSE_WORDS.get(decision.purpose, decision.purpose.replace("_", " ")),
        notice=NOTICE,
        short_notice=SHORT_NOTICE,
        mandate=_mandate(inputs.mandate, inputs.kind),
        salutation=_salutation(inputs.recipient),
    )
    ev = inputs.evaluation
    if ev is not None and show & {C.attendance, C.compliance_status, C.drug_tests}:
        context["glance"] = _glance(inputs, ev, show, zone)
        context["weeks"] = _weeks(ev, show)
        if C.attendance in show:
            context["hours_chart"] = str(charts.hours_chart(ev.weeks))
        if C.drug_tests in show:
            first = max(inputs.period_start, inputs.participant["admitted_on"])
            context["test_timeline"] = str(
                charts.drug_test_timeline(ev.weeks, first, ev.as_of or inputs.period_end)
            )
        if inputs.kind == ReportKind.eap_status and C.compliance_status in show:
            context["eap"] = _eap(ev, show, today)
    if C.attendance in show:
        context.update(_attendance(inputs, zone))
    if C.drug_tests in show:
        context["drug_tests"] = drug_test_rows.rows(inputs.tests, zone, inputs.test_history)
    if inputs.kind == ReportKind.sap_followup and C.drug_tests in show:
        context["sap"] = sap_plan(inputs, zone, today)
    if C.treatment_progress in show and inputs.narrative.strip():
        context["narrative"] = inputs.narrative.strip()
    if C.fitness_to_return in show and inputs.fitness_statement.strip():
        context["fitness_statement"] = inputs.fitness_statement.strip()
    if C.discharge_status in show:
        context["discharge"] = _discharge(inputs, zone)
    return context


def sap_plan(inputs: ReportInputs, zone: ZoneInfo, today: date) -> dict[str, Any]:
    """The SAP's follow-up plan against the tests done (49 CFR 40.307, 40.309): each plan
    year that has started, its required tests and the follow-up tests done in it."""
    plan = inputs.followup_plan
    if plan is None:
        return {"plan": None}
    from compliance.records.followup_plans import plan_years

    done = [
        t
        for t in inputs.plan_tests
        if t.reason == "follow_up" and (t.collected_at or t.called_at) is not None
    ]
    years = []
    for y in plan_years(plan, today):
        inside = [
            t
            for t in done
            if y.start <= (t.collected_at or t.called_at).astimezone(zone).date() <= y.end
        ]
        collected = [t for t in inside if t.collected_at is not None]
        elapsed = min((today - y.start).days + 1, (y.end - y.start).days + 1)
        length = (y.end - y.start).days + 1
        pace = round(y.tests_required * elapsed / length) if y.tests_required else 0
        years.append(
            {
                "label": f"Year {y.number}",
                "span": f"{spoken_day(y.start)} to {spoken_day(y.end)}",
                "required": y.tests_required,
                "done": len(collected),
                "observed": sum(1 for t in collected if t.observed),
                "not_collected": len(inside) - len(collected),
                "pace": pace,
                "running": y.end >= today,
            }
        )
    return {
        "plan": plan,
        "substances": {"drugs": "drugs", "alcohol": "alcohol", "both": "drugs and alcohol"}.get(
            plan.substances, plan.substances
        ),
        "returned": plan.return_to_duty_on,
        "years": years,
        "ends_on": (
            _add_months(plan.return_to_duty_on, plan.months) - timedelta(days=1)
            if plan.return_to_duty_on
            else None
        ),
    }


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=d)
        except ValueError:
            continue
    raise ValueError(day)
