"""Drug tests as a report prints them: every test that is not a plain negative first, in
full (cutoffs, confirmation method and level, accession and chain of custody, observed,
MRO verdict, lateness, and its history: each confirmation, MRO review and correction as
what it is); then the plain negatives, one line each, under one statement of the panel
and its cutoffs. Pure: views in, plain dicts out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from compliance.core.local_time import spoken, spoken_day
from compliance.records.attendance import AttendanceView
from compliance.records.drug_tests import DrugTestView

NOT_COLLECTED = {"no_show": "Missed", "refused": "Refused", "unable_to_provide": "Missed"}


def _plain_negative(r: Any) -> bool:
    return r.screen_result == "negative" and not r.confirmation_result and not r.mro_result


def _ng(value: Decimal | None) -> str:
    if value is None:
        return ""
    return format(value.normalize(), "f")


def panel(tests: Sequence[DrugTestView]) -> list[dict[str, str]]:
    """The analytes screened, each with its screen and confirmation cutoffs, once."""
    seen: dict[str, dict[str, str]] = {}
    for t in tests:
        for r in t.results:
            name = r.analyte_name or r.analyte_key
            if name not in seen:
                seen[name] = {
                    "analyte": name,
                    "screen": _ng(r.screen_cutoff_ng_ml),
                    "confirmation": _ng(r.confirmation_cutoff_ng_ml),
                }
    return sorted(seen.values(), key=lambda a: a["analyte"].casefold())


def outcome_word(test: DrugTestView) -> str:
    """One word or two for the test as a whole, from its current version."""
    if test.collection_status in NOT_COLLECTED:
        return NOT_COLLECTED[test.collection_status]
    if test.collection_status in ("adulterated", "substituted"):
        return test.collection_status.capitalize()
    words = []
    if any(r.mro_result == "positive" for r in test.results) or any(
        r.confirmation_result == "positive" and r.mro_result is None for r in test.results
    ):
        words.append("Positive")
    elif any(
        r.screen_result == "positive" and r.confirmation_result is None and r.mro_result is None
        for r in test.results
    ):
        words.append("Presumptive positive, pending confirmation")
    elif any(r.mro_result == "negative" for r in test.results):
        words.append("Negative (MRO review)")
    else:
        words.append("Negative")
    if test.collection_status == "dilute":
        words.append("dilute")
    return ", ".join(words)


def notable(test: DrugTestView, corrected: bool) -> bool:
    """Anything a reader must see in full: not collected, failed, dilute, any result not
    a plain negative screen, late, or corrected."""
    return (
        test.collection_status != "collected"
        or any(not _plain_negative(r) for r in test.results)
        or test.collection_late
        or test.result_late
        or corrected
    )


def _result_line(r: Any, zone: ZoneInfo) -> str:
    name = r.analyte_name or r.analyte_key
    screen = f"screen {r.screen_result.replace('_', ' ')}"
    if r.screen_method:
        screen += f" ({r.screen_method})"
    if r.screen_cutoff_ng_ml is not None:
        screen += f", cutoff {_ng(r.screen_cutoff_ng_ml)} ng/mL"
    parts = [screen]
    if r.confirmation_result:
        conf = f"confirmed {r.confirmation_result}"
        if r.confirmation_method:
            conf += f" by {r.confirmation_method}"
        if r.confirmation_lab:
            conf += f" at {r.confirmation_lab}"
        if r.confirmed_at:
            conf += f" on {_day(r.confirmed_at, zone)}"
        if r.confirmation_cutoff_ng_ml is not None:
            conf += f", cutoff {_ng(r.confirmation_cutoff_ng_ml)} ng/mL"
        if r.level_ng_ml is not None:
            conf += f", level {_ng(r.level_ng_ml)} ng/mL"
        parts.append(conf)
    elif r.screen_result == "positive":
        parts.append("pending confirmation (presumptive)")
        if r.level_ng_ml is not None:
            parts.append(f"level {_ng(r.level_ng_ml)} ng/mL")
    return f"{name}: " + "; ".join(parts)


def _day(moment: datetime, zone: ZoneInfo) -> str:
    return spoken_day(moment.astimezone(zone).date())


def _mro_line(r: Any, zone: ZoneInfo, mro_name: str = "") -> str:
    name = r.analyte_name or r.analyte_key
    by = f" ({mro_name})" if mro_name else ""
    when = f" on {_day(r.mro_verified_at, zone)}" if r.mro_verified_at else ""
    comment = f": {r.mro_comment}" if r.mro_comment else ""
    return f"MRO{by} verified {name} {r.mro_result}{when}{comment}"


def version_words(test: DrugTestView) -> str:
    """What one version of a test said, in a few words."""
    said = [
        f"{r.analyte_name or r.analyte_key} "
        + (
            f"{r.mro_result} (MRO)"
            if r.mro_result
            else f"{r.confirmation_result} (confirmed)"
            if r.confirmation_result
            else f"{r.screen_result.replace('_', ' ')} (screen)"
        )
        for r in test.results
        if not _plain_negative(r)
    ]
    status = test.collection_status.replace("_", " ")
    if said:
        return f"{status}; {', '.join(said)}"
    return f"{status}; all screens negative" if test.results else status


def attendance_words(record: AttendanceView) -> str:
    status = record.status.replace("_", " ")
    if record.status in ("late", "left_early"):
        return f"{status}, {record.minutes_attended} of {record.scheduled_minutes} minutes"
    return status


def corrections(
    current: Any, earlier: list[Any], zone: ZoneInfo, words: Callable[[Any], str]
) -> list[str]:
    """One sentence per correction: when, by whom, why, and what the version before said."""
    lines = []
    for before, after in pairwise([*earlier, current]):
        who = after.recorded_by if after.recorded_by != "import" else f"{after.source} import"
        why = after.correction_reason or "no reason given"
        lines.append(
            f"Corrected {spoken(after.recorded_at, zone)} by {who} ({why}); "
            f"version {before.version} said: {words(before)}."
        )
    return lines


def _changed(before: Any, after: Any, fields: tuple[str, ...]) -> list[Any]:
    """The analytes of ``after`` whose ``fields`` differ from ``before``'s."""
    old = {r.analyte_key: tuple(getattr(r, f) for f in fields) for r in before.results}
    return [
        r for r in after.results if old.get(r.analyte_key) != tuple(getattr(r, f) for f in fields)
    ]


