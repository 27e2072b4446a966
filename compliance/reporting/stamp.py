"""The visible signature stamp: its font, and its lines laid out to fit the box.

The stamp says who signed, for which program and report, and when on the program's
clock. Its lines are measured with the font's own advances and wrapped (or set smaller)
so that any signer's name fits the template's #signature box.
"""

from __future__ import annotations

import os
import tempfile
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from compliance import PROJECT_ROOT
from compliance.core.local_time import spoken

FONT = PROJECT_ROOT / "templates" / "fonts" / "DejaVuSans.ttf"

# What the stamp font keeps: Latin-1 and Latin Extended-A/B (names such as Łukasz or
# Dvořák), general punctuation (curly apostrophes as in O'Brien, dashes) and the euro sign.
STAMP_UNICODES = [*range(0x20, 0x7F), *range(0xA0, 0x250), *range(0x2010, 0x2030), 0x20AC]
STAMP_UNITS_PER_EM = 1000  # PDF's glyph space: /W widths are in 1/1000 em
STAMP_SIZES = (8, 7, 6)  # points, largest first; pyHanko writes sizes as integers
STAMP_MARGIN = 6  # points between the stamp's border and its text


@lru_cache(maxsize=1)
def stamp_font() -> Any:
    """The shipped font, cut down once per process and rescaled to 1000 units per em.

    pyHanko 0.38 writes each glyph's advance in font units into the font's /W array,
    which PDF reads as 1/1000 em: with DejaVu's 2048 units every glyph is drawn twice
    as wide as it is (letter-spaced, cut off by the box) and the widths contradict the
    font program, which PDF/A forbids. At 1000 units per em the two are the same
    number. Layout tables and the legacy kern table go too, so a line is exactly as
    wide as its advances add up to (what ``stamp_width`` measures), and the subset
    is fast: the full font's GSUB/GPOS made every signature half a second slower.
    """
    from fontTools import subset
    from fontTools.ttLib.scaleUpem import scale_upem
    from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory

    options = subset.Options()
    options.layout_features = []
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "FFTM", "MATH", "kern"]
    options.hinting = False  # instructions made for 2048 units would not survive the scaling
    options.name_IDs = ["*"]
    options.notdef_outline = True
    font = subset.load_font(str(FONT), options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=STAMP_UNICODES)
    subsetter.subset(font)
    scale_upem(font, STAMP_UNITS_PER_EM)
    fd, path = tempfile.mkstemp(prefix="compliance-stamp-", suffix=".ttf")
    with os.fdopen(fd, "wb") as handle:
        font.save(handle)
    return GlyphAccumulatorFactory(path)


@lru_cache(maxsize=1)
def _stamp_advances() -> tuple[dict[int, int], int]:
    """Advance per code point of the stamp font (1/1000 em), and .notdef's for the rest."""
    from fontTools.ttLib import TTFont

    font = TTFont(stamp_font().font_file)
    metrics = font["hmtx"].metrics
    advances = {code: metrics[glyph][0] for code, glyph in font.getBestCmap().items()}
    return advances, metrics[".notdef"][0]


def stamp_width(text: str, size: float) -> float:
    """How wide ``text`` is drawn in the stamp font at ``size`` points."""
    advances, missing = _stamp_advances()
    return sum(advances.get(ord(char), missing) for char in text) * size / STAMP_UNITS_PER_EM


@dataclass(frozen=True)
class StampLayout:
    lines: tuple[str, ...]
    font_size: int
    leading: int

    @property
    def height(self) -> int:
        return len(self.lines) * self.leading


def stamp_layout(lines: list[str], width: float, height: float) -> StampLayout:
    """Wrap the stamp's lines at spaces to fit ``width`` points (a word longer than a
    line is cut), at the largest size whose lines also fit ``height``. Past the smallest
    size, pyHanko's shrink-to-fit scales the block down: squeezed, never clipped."""
    room_x = width - 2 * STAMP_MARGIN - 1  # pyHanko rounds a line's width up by < 1 pt
    room_y = height - 2 * STAMP_MARGIN
    layout = None
    for size in STAMP_SIZES:
        wrapped = tuple(part for line in lines for part in _wrap(line, room_x, size))
        layout = StampLayout(wrapped, size, size + 2)
        if layout.height <= room_y:
            break
    assert layout is not None
    return layout


def _wrap(line: str, room: float, size: int) -> list[str]:
    out: list[str] = []
    current = ""
    for word in line.split():
        candidate = f"{current} {word}" if current else word
        if stamp_width(candidate, size) <= room:
            current = candidate
            continue
        if current:
            out.append(current)
        while stamp_width(word, size) > room and len(word) > 1:
            cut = max(
                (n for n in range(1, len(word)) if stamp_width(word[:n], size) <= room),
                default=1,
            )
            out.append(word[:cut])
            word = word[cut:]
        current = word
    if current or not out:
        out.append(current)
    return out


# pyHanko hands the stamp its signing time as text in this format; the stamp reads it
# back to say it on the program's clock. It is the very moment in /M and signingTime.
TS_FORMAT = "%Y-%m-%dT%H:%M:%S%z"


@lru_cache(maxsize=1)
def fitted_stamp_style() -> type:
    """A text stamp laid out when pyHanko knows the box and the signing time."""
    from pyhanko.pdf_utils import layout
    from pyhanko.pdf_utils.text import TextBoxStyle
    from pyhanko.stamp import TextStampStyle

    @dataclass(frozen=True)
    class FittedStampStyle(TextStampStyle):
        lines: tuple[str, ...] = ()
        time_zone: str = "UTC"

        def create_stamp(self, writer: Any, box: Any, text_params: dict) -> Any:
            signed = datetime.strptime(text_params["ts"], TS_FORMAT)
            lines = [*self.lines, f"Signed {spoken(signed, self.time_zone)}"]
            fitted = stamp_layout(
                [unicodedata.normalize("NFC", x) for x in lines], box.width, box.height
            )
            style = TextStampStyle(
                stamp_text="\n".join(fitted.lines).replace("%", "%%"),
                border_width=self.border_width,
                border_color=self.border_color,
                inner_content_layout=layout.SimpleBoxLayoutRule(
                    x_align=layout.AxisAlignment.ALIGN_MIN,
                    y_align=layout.AxisAlignment.ALIGN_MID,
                ),
                text_box_style=TextBoxStyle(
                    font=stamp_font(),
                    font_size=fitted.font_size,
                    leading=fitted.leading,
                    box_layout_rule=layout.SimpleBoxLayoutRule(
                        x_align=layout.AxisAlignment.ALIGN_MIN,
                        y_align=layout.AxisAlignment.ALIGN_MIN,
                        margins=layout.Margins.uniform(STAMP_MARGIN),
                    ),
                ),
            )
            return style.create_stamp(writer, box, {})

    return FittedStampStyle
