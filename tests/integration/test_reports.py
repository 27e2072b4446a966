"""Signed reports through the real stack: consent gate, WeasyPrint in worker processes,
pyHanko certification, the store, and public verification, read back from the PDF."""

from __future__ import annotations

import asyncio
import re
import subprocess
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from pypdf import PdfReader

from compliance.reporting import signing
from compliance.reporting.context import NOTICE
from compliance.tables import Consent, Recipient, Report
from tests.support.cli import BIN, run_cli, settings_env
from tests.support.demo import PERIOD, court_report, post_json, report_pdf
from tests.support.staff import csrf_token, demo_up_to_now, period_up_to_now, signed_in_demo

pytestmark = pytest.mark.db


@pytest.fixture
async def demo(client: httpx.AsyncClient) -> dict:
    return await signed_in_demo(
        client, "signer@example.org", full_name="Jordan Signer", credentials="LCSW, LCADC"
    )


def _text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _pdfsig(pdf: bytes, tmp_path: Path) -> tuple[int, str]:
    path = tmp_path / "signed.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True)
    return done.returncode, done.stdout + done.stderr


def _squash(text: str) -> str:
    return " ".join(text.split())


def _flat(text: str) -> str:
    return "".join(text.split()).replace("-", "")


async def test_a_corrected_result_shows_its_history_in_the_report(client, demo, tmp_path) -> None:
    """DOMAIN.md: a result is never edited in place; a correction is a new version with
    who, when and why, and reports show the history."""
    pid = demo["people"]["RB-1001"]
    tests = (await client.get(f"/api/participants/{pid}/drug-tests")).json()
    thc = next(
        t
        for t in tests
        if any(r["analyte_key"] == "thc" and r["confirmation_result"] for r in t["results"])
    )
    fixed = await post_json(
        client,
        f"/api/drug-tests/{thc['id']}/corrections",
        {
            "correction_reason": "MRO review, dronabinol prescription",
            "results": [
                {
                    "analyte": "thc",
                    "mro_result": "negative",
                    "mro_comment": "Valid prescription (dronabinol) verified",
                }
            ],
        },
    )
    assert fixed.status_code == 201, fixed.text
    text = _squash(_text(await report_pdf(client, await court_report(client, demo)), tmp_path))
    # The cell's lines interleave with other columns' in the extracted text: short pieces.
    assert "Corrected" in text and "by Jordan Signer (MRO review," in text
    assert "version 1 said: collected;" in text
    assert "positive (confirmed)." in text and "MRO verified" in text


async def test_a_corrected_absence_shows_what_it_was_in_the_report(client, demo, tmp_path) -> None:
    """An absence corrected to excused (or to present) must not silently change: the
    report lists the correction, who made it, why, and what the record said before."""
    pid = demo["people"]["RB-1001"]
    records = (await client.get(f"/api/participants/{pid}/attendance")).json()
    absence = next(
        a
        for a in records
        if a["status"] == "absent_unexcused"
        and PERIOD["period_start"] <= a["occurred_at"][:10] <= PERIOD["period_end"]
    )
    fixed = await post_json(
        client,
        f"/api/attendance/{absence['id']}/corrections",
        {"status": "absent_excused", "reason": "hospital discharge papers"},
    )
    assert fixed.status_code == 201, fixed.text
    text = _squash(_text(await report_pdf(client, await court_report(client, demo)), tmp_path))
    assert "Attendance corrections" in text
    assert "by Jordan Signer (hospital discharge papers)" in text
    assert "version 1 said: absent unexcused." in text