CONFIRMATION_FIELDS = ("confirmation_result", "confirmation_method", "confirmed_at")
MRO_FIELDS = ("mro_result", "mro_comment", "mro_verified_at")


def _confirmation_words(before: Any, after: Any, zone: ZoneInfo) -> str:
    """ "Confirmed by GC-MS on Tue 24 Nov 2026 (lab Prairie Tox): THC positive, level 42
    ng/mL": one sentence per method, day and lab."""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for r in _changed(before, after, CONFIRMATION_FIELDS):
        day = _day(r.confirmed_at, zone) if r.confirmed_at else ""
        level = f", level {_ng(r.level_ng_ml)} ng/mL" if r.level_ng_ml is not None else ""
        groups.setdefault((r.confirmation_method, day, r.confirmation_lab), []).append(
            f"{r.analyte_name or r.analyte_key} {r.confirmation_result}{level}"
        )
    sentences = []
    for (method, day, lab), said in groups.items():
        head = "Confirmed" + (f" by {method}" if method else "") + (f" on {day}" if day else "")
        sentences.append(f"{head}{f' (lab {lab})' if lab else ''}: {', '.join(said)}")
    return "; ".join(sentences) or "Confirmation recorded"


def _review_words(before: Any, after: Any, zone: ZoneInfo) -> str:
    """ "MRO review on Thu 26 Nov 2026 by Dr. Ortiz: Codeine negative, valid prescription"."""
    changed = _changed(before, after, MRO_FIELDS)
    day = next((_day(r.mro_verified_at, zone) for r in changed if r.mro_verified_at), "")
    head = "MRO review" + (f" on {day}" if day else "")
    head += f" by {after.mro_name}" if after.mro_name else ""
    said = [
        f"{r.analyte_name or r.analyte_key} {r.mro_result}"
        + (f", {lower_first(r.mro_comment.rstrip('.'))}" if r.mro_comment else "")
        for r in changed
        if r.mro_result
    ]
    return f"{head}: {'; '.join(said)}" if said else head


