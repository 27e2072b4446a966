"""A program's policy settings, and what a proposed change would do before it is saved.

The settings are the program table's policy columns (every boolean and number on it),
so a setting added there appears on the policy page and in the API without another
edit; ``KNOWN`` only gives each its words and limits. A change that alters how weeks
are judged is shown first as its effect on the program's active clients (the engine run
over their enrolments with the current and with the proposed settings), and is saved
only with the confirmation that preview issued: an administrator cannot turn on "dilute
counts as positive" without seeing the old dilute that becomes a violation.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from piccolo.columns import Boolean, Integer, Numeric

from compliance.core.validation import Form
from compliance.core.vocabulary import WEEK_STATUS_WORDS
from compliance.engine import caseload
from compliance.engine.rules import Policy
from compliance.tables import Participant, Program

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
CONFIRMATION_LIFETIME_S = 3600  # a preview older than an hour is shown again first
LISTED = 100  # week changes listed one by one; the rest are counted


@dataclass(frozen=True)
class Setting:
    name: str
    label: str
    kind: str  # "flag", "weekday", "integer" or "decimal"
    minimum: int = 0
    maximum: int = 0
    help: str = ""

    @property
    def python_type(self) -> type:
        return {"flag": bool, "decimal": Decimal}.get(self.kind, int)

    @property
    def judged(self) -> bool:
        """Does the compliance engine read it (so past weeks may change)?"""
        return self.name in {f.name for f in dataclasses.fields(Policy)}

    def words(self, value: Any) -> str:
        if self.kind == "flag":
            return "yes" if value else "no"
        if self.kind == "weekday":
            return WEEKDAYS[int(value)] if 0 <= int(value) <= 6 else str(value)
        if self.kind == "decimal":
            return f"{Decimal(value).normalize():f}"
        return str(value)


KNOWN: dict[str, Setting] = {
    s.name: s
    for s in (
        Setting(
            "dilute_counts_as_positive",
            "A dilute specimen counts as positive",
            "flag",
            help="Off: a dilute specimen is flagged on reports but is not a violation.",
        ),
        Setting(
            "presumptive_counts_before_confirmation",
            "A screen positive counts before it is confirmed",
            "flag",
            help="Off: an unconfirmed screen positive is shown as pending confirmation "
            "and does not count yet.",
        ),
        Setting(
            "excused_absence_counts_toward_hours",
            "An excused absence counts toward the week's hours",
            "flag",
        ),
        Setting("week_starts_on", "Weeks start on", "weekday", 0, 6),
        Setting(
            "stepdown_compliant_weeks",
            "Step-down: compliant weeks in a row",
            "integer",
            0,
            52,
        ),
        Setting(
            "stepdown_consecutive_negative_tests",
            "Step-down: negative tests in a row",
            "integer",
            0,
            100,
        ),
        Setting(
            "collection_window_hours",
            "Collection window (hours from the call to the specimen)",
            "integer",
            1,
            72,
            "A later specimen is marked late; it does not change the week's status.",
        ),
        Setting(
            "missed_check_in_counts",
            "Not checking in on a testing day counts against the week",
            "flag",
            help="Off: a missed check-in is recorded and shown on the testing pages but is "
            "not a violation. On: it makes its week not compliant and is a violation the "
            "officer is told of.",
        ),
        Setting(
            "results_due_hours",
            "Lab results due (hours after collection)",
            "integer",
            1,
            720,
            "A later result is marked late; it does not change the week's status.",
        ),
        Setting(
            "notice_window_hours",
            "Violation notices go out within (hours)",
            "integer",
            1,
            720,
            "A violation learned of longer ago than this is never e-mailed to an officer.",
        ),
        Setting(
            "dilute_creatinine_mg_dl",
            "Dilute below creatinine (mg/dL)",
            "decimal",
            0,
            100,
            "Applies to results recorded from now on, typed in or imported.",
        ),
        Setting(
            "dilute_specific_gravity",
            "Not dilute from specific gravity (at or above)",
            "decimal",
            1,
            2,
            "Under the creatinine threshold, a specimen whose measured specific gravity is "
            "at or above this is not dilute (federal criteria: 1.0030). Applies to results "
            "recorded from now on.",
        ),
    )
}
_COLUMN_KINDS = {Boolean: "flag", Integer: "integer", Numeric: "decimal"}


def policy_settings() -> list[Setting]:
    """Every policy column of the program table, known ones first in their order."""
    columns = {
        c._meta.name: kind
        for c in Program._meta.columns
        if (kind := _COLUMN_KINDS.get(type(c))) and not c._meta.primary_key
    }
    known = [s for name, s in KNOWN.items() if name in columns]
    others = [
        Setting(name, name.replace("_", " ").capitalize(), kind, 0, 10_000)
        for name, kind in columns.items()
        if name not in KNOWN
    ]
    return known + others


def read_changes(data: Mapping[str, Any], current: Mapping[str, Any], form: Form) -> dict[str, Any]:
    """The settings in ``data`` that differ from ``current``, checked; errors go on
    ``form``. A flag missing from a submitted page form is off (a checkbox sends
    nothing), so pages pass every flag; the API sends only what it changes."""
    changes: dict[str, Any] = {}
    for s in policy_settings():
        if s.name not in data or data[s.name] is None:
            continue
        raw = data[s.name]
        if s.kind == "flag":
            value: Any = raw if isinstance(raw, bool) else form.boolean(s.name)
        elif s.kind == "decimal":
            try:
                value = Decimal(str(raw).strip())
                if not value.is_finite() or not s.minimum < value <= s.maximum:
                    raise ValueError
            except (ValueError, InvalidOperation):
                form.errors.add(s.name, f"must be a number above {s.minimum}, up to {s.maximum}")
                continue
        else:
            value = form.integer(s.name, minimum=s.minimum, maximum=s.maximum)
            if value is None:
                continue
        if value != current.get(s.name):
            changes[s.name] = value
    return changes


# --- the effect of a change on the program's active clients ---------------------------


@dataclass
class SettingChange:
    name: str
    label: str
    before: str
    after: str


@dataclass
class WeekChange:
    participant_id: int
    client_id: str
    name: str
    week_start: date
    before: str  # words: "Compliant", "Not compliant" ...
    after: str
    reasons_before: list[str]
    reasons_after: list[str]


@dataclass
class ViolationChange:
    participant_id: int
    client_id: str
    name: str
    kind: str
    occurred_at: datetime
    description: str


@dataclass
class RegroupedClient:
    """Weeks starting on another day cannot be matched one by one: counts instead."""

    participant_id: int
    client_id: str
    name: str
    non_compliant_before: int
    non_compliant_after: int


@dataclass
class Effect:
    clients: int
    changes: list[SettingChange]
    weeks_changed: int = 0
    weeks: list[WeekChange] = field(default_factory=list)
    new_violations: list[ViolationChange] = field(default_factory=list)
    withdrawn_violations: list[ViolationChange] = field(default_factory=list)
    regrouped: list[RegroupedClient] = field(default_factory=list)
    summary: str = ""


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _summary(effect: Effect) -> str:
    if not effect.changes:
        return "Nothing changes."
    if effect.regrouped:
        before = sum(r.non_compliant_before for r in effect.regrouped)
        after = sum(r.non_compliant_after for r in effect.regrouped)
        parts = [f"weeks are regrouped: {before} not compliant before, {after} after"]
    elif effect.weeks_changed:
        parts = [_plural(effect.weeks_changed, "week changes status", "weeks change status")]
    else:
        parts = ["no week changes status"]
    new = effect.new_violations
    if new:
        # "RB-1001: Dilute specimen collected Mon 26 Oct", without how it counts
        named = "; ".join(f"{v.client_id}: {v.description.split(' (')[0]}" for v in new[:3])
        more = f"; and {len(new) - 3} more" if len(new) > 3 else ""
        parts.append(f"{_plural(len(new), 'new violation', 'new violations')} ({named}{more})")
    else:
        parts.append("no new violation")
    if effect.withdrawn_violations:
        n = len(effect.withdrawn_violations)
        parts.append(_plural(n, "violation withdrawn", "violations withdrawn"))
    text = ", ".join(parts)
    return text[0].upper() + text[1:] + "."


async def preview(program: dict[str, Any], changes: dict[str, Any]) -> Effect:
    """Judge the program's active clients over their whole enrolment up to today with
    the current and the proposed settings, and say what differs."""
    known = {s.name: s for s in policy_settings()}
    effect = Effect(
        clients=0,
        changes=[
            SettingChange(
                name,
                known[name].label,
                known[name].words(program[name]),
                known[name].words(value),
            )
            for name, value in changes.items()
        ],
    )
    people = await Participant.select().where(
        (Participant.program == program["id"]) & Participant.discharged_on.is_null()
    )
    effect.clients = len(people)
    if not people or not any(known[name].judged for name in changes):
        effect.summary = _summary(effect)
        return effect
    today = datetime.now(ZoneInfo(program["time_zone"])).date()
    start = min(p["admitted_on"] for p in people)
    ids = [p["id"] for p in people]
    before = await caseload.evaluate_people(program, people, ids, start, today, today)
    after = await caseload.evaluate_people({**program, **changes}, people, ids, start, today, today)
    regroup = "week_starts_on" in changes
    for p in sorted(people, key=lambda p: (p["last_name"], p["first_name"], p["client_id"])):
        name = f"{p['last_name']}, {p['first_name']}"
        old, new = before[p["id"]], after[p["id"]]
        if regroup:
            effect.regrouped.append(
                RegroupedClient(
                    p["id"],
                    p["client_id"],
                    name,
                    sum(w.status == "non_compliant" for w in old.weeks),
                    sum(w.status == "non_compliant" for w in new.weeks),
                )
            )
        else:
            old_weeks = {w.start: w for w in old.weeks}
            for w in new.weeks:
                was = old_weeks.get(w.start)
                if was is None or was.status == w.status:
                    continue
                effect.weeks_changed += 1
                if len(effect.weeks) < LISTED:
                    effect.weeks.append(
                        WeekChange(
                            p["id"],
                            p["client_id"],
                            name,
                            w.start,
                            WEEK_STATUS_WORDS.get(was.status, was.status),
                            WEEK_STATUS_WORDS.get(w.status, w.status),
                            [r.text for r in was.reasons],
                            [r.text for r in w.reasons],
                        )
                    )
        old_v = {(v.kind, v.ref): v for v in old.violations}
        new_v = {(v.kind, v.ref): v for v in new.violations}
        for key, v in new_v.items():
            if key not in old_v:
                effect.new_violations.append(
                    ViolationChange(
                        p["id"], p["client_id"], name, v.kind, v.occurred_at, v.description
                    )
                )
        for key, v in old_v.items():
            if key not in new_v:
                effect.withdrawn_violations.append(
                    ViolationChange(
                        p["id"], p["client_id"], name, v.kind, v.occurred_at, v.description
                    )
                )
    effect.summary = _summary(effect)
    return effect


# --- the confirmation a preview issues, and saving needs -----------------------------


def _digest(
    secret: str, program: Mapping[str, Any], changes: Mapping[str, Any], issued: int
) -> str:
    """Binds the proposed values to the settings they were previewed against: if
    another administrator changes the program meanwhile, the preview no longer holds."""
    content = json.dumps(
        [
            program["id"],
            sorted((k, str(v)) for k, v in changes.items()),
            sorted((k, str(program[k])) for k in changes),
            issued,
        ],
        separators=(",", ":"),
    )
    key = hashlib.sha256(f"policy-preview:{secret}".encode()).digest()
    return hmac.new(key, content.encode(), hashlib.sha256).hexdigest()


def confirmation(secret: str, program: Mapping[str, Any], changes: Mapping[str, Any]) -> str:
    issued = int(time.time())
    return f"{issued}.{_digest(secret, program, changes, issued)}"


def confirmation_problem(
    secret: str, program: Mapping[str, Any], changes: Mapping[str, Any], token: str | None
) -> str:
    """Why ``token`` does not confirm these changes ("" when it does)."""
    if not token:
        return "preview the change first: saving needs the confirmation its preview gives"
    issued_text, _, digest = str(token).partition(".")
    if not issued_text.isdigit() or len(issued_text) > 12:
        return "is not a confirmation from a preview of this change"
    issued = int(issued_text)
    if not hmac.compare_digest(digest, _digest(secret, program, changes, issued)):
        return (
            "does not match this change, or the settings changed since the preview: "
            "preview it again"
        )
    if time.time() - issued > CONFIRMATION_LIFETIME_S:
        return "the preview is more than an hour old: preview the change again"
    return ""
