"""A SAQ worker for this app's jobs: ``compliance worker`` on any machine, or inside the
app (``WORKER_IN_APP``). It binds the same database, renders in its own pool of worker
processes, and takes at most twice as many jobs at once as that pool has processes, so
one report's database work overlaps another's rendering."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from saq import CronJob, Queue, Worker

from compliance import audit
from compliance.core import db, workers
from compliance.core.settings import Settings
from compliance.jobs.queued import KEEP_S, RETRIES, SWEEP_S
from compliance.jobs.tasks import HEARTBEAT_S, JOBS, PERIODIC, REPORT_TIMEOUT_S, Context


def build(
    queue: Queue,
    settings: Settings,
    *,
    owns_database: bool,
    periodic: bool = True,
    on_ready: Callable[[], None] | None = None,
) -> Worker:
    """``owns_database``: this worker binds and pools the database itself (its own
    process); inside the app the app has done that already. ``periodic``: it also takes
    the periodic jobs (SAQ runs each once per schedule, whichever worker takes it).
    ``on_ready``: called once the worker can take jobs (``compliance worker`` says so)."""

    async def startup(ctx: Context) -> None:
        ctx["settings"] = settings
        if owns_database:
            engine = db.create_engine(settings.database, must_exist=True)
            db.bind(engine)
            audit.configure(settings)
            await db.open_pool(engine, settings.database_pool_size)
        if on_ready is not None:
            on_ready()

    async def shutdown(ctx: Context) -> None:
        if owns_database:
            await db.close_pool(db.current_engine())
            await asyncio.to_thread(workers.close_shared, True)

    async def before_process(ctx: Context) -> None:
        job = ctx["job"]
        ctx["key"] = job.key
        ctx["heartbeat"] = asyncio.create_task(_beat(job))

    async def after_process(ctx: Context) -> None:
        beat = ctx.pop("heartbeat", None)
        if beat is not None:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat

    cron_jobs = [
        CronJob(JOBS[name], cron=cron, timeout=REPORT_TIMEOUT_S, ttl=KEEP_S, retries=RETRIES)
        for name, cron in (PERIODIC if periodic else [])
    ]
    runner = Worker(
        queue,
        functions=list(JOBS.items()),
        cron_jobs=cron_jobs,
        concurrency=workers.shared(None).size * 2,
        startup=startup,
        shutdown=shutdown,
        before_process=before_process,
        after_process=after_process,
        timers={"sweep": SWEEP_S},
    )
    # SAQ would take SIGINT and SIGTERM for itself: inside the app the server never heard
    # them and did not stop. Whoever runs the worker (the app, `compliance worker`) stops it.
    runner.SIGNALS = []
    return runner


async def _beat(job: Any) -> None:
    """Tell the queue this job's worker is alive; silence for HEARTBEAT_S gets it swept."""
    while True:
        await asyncio.sleep(HEARTBEAT_S / 3)
        with contextlib.suppress(Exception):
            await job.update()
