"""The API documentation's viewer (Swagger UI), served by the app itself.

Its files come from the pinned ``swagger-ui-bundle-v2`` package (byte for byte npm's
swagger-ui-dist of the same version; Apache-2.0, its licence in the package's
metadata), so ``/schema`` works on a network that reaches no CDN, and the docs pages'
content policy allows scripts and styles from this site only (web/common/headers.py).
"""

from __future__ import annotations

from functools import cache

from litestar import Response, get
from litestar.exceptions import NotFoundException
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.params import FromPath
from swagger_ui_bundle import swagger_ui_path

VERSION = "5.31.0"
PREFIX = f"/schema/assets/swagger-ui-{VERSION}"
FILES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui-standalone-preset.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
}


@cache
def _content(name: str) -> bytes:
    return (swagger_ui_path / name).read_bytes()


@get(f"{PREFIX}/{{path:str}}", include_in_schema=False, sync_to_thread=False)
def docs_asset(path: FromPath[str]) -> Response[bytes]:
    """One of the viewer's files; the version in the address lets browsers keep it."""
    if path not in FILES:
        raise NotFoundException("no such file")
    return Response(
        _content(path),
        media_type=FILES[path],
        headers={"Cache-Control": "public, max-age=86400"},
    )


def render_plugin() -> SwaggerRenderPlugin:
    """Swagger UI at /schema (and /schema/swagger), every file from this app; no
    favicon from elsewhere either."""
    return SwaggerRenderPlugin(
        version=VERSION,
        js_url=f"{PREFIX}/swagger-ui-bundle.js",
        css_url=f"{PREFIX}/swagger-ui.css",
        standalone_preset_js_url=f"{PREFIX}/swagger-ui-standalone-preset.js",
        favicon='<link rel="icon" href="data:,">',
        path="/swagger",
    )


ROUTES = [docs_asset]
