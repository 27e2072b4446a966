"""Jobs through a SAQ queue: in PostgreSQL (the database the app already uses) or in
Redis when REDIS_URL is set. Any number of app instances submit; any number of
``compliance worker`` processes (and the app itself, unless told not to) take jobs.

A worker beats for each job it runs (``HEARTBEAT_S``); a job whose worker has gone
quiet is swept by another worker and run again, up to ``RETRIES`` times. The jobs are
written to be run twice (``tasks``)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from saq import Queue
from saq.job import TERMINAL_STATUSES, Job, Status

from compliance.core.settings import Settings, redact_url
from compliance.jobs.dispatch import JobFailed, _json
from compliance.jobs.tasks import HEARTBEAT_S, REPORT_TIMEOUT_S

log = logging.getLogger(__name__)

QUEUE_NAME = "compliance"
RETRIES = 3
# A caller waiting for its result looks this often: a report takes 0.3 s and more.
RESULT_POLL_S = 0.02
# Swept often enough that a dead worker's job starts again within half a minute.
SWEEP_S = 5
# Finished jobs (and their results) are kept a day for `compliance jobs` to show.
KEEP_S = 24 * 60 * 60


def queue_url(settings: Settings) -> str | None:
    """Where the queue lives, or None for the embedded default (jobs in process)."""
    if settings.redis_url:
        return settings.redis_url
    if settings.database.engine == "postgres":
        return settings.database.url
    return None


def display(url: str) -> str:
    """The queue's address without a password."""
    return redact_url(url)


def make_queue(url: str) -> Queue:
    if url.startswith(("postgres://", "postgresql://")):
        from saq.queue.postgres import PostgresQueue

        # Few connections: submitting and polling are small; the app's own pool is apart.
        return PostgresQueue.from_url(url, name=QUEUE_NAME, min_size=1, max_size=4)
    return Queue.from_url(url, name=QUEUE_NAME)


async def prepare(settings: Settings) -> None:
    """Make the queue's own tables now (SAQ makes them on first connect otherwise), so
    ``compliance migrate`` leaves a database every instance can use at once."""
    url = queue_url(settings)
    if url is not None and not settings.redis_url:
        queue = make_queue(url)
        await queue.connect()
        await queue.disconnect()


class Queued:
    """Submit to the queue and wait for the result. Every job this process waits on is
    looked up in one query every RESULT_POLL_S, however many there are: a batch waiting
    on 32 reports costs one connection, not 32."""

    # Whatever the workers can take: the queue holds the rest, in order.
    in_flight = 32

    def __init__(self, queue: Queue) -> None:
        self.queue = queue
        self._waiting: dict[str, asyncio.Future[Job]] = {}
        self._watcher: asyncio.Task[None] | None = None

    async def run(self, name: str, *, key: str | None = None, **kwargs: Any) -> Any:
        job = Job(
            function=name,
            kwargs=_json(kwargs),
            timeout=REPORT_TIMEOUT_S,
            heartbeat=HEARTBEAT_S,
            retries=RETRIES,
            ttl=KEEP_S,
            **({"key": key} if key else {}),
        )
        await self.queue.enqueue(job)  # the same key queued already: we wait for that one
        job = await self._ended(job.key)
        if job.status != Status.COMPLETE:
            # The worker's log and the queue keep the traceback; the caller gets one line.
            last = (job.error or "").strip().splitlines()[-1:] or ["no error recorded"]
            log.warning("job %s %s %s: %s", name, job.key, job.status.value, last[0][:200])
            raise JobFailed(
                f"the job '{name}' {job.status.value} on every try; see the workers' log"
            )
        return job.result

    async def _ended(self, key: str) -> Job:
        """The job once it has ended. A job on a worker that died is swept and run again,
        so this ends when its retries do."""
        ended = self._waiting.get(key)
        if ended is None:
            ended = self._waiting[key] = asyncio.get_running_loop().create_future()
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.create_task(self._watch())
        return await asyncio.shield(ended)

    async def _watch(self) -> None:
        while self._waiting:
            keys = list(self._waiting)
            try:
                found = await self.queue.jobs(keys)
            except Exception as exc:  # the queue briefly unreachable: look again
                log.warning("job queue unreachable: %s", exc.__class__.__name__)
                found = [None] * len(keys)
            for key, job in zip(keys, found, strict=True):
                if job is not None and job.status in TERMINAL_STATUSES:
                    ended = self._waiting.pop(key)
                    if not ended.done():
                        ended.set_result(job)
            await asyncio.sleep(RESULT_POLL_S)
