"""One verdict in words, the same on the /verify page, in the API and from the CLI:
authentic and current; superseded by R-... on a date; revoked on a date because of a
reason; signed here but changed after signing (an appended incremental update, a byte
flipped inside the signed range, a file cut short); not issued here (a non-PDF, a
signature made with another certificate). No traceback anywhere. The pages are also
screenshotted in Chromium at phone and desktop width under test-artifacts/verdicts/."""

from __future__ import annotations

import asyncio
import logging
import re
from io import BytesIO
from pathlib import Path

import httpx
import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from compliance.core.local_time import spoken
from compliance.reporting import pdf as reporting_pdf
from compliance.reporting import signing, verification
from compliance.tables import Report
from tests.support.browser import ARTIFACTS, CHROMIUM, PHONE
from tests.support.cli import run_cli, settings_env
from tests.support.demo import court_report, report_pdf
from tests.support.staff import csrf_token

pytestmark = pytest.mark.db

ZONE = "America/Chicago"  # the demo program's
SHOTS = ARTIFACTS / "verdicts"
CHANGED = "changed_after_signing"


async def _report(client: httpx.AsyncClient, demo: dict) -> tuple[dict, bytes]:
    report = await court_report(client, demo, narrative=None)
    return report, await report_pdf(client, report)


class Verdicts:
    """Asks all three: the API, the page (as anyone, signed out) and the CLI."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        env: dict[str, str],
        tmp_path: Path,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        self.client = client
        self.env = env
        self.tmp_path = tmp_path
        self.caplog = caplog

    async def page(self, content: bytes, name: str) -> str:
        """The /verify page's answer to an upload by someone with no account."""
        files = {"file": (f"{name}.pdf", content, "application/pdf")}
        anonymous = httpx.AsyncClient(
            transport=self.client._transport, base_url="http://testserver"
        )
        async with anonymous:
            page = await anonymous.post("/verify", files=files)
        assert page.status_code == 200, page.text
        SHOTS.mkdir(parents=True, exist_ok=True)
        (SHOTS / f"{name}.html").write_text(page.text)
        return page.text

    async def all(self, content: bytes, name: str) -> tuple[dict, str, tuple[int, str]]:
        self.caplog.clear()
        files = {"file": (f"{name}.pdf", content, "application/pdf")}
        api = await self.client.post("/api/verify", files=files)
        assert api.status_code == 200, api.text
        page = await self.page(content, name)
        path = self.tmp_path / f"{name}.pdf"
        path.write_bytes(content)
        done = await asyncio.to_thread(run_cli, "verify", str(path), env=self.env)
        output = done.stdout + done.stderr
        assert "Traceback" not in output and "WARNING" not in output, output
        assert done.stdout.splitlines()[0] == api.json()["verdict"], output
        # Nor in the server's log: pyHanko's complaints about the file stay out of it.
        noisy = [r for r in self.caplog.records if r.name.startswith("pyhanko") or r.exc_info]
        assert not noisy, [r.getMessage() for r in noisy]
        return api.json(), page, (done.returncode, done.stdout)


