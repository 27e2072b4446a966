"""Staff pages under load (issue 18, point 3): "caseload of 40 and of 200 clients, a
participant page with 26 weeks of history, the sessions page, the roster form: p50 <= 50
ms and p99 <= 150 ms with 8 concurrent staff".

A real `compliance run` server on SQLite, seeded as tests/caseload_seed.py lays out the
caseload's browser test (to today): the 40-client program, whose court client (RB-1001)
is given 26 weeks of history (admitted 26 weeks before this week's Monday, attendance and
tests every week); then, in a second database, the same layout at 200 clients. Eight
clinicians of the program sign in through the sign-in form, each with its own cookie
jar, and fetch pages as a browser does (GET, Accept text/html).

Per page: every clinician fetches it once (warm-up); one clinician alone fetches it
ALONE times in a row (the baseline of the same run, issue 15's single-user figure);
then all eight fetch it in a closed loop for SECONDS (each sends its next request when
the last answer's last byte arrived, like bench/links.py). p50 and p99 are over every
request of the loop, requests/s is their count over SECONDS. The participant page is
asked for the whole 26 weeks (``?start=`` the admission day), the heaviest view of it.
Quick mode: 1.5 s of load and 5 requests alone.
"""

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
STAFF = 8
SECONDS = sized(5.0, 1.5)
ALONE = sized(20, 5)
REQUESTS = ALONE  # bench/__main__.py names the single-clinician count in its header
PASSWORD = "bench-password-1234"
BROWSER = {"accept": "text/html,application/xhtml+xml", "user-agent": "bench/pages"}
HISTORY_WEEKS = 26

LABELS = {
    "caseload40": "caseload (40 clients)",
    "caseload200": "caseload (200 clients)",
    "participant": f"participant page ({HISTORY_WEEKS} weeks shown)",
    "sessions": "sessions list",
    "roster": "roster form (the latest group session)",
}


def _email(n: int) -> str:
    return f"bench.pages{n}@example.org"


async def _prepare(env: dict[str, str], size: int) -> dict[str, str]:
    """A program of ``size`` clients and STAFF clinicians; returns the pages to measure
    on it: all of them on the 40-client program, the caseload alone on a larger one."""
    from compliance import audit
    from compliance.core import db
    from compliance.core.settings import load_settings
    from compliance.core.vocabulary import Role
    from compliance.staff import accounts
    from compliance.tables import Participant, TreatmentSession
    from tests.support.caseload_seed import caseload_of, extend_history

    settings = load_settings(env)
    db.bind(db.create_engine(settings.database))
    audit.configure(settings)
    program = await caseload_of(size)
    for n in range(STAFF):
        await accounts.create_staff_user(
            email=_email(n),
            full_name=f"Bench Clinician {n}",
            password=PASSWORD,
            role=Role.clinician,
            program_ids=[program],
        )
    if size != 40:
        return {f"caseload{size}": "/caseload"}
    person = await extend_history("RB-1001", HISTORY_WEEKS)
    group = (
        await TreatmentSession.select(TreatmentSession.id)
        .where(TreatmentSession.session_type == "group")
        .order_by(TreatmentSession.starts_at, ascending=False)
        .first()
    )
    admitted = (
        await Participant.select(Participant.admitted_on).where(Participant.id == person).first()
    )["admitted_on"]
    return {
        "caseload40": "/caseload",
        "participant": f"/participants/{person}?start={admitted.isoformat()}",
        "sessions": "/sessions",
        "roster": f"/sessions/{group['id']}",
    }


async def _sign_in(http: httpx.AsyncClient, email: str) -> None:
    (await http.get("/login")).raise_for_status()
    form = {"email": email, "password": PASSWORD, "_csrf_token": http.cookies["csrftoken"]}
    answer = await http.post("/login", data=form)
    if answer.status_code != 303 or answer.headers["location"] != "/caseload":
        raise SystemExit(f"sign-in answered {answer.status_code}: {answer.text[:200]}")


