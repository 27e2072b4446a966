"""Security headers on every response, error responses included.

Pages load nothing from elsewhere and refuse to be framed; so do the API docs pages,
whose viewer the app serves itself (they only add the inline script that starts it).
Nothing is cached: pages and API answers carry clients' health information, which must
never sit in a browser's or a proxy's cache, and nothing here gains from caching.

This is a ``before_send`` hook rather than a middleware: route middleware never sees
the answers Litestar makes outside a route (404 and 405 from the router, a refused CSRF
token), and those must carry the headers too.
"""

from __future__ import annotations

import base64
import hashlib

from litestar.datastructures import MutableScopeHeaders
from litestar.types import BeforeMessageSendHookHandler, Message, Scope

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; "
    "object-src 'none'"
)
# The API docs (Swagger UI, served by the app: web/site/docs_assets.py) start from one inline
# script holding the schema and set inline styles; everything else comes from here too.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; "
    "object-src 'none'"
)
# SAQ's queue view for administrators (web/admin/queue_view.py) starts from one inline
# script (litestar_saq/controllers.py writes it from the view's path), allowed by its hash.
QUEUE_PREFIX = "/admin/queue"
QUEUE_SCRIPT = f'const root_path = "{QUEUE_PREFIX}";'
_QUEUE_SCRIPT_HASH = base64.b64encode(hashlib.sha256(QUEUE_SCRIPT.encode()).digest()).decode()
QUEUE_CSP = CSP.replace("script-src 'self'", f"script-src 'self' 'sha256-{_QUEUE_SCRIPT_HASH}'")
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
HSTS = "max-age=31536000"  # a year; served only when BASE_URL is https://
DOCS_PREFIX = "/schema"


def _under(prefix: str, path: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def _policy(path: str) -> str:
    if _under(DOCS_PREFIX, path):
        return DOCS_CSP
    return QUEUE_CSP if _under(QUEUE_PREFIX, path) else CSP


def security_headers(https: bool) -> BeforeMessageSendHookHandler:
    """The hook for ``Litestar(before_send=...)``. A header a handler set itself (the
    officer link pages' stricter policy, a download's own Cache-Control) is kept."""
    defaults = {**HEADERS, **({"Strict-Transport-Security": HSTS} if https else {})}

    async def add_headers(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        headers = MutableScopeHeaders.from_message(message)
        for name, value in {**defaults, "Content-Security-Policy": _policy(scope["path"])}.items():
            if name not in headers:
                headers[name] = value

    return add_headers
