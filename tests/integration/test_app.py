"""The app's public surface: OpenAPI schema and docs, landing page, PDF toolchain."""

import io

import httpx
from pypdf import PdfReader


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
