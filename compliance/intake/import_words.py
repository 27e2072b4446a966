"""What an import stores, in a clinician's words: the results of a drug test, or the
session and how the client attended.

The preview (records not stored yet) and the result page (rows just stored) both pass
rows shaped like the ``drug_test``, ``analyte_result`` and ``attendance`` tables, so a
test reads the same before and after it is committed. Pure: no database, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from compliance.core.local_time import spoken, spoken_day

Row = Mapping[str, Any]

# Statuses with no specimen, and the rule each one falls under (shared/DOMAIN.md).
NOT_COLLECTED = {
    "no_show": "Missed test (no-show), counts as positive",
    "refused": "Refused to test, counts as positive",
    "unable_to_provide": "Unable to provide a specimen",
}
FAILED_SPECIMEN = {
    "adulterated": "adulterated specimen, counts as positive",
    "substituted": "substituted specimen, counts as positive",
}
SESSION_KINDS = {
    "group": "Group",
    "individual": "Individual session",
    "family": "Family session",
    "education": "Education",
    "twelve_step": "12-step meeting",
}


def _number(value: Decimal | float | None) -> str:
    if value is None:
        return ""
    return format(Decimal(str(value)).normalize(), "f")


def _words(code: str | None) -> str:
    return (code or "").replace("_", " ")


def method_words(method: str) -> str:
    """A lab's method as a reader knows it: "Gas chromatography-mass spectrometry" reads
    "GC-MS"; a method already short, or unknown, stays as the lab wrote it."""
    lower = method.lower()
    if "chromatograph" not in lower:
        return method
    kind = "GC" if "gas" in lower else "LC" if "liquid" in lower else ""
    if not kind or "mass" not in lower:
        return method
    return f"{kind}-MS/MS" if "tandem" in lower or "ms/ms" in lower else f"{kind}-MS"


def _negative(r: Row) -> bool:
    """Nothing for a reader to look at: a negative screen, not overturned."""
    return (
        r["screen_result"] == "negative"
        and r.get("confirmation_result") in (None, "negative")
        and not r.get("mro_result")
    )


def analyte_words(r: Row) -> str:
    """One analyte that is not a plain negative: "THC positive, confirmed GC-MS 42 ng/mL"."""
    name = r.get("analyte_name") or r.get("analyte_code") or "?"
    screen, confirmation = r["screen_result"], r.get("confirmation_result")
    method = method_words(r.get("confirmation_method") or "")
    level = _number(r.get("level_ng_ml"))
    amount = f" {level} {r.get('units') or 'ng/mL'}" if level else ""
    if confirmation == "positive":
        said = f"{name} positive, confirmed{f' {method}' if method else ''}{amount}"
    elif confirmation:
        said = f"{name} screen {_words(screen)}, confirmation{f' {method}' if method else ''} "
        said += _words(confirmation)
    elif screen == "positive":
        said = f"{name} presumptive positive{amount} (screen only, not confirmed)"
    else:
        said = f"{name} {_words(screen)}"
    if r.get("mro_result"):
        said += f", MRO verified {_words(r['mro_result'])}"
        if r.get("mro_comment"):
            said += f" ({r['mro_comment']})"
    return said


def drug_test_words(test: Row, results: Sequence[Row]) -> str:
    """The specimen and what was found: "urine, observed: THC positive, confirmed GC-MS
    42 ng/mL; others negative". Findings first, negatives counted, never listed."""
    status = test["collection_status"]
    if status in NOT_COLLECTED:
        return NOT_COLLECTED[status]
    specimen = _words(test.get("specimen_type") or "urine").capitalize()
    if test.get("observed"):
        specimen += ", observed"
    found = [analyte_words(r) for r in sorted(results, key=_order) if not _negative(r)]
    negatives = len(results) - len(found)
    parts = []
    if status in FAILED_SPECIMEN:
        parts.append(FAILED_SPECIMEN[status])
    if status == "dilute":
        creatinine = _number(test.get("creatinine_mg_dl"))
        parts.append(f"dilute (creatinine {creatinine} mg/dL)" if creatinine else "dilute")
    parts += found
    if found and negatives:
        parts.append("others negative")
    elif negatives:
        parts.append("all negative" if negatives == 1 else f"all {negatives} negative")
    elif not parts:
        parts.append("no results")
    return f"{specimen}: " + "; ".join(parts)


def _order(r: Row) -> tuple[int, str]:
    """Confirmed positives first, then presumptive ones, then the rest by name."""
    rank = 0 if r.get("confirmation_result") == "positive" else 1
    if r["screen_result"] != "positive":
        rank = 2
    return rank, str(r.get("analyte_name") or r.get("analyte_code") or "")


def drug_test_when(test: Row, zone: ZoneInfo) -> str:
    """When it was collected; for a test with no specimen, when the client was called
    (a call given as a bare date reads as that day)."""
    collected: datetime | None = test.get("collected_at")
    if collected is not None:
        return spoken(collected, zone)
    called: datetime | None = test.get("called_at")
    if called is None:
        return ""
    local = called.astimezone(zone)
    if local.time() == time(0, 0):
        return f"called {spoken_day(local.date())}"
    return f"called {spoken(local)}"


def attendance_words(row: Row, title: str = "") -> str:
    """The session and how the client attended: "Group "Relapse prevention", 180 min:
    late, 150 of 180 min"."""
    kind = SESSION_KINDS.get(row["session_type"], _words(row["session_type"]))
    name = title or row.get("meeting_name") or ""
    scheduled = row["scheduled_minutes"]
    session = f"{kind} \u201c{name}\u201d" if name else kind
    status = row["status"]
    if status in ("late", "left_early"):
        how = f"{_words(status)}, {row['minutes_attended']} of {scheduled} min"
    elif status == "absent_excused":
        how = "absent (excused)"
    elif status == "absent_unexcused":
        how = "absent (unexcused)"
    else:
        how = _words(status)
    return f"{session}, {scheduled} min: {how}"
