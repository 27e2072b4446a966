"""What a report shows, built from the consent decision: a category the consent does not
cover never enters the context, so no template can leak it.

``build`` is pure (records in, a plain picklable dict out) so it can be tested alone
and shipped to a worker process; ``ReportInputs`` is what the service loads for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from itertools import pairwise
from typing import Any

from compliance import charts
from compliance.attendance import AttendanceView
from compliance.drug_tests import DrugTestView
from compliance.local_time import spoken
from compliance.mandates import MandateView
from compliance.reporting.consent_gate import CATEGORY_WORDS, Decision
from compliance.rules import Evaluation, WeekResult
from compliance.vocabulary import InformationCategory as C
from compliance.vocabulary import ReportKind

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

TITLES = {
    ReportKind.court_progress: "Court progress report",
    ReportKind.eap_status: "EAP status report",
    ReportKind.discharge_letter: "Discharge / completion letter",
}
STATUS_WORDS = {
    "compliant": "Compliant",
    "non_compliant": "Not compliant",
    "partial": "Partial week",
    "in_progress": "Week not over",
    "no_requirement": "No requirement",
}
LEVEL_WORDS = {
    "1": "Outpatient (ASAM 1)",
    "2.1": "Intensive outpatient (ASAM 2.1)",
    "2.5": "Partial hospitalisation (ASAM 2.5)",
    "aftercare": "Aftercare",
}


@dataclass
class ReportInputs:
    """Everything a report could show; ``build`` keeps what the consent covers."""

    kind: str
    report_id: str
    version: int
    supersedes: str | None
    verify_url: str
    qr_svg: str
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


def _hours(value: Decimal | None) -> str:
    if value is None:
        return "-"
    return format(value.normalize(), "f") if value == value.to_integral() else f"{value:.2f}"


def _percent(value: Decimal | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def _week_row(week: WeekResult, show: set[str]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "start": week.start,
        "end": week.end,
        "phase": week.phase or "",
    }
    if C.compliance_status in show:
        row["status"] = week.status
        row["status_label"] = STATUS_WORDS.get(week.status, week.status)
        row["reasons"] = [r.text for r in week.reasons if r.topic in show]
    if C.attendance in show:
        row["required_hours"] = _hours(week.required_hours)
        row["attended_hours"] = _hours(week.attended_hours)
        row["sessions"] = [
            f"{kind.replace('_', ' ')} {week.sessions_attended.get(kind, 0)}/{needed}"
            for kind, needed in sorted(week.sessions_required.items())
        ]
        row["excused"] = week.excused_absences
        row["unexcused"] = week.unexcused_absences
    if C.drug_tests in show:
        row["tests"] = f"{week.tests_collected}/{week.tests_required}"
    return row


def _overall(evaluation: Evaluation) -> str:
    judged = [w.status for w in evaluation.weeks if w.status in ("compliant", "non_compliant")]
    if not judged:
        return "No full week with a requirement in this period"
    bad = judged.count("non_compliant")
    if bad == 0:
        return f"Compliant in all {len(judged)} full weeks"
    return f"Not compliant in {bad} of {len(judged)} full weeks"


def _common_panel(tests: list[DrugTestView]) -> list[str]:
    """The analytes most tests were screened for, named once above the table."""
    counts: dict[tuple[str, ...], int] = {}
    for t in tests:
        panel = tuple(sorted(r.analyte_name or r.analyte_key for r in t.results))
        if panel:
            counts[panel] = counts.get(panel, 0) + 1
    if not counts:
        return []
    panel, seen = max(counts.items(), key=lambda item: (item[1], len(item[0])))
    return list(panel) if seen >= 2 else []


def _plain_negative(r: Any) -> bool:
    return r.screen_result == "negative" and not r.confirmation_result and not r.mro_result


def _version_words(test: DrugTestView) -> str:
    """What one version of a test said, in a few words: its status and every result
    that is not a plain negative screen."""
    notable = []
    for r in test.results:
        if _plain_negative(r):
            continue
        name = r.analyte_name or r.analyte_key
        if r.mro_result:
            notable.append(f"{name} {r.mro_result} (MRO)")
        elif r.confirmation_result:
            notable.append(f"{name} {r.confirmation_result} (confirmed)")
        else:
            notable.append(f"{name} {r.screen_result.replace('_', ' ')} (screen)")
    status = test.collection_status.replace("_", " ")
    if notable:
        return f"{status}; {', '.join(notable)}"
    return f"{status}; all screens negative" if test.results else status


def _attendance_words(record: AttendanceView) -> str:
    status = record.status.replace("_", " ")
    if record.status in ("late", "left_early"):
        return f"{status}, {record.minutes_attended} of {record.scheduled_minutes} minutes"
    return status


def _corrections(current: Any, earlier: list[Any], zone: Any, words: Any) -> list[str]:
    """One sentence per correction of a test or attendance record: when, by whom, why,
    and what the version before said (``words`` says it)."""
    lines = []
    for before, after in pairwise([*earlier, current]):
        who = after.recorded_by if after.recorded_by != "import" else f"{after.source} import"
        why = after.correction_reason or "no reason given"
        lines.append(
            f"Corrected {spoken(after.recorded_at, zone)} by {who} ({why}); "
            f"version {before.version} said: {words(before)}."
        )
    return lines


def _test_row(test: DrugTestView, zone: Any, earlier: list[DrugTestView]) -> dict[str, Any]:
    when = test.collected_at or test.called_at
    return {
        "id": test.id,
        "when": when.astimezone(zone) if when else None,
        "collected": test.collected_at is not None,
        "specimen": test.specimen_type.replace("_", " "),
        "observed": test.observed,
        "reason": test.reason.replace("_", " "),
        "status": test.collection_status.replace("_", " "),
        "lab": test.lab_name,
        "accession": test.accession_id,
        "creatinine": test.creatinine_mg_dl,
        "validity_note": test.validity_note,
        "collection_hours": test.collection_hours if test.collection_late else None,
        "result_hours": test.result_hours if test.result_late else None,
        "corrections": _corrections(test, earlier, zone, _version_words) if earlier else [],
        # Plain negative screens share one line; anything else gets its own, so a
        # positive, a confirmation or an MRO review stands out.
        "negative_screens": [
            r.analyte_name or r.analyte_key for r in test.results if _plain_negative(r)
        ],
        "results": [
            {
                "analyte": r.analyte_name or r.analyte_key,
                "screen": r.screen_result.replace("_", " "),
                "screen_method": r.screen_method,
                "confirmation": r.confirmation_result,
                "confirmation_method": r.confirmation_method,
                "confirmation_lab": r.confirmation_lab,
                "level": r.level_ng_ml,
                "basis": "confirmed" if r.confirmation_result else "screen",
                "mro": r.mro_result,
                "mro_comment": r.mro_comment,
                "mro_verified_at": r.mro_verified_at,
            }
            for r in test.results
            if not _plain_negative(r)
        ],
    }


def build(inputs: ReportInputs, decision: Decision) -> dict[str, Any]:
    """The template context: identity, period and signer always; the rest by category."""
    from zoneinfo import ZoneInfo

    show = set(decision.categories)
    zone = ZoneInfo(inputs.program["time_zone"])
    p = inputs.participant
    context: dict[str, Any] = {
        "kind": inputs.kind,
        "title": TITLES[inputs.kind],
        "report_id": inputs.report_id,
        "version": inputs.version,
        "supersedes": inputs.supersedes,
        "verify_url": inputs.verify_url,
        "qr_svg": inputs.qr_svg,
        "generated_at": inputs.generated_at.astimezone(zone),
        "period_start": inputs.period_start,
        "period_end": inputs.period_end,
        "program": {
            k: inputs.program[k] for k in ("name", "address", "phone", "contact_email", "code")
        },
        "participant": {
            "name": f"{p['first_name']} {p['last_name']}",
            "date_of_birth": p["date_of_birth"],
            "client_id": p["client_id"],
            "level_of_care": LEVEL_WORDS.get(p["level_of_care"], p["level_of_care"]),
            "admitted_on": p["admitted_on"],
        },
        "recipient": {k: inputs.recipient[k] for k in ("name", "title", "organisation", "kind")},
        "show": {c.value: c.value in show for c in C},
        "shown_words": sorted(CATEGORY_WORDS[c] for c in show),
        "consent_scope": decision.scope,
        "purpose": decision.purpose.replace("_", " "),
        "notice": NOTICE,
        "short_notice": SHORT_NOTICE,
        "signer": {"name": inputs.signer_name, "credentials": inputs.signer_credentials},
    }
    m = inputs.mandate
    if m is not None and inputs.kind == ReportKind.court_progress:
        context["mandate"] = {
            "source": m.source.replace("_", " "),
            "case_number": m.case_number,
            "court_name": m.court_name,
            "referring_agency": m.referring_agency,
            "officer": m.contact_name,
            "starts_on": m.starts_on,
            "ends_on": m.ends_on,
            "phases": [
                {
                    "name": ph.name,
                    "hours": _hours(ph.required_hours_per_week),
                    "tests": ph.required_tests_per_week,
                    "sessions": ", ".join(
                        f"{n} {t.replace('_', ' ')}"
                        for t, n in sorted(ph.sessions_per_week.items())
                    ),
                    "started_on": ph.started_on,
                }
                for ph in m.phases
            ],
        }
    elif m is not None:
        context["mandate"] = {"case_number": "", "source": m.source.replace("_", " ")}
    ev = inputs.evaluation
    if ev is not None and show & {C.attendance, C.compliance_status, C.drug_tests}:
        weeks = list(ev.weeks)
        context["weeks"] = [_week_row(w, show) for w in weeks]
        summary: dict[str, Any] = {"current_phase": ev.current_phase or "-"}
        if C.compliance_status in show:
            summary["overall"] = _overall(ev)
            summary["meets_stepdown"] = ev.meets_stepdown
        if C.attendance in show:
            summary["attendance_rate"] = _percent(ev.attendance_rate)
            context["hours_chart"] = str(charts.hours_chart(weeks))
        if C.drug_tests in show:
            summary["negative_share"] = _percent(ev.negative_share)
            summary["days_since_last_positive"] = (
                "none in record"
                if ev.days_since_last_positive is None
                else ev.days_since_last_positive
            )
            summary["longest_negative_streak"] = ev.longest_negative_streak
            context["test_timeline"] = str(charts.drug_test_timeline(weeks))
        context["summary"] = summary
    if C.attendance in show:
        context["absences"] = [
            {
                "when": a.occurred_at.astimezone(zone),
                "type": a.session_type.replace("_", " "),
                "status": "excused" if a.status == "absent_excused" else "unexcused",
                "note": a.note,
            }
            for a in sorted(inputs.attendance, key=lambda a: a.occurred_at)
            if a.status in ("absent_excused", "absent_unexcused")
        ]
        context["attendance_corrections"] = [
            {
                "when": a.occurred_at.astimezone(zone),
                "type": a.session_type.replace("_", " "),
                "now": _attendance_words(a),
                "lines": _corrections(a, earlier, zone, _attendance_words),
            }
            for a in sorted(inputs.attendance, key=lambda a: a.occurred_at)
            if (earlier := inputs.attendance_history.get(a.id))
        ]
    if C.drug_tests in show:
        rows = [
            _test_row(t, zone, inputs.test_history.get(t.id, []))
            for t in sorted(
                inputs.tests, key=lambda t: t.collected_at or t.called_at or inputs.generated_at
            )
        ]
        context["panel"] = _common_panel(inputs.tests)
        for row in rows:  # a test negative on screen for the whole panel says so once
            row["whole_panel_negative"] = bool(context["panel"]) and (
                sorted(row["negative_screens"]) == context["panel"]
            )
        context["tests"] = rows
    if C.treatment_progress in show and inputs.narrative.strip():
        context["narrative"] = inputs.narrative.strip()
    if C.fitness_to_return in show and inputs.fitness_statement.strip():
        context["fitness_statement"] = inputs.fitness_statement.strip()
    if C.discharge_status in show:
        context["discharge"] = {
            "discharged_on": p["discharged_on"],
            "reason": (p["discharge_reason"] or "").replace("_", " "),
            "completed": p["discharge_reason"] == "completed",
            "note": p["discharge_note"],
        }
    return context
