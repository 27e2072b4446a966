"""What page 1 says: the status now in words, the period's violations by date, and the
counts behind them. Pure: an evaluation (and what the consent shows) in, plain dicts out.

Every sentence here is built from the engine's weeks and reasons, so the PDF, the
officer's page and the API never disagree about what happened.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date
from typing import Any

from compliance.core.local_time import spoken_day
from compliance.core.vocabulary import WEEK_STATUS_WORDS
from compliance.core.vocabulary import InformationCategory as C
from compliance.engine.rules import (
    REASON_KINDS,
    VIOLATION_REASONS,
    Evaluation,
    Reason,
    WeekResult,
    hm,
    is_full,
    session_words,
)

# Outcomes counted on page 1, in the order a court reads them; the rest only when seen.
TEST_COUNTS = ("negative", "positive", "presumptive", "missed", "refused", "dilute")
FAILED_SPECIMENS = ("adulterated", "substituted")
DASH = "\u2013"  # an en dash between two days
EVENT_KINDS = frozenset(("absence", *REASON_KINDS)) - {"hours", "sessions", "tests_short"}


def week_span(week: WeekResult) -> str:
    """ "Mon 5 Oct to Sun 11 Oct" with an en dash; across a year, with the years."""
    if week.start.year != week.end.year:
        return f"{spoken_day(week.start)} {DASH} {spoken_day(week.end)}"
    return (
        f"{week.start:%a} {week.start.day} {week.start:%b} {DASH} {week.end:%a} {week.end.day} "
        f"{week.end:%b}"
    )


def short_span(week: WeekResult) -> str:
    """A week in a table column: 5 to 11 Oct, or 26 Oct to 1 Nov, with en dashes."""
    if week.start.month == week.end.month:
        return f"{week.start.day}{DASH}{week.end.day} {week.end:%b}"
    return f"{_short(week.start)} {DASH} {_short(week.end)}"


def upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _short(day: date) -> str:
    return f"{day.day} {day:%b}"


def shown_reasons(week: WeekResult, show: Collection[str]) -> list[Reason]:
    return [r for r in week.reasons if r.topic in show]


def status_label(week: WeekResult, today: date | None = None) -> str:
    """The status in a word or three; a week still running with nothing against it is
    "On track so far", never a verdict."""
    if week.status == "in_progress":
        return "On track so far"
    if week.status == "non_compliant" and today is not None and week.end >= today:
        return "Not compliant already"
    return WEEK_STATUS_WORDS.get(week.status, week.status.replace("_", " "))


def how_it_counts(violation_kind: str) -> str:
    """How a stored violation counts, in the words the report's list uses."""
    return REASON_KINDS.get(VIOLATION_REASONS.get(violation_kind, ""), "")


def week_words(week: WeekResult, show: Collection[str], today: date | None = None) -> str:
    """The week's status as a sentence: what the reader needs, within the consent."""
    reasons = shown_reasons(week, show)
    hidden = len(week.reasons) - len(reasons)
    if week.status == "not_yet_due":
        return "Not yet due: the week has not started."
    if week.status == "in_progress" or (
        week.status == "non_compliant" and today is not None and week.end >= today
    ):
        if reasons or hidden:
            return f"{status_label(week, today)}: " + _reason_list(reasons, hidden) + "."
        parts = []
        if C.attendance in show:
            parts.append(f"{hm(week.attended_minutes)} of {hm(week.required_minutes)} hours")
        if C.drug_tests in show:
            parts.append(f"{week.tests_collected} of {_tests(week.tests_required)}")
        so_far = f" ({', '.join(parts)} so far)" if parts else ""
        return (
            f"{status_label(week, today)}{so_far}; nothing is due before the week ends on "
            f"{week.end:%a} {week.end.day} {week.end:%b}."
        )
    if week.status == "compliant":
        parts = []
        if C.attendance in show:
            parts.append(
                f"{hm(week.attended_minutes)} of {hm(week.required_minutes)} required hours"
            )
        if C.drug_tests in show and week.tests_required:
            negatives = sum(1 for t in week.tests if not t.counts_positive)
            parts.append(
                f"{week.tests_collected} of {_tests(week.tests_required)}, {negatives} negative"
            )
        return "Compliant" + (f": {', '.join(parts)}." if parts else ".")
    if week.status == "non_compliant":
        return "Not compliant: " + _reason_list(reasons, hidden) + "."
    if week.status == "partial":
        return "Partial week (admission or discharge): not judged."
    return "No requirement this week."


def _tests(n: int) -> str:
    return f"{n} test{'s' if n != 1 else ''}"


def _reason_list(reasons: Sequence[Reason], hidden: int) -> str:
    words = [lower_first(r.text) for r in reasons]
    if hidden:
        words.append("a requirement this consent does not cover was not met")
    return "; ".join(words)


