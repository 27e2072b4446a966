"""Rendering and signing, run inside worker processes: context → Jinja → WeasyPrint
(PDF/A-3u, fonts shipped in templates/fonts) → pyHanko certification signature.

Module-level caches (the Jinja environment, WeasyPrint's font configuration, the
loaded signing key and the stamp font) live once per worker, which is what makes a
warm worker fast.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from compliance import PROJECT_ROOT
from compliance.core.local_time import spoken
from compliance.reporting.signing import SignatureBox, SigningConfig, sign_pdf
from compliance.reporting.summary import lower_first, upper_first

TEMPLATES = PROJECT_ROOT / "templates" / "reports"
PDF_VARIANT = "pdf/a-3u"
PX_TO_PT = 0.75  # CSS px are 1/96 in, PDF points 1/72 in


def _day(value: date | None) -> str:
    return "" if value is None else f"{value.day} {value:%b %Y}"


def _svg_image(svg: str) -> Markup:
    """An inline SVG chart as an <img> of the same SVG (a data: URL): WeasyPrint then
    draws it as it did, but no longer runs the page's CSS cascade over every bar, label
    and tooltip of it (issue 18: the two charts cost about a fifth of the report's
    layout). The chart's <title> becomes the image's alternative text."""
    if not svg:
        return Markup("")
    found = re.search(r"<title[^>]*>(.*?)</title>", svg, re.S)
    alt = html.unescape(found.group(1)) if found else "chart"
    data = base64.b64encode(svg.encode()).decode("ascii")
    return Markup('<img class="chart" alt="{}" src="data:image/svg+xml;base64,{}">').format(
        alt,
        data,  # base64 has nothing to escape
    )


def _weekday(value: date | None, year: bool = False) -> str:
    """ "Tue 13 Oct", or with the year."""
    if value is None:
        return ""
    return f"{value:%a} {value.day} {value:%b}" + (f" {value:%Y}" if year else "")


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["day"] = _day
    env.filters["moment"] = spoken
    env.filters["weekday"] = _weekday
    env.filters["svg_image"] = _svg_image
    env.filters["lower_first"] = lower_first
    env.filters["upper_first"] = upper_first
    return env


def qr_svg(url: str) -> str:
    """The verification link as a QR code: made here, in the worker, because encoding
    it (choosing the mask) costs about 10 ms of Python per report."""
    import segno

    return segno.make(url, error="m").svg_inline(scale=3, border=1, omitsize=True)


def render_html(context: dict[str, Any]) -> str:
    template = environment().get_template(f"{context['kind']}.html")
    return template.render(**context, qr_svg=qr_svg(context["verify_url"]))


@lru_cache(maxsize=1)
def _fonts() -> Any:
    from weasyprint.text.fonts import FontConfiguration

    return FontConfiguration()


def render_pdf(html: str, info: dict[str, str] | None = None) -> tuple[bytes, SignatureBox]:
    """The unsigned PDF/A and where its signature box landed on the last page. ``info``:
    entries for the document information dictionary (the audit head), which the
    signature then covers like every other byte of the document."""
    from weasyprint import HTML

    document = HTML(string=html, base_url=str(TEMPLATES) + "/").render(
        font_config=_fonts(), pdf_variant=PDF_VARIANT
    )
    document.metadata.custom = dict(info or {})  # only ours, never a template's <meta>
    page_index, (x1, y1, x2, y2) = _anchor(document, "signature")
    height = document.pages[page_index].height  # PDF's origin is the bottom-left corner
    box = (
        round(x1 * PX_TO_PT),
        round((height - y2) * PX_TO_PT),
        round(x2 * PX_TO_PT),
        round((height - y1) * PX_TO_PT),
    )
    pdf = document.write_pdf(
        pdf_variant=PDF_VARIANT, font_config=_fonts(), custom_metadata=bool(info)
    )
    assert pdf is not None
    return pdf, SignatureBox(page_index, box)


def _anchor(document: Any, name: str) -> tuple[int, tuple[float, float, float, float]]:
    for index, page in enumerate(document.pages):
        if name in page.anchors:
            return index, page.anchors[name]
    raise LookupError(f"the template has no #{name} box")


def warm_up() -> None:
    """Run in each new worker: load the fonts, the templates and the stamp font once, so
    the first real report is as fast as the hundredth."""
    import pyhanko.pdf_utils.incremental_writer
    import pyhanko.sign.signers
    import pyhanko.stamp  # noqa: F401
    from weasyprint import HTML

    from compliance.reporting.stamp import stamp_font

    environment().get_template("court_progress.html")
    html = (
        '<html lang="en"><head><style>@font-face { font-family: "Report Sans"; '
        'src: url("../fonts/DejaVuSans.ttf"); } html { font-family: "Report Sans"; }'
        "</style></head><body><p>warm</p></body></html>"
    )
    HTML(string=html, base_url=str(TEMPLATES) + "/").render(font_config=_fonts()).write_pdf(
        font_config=_fonts()
    )
    stamp_font()


@dataclass(frozen=True)
class RenderJob:
    context: dict[str, Any]
    signing: SigningConfig
    stamp_lines: tuple[str, ...]
    reason: str
    location: str
    time_zone: str = "UTC"  # the program's: the stamp says the signing time on its clock
    # The audit chain's head when the report was made, (sequence, MAC): read by the
    # server (the worker has no key and no database to ask) and signed into the PDF.
    audit_head: tuple[int, str] | None = None


AUDIT_SEQ_KEY = "ComplianceAuditSeq"  # the PDF's /Info entries; see audit_head_info
AUDIT_MAC_KEY = "ComplianceAuditMAC"


def audit_head_info(head: tuple[int, str] | None) -> dict[str, str]:
    """The report's anchor in the audit trail: whoever holds the signed PDF can later show
    that the chain had reached this event, with this MAC, before the report was signed."""
    if head is None:
        return {}
    return {AUDIT_SEQ_KEY: str(head[0]), AUDIT_MAC_KEY: head[1]}


def render_and_sign(job: RenderJob) -> bytes:
    """Worker-process job: the signed PDF's bytes."""
    unsigned, where = render_pdf(render_html(job.context), audit_head_info(job.audit_head))
    return sign_pdf(
        unsigned,
        job.signing,
        where,
        list(job.stamp_lines),
        job.reason,
        job.location,
        time_zone=job.time_zone,
    )
