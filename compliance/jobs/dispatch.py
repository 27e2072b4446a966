"""One way to run a job, two dispatchers.

``InProcess`` calls the job's function in this process, after a JSON round trip of its
arguments and result, so a job that works here works through a queue too; periodic jobs
run on a local timer. ``Queued`` puts the job on a SAQ queue and waits for its result;
periodic jobs are SAQ cron jobs, taken once per schedule by whichever worker is free.

The app, the CLI and the worker choose the dispatcher once (``use``); services call
``run`` and never know which one it is. A job's key (``ctx["key"]``) names one piece of
work: run twice under one key, it is done once."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Protocol

from croniter import croniter

from compliance.core import workers
from compliance.core.settings import Settings
from compliance.jobs.tasks import JOBS, PERIODIC, Context

log = logging.getLogger(__name__)


class JobFailed(Exception):
    """The job raised (the worker's log and the queue hold the error) or was given up."""


class Dispatcher(Protocol):
    # How many jobs a caller with many (a batch) keeps submitted at once.
    in_flight: int

    async def run(self, name: str, *, key: str | None = None, **kwargs: Any) -> Any: ...


def _json(value: Any) -> Any:
    return json.loads(json.dumps(value))


def new_key(prefix: str) -> str:
    return f"{prefix}:{uuid.uuid4().hex}"


class InProcess:
    """The embedded default: each job is an ordinary call in this process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # Enough that one report's database work overlaps another's rendering.
        self.in_flight = workers.shared(None).size * 2

    async def run(self, name: str, *, key: str | None = None, **kwargs: Any) -> Any:
        context: Context = {"settings": self.settings, "key": key}
        return _json(await JOBS[name](context, **_json(kwargs)))

    @asynccontextmanager
    async def periodic(self) -> AsyncIterator[None]:
        task = asyncio.create_task(self._catch_up_then_every())
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _catch_up_then_every(self) -> None:
        """Each job once now, in PERIODIC's order (what fell due while the server was down:
        today's draw before the windows it opens), then each on its schedule."""
        for name, _ in PERIODIC:
            await self._once(name)
        await asyncio.gather(*(self._every(name, cron) for name, cron in PERIODIC))

    async def _every(self, name: str, cron: str) -> None:
        schedule = croniter(cron, datetime.now(UTC))
        while True:
            await asyncio.sleep(max(0.0, schedule.get_next(float) - datetime.now(UTC).timestamp()))
            await self._once(name)

    async def _once(self, name: str) -> None:
        """One run; a failure is logged (its class only: a message may quote a recipient)
        and the timer goes on."""
        try:
            await self.run(name)
        except Exception as exc:
            log.warning("periodic job %s failed: %s", name, exc.__class__.__name__)


_current: Dispatcher | None = None


def use(dispatcher: Dispatcher | None) -> None:
    global _current
    _current = dispatcher


def current_or_none() -> Dispatcher | None:
    """The dispatcher this process chose, if it chose one (the app's queue view asks)."""
    return _current


def current(settings: Settings) -> Dispatcher:
    """The dispatcher chosen for this process; in-process when nobody chose."""
    return _current if _current is not None else InProcess(settings)


async def run(settings: Settings, name: str, *, key: str | None = None, **kwargs: Any) -> Any:
    """Run job ``name`` wherever this process's dispatcher runs jobs; its result."""
    return await current(settings).run(name, key=key, **kwargs)
