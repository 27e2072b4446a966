"""The job queue in the browser, for administrators: litestar-saq's view of SAQ's queue
(jobs waiting, running, failed; each job's tries and error; retry and abort) at
``/admin/queue``, beside ``compliance jobs`` on the command line.

The view is litestar-saq's own controller and SAQ's own static page; this module only
puts our rules around them:

- administrators of every program only (staff/admin.administers_installation): the
  queue is the installation's, and its jobs name participants of any program;
- the inline script the page starts from is allowed by its hash, not by
  ``'unsafe-inline'`` (web/common/headers.py);
- SAQ's page sends retry and abort as ``fetch`` with ``Content-Type: application/json``
  and no CSRF token. Those routes are left out of the token check and instead refuse any
  other content type: a JSON request cannot be sent from another site without a CORS
  preflight, which this app never answers, and the session cookie is SameSite=Lax.
- a retry or an abort asked for is recorded in the audit trail, with who asked;
- Its address is ``/admin/queue/``, with the slash: SAQ's page routes on it.
- With SQLite and no REDIS_URL there is no queue (jobs run inside the app): the view
  answers 404 saying so.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.di import Provide
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.handlers import BaseRouteHandler
from litestar.static_files import create_static_files_router
from litestar_saq.base import Job
from litestar_saq.config import TaskQueues, _get_static_files
from litestar_saq.controllers import build_controller
from saq.queue.base import Queue
from saq.types import QueueInfo

from compliance import audit
from compliance.jobs import dispatch, queued
from compliance.staff import admin
from compliance.staff.accounts import Principal
from compliance.web.common.headers import QUEUE_PREFIX
from compliance.web.common.principal import origin_of, provide_principal

PATH = QUEUE_PREFIX  # its page's inline script is allowed by hash for this path only
QUEUE_NAME = "compliance"


async def administrators_only(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    principal = await provide_principal(connection)  # type: ignore[arg-type]
    if not await admin.administers_installation(principal):
        raise PermissionDeniedException("administrators of every program only")
    if connection.scope["method"] == "POST":
        kind = connection.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            raise PermissionDeniedException("retry and abort take a JSON request")
        await _record_ask(connection, principal)


async def _record_ask(connection: ASGIConnection, principal: Principal) -> None:
    """Who asked to retry or abort which job, in the audit trail: the ask, before SAQ
    acts on it (the job's own record says what became of it), and only for a job that
    exists (an unknown one is SAQ's 404)."""
    current = dispatch.current_or_none()
    queue_id = str(connection.path_params.get("queue_id", ""))
    job_id = str(connection.path_params.get("job_id", ""))
    if not isinstance(current, queued.Queued) or queue_id != QUEUE_NAME:
        return
    if await current.queue.job(job_id) is None:
        return
    action = connection.url.path.rstrip("/").rsplit("/", 1)[-1]
    await audit.record(
        f"queue.{action}",
        principal.actor(origin_of(connection)),
        "job",
        job_id,
        {"queue": queue_id},
    )


async def offered_to(principal: Principal) -> bool:
    """Whether the administration page links here: a queue exists and this is theirs."""
    return isinstance(
        dispatch.current_or_none(), queued.Queued
    ) and await admin.administers_installation(principal)


async def provide_task_queues() -> TaskQueues:
    current = dispatch.current_or_none()
    if not isinstance(current, queued.Queued):
        raise NotFoundException(
            "no job queue: with SQLite and no REDIS_URL the app runs its jobs itself"
        )
    return TaskQueues(queues={QUEUE_NAME: current.queue})


_Controller = build_controller(PATH, [administrators_only], include_in_schema_=False)


class QueueView(_Controller):  # type: ignore[misc, valid-type]
    opt = {"exclude_from_csrf": True}  # see the module docstring
    dependencies = {"task_queues": Provide(provide_task_queues)}
    # The controller's annotations are strings naming these (what SAQPlugin would add).
    signature_namespace = {
        "TaskQueues": TaskQueues,
        "Queue": Queue,
        "QueueInfo": QueueInfo,
        "Job": Job,
    }


ROUTES: list[Any] = [
    create_static_files_router(
        directories=[_get_static_files()],
        path=f"{PATH}/static",
        name="saq",
        guards=[administrators_only],
        include_in_schema=False,
    ),
    QueueView,
]
