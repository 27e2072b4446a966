"""``GET /health``: is the service up and can it reach its database?"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from litestar import Response, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

from compliance import __version__
from compliance.core import db
from compliance.core.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class HealthStatus:
    status: str  # "ok" or "unavailable"
    database: str  # "ok" or "unreachable"
    engine: str  # "sqlite" or "postgres"
    version: str


@get(
    "/health",
    tags=["system"],
    operation_id="health",
    summary="Service and database health",
    responses={
        503: ResponseSpec(data_container=HealthStatus, description="The database is unreachable")
    },
)
async def health_check(state: State, settings: NamedDependency[Settings]) -> Response[HealthStatus]:
    """200 when the database answers and holds our schema, 503 otherwise.

    The reason stays in the server log; the public answer says only "unreachable".
    """
    engine_name = settings.database.engine
    try:
        await db.ping(state.engine)
    except db.DatabaseUnavailable as exc:
        log.warning("health check failed: %s", exc)
        body = HealthStatus("unavailable", "unreachable", engine_name, __version__)
        return Response(body, status_code=HTTP_503_SERVICE_UNAVAILABLE)
    return Response(HealthStatus("ok", "ok", engine_name, __version__), status_code=HTTP_200_OK)