@pytest.fixture
def ask(
    client: httpx.AsyncClient, database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> Verdicts:
    caplog.set_level(logging.DEBUG, logger="pyhanko")
    return Verdicts(client, settings_env(database_url, tmp_path), tmp_path, caplog)


def _shown(page: str, status: str, word: str, verdict: str) -> None:
    """The page says the API's sentence, under a coloured box with an icon and a word."""
    assert f'class="verdict verdict-{status}"' in page
    assert f'<span class="verdict-word">{word}</span>' in page
    assert 'class="verdict-icon"' in page
    heading = re.search(r'<h2 id="verdict-words">(.*?)</h2>', page, re.S)
    assert heading and heading[1] == verdict.replace("'", "&#39;"), page


def _appended_annotation(pdf: bytes) -> bytes:
    """An incremental update after the signature: a note added to the first page, as
    any PDF editor saves it."""
    writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
    page_ref = writer.root["/Pages"]["/Kids"].raw_get(0)
    page = page_ref.get_object()
    note = writer.add_object(
        generic.DictionaryObject(
            {
                generic.NameObject("/Type"): generic.NameObject("/Annot"),
                generic.NameObject("/Subtype"): generic.NameObject("/Text"),
                generic.NameObject("/Rect"): generic.ArrayObject(
                    [generic.NumberObject(n) for n in (40, 40, 60, 60)]
                ),
                generic.NameObject("/Contents"): generic.TextStringObject("Attended all."),
                generic.NameObject("/F"): generic.NumberObject(4),
            }
        )
    )
    annots = page.get("/Annots")
    page[generic.NameObject("/Annots")] = generic.ArrayObject([*(annots or []), note])
    writer.mark_update(page_ref)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


async def test_current_then_superseded_then_revoked_in_words_everywhere(client, demo, ask) -> None:
    first, first_pdf = await _report(client, demo)
    api, page, (code, _) = await ask.all(first_pdf, "current")
    assert api["status"] == "authentic_current" and code == 0
    assert api["verdict"] == "Authentic and current"
    assert api["report_id"] == first["public_id"] and api["kind_label"] == "Court progress report"
    _shown(page, "authentic_current", "Current", api["verdict"])

    second, second_pdf = await _report(client, demo)
    row = await Report.select().where(Report.id == first["id"]).first()
    api, page, (code, stdout) = await ask.all(first_pdf, "superseded")
    superseded = spoken(row["superseded_at"], ZONE)
    assert api["status"] == "authentic_superseded" and code == 3
    assert api["verdict"] == f"Authentic but superseded by {second['public_id']} on {superseded}"
    assert api["superseded_by"] == api["current_report_id"] == second["public_id"]
    assert "UTC" not in api["verdict"] and "UTC" not in stdout
    _shown(page, "authentic_superseded", "Superseded", api["verdict"])
    # The QR code's link answers the same, by id.
    by_id = (await client.get(f"/api/verify/{first['public_id']}")).json()
    assert by_id["verdict"] == api["verdict"]
    assert api["verdict"] in (await client.get(f"/verify/{first['public_id']}")).text

    revoked = await client.post(
        f"/api/reports/{second['id']}/revoke",
        json={"reason": "the wrong reporting period was chosen."},
        headers={"x-csrftoken": await csrf_token(client)},
    )
    assert revoked.status_code == 200, revoked.text
    row = await Report.select().where(Report.id == second["id"]).first()
    api, page, (code, _) = await ask.all(second_pdf, "revoked")
    assert api["status"] == "revoked" and code == 4
    assert api["verdict"] == (
        f"Revoked on {spoken(row['revoked_at'], ZONE)} because the wrong reporting period "
        "was chosen: do not rely on it"
    )
    _shown(page, "revoked", "Revoked", api["verdict"])
    assert "Marcus" not in page and "RB-1001" not in page  # nothing about the client


async def test_an_appended_update_is_changed_after_signing_and_names_the_report(
    client, demo, ask, settings
) -> None:
    report, pdf = await _report(client, demo)
    edited = _appended_annotation(pdf)
    assert edited.startswith(pdf)  # the signed revision is untouched; more was added
    api, page, (code, stdout) = await ask.all(edited, "appended")
    assert api["status"] == CHANGED and code == 6
    assert api["report_id"] == report["public_id"]
    assert api["verdict"] == (
        f"Signed by this service as report {report['public_id']}, but changed after "
        "signing: do not rely on it"
    )
    assert api["change"] == verification.APPENDED
    _shown(page, CHANGED, "Changed", api["verdict"])
    assert verification.APPENDED in page and verification.APPENDED in stdout
    assert "intact, our certificate, covers PART of the file" in stdout


async def test_a_flipped_byte_inside_the_signature_is_changed_after_signing(
    client, demo, ask
) -> None:
    report, pdf = await _report(client, demo)
    evidence = signing.find_signatures(pdf)[0]
    at = evidence.byte_range[1] // 2  # inside the first signed range
    flipped = pdf[:at] + bytes([pdf[at] ^ 0x01]) + pdf[at + 1 :]
    api, page, (code, stdout) = await ask.all(flipped, "flipped-byte")
    assert api["status"] == CHANGED and code == 6
    assert api["report_id"] == report["public_id"]  # its signature is that report's own
    assert api["change"] == verification.ALTERED
    _shown(page, CHANGED, "Changed", api["verdict"])
    assert "BROKEN (the signed bytes were changed), our certificate" in stdout


async def test_a_file_cut_short_is_changed_or_not_ours_once_its_signature_is_gone(
    client, demo, ask
) -> None:
    report, pdf = await _report(client, demo)
    api, page, (code, _) = await ask.all(pdf[:-64], "cut-short")
    assert api["status"] == CHANGED and code == 6
    assert api["report_id"] == report["public_id"]
    assert api["change"] == verification.CUT_SHORT
    _shown(page, CHANGED, "Changed", api["verdict"])
    # Cut before the signature: nothing in it says who made it.
    api, page, (code, _) = await ask.all(pdf[: len(pdf) // 3], "cut-in-half")
    assert api["status"] == "not_ours" and code == 5
    assert api["verdict"] == "Not issued by this service" and api["report_id"] is None
    _shown(page, "not_ours", "Not ours", api["verdict"])


async def test_a_non_pdf_and_another_certificates_pdf_are_not_ours(
    client, demo, ask, tmp_path
) -> None:
    await _report(client, demo)  # the service has signed something
    api, page, (code, stdout) = await ask.all(b"\x89PNG\r\n\x1a\n not a report", "not-a-pdf")
    assert api["status"] == "not_ours" and code == 5
    assert api["verdict"] == "Not issued by this service"
    _shown(page, "not_ours", "Not ours", api["verdict"])
    assert "signature   none found" in stdout
    # A PDF properly signed, but with a certificate that is not ours.
    other_var = tmp_path / "elsewhere"
    p12, passphrase = signing.ensure_development_certificate(other_var)
    other = signing.SigningConfig(str(p12), passphrase, development=True)
    html = (
        '<html lang="en"><body><p>Progress report</p>'
        '<div id="signature" style="width: 92mm; height: 24mm"></div></body></html>'
    )
    unsigned, where = await asyncio.to_thread(reporting_pdf.render_pdf, html)
    forged = await asyncio.to_thread(
        signing.sign_pdf, unsigned, other, where, ["Signed by Someone"], "R", "Elsewhere"
    )
    api, page, (code, stdout) = await ask.all(forged, "other-certificate")
    assert api["status"] == "not_ours" and code == 5
    assert "NOT our certificate" in stdout
    _shown(page, "not_ours", "Not ours", api["verdict"])


@pytest.mark.browser
async def test_verdict_pages_read_on_a_phone_and_a_desktop(client, demo, ask) -> None:
    """Each verdict in Chromium at 390 px and 1280 px: no sideways scrolling, and the
    word beside the icon is on screen (the colour is never the only signal)."""
    from playwright.async_api import async_playwright

    _, pdf = await _report(client, demo)
    pages = {
        "current": await ask.page(pdf, "current"),
        "appended": await ask.page(_appended_annotation(pdf), "appended"),
        "not-ours": await ask.page(b"%PDF-1.7 junk", "not-ours"),
    }
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM)
        try:
            for width, height, label in (
                (PHONE["width"], PHONE["height"], "phone"),
                (1280, 800, "desktop"),
            ):
                view = await browser.new_page(viewport={"width": width, "height": height})
                for name, html in pages.items():
                    await view.set_content(html)
                    word = view.locator(".verdict-word")
                    assert await word.is_visible()
                    box = await word.bounding_box()
                    assert box and box["x"] + box["width"] <= width
                    scroll = await view.evaluate("document.documentElement.scrollWidth")
                    assert scroll <= width, (name, label, scroll)
                    await view.screenshot(path=str(SHOTS / f"{name}-{label}.png"), full_page=True)
                await view.close()
        finally:
            await browser.close()
