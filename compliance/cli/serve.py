"""The app ``compliance run`` (and ``routes``, ``schema``, ``info``) works on, made once
per process.

Litestar's ``run`` loads the app to read it, then gives uvicorn an import path to load
again: with ``compliance.app:create_app`` as that path every server start built the app
twice (0.2-0.4 s of CPU, and two engines bound one after the other). Both loads now
call this factory and get the same app. A ``--wc``/``--reload`` child process imports
this module afresh and builds its own, once.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from litestar import Litestar

APP_PATH = "compliance.cli.serve:app"


@cache
def app() -> Litestar:
    from compliance.app import create_app

    return create_app()