def lower_first(text: str) -> str:
    """ "Valid prescription" runs on after a comma; "THC ..." stays as it is."""
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def history(current: Any, earlier: list[Any], zone: ZoneInfo) -> list[str]:
    """One sentence per later version, as what it is: a confirmation or an MRO review
    with when and by whom, or a correction with its reason and what it replaced."""
    lines = []
    for before, after in pairwise([*earlier, current]):
        who = after.recorded_by if after.recorded_by != "import" else f"{after.source} import"
        recorded = f"recorded by {who} {spoken(after.recorded_at, zone)}"
        note = f"; note: {after.correction_reason.rstrip('.')}" if after.correction_reason else ""
        if after.version_kind == "confirmation":
            lines.append(f"{_confirmation_words(before, after, zone)}; {recorded}{note}.")
        elif after.version_kind == "mro_review":
            lines.append(f"{_review_words(before, after, zone)}; {recorded}{note}.")
        else:
            lines += corrections(after, [before], zone, version_words)
    return lines


def _when(test: DrugTestView) -> datetime | None:
    return test.collected_at or test.called_at


def _specimen(test: DrugTestView) -> str:
    observed = "directly observed" if test.observed else "unobserved"
    return f"{test.specimen_type.replace('_', ' ')}, {observed}"


def detailed(test: DrugTestView, zone: ZoneInfo, earlier: list[DrugTestView]) -> dict[str, Any]:
    when = _when(test)
    ids = []
    if test.accession_id:
        ids.append(f"accession {test.accession_id}")
    if test.chain_of_custody_id:
        ids.append(f"chain of custody {test.chain_of_custody_id}")
    facts = []
    if test.collected_at is None and test.called_at is not None:
        facts.append(f"called {spoken(test.called_at, zone)}; no specimen given")
    if test.collection_status != "collected" or test.validity_note:
        figures = [
            f"{what} {_ng(value)}{unit}"
            for what, value, unit in (
                ("creatinine", test.creatinine_mg_dl, " mg/dL"),
                ("specific gravity", test.specific_gravity, ""),
                ("pH", test.ph, ""),
            )
            if value is not None
        ] + ([f"oxidants {test.oxidants}"] if test.oxidants else [])
        if figures:
            facts.append(", ".join(figures))
    if test.validity_note:
        facts.append(test.validity_note.rstrip("."))
    if test.collection_late and test.collection_hours is not None:
        facts.append(
            f"specimen given {test.collection_hours} h after the call "
            f"(window {test.collection_window_hours} h)"
        )
    if test.result_late and test.result_hours is not None:
        facts.append(
            f"result reported {test.result_hours} h after collection "
            f"(due within {test.result_due_hours} h)"
        )
    results = [_result_line(r, zone) for r in test.results if not _plain_negative(r)]
    negatives = [r.analyte_name or r.analyte_key for r in test.results if _plain_negative(r)]
    return {
        "id": test.id,
        "when": when.astimezone(zone) if when else None,
        "outcome": outcome_word(test),
        "reason": test.reason.replace("_", " "),
        "specimen": _specimen(test),
        "lab": test.lab_name,
        "ids": ", ".join(ids),
        "facts": facts,
        "results": results,
        "mro": [_mro_line(r, zone, test.mro_name) for r in test.results if r.mro_result],
        "negatives": negatives,
        "corrections": history(test, earlier, zone) if earlier else [],
    }


def compact(test: DrugTestView, zone: ZoneInfo, panel_size: int) -> dict[str, Any]:
    when = _when(test)
    screened = len(test.results)
    return {
        "id": test.id,
        "when": when.astimezone(zone) if when else None,
        "reason": test.reason.replace("_", " "),
        "specimen": _specimen(test),
        "accession": test.accession_id or test.chain_of_custody_id,
        "result": (
            "panel negative (screen)"
            if screened == panel_size
            else f"negative on {screened} screen{'s' if screened != 1 else ''}"
        ),
    }


def rows(
    tests: Sequence[DrugTestView], zone: ZoneInfo, history: dict[int, list[DrugTestView]]
) -> dict[str, Any]:
    """The report's drug-test section: panel, notable tests in full, negatives compact."""
    ordered = sorted(tests, key=lambda t: (_when(t) is None, _when(t) or datetime.min, t.id))
    the_panel = panel(ordered)
    full = [
        detailed(t, zone, history.get(t.id, [])) for t in ordered if notable(t, t.id in history)
    ]
    plain = [compact(t, zone, len(the_panel)) for t in ordered if not notable(t, t.id in history)]
    return {"panel": the_panel, "notable": full, "negatives": plain}
