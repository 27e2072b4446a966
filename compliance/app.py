"""``create_app()``: wiring only — settings, database, sessions, CSRF, routes, templates."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from functools import partial
from zoneinfo import ZoneInfo

from litestar import Litestar
from litestar.config.csrf import CSRFConfig
from litestar.di import Provide
from litestar.exceptions import NotAuthorizedException
from litestar.logging.config import LoggingConfig
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig

from compliance import PROJECT_ROOT, __version__, audit
from compliance.core import db, redact, workers
from compliance.core.local_time import spoken
from compliance.core.settings import Settings, load_settings
from compliance.core.shared_state import SharedState
from compliance.core.vocabulary import REPORT_TITLES, WEEK_STATUS_WORDS
from compliance.engine.rules import hm
from compliance.jobs import serving
from compliance.reporting import store
from compliance.staff import accounts
from compliance.web.common import errors, nesting, openapi_types, principal
from compliance.web.common.csrf import SessionCSRFMiddleware
from compliance.web.common.headers import security_headers
from compliance.web.common.sign_in_sessions import SESSION_COOKIE, session_config
from compliance.web.routes import ROUTES
from compliance.web.site import docs_assets

TEMPLATES_DIR = PROJECT_ROOT / "templates"


def record_link(ref: str) -> str:
    """ "drug_test:12" (an engine reason's reference) -> that record's page."""
    kind, _, row_id = ref.partition(":")
    pages = {
        "attendance": "/attendance/",
        "drug_test": "/drug-tests/",
        "missed_check_in": "/missed-check-ins/",
    }
    return pages.get(kind, "#") + row_id


def words(code: str) -> str:
    """A stored code as words: "drug_tests" reads "drug tests"."""
    return str(code).replace("_", " ")


def in_zone(moment: datetime, zone: str) -> datetime:
    """Staff read times in the program's zone: a Monday 18:00 group is not Tuesday 00:00."""
    return moment.astimezone(ZoneInfo(zone))


def _template_filters(engine: JinjaTemplateEngine, base_url: str = "") -> None:
    # Templates ship with the code: no file-time check on every render (restart to reload).
    engine.engine.auto_reload = False
    # The service's public address, for addresses staff give out (the call-in page).
    engine.engine.globals["base_url"] = base_url
    engine.engine.filters["record_link"] = record_link
    engine.engine.filters["local"] = in_zone
    engine.engine.filters["when"] = spoken
    engine.engine.filters["words"] = words
    engine.engine.filters["hm"] = hm
    engine.engine.filters["week_status"] = lambda status: WEEK_STATUS_WORDS.get(status, status)
    engine.engine.filters["report_title"] = lambda kind: REPORT_TITLES.get(kind, kind)


# Imports and documents: a 50,000-row CSV is about 6 MB; anything past this is a 413.
MAX_UPLOAD_BYTES = 32 * 1024 * 1024


def csrf_middleware(secret: str, https: bool) -> DefineMiddleware:
    """CSRF tokens bound to the staff session (web/common/csrf.py), in Litestar's own
    CSRFConfig: cookie ``csrftoken``, header ``X-CSRFToken``, form field ``_csrf_token``."""
    config = CSRFConfig(
        secret=secret, cookie_secure=https, cookie_httponly=True, cookie_samesite="lax"
    )
    return DefineMiddleware(SessionCSRFMiddleware, config=config, session_cookie=SESSION_COOKIE)


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or load_settings()
    engine = db.create_engine(settings.database, must_exist=True)
    db.bind(engine)
    audit.configure(settings)  # the chain's key and its head outside the database
    https = settings.base_url.startswith("https://")
    sessions = session_config(secure=https)
    shared = SharedState(settings)  # sessions and rate limits: Redis when REDIS_URL is set

    @asynccontextmanager
    async def database_lifespan(app: Litestar) -> AsyncIterator[None]:
        await asyncio.to_thread(db.prepare_sqlite, settings.database)
        await asyncio.to_thread(store.of(settings).sweep)  # a crash's temporaries
        # Before the first sign-in, so an unknown e-mail never takes longer than a known one.
        await asyncio.to_thread(accounts.dummy_hash)
        await db.open_pool(engine, settings.database_pool_size)
        # Start-up's objects (modules, routes, settings) live as long as the process:
        # frozen, a full collection no longer walks them. Under load those collections
        # paused every request for 74-154 ms (the staff pages' p99); now about 2 ms.
        gc.collect()
        gc.freeze()
        try:
            async with serving.running(
                settings, take_jobs=settings.worker_in_app, periodic=settings.background_jobs
            ):
                yield
        finally:
            await shared.close()
            await asyncio.to_thread(workers.close_shared)
            await db.close_pool(engine)
            gc.unfreeze()  # collectable again (a test process starts many apps)

    app = Litestar(
        route_handlers=ROUTES,
        lifespan=[database_lifespan],
        dependencies={
            "principal": Provide(principal.provide_principal),
            "maybe_principal": Provide(principal.provide_optional_principal),
            # The Settings this app was built with: a constant, so sync (no thread) and cached.
            "settings": Provide(lambda: settings, use_cache=True, sync_to_thread=False),
        },
        guards=[errors.sane_ids],
        before_request=nesting.refuse_deep_json,  # before any body is parsed
        # CSRF first, so it sees the session cookie the session middleware sets.
        middleware=[csrf_middleware(settings.secret_key, https), sessions.middleware],
        # Every response, errors included; the second: OPTIONS lists all of a path's methods.
        before_send=[security_headers(https), openapi_types.allow_every_method()],
        # The schema's truths Litestar 2 misses: see compliance/web/common/openapi_types.py.
        plugins=[openapi_types.DecimalStrings()],
        stores={"sessions": shared.session_store()},
        request_max_body_size=MAX_UPLOAD_BYTES,
        # A 500 must leave a traceback in the log (Litestar logs them only in debug mode).
        logging_config=LoggingConfig(
            log_exceptions="always", disable_stack_trace=errors.client_mistakes()
        ),
        exception_handlers={
            NotAuthorizedException: principal.unauthenticated_handler,
            **errors.HANDLERS,
        },
        template_config=TemplateConfig(
            directory=TEMPLATES_DIR,
            engine=JinjaTemplateEngine,
            engine_callback=partial(_template_filters, base_url=settings.base_url),
        ),
        openapi_config=OpenAPIConfig(
            title="compliance",
            version=__version__,
            description="Court and EAP compliance reporting for Intensive Outpatient Programs.",
            path="/schema",
            render_plugins=[docs_assets.render_plugin()],  # served by the app: no CDN
        ),
    )
    redact.install()
    app.state.settings = settings
    app.state.engine = engine
    app.state.shared = shared
    return app
