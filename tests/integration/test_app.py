"""The app as a whole: its public surface (OpenAPI schema and docs, landing page, PDF
toolchain) and what it logs when a request fails."""

import io
import logging

import httpx
from litestar import get
from pypdf import PdfReader

from tests.support.app import app_client
from tests.support.logs import LogRecords
from tests.support.staff import make_world, sign_in


async def test_openapi_schema_documents_health(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    assert schema["info"]["title"] == "compliance"
    health = schema["paths"]["/health"]["get"]
    assert health["operationId"] == "health"
    assert {"200", "503"} <= set(health["responses"])
    docs = await client.get("/schema")
    assert docs.status_code == 200 and "text/html" in docs.headers["content-type"]


async def test_landing_page_renders(client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    assert page.status_code == 200
    assert "Compliance reporting" in page.text and 'href="/schema"' in page.text


def test_weasyprint_renders_a_pdf_with_text() -> None:
    """The Debian packages `make` installs (Pango) are enough for WeasyPrint."""
    from weasyprint import HTML

    pdf = HTML(string="<h1>Progress report</h1><p>Case 2026-CF-001432</p>").write_pdf()
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "Progress report" in text and "2026-CF-001432" in text


@get("/test-only/crash", sync_to_thread=False)
def _crash() -> None:
    raise RuntimeError("a real bug")


async def test_client_mistakes_log_no_traceback_and_a_crash_does(settings) -> None:
    """A wrong id or form is answered and left to the access log; only a real failure
    is logged as an uncaught exception with its traceback. Before, every 404 and 422
    logged one, burying the 500s (and echoing the input into the log)."""
    seen = LogRecords()
    async with app_client(settings, extra_routes=(_crash,)) as client:
        logging.getLogger("litestar").addHandler(seen)  # beside Litestar's own queue
        try:
            w = await make_world()
            await sign_in(client, w.clinician_a)
            seen.records.clear()
            missing = await client.get("/api/participants/999999")
            shapeless = await client.post("/api/participants", json={"program_id": w.program_a})
            blank = await client.post(
                "/api/participants",
                json={
                    "program_id": w.program_a,
                    "client_id": "C-1",
                    "first_name": " ",
                    "last_name": "Doe",
                    "admitted_on": "2026-01-05",
                },
            )
            assert [r.status_code for r in (missing, shapeless, blank)] == [404, 400, 422]
            assert not [r for r in seen.records if r.levelno >= logging.ERROR], seen.text()
            crash = await client.get("/test-only/crash")
            assert crash.status_code == 500
            assert "Traceback" in seen.text() and "a real bug" in seen.text()
        finally:
            logging.getLogger("litestar").removeHandler(seen)
