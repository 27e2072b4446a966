"""Staff page timings (issue 15): "page timings stay under 200 ms for a 40-client
caseload". A real `compliance run` server on SQLite with the 40-client program the
caseload's browser test uses (tests/caseload_seed.py: the demo and 37 more clients, laid
out to today); a clinician signed in through the sign-in form; then each page fetched as
a browser fetches it (GET, Accept text/html, the session cookie), first once to warm it
and then REQUESTS times one after another: the caseload, the court client's participant
page, the sessions list and the roster form of the latest group session. Median and p95
of the wall time from request to the last byte. Quick mode: 10 requests a page."""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.figures import Figure, sized
from bench.server import free_port, start, stop

BIN = Path(sys.executable).parent
REQUESTS = sized(50, 10)
EMAIL = "bench.pages@example.org"
PASSWORD = "bench-password-1234"
BROWSER = {"accept": "text/html,application/xhtml+xml", "user-agent": "bench/pages"}


async def _prepare(env: dict[str, str]) -> dict[str, str]:
    """The 40-client program and a clinician; returns each measured page's path."""
    from compliance import accounts, audit, db
    from compliance.settings import load_settings
    from compliance.tables import Participant, TreatmentSession
    from compliance.vocabulary import Role
    from tests.caseload_seed import forty_clients

    settings = load_settings(env)
    db.bind(db.create_engine(settings.database))
    audit.configure(settings)
    program = await forty_clients()
    await accounts.create_staff_user(
        email=EMAIL,
        full_name="Bench Clinician",
        password=PASSWORD,
        role=Role.clinician,
        program_ids=[program],
    )
    person = await Participant.select().where(Participant.client_id == "RB-1001").first()
    group = (
        await TreatmentSession.select(TreatmentSession.id)
        .where(TreatmentSession.session_type == "group")
        .order_by(TreatmentSession.starts_at, ascending=False)
        .first()
    )
    return {
        "caseload": "/caseload",
        "participant": f"/participants/{person['id']}",
        "sessions": "/sessions",
        "roster": f"/sessions/{group['id']}",
    }


def _sign_in(http: httpx.Client) -> None:
    http.get("/login").raise_for_status()
    form = {"email": EMAIL, "password": PASSWORD, "_csrf_token": http.cookies["csrftoken"]}
    answer = http.post("/login", data=form)
    if answer.status_code != 303 or answer.headers["location"] != "/caseload":
        raise SystemExit(f"sign-in answered {answer.status_code}: {answer.text[:200]}")


def _times(http: httpx.Client, path: str) -> list[float]:
    """Seconds per request, after one warm-up request."""
    out = []
    for n in range(REQUESTS + 1):
        t = time.perf_counter()
        answer = http.get(path, headers=BROWSER)
        took = time.perf_counter() - t
        if answer.status_code != 200 or "text/html" not in answer.headers["content-type"]:
            raise SystemExit(f"{path} answered {answer.status_code}: {answer.text[:200]}")
        if n:
            out.append(took)
    return sorted(out)


def _p95(seconds: list[float]) -> float:
    return seconds[max(0, -(-len(seconds) * 95 // 100) - 1)]


LABELS = {
    "caseload": "caseload (40 clients)",
    "participant": "participant page (court client, 12 weeks)",
    "sessions": "sessions list",
    "roster": "roster form (the latest group session)",
}


def measure() -> list[Figure]:
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{tmp}/pages.sqlite3",
            "VAR_DIR": f"{tmp}/var",
            "REPORTS_DIR": f"{tmp}/reports",
            "BACKGROUND_JOBS": "0",
        }
        subprocess.run(
            [str(BIN / "compliance"), "migrate"], env=env, check=True, stdout=subprocess.DEVNULL
        )
        paths = asyncio.run(_prepare(env))
        port = free_port()
        server, _ = start([str(BIN / "compliance"), "run", "--port", str(port)], env, port)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
                _sign_in(http)
                times = {name: _times(http, path) for name, path in paths.items()}
        finally:
            stop(server)
    figures = []
    for name, seconds in times.items():
        label = LABELS[name]
        median, p95 = statistics.median(seconds) * 1000, _p95(seconds) * 1000
        figures.append(
            Figure(
                f"pages.{name}.median_ms",
                f"{label}: median of {REQUESTS} (ms)",
                median,
                "ms",
                name=f"staff page, warm, {label}: median",
            )
        )
        figures.append(
            Figure(
                f"pages.{name}.p95_ms",
                "  p95 (ms)",
                p95,
                "ms",
                name=f"staff page, warm, {label}: p95",
            )
        )
    return figures


if __name__ == "__main__":
    for figure in measure():
        print(f"{figure.label:<66} {figure.value or 0.0:>8.1f}")
