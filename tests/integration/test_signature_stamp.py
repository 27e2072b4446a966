"""The visible signature stamp of a signed report, read back from the real PDF: font
widths that match the glyphs (what PDF/A and every reader need), "Signed by ..." as
words rather than letter-spaced, every line inside its box however long the signer's
name, and the signing time on the program's clock. Each stamp is also rendered to PNG
under test-artifacts/signature-stamp/ for a person to look at."""

from __future__ import annotations

import asyncio
import html
import re
import subprocess
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import pytest
from fontTools.ttLib import TTFont
from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, StreamObject

from compliance.core.local_time import spoken
from compliance.reporting import signing, stamp
from tests.support.browser import ARTIFACTS
from tests.support.demo import court_report, report_pdf
from tests.support.staff import signed_in_demo

pytestmark = pytest.mark.db

PROGRAM = "Riverbend Recovery IOP"
ZONE = "America/Chicago"  # the demo program's
SHOTS = ARTIFACTS / "signature-stamp"
WORD = re.compile(
    r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>'
)
# The longest a staff member's name (200) and credentials (120) can be, in many words.
LONG_NAME = " ".join(["Maximiliana-Alexandrovna Ó Súilleabháin-Featherstonehaugh"] * 4)[:200]
LONG_CREDENTIALS = ", ".join(["LCSW", "LCADC", "CADC-II", "MAC", "NCAC II", "LPC-S"] * 5)[:120]


async def _signed_report(client: httpx.AsyncClient, name: str, credentials: str) -> bytes:
    demo = await signed_in_demo(
        client, "stamp@example.org", full_name=name, credentials=credentials
    )
    return await report_pdf(client, await court_report(client, demo, narrative=None))


def _widget(pdf: bytes) -> tuple[int, Any, DictionaryObject]:
    """The signature's page index, that page, and its widget annotation."""
    reader = PdfReader(BytesIO(pdf))
    for index, page in enumerate(reader.pages):
        for ref in page.get("/Annots") or []:
            annot = ref.get_object()
            if annot.get("/FT") == "/Sig":
                return index, page, annot
    raise AssertionError("no signature widget")


