"""Worker processes for CPU-bound jobs: judging a large caseload, rendering and signing
PDFs. The event loop hands a job over and awaits it; it never runs one itself.

Workers are spawned (not forked: a fork would copy the server's event loop, open
connections and threads), bind their own database engine once, stay warm between jobs
and are replaced after ``jobs_per_worker`` jobs so a slow leak (WeasyPrint's caches,
fragmentation) cannot grow without bound. A worker exits by itself when the server
dies without closing the pool. A job that overruns its timeout takes its
worker down with it: the pool is torn down and rebuilt, and the caller gets
``JobTimedOut``.
"""

from __future__ import annotations

import asyncio
import atexit
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from compliance.core.settings import worker_niceness

T = TypeVar("T")

DEFAULT_JOBS_PER_WORKER = 200


class JobTimedOut(Exception):
    """A worker job ran past its timeout and was killed."""


class WorkersFailed(Exception):
    """A worker process died (killed, out of memory) while running a job."""


PARENT_CHECK_S = 0.5


def _exit_with_parent(parent: int) -> None:
    """The worker's watchdog: when the server dies (kill -9, the OOM killer) nobody
    shuts the pool down, and a spawned worker would live on, holding the database and
    the multiprocessing resource tracker (which exits once no process holds its pipe).
    The parent is gone when this process is handed to another (``getppid`` changes).
    ``parent`` is the server's pid as the server knew it, not this worker's first
    ``getppid()``: a worker still starting when the server died would have read its
    new parent there and watched it forever.

    Not ``prctl(PR_SET_PDEATHSIG)``: Linux sends that signal when the *thread* that
    started the worker ends, and workers are started by whichever thread submits first
    or by the executor's manager thread, so healthy workers would be killed with it."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_S)
    os._exit(1)


def _start_worker(
    server: int, database_url: str | None, warm: tuple[str, ...], niceness: int
) -> None:
    """Runs once in each new worker: step back in the CPU queue, watch the server, bind
    the database, import what jobs need."""
    import importlib

    # Rendering is work in the background: someone waiting on a page comes first. An
    # idle machine runs it as fast (niceness only weighs under contention; at 10 a
    # worker weighs about a tenth of the server process in Linux's scheduler).
    os.nice(max(0, niceness - os.nice(0)))  # at least this nice (a batch is already)

    threading.Thread(
        target=_exit_with_parent, args=(server,), name="parent-watchdog", daemon=True
    ).start()

    if database_url:
        from compliance.core import db
        from compliance.core.settings import parse_database_url

        db.bind(db.create_engine(parse_database_url(database_url), must_exist=True))
    for name in warm:
        warm_up = getattr(importlib.import_module(name), "warm_up", None)
        if warm_up is not None:  # a module's one-off costs, paid before the first job
            warm_up()


def _ping() -> int:
    return os.getpid()


def _on_alarm(_signum: int, _frame: Any) -> None:
    raise JobTimedOut("time limit")


def _limited(fn: Callable[..., T], args: tuple[Any, ...], seconds: float) -> T:
    """Runs in the worker: the job's own clock starts when the job does (time spent
    queued for a busy worker does not count), and the worker survives an overrun."""
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn(*args)
    except JobTimedOut:
        raise JobTimedOut(f"{fn.__name__} ran past {seconds:g} s") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Pool:
    """A pool of spawned worker processes sharing one database URL."""

    def __init__(
        self,
        database_url: str | None,
        size: int | None = None,
        jobs_per_worker: int = DEFAULT_JOBS_PER_WORKER,
        warm_modules: tuple[str, ...] = (),
        niceness: int = 0,
    ) -> None:
        self.database_url = database_url
        self.size = size or os.cpu_count() or 1
        self.jobs_per_worker = jobs_per_worker
        self.warm_modules = warm_modules
        self.niceness = niceness
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    max_workers=self.size,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_worker,
                    initargs=(os.getpid(), self.database_url, self.warm_modules, self.niceness),
                    max_tasks_per_child=self.jobs_per_worker,
                )
            return self._executor

    def warm(self) -> None:
        """Start every worker now rather than on the first jobs (blocks until they run)."""
        pool = self._pool()
        for future in [pool.submit(_ping) for _ in range(self.size)]:
            future.result()

    async def run(
        self,
        fn: Callable[..., T],
        *args: Any,
        time_limit: float,
        hard_limit: float | None = None,
    ) -> T:
        """``fn`` must be a module-level function; its arguments and result are pickled.

        ``time_limit`` is enforced inside the worker from the moment the job starts.
        ``hard_limit`` (default: twice that plus a minute for queueing) is the parent's
        last resort for a job stuck where no signal reaches it: the pool is killed."""
        executor = self._pool()
        future = executor.submit(_limited, fn, args, time_limit)
        try:
            return await asyncio.wait_for(
                asyncio.wrap_future(future), hard_limit or time_limit * 2 + 60
            )
        except TimeoutError:
            await asyncio.to_thread(self._kill, executor)
            raise JobTimedOut(f"{fn.__name__} ran past {time_limit:g} s") from None
        except BrokenProcessPool:
            await asyncio.to_thread(self._kill, executor)
            raise WorkersFailed(f"a worker died while running {fn.__name__}") from None

    def _kill(self, executor: ProcessPoolExecutor) -> None:
        """Tear ``executor`` down, killing its processes (a running job cannot be cancelled
        any other way); the next job starts a new pool. A pool already replaced is left
        alone, so one failure never takes down its successor."""
        with self._lock:
            if self._executor is not executor:
                return
            self._executor = None
        processes = list(getattr(executor, "_processes", {}).values())
        for process in processes:
            process.kill()
        for process in processes:
            process.join(timeout=5)  # reaped, not left as zombies
        executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


# What every shared worker imports before its first job: rendering is the slow start.
SHARED_WARM_MODULES = ("weasyprint", "compliance.reporting.pdf")
_shared: dict[str | None, Pool] = {}
_shared_lock = threading.Lock()


def shared(database_url: str | None) -> Pool:
    """The process-wide pool for this database; ``None`` for jobs that need none
    (rendering and signing), whose pool lives as long as the process. Only that one
    runs at WORKER_NICENESS: a caseload's judging is a page someone waits on (and its
    own process feeds the workers; niced, they lost a third of their speed to it)."""
    with _shared_lock:
        if database_url not in _shared:
            _shared[database_url] = Pool(
                database_url,
                warm_modules=SHARED_WARM_MODULES,
                niceness=worker_niceness(os.environ) if database_url is None else 0,
            )
        return _shared[database_url]


def close_shared(everything: bool = False) -> None:
    """Close the pools bound to a database (the app's lifespan ends); ``everything``
    closes the rendering pool too."""
    with _shared_lock:
        keys = [k for k in _shared if everything or k is not None]
        pools = [_shared.pop(k) for k in keys]
    for pool in pools:
        pool.close()


atexit.register(close_shared, True)
