"""Is a collected specimen valid? One rule for every way a result arrives.

Staff typing a lab report, a lab's CSV file and a lab's HL7 messages all report the same
figures (creatinine, specific gravity, pH, oxidants, nitrite) and sometimes the lab's own
verdict ("dilute"). The parsers only read those; whether the specimen is dilute is the
program's decision (its policy's thresholds, DOMAIN.md's defaults), so it is taken here,
once, and a threshold an administrator changes applies to every path alike.

Federal workplace criteria (49 CFR 40.93, 40.96) order the verdicts: substituted before
adulterated before dilute. The substituted and adulterated bounds are federal and fixed;
the dilute thresholds are the program's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from compliance.core.vocabulary import AnalyteOutcome, CollectionStatus

SUBSTITUTED_CREATININE = Decimal(2)
SUBSTITUTED_SG_LOW = Decimal("1.0010")  # below it, or at SUBSTITUTED_SG_HIGH and above
SUBSTITUTED_SG_HIGH = Decimal("1.0200")
PH_ADULTERATED = (Decimal(4), Decimal(11))  # pH below 4, or 11 and above
DEFAULT_DILUTE_CREATININE = Decimal(20)  # DOMAIN.md
DEFAULT_DILUTE_SG = Decimal("1.0030")  # federal criteria
POSITIVE = AnalyteOutcome.positive.value  # read once: an enum member's value is slow to get

# Worst first: a specimen that is several things is reported as the worst of them.
SEVERITY = (
    CollectionStatus.substituted,
    CollectionStatus.adulterated,
    CollectionStatus.dilute,
    CollectionStatus.collected,
)


@dataclass(frozen=True)
class Thresholds:
    """A program's dilute thresholds: creatinine below ``creatinine_mg_dl`` is dilute
    unless the specimen's specific gravity, when measured, is ``specific_gravity`` or
    more."""

    creatinine_mg_dl: Decimal = DEFAULT_DILUTE_CREATININE
    specific_gravity: Decimal = DEFAULT_DILUTE_SG

    @classmethod
    def of(cls, program: Mapping[str, Any]) -> Thresholds:
        """The thresholds on a program's row (its policy columns)."""
        return cls(
            Decimal(program.get("dilute_creatinine_mg_dl", DEFAULT_DILUTE_CREATININE)),
            Decimal(program.get("dilute_specific_gravity", DEFAULT_DILUTE_SG)),
        )


@dataclass(frozen=True)
class Measures:
    """What a lab measured of a specimen; None or "" where it did not say."""

    creatinine_mg_dl: Decimal | None = None
    specific_gravity: Decimal | None = None
    ph: Decimal | None = None
    oxidants: str = ""  # "", "negative" or "positive"
    nitrite: str = ""

    @property
    def any(self) -> bool:
        figures = (self.creatinine_mg_dl, self.specific_gravity, self.ph)
        return any(v is not None for v in figures) or bool(self.oxidants or self.nitrite)


def number(value: Decimal) -> str:
    """20.00 and 20 read alike: no exponent, no trailing zeros."""
    return format(value.normalize(), "f")


def gravity(value: Decimal) -> str:
    """Specific gravity as refractometers report it: four decimals."""
    return f"{value:.4f}"


def judge(
    stated: CollectionStatus, measures: Measures, thresholds: Thresholds
) -> tuple[CollectionStatus, str]:
    """The specimen's status and a note saying why, from what the lab measured and what
    it (or staff) stated. A status that is not about a specimen (no-show, refusal) stays
    as it is. A verdict the lab stated is kept unless the figures show a worse one."""
    if stated not in SEVERITY:
        return stated, ""
    notes: list[str] = []
    found = CollectionStatus.collected
    substituted = _substituted(measures)
    if substituted:
        found = CollectionStatus.substituted
        notes.append(substituted)
    adulterants = _adulterants(measures)
    if adulterants:
        if found is CollectionStatus.collected:
            found = CollectionStatus.adulterated
        notes.append("Adulterated: " + ", ".join(adulterants))
    if found is CollectionStatus.collected and measures.creatinine_mg_dl is not None:
        dilute, note = _dilution(measures.creatinine_mg_dl, measures.specific_gravity, thresholds)
        if dilute:
            found = CollectionStatus.dilute
        if note:
            notes.append(note)
    worst = min(stated, found, key=SEVERITY.index)
    return worst, "; ".join(notes)


def _substituted(m: Measures) -> str:
    creatinine, sg = m.creatinine_mg_dl, m.specific_gravity
    if creatinine is None or sg is None or creatinine >= SUBSTITUTED_CREATININE:
        return ""
    if SUBSTITUTED_SG_LOW <= sg < SUBSTITUTED_SG_HIGH:
        return ""
    bound = f"< {gravity(SUBSTITUTED_SG_LOW)}" if sg < SUBSTITUTED_SG_LOW else ">= 1.0200"
    return (
        f"Substituted: creatinine {number(creatinine)} mg/dL < 2 and specific gravity "
        f"{gravity(sg)} {bound}"
    )


def _adulterants(m: Measures) -> list[str]:
    found = []
    if m.ph is not None and m.ph < PH_ADULTERATED[0]:
        found.append(f"pH {number(m.ph)} < 4")
    elif m.ph is not None and m.ph >= PH_ADULTERATED[1]:
        found.append(f"pH {number(m.ph)} >= 11")
    for name, value in (("oxidants", m.oxidants), ("nitrite", m.nitrite)):
        if value == POSITIVE:
            found.append(f"{name} positive")
    return found


def _dilution(creatinine: Decimal, sg: Decimal | None, t: Thresholds) -> tuple[bool, str]:
    """Dilute below the creatinine threshold, unless a measured specific gravity is at
    or above the program's; what is odd about it (creatinine below 2, a specific gravity
    too low to be urine) is said, since the specimen should be collected again."""
    if creatinine >= t.creatinine_mg_dl:
        return False, ""
    base = f"Dilute: creatinine {number(creatinine)} mg/dL < {number(t.creatinine_mg_dl)}"
    if creatinine < SUBSTITUTED_CREATININE:
        if sg is None:
            return True, base + " (below 2; no specific gravity to rule out substitution)"
        return True, base + f" (below 2 with specific gravity {gravity(sg)}: invalid, recollect)"
    if sg is None:
        return True, base
    if sg >= t.specific_gravity:
        return False, (
            f"Not dilute: creatinine {number(creatinine)} mg/dL < "
            f"{number(t.creatinine_mg_dl)} but specific gravity {gravity(sg)}"
        )
    if sg <= SUBSTITUTED_SG_LOW:
        return True, f"{base}, specific gravity {gravity(sg)} <= 1.0010 (invalid, recollect)"
    return True, f"{base}, specific gravity {gravity(sg)}"