async def test_court_report_holds_the_notice_case_and_the_engines_weeks(
    client, demo, settings, tmp_path
) -> None:
    report = await court_report(client, demo)
    pdf = await report_pdf(client, report)
    text = _squash(_text(pdf, tmp_path))
    assert _squash(NOTICE) in text
    assert "2026-CF-001432" in text
    assert report["public_id"] in text
    assert "Engaged in group" in text
    # The demo's THC result came 74 h after collection and its dilute specimen 10 h
    # after the call (a cell's lines interleave with the next column's in the extracted
    # text, so the halves are found apart).
    assert "Result reported 74 h after collection" in text and "(due within 48 h)" in text
    assert "Specimen given 10 h after the call" in text and "(window 8 h)" in text
    # The engine's figures and reasons for the same period appear in the PDF.
    pid = demo["people"]["RB-1001"]
    evaluation = (
        await client.get(
            f"/api/participants/{pid}/compliance",
            params={"start": PERIOD["period_start"], "end": PERIOD["period_end"]},
        )
    ).json()
    reasons = [r["text"] for w in evaluation["weeks"] for r in w["reasons"]]
    assert reasons, "the demo history should have a non-compliant week"
    flat = _flat(text)
    for reason in reasons:  # pdftotext drops a hyphen where a word wraps
        assert _flat(reason) in flat
    first = evaluation["weeks"][0]  # attended / required, as h:mm
    assert f"{_hm(first['attended_minutes'])} / {_hm(first['required_minutes'])}" in text
    # Every page carries the report id, page X of Y and the short notice.
    reader = PdfReader(_file(pdf, tmp_path))
    pages = len(reader.pages)
    for number, page in enumerate(reader.pages, start=1):
        page_text = _squash(page.extract_text())
        assert f"page {number} of {pages}" in page_text
        assert "42 CFR part 2 prohibits unauthorized use or disclosure" in page_text
    # PDF/A identification and the document information.
    xmp = reader.xmp_metadata
    assert xmp is not None
    raw = xmp.stream.get_data().decode()
    assert 'pdfaid:part="3"' in raw and 'pdfaid:conformance="U"' in raw
    assert reader.metadata.title.startswith("Court progress report")
    assert reader.metadata.author == demo["program"]["name"]
    assert reader.metadata.subject
    assert reader.trailer["/Root"]["/Lang"] == "en-US"


def _hm(minutes: int) -> str:
    return f"{minutes // 60}:{minutes % 60:02d}"


def _file(pdf: bytes, tmp_path: Path) -> Path:
    path = tmp_path / "read.pdf"
    path.write_bytes(pdf)
    return path


async def test_signature_validates_and_one_changed_byte_breaks_it(
    client, demo, settings, tmp_path
) -> None:
    report = await court_report(client, demo)
    pdf = await report_pdf(client, report)
    code, out = _pdfsig(pdf, tmp_path)
    assert code == 0, out
    assert "Signature is Valid." in out
    assert "Total document signed" in out
    config = signing.signing_config(settings)
    check = await asyncio.to_thread(signing.check_signature, pdf, config)
    assert check.ok and check.no_changes_allowed, check
    assert "Jordan Signer" not in check.signer  # the certificate is the program's
    # One changed byte inside the signed range.
    at = pdf.index(b"/Type /Page") + 2
    tampered = pdf[:at] + bytes([pdf[at] ^ 0x01]) + pdf[at + 1 :]
    code, out = _pdfsig(tampered, tmp_path)
    assert "Signature is Valid." not in out
    assert not (await asyncio.to_thread(signing.check_signature, tampered, config)).ok
    verdict = (
        await client.post("/api/verify", files={"file": ("x.pdf", tampered, "application/pdf")})
    ).json()
    assert verdict["status"] == "changed_after_signing"
    assert verdict["report_id"] == report["public_id"]  # the signature it still carries