def lower_first(text: str) -> str:
    """A sentence's first letter lowered to run on after a colon, unless it starts an
    abbreviation ("THC")."""
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def status_now(ev: Evaluation, show: Collection[str], today: date) -> list[dict[str, str]]:
    """Two lines: the week holding the day judged on (this week so far, when the period
    runs to today) and the last full week before it."""
    lines = []
    judged_on = ev.as_of or today
    current = next((w for w in ev.weeks if w.start <= judged_on <= w.end), None)
    if current is not None:
        label = (
            f"This week so far ({week_span(current)})"
            if judged_on == today and current.end >= today
            else f"Last week of the period ({week_span(current)})"
        )
        lines.append(
            {"label": label, "status": current.status, "words": week_words(current, show, today)}
        )
    before = [
        w for w in ev.weeks if is_full(w, ev.over_by) and (current is None or w.end < current.start)
    ]
    if before:
        last = before[-1]
        lines.append(
            {
                "label": f"Last full week ({week_span(last)})",
                "status": last.status,
                "words": week_words(last, show),
            }
        )
    return lines


def period_words(ev: Evaluation) -> str:
    c = ev.counts
    if not c.weeks_judged:
        return "No full week with a requirement has ended in this period yet."
    bad = [w for w in ev.weeks if w.status == "non_compliant" and is_full(w, ev.over_by)]
    if not bad:
        return f"Compliant in all {c.weeks_judged} full weeks."
    weeks = ", ".join(_short(w.start) for w in bad)
    return (
        f"Compliant in {c.weeks_compliant} of {c.weeks_judged} full weeks; not compliant in "
        f"the week{'s' if len(bad) > 1 else ''} of {weeks}."
    )


def violations(ev: Evaluation, show: Collection[str]) -> list[dict[str, Any]]:
    """The period's events that count against the client, by date: what, when, and how
    it counts (one line per event, in the engine's words)."""
    rows = []
    for w in ev.weeks:
        for r in w.reasons:
            if r.kind in EVENT_KINDS and r.topic in show and r.day is not None:
                rows.append(
                    {
                        "day": r.day,
                        "what": r.text,
                        "counts": REASON_KINDS.get(r.kind, ""),
                        "kind": r.kind,
                        "refs": list(r.refs),
                    }
                )
    rows.sort(key=lambda r: (r["day"], r["what"]))
    return rows


def shortfalls(ev: Evaluation, show: Collection[str]) -> list[dict[str, Any]]:
    """Weeks short of hours, sessions or tests beyond what an event explains, each with
    its shortfalls."""
    rows = []
    for w in ev.weeks:
        if w.status != "non_compliant":
            continue
        what = [r.text for r in w.reasons if r.kind not in EVENT_KINDS and r.topic in show]
        if what:
            rows.append({"week": week_span(w), "what": what})
    return rows


def counts(ev: Evaluation, show: Collection[str]) -> dict[str, Any]:
    """Counts over the judged weeks, not percentages alone."""
    c = ev.counts
    out: dict[str, Any] = {"weeks": c.weeks_judged, "weeks_compliant": c.weeks_compliant}
    first = next((w.start for w in ev.weeks if is_full(w, ev.over_by)), None)
    last = next((w.end for w in reversed(ev.weeks) if is_full(w, ev.over_by)), None)
    out["span"] = f"{_short(first)} {DASH} {_short(last)} {last:%Y}" if first and last else ""
    if C.attendance in show:
        out["hours"] = f"{hm(c.attended_minutes)} attended of {hm(c.required_minutes)} required"
        extra = _beyond(ev.weeks, ev.over_by)
        out["hours_beyond"] = (
            f"{hm(extra)} attended beyond a week's requirement; extra hours do not carry over "
            "to another week."
            if extra
            else ""
        )
        kinds = sorted(set(c.sessions_required) | set(c.sessions_attended))
        out["sessions"] = [
            f"{session_words(k)} {c.sessions_attended.get(k, 0)} of {c.sessions_required[k]}"
            if k in c.sessions_required
            else f"{session_words(k)} {c.sessions_attended.get(k, 0)} (not required)"
            for k in kinds
        ]
        out["absences"] = f"{c.unexcused_absences} unexcused, {c.excused_absences} excused"
    if C.drug_tests in show:
        tests = [("required", c.tests_required), ("collected", c.tests_collected)]
        tests += [(k, c.outcomes.get(k, 0)) for k in TEST_COUNTS]
        tests += [(k, c.outcomes[k]) for k in FAILED_SPECIMENS if c.outcomes.get(k)]
        out["tests"] = tests
    return out


def _beyond(weeks: Sequence[WeekResult], over_by: date | None) -> int:
    return sum(
        max(w.attended_minutes - w.required_minutes, 0) for w in weeks if is_full(w, over_by)
    )


def last_positive(ev: Evaluation) -> str:
    if ev.last_positive is None:
        return "No positive, missed or refused test in this period."
    o = ev.last_positive
    counted = "" if o.outcome == "positive" else ", which counts as positive"
    return f"{ev.days_since_last_positive} (last: {lower_first(o.detail)}{counted})"


def stepdown(ev: Evaluation, next_phase: str | None) -> str:
    """Whether the client meets the criteria to step down, and what is still unmet."""
    if next_phase is None:
        return ""
    if ev.meets_stepdown:
        return f"Meets the criteria to step down to {next_phase}."
    return f"Not yet eligible for {next_phase}: needs " + "; ".join(ev.stepdown_unmet) + "."
