"""The baseline the health figures are compared with: a bare Litestar app answering a
constant JSON body, served the same way, so the ratio shows what our stack adds."""

from litestar import Litestar, get


@get("/health", sync_to_thread=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


app = Litestar(route_handlers=[health], openapi_config=None)