async def test_verify_answers_current_then_superseded_with_the_date(client, demo) -> None:
    first = await court_report(client, demo)
    pdf = await report_pdf(client, first)
    ok = (
        await client.post("/api/verify", files={"file": ("r.pdf", pdf, "application/pdf")})
    ).json()
    assert ok["status"] == "authentic_current"
    assert ok["report_id"] == first["public_id"]
    assert ok["kind"] == "court_progress"
    assert ok["period_start"] == PERIOD["period_start"]
    assert ok["program"] == demo["program"]["name"]
    assert "participant" not in str(ok).lower() and "Marcus" not in str(ok)
    second = await court_report(client, demo)
    assert second["version"] == 2
    assert second["supersedes_public_id"] == first["public_id"]
    old = (
        await client.post("/api/verify", files={"file": ("r.pdf", pdf, "application/pdf")})
    ).json()
    assert old["status"] == "authentic_superseded"
    assert old["superseded_at"] is not None
    assert old["current_report_id"] == second["public_id"]
    # The QR code's link gives the same answer by id, as a page for a phone.
    page = await client.get(f"/verify/{first['public_id']}")
    assert page.status_code == 200
    assert "Authentic but superseded" in page.text
    stored = await Report.select().where(Report.id == first["id"]).first()
    # A judge reads the moments in the program's zone, not UTC.
    assert old["program_time_zone"] == "America/Chicago"
    superseded = stored["superseded_at"].astimezone(ZoneInfo("America/Chicago"))
    assert f"{superseded:%a} {superseded.day} {superseded:%b %Y %H:%M %Z}" in page.text
    assert "UTC" not in page.text
    assert stored["status"] == "superseded"
    assert (Path(str(stored["stored_path"])).suffix) == ".pdf"


async def test_revoked_report_verifies_as_revoked(client, demo) -> None:
    report = await court_report(client, demo)
    pdf = await report_pdf(client, report)
    response = await post_json(
        client, f"/api/reports/{report['id']}/revoke", {"reason": "wrong period"}
    )
    assert response.status_code == 200
    verdict = (
        await client.post("/api/verify", files={"file": ("r.pdf", pdf, "application/pdf")})
    ).json()
    assert verdict["status"] == "revoked"


async def test_store_names_files_by_hash_and_never_rewrites(client, demo, settings) -> None:
    report = await court_report(client, demo)
    stored = await Report.select().where(Report.id == report["id"]).first()
    path = settings.reports_dir / stored["stored_path"]
    import hashlib

    assert hashlib.sha256(path.read_bytes()).hexdigest() == stored["sha256"] == path.stem
    assert not path.stat().st_mode & 0o222  # read-only once stored


@pytest.fixture
async def demo_now(client: httpx.AsyncClient) -> dict:
    """The demo laid out up to now: its EAP client's twelve-week consent is still valid
    today (at ``DEMO_NOW`` it ran out on 21 Dec 2026)."""
    return await demo_up_to_now(client)


async def test_eap_report_without_drug_test_consent_holds_no_analyte(
    client, demo_now, tmp_path
) -> None:
    demo = demo_now
    pid = demo["people"]["RB-1002"]
    body = {
        "kind": "eap_status",
        "recipient_id": demo["recipients"]["Renee Cho"],
        "fitness_statement": "Fit to return to full duties.",
        **period_up_to_now(),
    }
    response = await post_json(client, f"/api/participants/{pid}/reports", body)
    assert response.status_code == 201, response.text
    text = _squash(_text(await report_pdf(client, response.json()), tmp_path)).lower()
    assert "fit to return to full duties" in text
    for word in ("cocaine", "thc", "cannabin", "amphetamine", "opiate", "fentanyl", "analyte"):
        assert word not in text
    assert "drug test" not in text and "negative" not in text
    assert _squash(NOTICE).lower() in text


async def test_no_valid_consent_is_refused_naming_what_is_missing(client, demo) -> None:
    pid = demo["people"]["RB-1001"]
    # The EAP case manager is named by no consent of this participant.
    response = await post_json(
        client,
        f"/api/participants/{pid}/reports",
        {"kind": "court_progress", "recipient_id": demo["recipients"]["Renee Cho"], **PERIOD},
    )
    assert response.status_code == 422
    reasons = [e["reason"] for e in response.json()["errors"]]
    assert any("no consent names Renee Cho" in r for r in reasons)
    # Revoked consent: refused, with the date.
    await Consent.update(
        {Consent.revoked_at: datetime(2026, 11, 20, tzinfo=ZoneInfo("UTC"))}
    ).where(Consent.participant == pid)
    response = await post_json(
        client,
        f"/api/participants/{pid}/reports",
        {"kind": "court_progress", "recipient_id": demo["recipients"]["Dana Whitfield"], **PERIOD},
    )
    assert response.status_code == 422
    assert "revoked on 20 Nov 2026" in response.text
    assert await Report.count() == 0


