"""Is a signed report still what the records say? The one rule, for the participant
page, the report API and "make a new version".

A current report is out of date when an attendance or drug-test version was recorded
after the report was signed for an event inside its period (a correction, or a record
entered late), or, where the program counts missed check-ins, one was recorded or
excused since: the signed PDF never changes, so the clinician must see that it no
longer matches and make a new version. The accounting of disclosures is about
disclosures, not records, and is never flagged.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from compliance.core.vocabulary import ReportKind, ReportStatus
from compliance.tables import (
    Attendance,
    DrugTest,
    MissedCheckIn,
    MissedCheckInExcuse,
    Participant,
)


@dataclass
class OutdatedBy:
    """One record version the report does not reflect."""

    record: str  # "attendance:12", "drug_test:7": the version recorded after signing
    kind: str  # "attendance", "drug_test" or "missed_check_in"
    occurred_at: datetime  # the session, the collection (or the call, for a no-show)
    recorded_at: datetime
    version: int
    change: str  # "correction", "confirmation", "MRO review", "late entry" or "excused"
    reason: str  # the correction's reason (a confirmation's note); "" for a late entry


def _bounds(start: date, end: date, zone: str) -> tuple[datetime, datetime]:
    tz = ZoneInfo(zone)
    return (
        datetime.combine(start, time.min, tz).astimezone(UTC),
        datetime.combine(end + timedelta(days=1), time.min, tz).astimezone(UTC),
    )


def can_be_outdated(row: dict[str, Any]) -> bool:
    return (
        row["status"] == ReportStatus.current.value
        and row["kind"] != ReportKind.disclosure_accounting.value
        and row["signed_at"] is not None
    )


async def corrections_since(
    rows: list[dict[str, Any]],
    zones: dict[int, str] | None = None,
    counting: set[int] | None = None,
) -> dict[int, list[OutdatedBy]]:
    """For each current report among ``rows`` (Report rows), the record versions
    recorded after it was signed for events inside its period, oldest first. ``zones``
    and ``counting``: each participant's program time zone, and those whose program
    counts missed check-ins, when the caller has read them."""
    reports = [r for r in rows if can_be_outdated(r)]
    if not reports:
        return {}
    people = sorted({r["participant"] for r in reports})
    since = min(r["signed_at"] for r in reports)
    if zones is None or counting is None or not set(people) <= zones.keys():
        found = await Participant.select(
            Participant.id,
            Participant.program.time_zone,
            Participant.program.missed_check_in_counts,
        ).where(Participant.id.is_in(people))
        zones = {p["id"]: p["program.time_zone"] for p in found}
        counting = {p["id"] for p in found if p["program.missed_check_in_counts"]}
    versions: dict[int, list[OutdatedBy]] = defaultdict(list)
    for a in await Attendance.select(
        Attendance.id,
        Attendance.participant,
        Attendance.occurred_at,
        Attendance.recorded_at,
        Attendance.version,
        Attendance.correction_reason,
    ).where(Attendance.participant.is_in(people) & (Attendance.recorded_at > since)):
        versions[a["participant"]].append(_entry("attendance", a, a["occurred_at"]))
    # Every column: a confirmation or an MRO review says so (``version_kind``).
    for t in await DrugTest.select().where(
        DrugTest.participant.is_in(people) & (DrugTest.recorded_at > since)
    ):
        when = t["collected_at"] or t["called_at"]
        if when is not None:
            versions[t["participant"]].append(_entry("drug_test", t, when))
    if counted := sorted(counting & set(people)):
        for person, entry in await _check_ins_since(counted, since, zones):
            versions[person].append(entry)
    out: dict[int, list[OutdatedBy]] = {}
    for r in reports:
        low, high = _bounds(r["period_start"], r["period_end"], zones[r["participant"]])
        found = [
            v
            for v in versions.get(r["participant"], [])
            if v.recorded_at > r["signed_at"] and low <= v.occurred_at < high
        ]
        if found:
            out[r["id"]] = sorted(found, key=lambda v: (v.recorded_at, v.record))
    return out


async def _check_ins_since(
    people: list[int], since: datetime, zones: dict[int, str]
) -> list[tuple[int, OutdatedBy]]:
    """Missed check-ins recorded, and excuses made, since ``since`` (``people``: those
    whose program counts them; elsewhere a report does not show them), each at the start
    of its day."""

    def entry(
        person: int, missed: int, day: date, at: datetime, change: str, why: str
    ) -> tuple[int, OutdatedBy]:
        start = datetime.combine(day, time.min, ZoneInfo(zones[person])).astimezone(UTC)
        version = 1 if change == "late entry" else 2
        record = f"missed_check_in:{missed}"
        return person, OutdatedBy(record, "missed_check_in", start, at, version, change, why)

    found = [
        entry(m["participant"], m["id"], m["day"], m["recorded_at"], "late entry", "")
        for m in await MissedCheckIn.select(
            MissedCheckIn.id,
            MissedCheckIn.participant,
            MissedCheckIn.draw.day.as_alias("day"),
            MissedCheckIn.recorded_at,
        ).where(MissedCheckIn.participant.is_in(people) & (MissedCheckIn.recorded_at > since))
    ]
    excused = MissedCheckInExcuse.missed
    found += [
        entry(e["participant"], e["missed"], e["day"], e["excused_at"], "excused", e["reason"])
        for e in await MissedCheckInExcuse.select(
            excused,
            MissedCheckInExcuse.reason,
            MissedCheckInExcuse.excused_at,
            excused.participant.as_alias("participant"),
            excused.draw.day.as_alias("day"),
        ).where(excused.participant.is_in(people) & (MissedCheckInExcuse.excused_at > since))
    ]
    return found


LATER_KINDS = {"confirmation": "confirmation", "mro_review": "MRO review"}


def _entry(kind: str, row: dict[str, Any], when: datetime) -> OutdatedBy:
    if row["version"] == 1:
        change = "late entry"
    else:
        change = LATER_KINDS.get(row.get("version_kind") or "", "correction")
    return OutdatedBy(
        record=f"{kind}:{row['id']}",
        kind=kind,
        occurred_at=when,
        recorded_at=row["recorded_at"],
        version=row["version"],
        change=change,
        reason=row["correction_reason"] if row["version"] > 1 else "",
    )