def _stamp_words(pdf: bytes, tmp_path: Path) -> tuple[list[tuple[float, ...]], list[str]]:
    """poppler's word boxes on the signature's page (top-down points, as the reader lays
    the glyphs out with the font's /W) and the stamp's rectangle in the same terms."""
    index, page, annot = _widget(pdf)
    x1, y1, x2, y2 = (float(v) for v in annot["/Rect"])
    top = float(page.mediabox.top)
    path = tmp_path / "stamp.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(
        ["pdftotext", "-bbox", "-f", str(index + 1), "-l", str(index + 1), str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    words = [
        (float(a), float(b), float(c), float(d), html.unescape(text))
        for a, b, c, d, text in WORD.findall(done.stdout)
    ]
    rect = (min(x1, x2), top - max(y1, y2), max(x1, x2), top - min(y1, y2))
    overlapping = [
        w for w in words if w[0] < rect[2] and w[2] > rect[0] and w[1] < rect[3] and w[3] > rect[1]
    ]
    return [rect, *[w[:4] for w in overlapping]], [w[4] for w in overlapping]


def _render_stamp(pdf: bytes, name: str) -> Path:
    """The stamp's page at 70 dpi and the stamp itself at 150 dpi, for a person to see."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    index, page, annot = _widget(pdf)
    x1, y1, x2, y2 = (float(v) for v in annot["/Rect"])
    top = float(page.mediabox.top)
    source = SHOTS / f"{name}.pdf"
    source.write_bytes(pdf)
    n = str(index + 1)
    subprocess.run(
        ["pdftoppm", "-r", "70", "-png", "-f", n, "-l", n, "-singlefile", source, SHOTS / name],
        check=True,
    )
    scale = 150 / 72
    crop = [
        *("-x", str(int((x1 - 12) * scale)), "-y", str(int((top - y2 - 12) * scale))),
        *("-W", str(int((x2 - x1 + 24) * scale)), "-H", str(int((y2 - y1 + 24) * scale))),
    ]
    zoomed = SHOTS / f"{name}-stamp"
    subprocess.run(
        ["pdftoppm", "-r", "150", "-png", "-f", n, "-l", n, "-singlefile", *crop, source, zoomed],
        check=True,
    )
    return zoomed.with_suffix(".png")


def _walk_fonts(obj: Any, seen: set[int], found: list[DictionaryObject]) -> None:
    if isinstance(obj, IndirectObject):
        if obj.idnum in seen:
            return
        seen.add(obj.idnum)
        obj = obj.get_object()
    if isinstance(obj, DictionaryObject):
        if obj.get("/Type") == "/Font" and obj.get("/Subtype") != "/CIDFontType2":
            found.append(obj)
        for key, value in obj.items():
            if key not in ("/Parent", "/P"):
                _walk_fonts(value, seen, found)
    elif isinstance(obj, ArrayObject):
        for value in obj:
            _walk_fonts(value, seen, found)


def _fonts(pdf: bytes) -> list[DictionaryObject]:
    """Every font the file uses: the pages' and the signature appearance's."""
    found: list[DictionaryObject] = []
    _walk_fonts(PdfReader(BytesIO(pdf)).trailer["/Root"], set(), found)
    return found


def _cid_widths(w: ArrayObject) -> dict[int, float]:
    """A CIDFont's /W array: ``c [w1 w2 ...]`` and ``c_first c_last w`` entries."""
    widths: dict[int, float] = {}
    items = list(w)
    i = 0
    while i < len(items):
        first = int(items[i])
        if isinstance(items[i + 1], ArrayObject):
            for offset, value in enumerate(items[i + 1]):
                widths[first + offset] = float(value)
            i += 2
        else:
            for cid in range(first, int(items[i + 1]) + 1):
                widths[cid] = float(items[i + 2])
            i += 3
    return widths


def _width_mismatches(font: DictionaryObject) -> tuple[str, list[tuple[int, float, float]]]:
    """Each CID whose /W disagrees with the embedded program's advance in 1/1000 em."""
    assert font["/Subtype"] == "/Type0", f"{font.get('/BaseFont')} is not a CID font"
    cid_font = font["/DescendantFonts"][0].get_object()
    program = cid_font["/FontDescriptor"].get_object()["/FontFile2"].get_object()
    assert isinstance(program, StreamObject)
    tt = TTFont(BytesIO(program.get_data()))
    per_em = tt["head"].unitsPerEm
    order = tt.getGlyphOrder()
    to_gid = cid_font.get("/CIDToGIDMap", "/Identity")
    gid_map = None if to_gid == "/Identity" else to_gid.get_object().get_data()
    widths = _cid_widths(cid_font.get("/W", ArrayObject()))
    assert widths, f"{font['/BaseFont']} has no /W"
    wrong = []
    for cid, width in widths.items():
        gid = cid if gid_map is None else int.from_bytes(gid_map[2 * cid : 2 * cid + 2], "big")
        advance = tt["hmtx"][order[gid]][0] * 1000 / per_em
        if abs(advance - width) > 1:
            wrong.append((cid, width, advance))
    return str(font["/BaseFont"]), wrong


async def test_every_font_width_matches_its_glyph_and_the_file_stays_pdf_a(
    client, settings, tmp_path
) -> None:
    pdf = await _signed_report(client, "Priya Raman", "LCSW")
    fonts = _fonts(pdf)
    _, _, annot = _widget(pdf)
    appearance = annot["/AP"]["/N"].get_object()
    stamp_fonts = [f.get_object() for f in appearance["/Resources"]["/Font"].values()]
    assert stamp_fonts, "the stamp draws its text with an embedded font"
    assert len(fonts) >= 1 + len(stamp_fonts)  # the report's own fonts, and the stamp's
    for font in fonts:
        name, wrong = _width_mismatches(font)
        assert not wrong, f"{name}: /W differs from the glyphs (cid, /W, advance): {wrong[:5]}"
    # PDF/A-3u survives the signature (an incremental update): the identification,
    # a printable widget with a normal appearance only, and a valid certification.
    reader = PdfReader(BytesIO(pdf))
    metadata = reader.trailer["/Root"]["/Metadata"].get_object().get_data()
    assert b'pdfaid:part="3"' in metadata and b'pdfaid:conformance="U"' in metadata
    assert int(annot["/F"]) & 4, "a PDF/A annotation must print"
    assert set(annot["/AP"].keys()) == {"/N"}
    assert reader.trailer["/Root"]["/AcroForm"].get("/NeedAppearances") in (None, False)
    check = await asyncio.to_thread(signing.check_signature, pdf, signing.signing_config(settings))
    assert check.ok and check.no_changes_allowed, check
    _render_stamp(pdf, "court-report")


async def test_stamp_reads_signed_by_in_words_with_the_time_on_the_programs_clock(
    client, settings, tmp_path
) -> None:
    pdf = await _signed_report(client, "Priya Raman", "LCSW")
    boxes, words = _stamp_words(pdf, tmp_path)
    text = " ".join(" ".join(words).split())
    check = await asyncio.to_thread(signing.check_signature, pdf, signing.signing_config(settings))
    signed = spoken(check.signed_at, ZONE)  # the moment the signature itself records
    assert re.fullmatch(r"\w{3} \d{1,2} \w{3} \d{4} \d\d:\d\d C[SD]T", signed), signed
    report_id = re.search(r"Report (R-[0-9A-F-]+)", text)
    assert report_id, text
    assert text == f"Signed by Priya Raman, LCSW {PROGRAM} Report {report_id[1]} Signed {signed}"
    assert "S i g n e d" not in text and "UTC" not in text
    rect, *inside = boxes
    for x_min, y_min, x_max, y_max in inside:
        assert rect[0] <= x_min and x_max <= rect[2] and rect[1] <= y_min and y_max <= rect[3]


async def test_the_longest_name_and_credentials_wrap_inside_the_box(
    client, settings, tmp_path
) -> None:
    pdf = await _signed_report(client, LONG_NAME, LONG_CREDENTIALS)
    boxes, words = _stamp_words(pdf, tmp_path)
    text = " ".join(" ".join(words).split())
    # Every word is there, in order (lines break at spaces), and every line's glyphs, as
    # a reader lays them out from the font's widths, lie inside the stamp's rectangle.
    assert text.startswith(f"Signed by {LONG_NAME}, {LONG_CREDENTIALS} {PROGRAM} Report R-"), text
    assert "Signed " in text.rsplit("Report", 1)[1]
    rect, *inside = boxes
    assert len(inside) >= 3
    for x_min, y_min, x_max, y_max in inside:
        assert rect[0] <= x_min and x_max <= rect[2], (rect, x_min, x_max)
        assert rect[1] <= y_min and y_max <= rect[3], (rect, y_min, y_max)
    # The appearance stream is exactly the annotation's box, so nothing is clipped by it.
    _, _, annot = _widget(pdf)
    x1, y1, x2, y2 = (float(v) for v in annot["/Rect"])
    bbox = [float(v) for v in annot["/AP"]["/N"].get_object()["/BBox"]]
    assert abs(bbox[2] - bbox[0]) == pytest.approx(abs(x2 - x1))
    assert abs(bbox[3] - bbox[1]) == pytest.approx(abs(y2 - y1))
    _render_stamp(pdf, "longest-name")


def test_layout_breaks_a_word_longer_than_a_line_and_shrinks_before_it_overflows() -> None:
    width, height = 261.0, 68.0  # the template's 92 mm x 24 mm box, in points
    room = width - 2 * stamp.STAMP_MARGIN - 1
    short = stamp.stamp_layout(
        ["Signed by Priya Raman, LCSW", PROGRAM, "Report R-1"], width, height
    )
    assert short.font_size == max(stamp.STAMP_SIZES)
    assert short.lines == ("Signed by Priya Raman, LCSW", PROGRAM, "Report R-1")
    word = "W" * 400
    long = stamp.stamp_layout([word, PROGRAM], width, height)
    assert "".join(long.lines[:-1]) == word
    assert all(stamp.stamp_width(line, long.font_size) <= room for line in long.lines)
    assert long.font_size == min(stamp.STAMP_SIZES)  # too many lines for the larger sizes
    # A glyph's measured advance is the font's: "W" is 989/1000 em in DejaVu Sans.
    assert stamp.stamp_width("W", 1000) == pytest.approx(989, abs=1)