async def test_staff_pages_sign_list_and_download(client, demo) -> None:
    pid = demo["people"]["RB-1001"]
    token = await csrf_token(client)
    response = await client.post(
        f"/participants/{pid}/reports",
        data={
            "kind": "court_progress",
            "recipient_id": str(demo["recipients"]["Dana Whitfield"]),
            "period_start": PERIOD["period_start"],
            "period_end": PERIOD["period_end"],
            "narrative": "",
            "_csrf_token": token,
        },
    )
    assert response.status_code == 303, response.text
    page = await client.get(f"/participants/{pid}")
    report = await Report.select().first()
    assert report["public_id"] in page.text
    download = await client.get(f"/reports/{report['id']}/pdf")
    assert download.status_code == 200 and download.content.startswith(b"%PDF-")
    refused = await client.post(
        f"/participants/{pid}/reports",
        data={
            "kind": "eap_status",
            "recipient_id": str(demo["recipients"]["Dana Whitfield"]),
            "_csrf_token": token,
        },
    )
    assert refused.status_code == 422
    assert "does not list the purpose" in refused.text


async def test_verify_page_upload_needs_no_account(client, demo) -> None:
    report = await court_report(client, demo)
    pdf = await report_pdf(client, report)
    anonymous = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    async with anonymous:
        form = await anonymous.get("/verify")
        assert form.status_code == 200
        answer = await anonymous.post("/verify", files={"file": ("r.pdf", pdf, "application/pdf")})
        assert answer.status_code == 200
        assert "Authentic and current" in answer.text
        assert report["public_id"] in answer.text
        assert "Marcus" not in answer.text
        junk = await anonymous.post(
            "/verify", files={"file": ("r.pdf", b"%PDF-1.7 junk", "application/pdf")}
        )
        assert "Not issued by this service" in junk.text


