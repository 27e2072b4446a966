"""Charts drawn on the server as inline SVG: the same markup serves the participant page,
an officer's phone and (later) the signed PDF, with no script and nothing fetched.

Every chart carries a <title> and a text summary for screen readers, and colours are
paired with shapes or labels so they survive black-and-white printing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from markupsafe import Markup, escape

from compliance.engine.rules import WeekResult, hm

STATUS_FILL = {
    "compliant": "#2e7d32",
    "non_compliant": "#c62828",
    "partial": "#9e9e9e",
    "in_progress": "#78909c",
    "not_yet_due": "#e0e0e0",
    "no_requirement": "#bdbdbd",
}
OUTCOME_MARK = {  # fill, shape; counted-positive outcomes are filled squares
    "negative": ("#2e7d32", "circle"),
    "dilute": ("#f9a825", "diamond"),
    "presumptive": ("#ef6c00", "diamond"),
}
POSITIVE_MARK = ("#c62828", "square")


def _num(value: Decimal | float | int) -> str:
    return format(float(value), ".2f").rstrip("0").rstrip(".")


def _day(d: date) -> str:
    return f"{d.day} {d:%b}"


def nice_step(peak: float, ticks: int = 4) -> float:
    """A round tick step (1, 2, 3, 5 or 10 times a power of ten) giving about ``ticks``
    intervals up to ``peak``: hours read 0, 3, 6, 9, 12, never 2.98 or 5.96."""
    raw = max(peak, 1e-9) / ticks
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 3, 5, 10):
        if m * power >= raw:
            return m * power
    return 10 * power


def hours_chart(weeks: Sequence[WeekResult], width: int = 640, height: int = 220) -> Markup:
    """Bars of attended hours per week against a tick for the required hours. Weeks not
    yet due get no bar: nothing has happened in them."""
    if not weeks:
        return Markup("")
    left, right, top, bottom = 36, 8, 12, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(
        [w.required_minutes / 60 for w in weeks] + [w.attended_minutes / 60 for w in weeks] + [1]
    )
    step_value = nice_step(peak)
    ceiling = step_value * math.ceil(peak / step_value)
    scale = plot_h / ceiling
    step = plot_w / len(weeks)
    bar = max(step * 0.6, 2)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="hc-title" class="chart" '
        f'preserveAspectRatio="xMidYMid meet">',
        '<title id="hc-title">Required and attended hours per week</title>',
    ]
    for i in range(round(ceiling / step_value) + 1):
        value = step_value * i
        y = top + plot_h - value * scale
        out.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#e0e0e0" stroke-width="1"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end" '
            f'fill="#555">{_num(value)}</text>'
        )
    label_every = max(1, math.ceil(len(weeks) / 8))
    for i, w in enumerate(weeks):
        x = left + i * step + (step - bar) / 2
        attended = w.attended_minutes / 60 * scale
        required_y = top + plot_h - w.required_minutes / 60 * scale
        fill = STATUS_FILL.get(w.status, "#9e9e9e")
        summary = (
            f"Week of {_day(w.start)}: not yet due"
            if w.status == "not_yet_due"
            else f"Week of {_day(w.start)}: attended {hm(w.attended_minutes)} of "
            f"{hm(w.required_minutes)} required hours, {w.status.replace('_', ' ')}"
        )
        out.append(f"<g><title>{escape(summary)}</title>")
        if w.status != "not_yet_due":
            out.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - attended:.1f}" width="{bar:.1f}" '
                f'height="{attended:.1f}" fill="{fill}"/>'
            )
        if w.required_minutes:
            out.append(
                f'<line x1="{x - 3:.1f}" x2="{x + bar + 3:.1f}" y1="{required_y:.1f}" '
                f'y2="{required_y:.1f}" stroke="#111" stroke-width="2" '
                f'stroke-dasharray="4 2"/>'
            )
        out.append("</g>")
        if i % label_every == 0:
            out.append(
                f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 14}" font-size="10" '
                f'text-anchor="middle" fill="#333">{_day(w.start)}</text>'
            )
    out.append(
        f'<text x="{left}" y="{height - 4}" font-size="10" fill="#333">'
        "Bars: hours attended per week (green compliant, red not, grey partial or in "
        "progress). Dashed line: hours required.</text></svg>"
    )
    return Markup("".join(out))  # noqa: S704 - every text inside went through escape()


def _mark(shape: str, x: float, y: float, fill: str) -> str:
    if shape == "circle":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{fill}"/>'
    if shape == "diamond":
        return (
            f'<path d="M{x:.1f} {y - 6:.1f} L{x + 6:.1f} {y:.1f} L{x:.1f} {y + 6:.1f} '
            f'L{x - 6:.1f} {y:.1f} Z" fill="{fill}"/>'
        )
    if shape == "cross":
        return (
            f'<path d="M{x - 5:.1f} {y - 5:.1f} L{x + 5:.1f} {y + 5:.1f} '
            f'M{x - 5:.1f} {y + 5:.1f} L{x + 5:.1f} {y - 5:.1f}" '
            f'stroke="{fill}" stroke-width="2.5" fill="none"/>'
        )
    return f'<rect x="{x - 5:.1f}" y="{y - 5:.1f}" width="10" height="10" fill="{fill}"/>'


def drug_test_timeline(
    weeks: Sequence[WeekResult],
    first: date | None = None,
    last: date | None = None,
    width: int = 640,
    height: int = 90,
) -> Markup:
    """Each drug test on a time line from ``first`` to ``last`` (the period, ending no
    later than the day judged on; by default the weeks' span), with a dated tick at each
    week start inside it: green circles negative, red squares counted positive (positive,
    missed, refused, adulterated, substituted, dilute by policy), and a red cross for each
    missed check-in the program counts (the engine gives it as a reason of the week; the
    legend names it only when there is one)."""
    if not weeks:
        return Markup("")
    first = first or weeks[0].start
    last = max(last or weeks[-1].end, first)
    days = max((last - first).days, 1)
    left, right, mid = 16, 16, 30
    span = width - left - right

    def x_of(d: date) -> float:
        return left + (d - first).days / days * span

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="tt-title" class="chart" '
        f'preserveAspectRatio="xMidYMid meet">',
        f'<title id="tt-title">Drug tests from {_day(first)} to {_day(last)}</title>',
        f'<line x1="{left}" x2="{width - right}" y1="{mid}" y2="{mid}" stroke="#777"/>',
    ]
    starts = [w.start for w in weeks if first <= w.start <= last]
    ticks = sorted({first, *starts, last})
    label_every = max(1, math.ceil(len(ticks) / 9))
    for i, d in enumerate(ticks):
        x = x_of(d)
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{mid - 8}" y2="{mid + 8}" stroke="#bbb"/>')
        end_label = d == last
        if (i % label_every == 0 and (last - d).days >= 4) or end_label:
            anchor = "end" if end_label else ("start" if d == first else "middle")
            out.append(
                f'<text x="{x:.1f}" y="{mid + 22}" font-size="10" text-anchor="{anchor}" '
                f'fill="#333">{_day(d)}</text>'
            )
    for w in weeks:
        for t in w.tests:
            if not first <= t.day <= last:
                continue
            fill, shape = (
                POSITIVE_MARK if t.counts_positive else OUTCOME_MARK.get(t.outcome, POSITIVE_MARK)
            )
            out.append(
                f"<g><title>{escape(t.detail)}</title>{_mark(shape, x_of(t.day), mid, fill)}</g>"
            )
    check_ins = [
        r
        for w in weeks
        for r in w.reasons
        if r.kind == "missed_check_in" and r.day is not None and first <= r.day <= last
    ]
    for r in check_ins:
        mark = _mark("cross", x_of(r.day), mid, POSITIVE_MARK[0])  # type: ignore[arg-type]
        out.append(f"<g><title>{escape(r.text)}</title>{mark}</g>")
    out.append(
        f'<g font-size="10" fill="#333">'
        f"{_mark('circle', left + 5, height - 12, OUTCOME_MARK['negative'][0])}"
        f'<text x="{left + 14}" y="{height - 8}">negative</text>'
        f"{_mark('square', left + 80, height - 12, POSITIVE_MARK[0])}"
        f'<text x="{left + 89}" y="{height - 8}">positive, missed, refused or failed</text>'
        f"{_mark('diamond', left + 300, height - 12, OUTCOME_MARK['presumptive'][0])}"
        f'<text x="{left + 309}" y="{height - 8}">presumptive or dilute</text>'
    )
    if check_ins:
        out.append(
            f"{_mark('cross', left + 435, height - 12, POSITIVE_MARK[0])}"
            f'<text x="{left + 444}" y="{height - 8}">missed check-in</text>'
        )
    out.append("</g></svg>")
    return Markup("".join(out))  # noqa: S704 - every text inside went through escape()
