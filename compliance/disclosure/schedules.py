"""Reports that go out on a schedule: the report for the last full period, made, signed
and sent through the outbox on the program's clock, with no one pressing a button.

A schedule names the participant, the recipient, the report kind and when: weekly on a
weekday (the week as the program's policy counts it) or monthly on a day (the calendar
month). A period's report is due on the first ``send_day`` after the period ends. The
scheduler's job (``run_due``) looks at the latest period that is due: a server that was
down for three weeks sends the latest week once and never the older ones, and never
twice (a run is claimed per schedule and period, unique in the database, before
anything is made).

The consent is checked when the schedule is set up (a recipient no consent covers is
refused, nothing stored) and again at every send, by the one gate every report passes
(a consent that lapsed since: the run is "skipped" with the gate's reasons, shown on the
participant's page, and nothing is sent). The reports are signed by the staff member who
set the schedule up; an account closed since skips the run and says so.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from compliance import audit
from compliance.core import db
from compliance.core.settings import Settings
from compliance.core.validation import FieldError, Form, InvalidInput
from compliance.core.vocabulary import ReportKind
from compliance.disclosure import delivery
from compliance.disclosure.choices import disclosure_choices
from compliance.engine.rules import week_start
from compliance.reporting import service
from compliance.reporting.service import ConsentRefused, Once, ReportRequest
from compliance.staff import access, accounts
from compliance.staff.accounts import Principal
from compliance.tables import Recipient, ReportSchedule, ReportScheduleRun

KINDS = (ReportKind.court_progress, ReportKind.eap_status, ReportKind.sap_followup)
FREQUENCIES = ("weekly", "monthly")
STALE_RUN = timedelta(minutes=30)  # a run claimed this long ago by a worker that died


@dataclass(frozen=True)
class RunView:
    period_start: date
    period_end: date
    started_at: datetime
    outcome: str
    reason: str
    report_id: int | None


@dataclass(frozen=True)
class ScheduleView:
    id: int
    participant_id: int
    recipient_id: int
    recipient_name: str
    kind: str
    frequency: str
    send_day: int
    when: str  # "weekly on Monday", "monthly on day 1", as the pages say it
    created_at: datetime
    ended_at: datetime | None
    runs: list[RunView]  # newest first
    signer_id: int = 0  # who set it up: its reports are signed as them
    signer_name: str = ""


# --- when a period is due (pure) -----------------------------------------------------


def when_words(frequency: str, send_day: int) -> str:
    if frequency == "weekly":
        return f"weekly on {calendar.day_name[send_day]}"
    return f"monthly on day {send_day}"


def due_period(
    frequency: str, send_day: int, today: date, week_starts_on: int
) -> tuple[date, date] | None:
    """The latest full period whose report is due by ``today`` (its due day has come)."""
    if frequency == "weekly":
        this_week = week_start(today, week_starts_on)
        for back in (1, 2):
            start = this_week - timedelta(weeks=back)
            end = start + timedelta(days=6)
            after = end + timedelta(days=1)
            due = after + timedelta(days=(send_day - after.weekday()) % 7)
            if due <= today:
                return start, end
        return None
    first_of_month = today.replace(day=1)
    for back in (1, 2):
        end = first_of_month - timedelta(days=1)
        for _ in range(back - 1):
            end = end.replace(day=1) - timedelta(days=1)
        start = end.replace(day=1)
        due = end + timedelta(days=send_day)
        if due <= today:
            return start, end
    return None


# --- setting up -----------------------------------------------------------------------


async def create_schedule(
    principal: Principal, participant_id: int, data: dict[str, Any], origin: str = ""
) -> ScheduleView:
    """A new schedule; refused whole when a field is wrong or no valid consent covers the
    report for the recipient today."""
    person = await access.participant_row(principal, participant_id)
    form = Form(data)
    recipient_id = form.integer("recipient_id", minimum=1)
    kind = form.choice("kind", ReportKind)
    frequency = form.text("frequency", max_length=10)
    if frequency and frequency not in FREQUENCIES:
        form.errors.add("frequency", "is weekly or monthly")
    high = 6 if frequency == "weekly" else 28
    send_day = form.integer("send_day", minimum=0 if frequency == "weekly" else 1, maximum=high)
    if kind is not None and kind not in KINDS:
        form.errors.add("kind", f"a schedule sends one of {', '.join(KINDS)}")
    form.errors.raise_if_any()
    recipient = await Recipient.select().where(Recipient.id == recipient_id).first()
    if recipient is None or recipient["program"] != person["program"]:
        raise InvalidInput([FieldError("recipient_id", "no such recipient in this program")])
    # What the participant page offers: a valid consent today, and the kind theirs to get.
    offered = await disclosure_choices(principal, participant_id)
    if not any(c.recipient_id == recipient_id and str(kind) in c.kinds for c in offered.recipients):
        raise InvalidInput(
            [
                FieldError(
                    "recipient_id",
                    f"no valid consent covers a {str(kind).replace('_', ' ')} report "
                    f"for {recipient['name']} today",
                )
            ]
        )
    async with db.transaction(touching=participant_id):
        row = ReportSchedule(
            participant=participant_id,
            recipient=recipient_id,
            kind=kind,
            frequency=frequency,
            send_day=send_day,
            created_by=principal.id,
        )
        await row.save()
        await audit.record(
            "report_schedule.create",
            principal.actor(origin),
            "report_schedule",
            row.id,
            {"participant": participant_id, "kind": str(kind), "frequency": frequency},
        )
    return (await list_schedules(principal, participant_id, only=row.id))[0]


async def end_schedule(principal: Principal, schedule_id: int, origin: str = "") -> ScheduleView:
    row = await access.participant_record(principal, ReportSchedule, schedule_id, "schedule")
    if row["ended_at"] is None:
        async with db.transaction(touching=row["participant"]):
            await ReportSchedule.update(
                {ReportSchedule.ended_at: datetime.now(UTC), ReportSchedule.ended_by: principal.id}
            ).where(ReportSchedule.id == schedule_id)
            await audit.record(
                "report_schedule.end", principal.actor(origin), "report_schedule", schedule_id
            )
    return (await list_schedules(principal, row["participant"], only=schedule_id))[0]


async def take_over(principal: Principal, schedule_id: int, origin: str = "") -> ScheduleView:
    """The same schedule, signed from now on by ``principal`` (the one who set it up has
    left, or handed the client over): a new schedule with the same recipient, report and
    day, checked as any new one, and the old one ended, in one transaction. A period
    the old one sent is not sent again (``_claim``)."""
    row = await access.participant_record(principal, ReportSchedule, schedule_id, "schedule")
    if row["ended_at"] is not None:
        raise InvalidInput([FieldError("schedule", "this schedule has ended")])
    if row["created_by"] == principal.id:
        raise InvalidInput([FieldError("schedule", "its reports are signed as you already")])
    same = {
        "recipient_id": row["recipient"],
        "kind": row["kind"],
        "frequency": row["frequency"],
        "send_day": row["send_day"],
    }
    async with db.transaction(touching=row["participant"]):
        made = await create_schedule(principal, row["participant"], same, origin)
        await end_schedule(principal, schedule_id, origin)
        await audit.record(
            "report_schedule.take_over",
            principal.actor(origin),
            "report_schedule",
            made.id,
            {"from": schedule_id},
        )
    return made


async def list_schedules(
    principal: Principal, participant_id: int, only: int | None = None
) -> list[ScheduleView]:
    await access.participant_row(principal, participant_id)
    query = ReportSchedule.select(
        ReportSchedule.all_columns(),
        ReportSchedule.recipient.name.as_alias("recipient_name"),
        ReportSchedule.created_by.full_name.as_alias("signer_name"),
    ).where(ReportSchedule.participant == participant_id)
    if only is not None:
        query = query.where(ReportSchedule.id == only)
    rows = await query.order_by(ReportSchedule.id)
    runs = (
        await ReportScheduleRun.select()
        .where(ReportScheduleRun.schedule.is_in([r["id"] for r in rows] or [0]))
        .order_by(ReportScheduleRun.period_start, ascending=False)
    )
    return [_view(r, [x for x in runs if x["schedule"] == r["id"]]) for r in rows]


def _view(row: dict[str, Any], runs: list[dict[str, Any]]) -> ScheduleView:
    return ScheduleView(
        row["id"],
        row["participant"],
        row["recipient"],
        row["recipient_name"] or "",
        row["kind"],
        row["frequency"],
        row["send_day"],
        when_words(row["frequency"], row["send_day"]),
        row["created_at"],
        row["ended_at"],
        [
            RunView(
                r["period_start"],
                r["period_end"],
                r["started_at"],
                r["outcome"],
                r["reason"],
                r["report"],
            )
            for r in runs
        ],
        row["created_by"],
        row["signer_name"] or "",
    )


# --- sending ------------------------------------------------------------------------------


async def run_due(settings: Settings, now: datetime | None = None) -> dict[str, int]:
    """The scheduler's job: each active schedule's due period, once. Counts by outcome."""
    now = now or datetime.now(UTC)
    rows = await ReportSchedule.select(
        ReportSchedule.all_columns(),
        ReportSchedule.participant.program.as_alias("program"),
        ReportSchedule.participant.program.time_zone.as_alias("time_zone"),
        ReportSchedule.participant.program.week_starts_on.as_alias("week_starts_on"),
    ).where(ReportSchedule.ended_at.is_null())
    counts = {"sent": 0, "skipped": 0}
    for row in rows:
        today = now.astimezone(await access.program_tz(row["program"])).date()
        period = due_period(row["frequency"], row["send_day"], today, row["week_starts_on"])
        if period is None or not await _claim(row, period, now):
            continue
        outcome = await _send(settings, row, period)
        counts[outcome] += 1
    return counts


async def _claim(row: dict[str, Any], period: tuple[date, date], now: datetime) -> bool:
    """Take this schedule's period for this run: True when nobody has (or the one who
    had it died mid-run, STALE_RUN ago), and no other schedule for the same client,
    recipient and report has sent it (one taken over, or ended and set up again)."""
    schedule_id = row["id"]
    done = await ReportScheduleRun.exists().where(
        (ReportScheduleRun.schedule == schedule_id)
        & (ReportScheduleRun.period_start == period[0])
        & (ReportScheduleRun.outcome != "running")
    )
    if done:  # the usual case, every 15 minutes: no write transaction for it
        return False
    if await ReportScheduleRun.exists().where(
        (ReportScheduleRun.schedule.participant == row["participant"])
        & (ReportScheduleRun.schedule.recipient == row["recipient"])
        & (ReportScheduleRun.schedule.kind == row["kind"])
        & (ReportScheduleRun.period_start == period[0])
        & (ReportScheduleRun.period_end == period[1])
        & (ReportScheduleRun.outcome == "sent")
    ):
        return False
    async with db.transaction():
        await db.serialize(f"report_schedule:{schedule_id}")
        run = (
            await ReportScheduleRun.select()
            .where(
                (ReportScheduleRun.schedule == schedule_id)
                & (ReportScheduleRun.period_start == period[0])
            )
            .first()
        )
        if run is None:
            await ReportScheduleRun(
                schedule=schedule_id,
                period_start=period[0],
                period_end=period[1],
                started_at=now,
                outcome="running",
            ).save()
            return True
        if run["outcome"] == "running" and run["started_at"] < now - STALE_RUN:
            await ReportScheduleRun.update({ReportScheduleRun.started_at: now}).where(
                ReportScheduleRun.id == run["id"]
            )
            return True
        return False


async def _send(settings: Settings, row: dict[str, Any], period: tuple[date, date]) -> str:
    """Make, sign and send the period's report as the schedule's signer; "sent", or
    "skipped" with the reason recorded."""
    principal = await accounts.load_principal(row["created_by"])
    report_id: int | None = None
    reason = ""
    if principal is None:
        reason = "the staff member who set up this schedule no longer has an active account"
    else:
        request = ReportRequest(row["kind"], row["recipient"], *period)
        key = f"schedule:{row['id']}:{period[0].isoformat()}"  # made once, whatever happens
        try:
            signed = await service.sign(
                principal, settings, row["participant"], request, "schedule", Once(key)
            )
            report_id = signed.report_id
            await delivery.send_report(principal, settings, report_id, origin="schedule")
        except ConsentRefused as refused:
            reason = "not sent: " + "; ".join(refused.missing)
        except InvalidInput as exc:
            reason = "not sent: " + "; ".join(f"{e.field}: {e.reason}" for e in exc.errors)
        except access.NotFound:
            reason = "not sent: the signer no longer works with this participant's program"
    outcome = "skipped" if reason else "sent"
    async with db.transaction(touching=row["participant"]):
        await ReportScheduleRun.update(
            {
                ReportScheduleRun.outcome: outcome,
                ReportScheduleRun.reason: reason,
                ReportScheduleRun.report: report_id if outcome == "sent" else None,
            }
        ).where(
            (ReportScheduleRun.schedule == row["id"])
            & (ReportScheduleRun.period_start == period[0])
        )
        await audit.record(
            f"report_schedule.{outcome}",
            audit.SYSTEM,
            "report_schedule",
            row["id"],
            {"period_start": period[0].isoformat(), "report": report_id},
        )
    return outcome


async def listing(program_id: int | None = None) -> list[dict[str, Any]]:
    """Every schedule with its newest run, for ``compliance reports schedules``."""
    query = ReportSchedule.select(
        ReportSchedule.all_columns(),
        ReportSchedule.participant.client_id.as_alias("client_id"),
        ReportSchedule.participant.program.code.as_alias("program_code"),
        ReportSchedule.recipient.name.as_alias("recipient_name"),
    ).order_by(ReportSchedule.id)
    if program_id is not None:
        query = query.where(ReportSchedule.participant.program == program_id)
    rows = await query
    runs = (
        await ReportScheduleRun.select()
        .where(ReportScheduleRun.schedule.is_in([r["id"] for r in rows] or [0]))
        .order_by(ReportScheduleRun.period_start)
    )
    newest = {r["schedule"]: r for r in runs}  # the latest period last
    return [{**r, "last_run": newest.get(r["id"])} for r in rows]