async def test_verify_command_answers_from_the_shell(client, demo, database_url, tmp_path) -> None:
    report = await court_report(client, demo)
    pdf = await report_pdf(client, report)
    good = tmp_path / "good.pdf"
    good.write_bytes(pdf)
    env = settings_env(database_url, tmp_path)
    done = await asyncio.to_thread(run_cli, "verify", str(good), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Authentic and current" in done.stdout
    assert report["public_id"] in done.stdout
    assert "intact, our certificate, covers the whole file" in done.stdout
    bad = tmp_path / "bad.pdf"
    at = len(pdf) // 3
    bad.write_bytes(pdf[:at] + bytes([pdf[at] ^ 0x20]) + pdf[at + 1 :])
    done = await asyncio.to_thread(run_cli, "verify", str(bad), env=env)
    assert done.returncode == 6
    assert "but changed after signing" in done.stdout


async def test_batch_signs_each_consented_participant_and_lists_the_rest(
    client, demo, database_url, tmp_path
) -> None:
    env = settings_env(database_url, tmp_path)
    done = await asyncio.to_thread(
        run_cli,
        "reports",
        "batch",
        "--program",
        demo["program"]["code"],
        "--signer",
        "signer@example.org",
        "--start",
        "2026-11-09",
        "--end",
        "2026-11-15",
        env=env,
        timeout=300,
    )
    assert done.returncode == 1, done.stdout + done.stderr  # two have no court consent
    assert "signed 1 report(s); 2 failed" in done.stdout
    assert "RB-1002:" in done.stdout and "RB-1003:" in done.stdout
    rows = await Report.select()
    assert [(r["participant"], r["kind"]) for r in rows] == [
        (demo["people"]["RB-1001"], "court_progress")
    ]
    assert rows[0]["period_start"].isoformat() == "2026-11-09"


async def test_discharge_letter_states_completion(client, demo, tmp_path) -> None:
    pid = demo["people"]["RB-1001"]
    discharged = await post_json(
        client,
        f"/api/participants/{pid}/discharge",
        {"discharged_on": "2026-11-20", "reason": "completed", "note": "All phases done."},
    )
    assert discharged.status_code == 200, discharged.text
    response = await post_json(
        client,
        f"/api/participants/{pid}/reports",
        {"kind": "discharge_letter", "recipient_id": demo["recipients"]["Dana Whitfield"]},
    )
    assert response.status_code == 201, response.text
    letter = response.json()
    assert letter["period_end"] == "2026-11-20"
    text = _squash(_text(await report_pdf(client, letter), tmp_path))
    assert "completed treatment on 20 Nov 2026" in text and "All phases done." in text
    # Completing treatment is not completing the court's mandate, which runs a year.
    assert "completing treatment here does not end it" in text
    assert "Dear Dana Whitfield," in text and "Re: Marcus Hale" in text
    assert _squash(NOTICE) in text
    assert _flat(f"http://testserver/verify/{letter['public_id']}") in _flat(text)


async def test_a_revoked_versions_number_is_never_given_again(client, demo) -> None:
    first = await court_report(client, demo)
    revoked = await post_json(client, f"/api/reports/{first['id']}/revoke", {"reason": "wrong"})
    assert revoked.json()["status"] == "revoked"
    second = await court_report(client, demo)
    assert second["version"] == 2 and second["supersedes_public_id"] is None
    again = (await client.get(f"/api/reports/{first['id']}")).json()
    assert again["status"] == "revoked"  # not turned into "superseded"


async def test_a_link_to_a_report_made_for_another_recipient_is_refused(client, demo) -> None:
    pid = demo["people"]["RB-1001"]
    report = await court_report(client, demo)
    judge = Recipient(
        program=demo["program"]["id"], kind="court", name="Judge Roe", email="roe@court.example"
    )
    await judge.save()
    response = await post_json(
        client,
        f"/api/participants/{pid}/links",
        {"recipient_id": judge.id, "scope": "report", "report_id": report["id"]},
    )
    assert response.status_code == 422
    assert "made for another recipient" in response.text


def test_processes_starting_together_make_one_matching_signing_key(tmp_path: Path) -> None:
    """A batch's workers and the server can meet a fresh var/ at once (found by the
    crash test: a batch failed 'wrong passphrase' when two processes each made a key)."""
    script = (
        "import sys; from pathlib import Path; "
        "from compliance.reporting import signing; "
        "path, word = signing.ensure_development_certificate(Path(sys.argv[1])); "
        "signing.load_signer(signing.SigningConfig(str(path), word, ''))"
    )
    python = str(BIN / "python")
    runs = [
        subprocess.Popen([python, "-c", script, str(tmp_path)], stderr=subprocess.PIPE, text=True)
        for _ in range(6)
    ]
    for run in runs:
        _, err = run.communicate(timeout=120)
        assert run.returncode == 0, err
    assert sorted(
        p.name for p in (tmp_path / "signing").iterdir() if not p.name.startswith(".")
    ) == [
        "development.p12",
        "development.passphrase",
    ]


async def test_making_a_report_authorizes_and_loads_the_participant_once(client, demo) -> None:
    """Issue 19: the request is authorized for the participant once, and the readers
    below (mandates, compliance, attendance, drug tests, the new report's view) are
    handed what was read instead of loading and checking the participant again (9
    reads of the participant table before, 46 statements in all; now 1 and 35)."""
    from compliance.core import db

    with db.statements_seen() as seen:
        await court_report(client, demo)
    participant_reads = [s for s in seen if re.search(r'FROM "participant"(?!_)', s)]
    assert len(participant_reads) == 1, "\n\n".join(participant_reads)
    assert len(seen) <= 40, len(seen)  # the whole request, sign-in check to stored row