async def _get(http: httpx.AsyncClient, path: str) -> float:
    """Seconds from the request to the answer's last byte; anything but an HTML 200
    stops the run."""
    t = time.perf_counter()
    answer = await http.get(path, headers=BROWSER)
    took = time.perf_counter() - t
    if answer.status_code != 200 or "text/html" not in answer.headers["content-type"]:
        raise SystemExit(f"{path} answered {answer.status_code}: {answer.text[:200]}")
    return took


async def _page(staff: list[httpx.AsyncClient], path: str) -> tuple[list[float], list[float]]:
    """(seconds of each request alone, seconds of each request under load)."""
    await asyncio.gather(*(_get(http, path) for http in staff))
    alone = [await _get(staff[0], path) for _ in range(ALONE)]
    loaded: list[float] = []
    deadline = time.perf_counter() + SECONDS

    async def clinician(http: httpx.AsyncClient) -> None:
        while time.perf_counter() < deadline:
            loaded.append(await _get(http, path))

    await asyncio.gather(*(clinician(http) for http in staff))
    return alone, loaded


async def _measure_pages(port: int, paths: dict[str, str]) -> dict[str, tuple[list, list]]:
    base = f"http://127.0.0.1:{port}"
    staff = [httpx.AsyncClient(base_url=base, timeout=60) for _ in range(STAFF)]
    try:
        for n, http in enumerate(staff):
            await _sign_in(http, _email(n))
        return {name: await _page(staff, path) for name, path in paths.items()}
    finally:
        for http in staff:
            await http.aclose()


def _run(tmp: str, size: int) -> dict[str, tuple[list, list]]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp}/pages{size}.sqlite3",
        "VAR_DIR": f"{tmp}/var{size}",
        "REPORTS_DIR": f"{tmp}/reports{size}",
        "BACKGROUND_JOBS": "0",
    }
    subprocess.run(
        [str(BIN / "compliance"), "migrate"], env=env, check=True, stdout=subprocess.DEVNULL
    )
    paths = asyncio.run(_prepare(env, size))
    port = free_port()
    server, _ = start([str(BIN / "compliance"), "run", "--port", str(port)], env, port)
    try:
        return asyncio.run(_measure_pages(port, paths))
    finally:
        stop(server)


def _p99(seconds: list[float]) -> float:
    ordered = sorted(seconds)
    return ordered[max(0, -(-len(ordered) * 99 // 100) - 1)]


def measure() -> list[Figure]:
    with tempfile.TemporaryDirectory() as tmp:
        times = _run(tmp, 40) | _run(tmp, 200)
    figures = []
    for name in LABELS:
        alone, loaded = times[name]
        label = LABELS[name]
        who = f"{STAFF} staff"
        alone_ms = statistics.median(alone) * 1000
        p50, p99 = statistics.median(loaded) * 1000, _p99(loaded) * 1000
        figures += [
            Figure(
                f"pages.{name}.alone_ms",
                f"{label}: alone, median of {ALONE} (ms)",
                alone_ms,
                "ms",
            ),
            Figure(
                f"pages.{name}.p50_ms",
                f"  {who} for {SECONDS:g} s: p50 (ms)",
                p50,
                "ms",
                note=f"({p50 / alone_ms:.2f}x alone)",
                name=f"staff page, {who}, {label}: p50",
                compare=((f"pages.{name}.alone_ms", "one clinician alone"),),
            ),
            Figure(
                f"pages.{name}.p99_ms",
                "  p99 (ms)",
                p99,
                "ms",
                name=f"staff page, {who}, {label}: p99",
            ),
            Figure(
                f"pages.{name}.rps",
                "  requests/s",
                len(loaded) / SECONDS,
                "/s",
                name=f"staff page, {who}, {label}: requests/s",
            ),
        ]
    return figures


if __name__ == "__main__":
    for figure in measure():
        print(f"{figure.label:<66} {figure.value or 0.0:>8.1f}  {figure.note}")
