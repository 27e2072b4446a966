"""An OBX's reading of a drug or of a specimen validity measure: its value, outcome, level,
cutoff, units and method, as the lab wrote them in OBX-2 to OBX-17.

Screen and confirmation OBX of one analyte are merged (the method in OBX-17, or failing
that the OBX-3 text, naming GC, LC or MS makes it a confirmation). The confirmation method
stored is the method itself, normalized (LC-MS/MS, GC-MS ...), never the test's name.
Creatinine, specific gravity, pH, oxidants and nitrite are kept as measured: whether they
make the specimen dilute, adulterated or substituted is the program's decision, taken when
the file is matched (compliance.engine.specimen_validity).

A problem is raised as FieldError (the field and the reason); the caller names the segment.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from compliance.core.vocabulary import AnalyteOutcome
from compliance.intake.hl7.message import Segment
from compliance.intake.records import AnalyteRecord

__all__ = [
    "CONFIRMATION",
    "SCREEN",
    "VALIDITY_LABELS",
    "WORD",
    "Analyte",
    "FieldError",
    "Observation",
    "ValidityMeasures",
    "analyte_record",
    "method_name",
    "read_analyte",
    "read_validity",
]

WORD = re.compile(r"[A-Z0-9]+")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_COMPARED_NUMBER = re.compile(r"(<=|>=|<|>)\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))")
_CUTOFF = re.compile(
    r"(?:cut[\s-]?off|co)?\s*[:=]?\s*(?:<=|>=|<|>|=)?\s*(\d+(?:\.\d*)?|\.\d+)\s*[a-z/%\u00b5\u03bc]*",
    re.IGNORECASE,
)
_CONFIRMATION_TOKEN = re.compile(r"(?:(?:U?HP|UP)?LC|GC)?(?:MS)+|(?:U?HP|UP)?LC|GC")

# Confirmation methods as labs write them (OBX-17's code or text, or the test's name),
# most specific first, and the name stored: "LCMSMS", "LC/MS/MS", "liquid chromatography
# tandem mass spectrometry" are all LC-MS/MS.
_LC = r"(?:U?HP|UP)?LC"
_SEP = r"[\s/-]*"
_METHODS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), name)
    for pattern, name in (
        (
            rf"\b{_LC}{_SEP}(?:Q{_SEP})?TOF(?:{_SEP}MS)?\b|\b{_LC}{_SEP}HR{_SEP}MS\b|"
            r"high[\s-]+resolution\s+mass\s+spec",
            "LC-HRMS",
        ),
        (
            rf"\b{_LC}{_SEP}MS{_SEP}(?:MS|2)\b|"
            r"liquid\s+chromatography[\s,/-]*(?:with\s+)?tandem\s+mass\s+spec",
            "LC-MS/MS",
        ),
        (
            rf"\bGC{_SEP}MS{_SEP}(?:MS|2)\b|"
            r"gas\s+chromatography[\s,/-]*(?:with\s+)?tandem\s+mass\s+spec",
            "GC-MS/MS",
        ),
        (rf"\b{_LC}{_SEP}MS\b|liquid\s+chromatography[\s,/-]*(?:with\s+)?mass\s+spec", "LC-MS"),
        (rf"\bGC{_SEP}MS\b|gas\s+chromatography[\s,/-]*(?:with\s+)?mass\s+spec", "GC-MS"),
        (r"\bGC[\s/-]*FID\b", "GC-FID"),
        (r"\b(?:U?HP|UP)LC\b", "HPLC"),
    )
)

_TEXT_OUTCOMES = {
    "NEG": AnalyteOutcome.negative,
    "NEGATIVE": AnalyteOutcome.negative,
    "NOT DETECTED": AnalyteOutcome.negative,
    "NONE DETECTED": AnalyteOutcome.negative,
    "ND": AnalyteOutcome.negative,
    "POS": AnalyteOutcome.positive,
    "POSITIVE": AnalyteOutcome.positive,
    "DETECTED": AnalyteOutcome.positive,
    "PRESUMPTIVE POSITIVE": AnalyteOutcome.positive,
    "INVALID": AnalyteOutcome.invalid,
    "NOT TESTED": AnalyteOutcome.not_tested,
    "NOT PERFORMED": AnalyteOutcome.not_tested,
    "TNP": AnalyteOutcome.not_tested,
}
_FLAG_OUTCOMES = {
    "A": AnalyteOutcome.positive,
    "AA": AnalyteOutcome.positive,
    "H": AnalyteOutcome.positive,
    "HH": AnalyteOutcome.positive,
    "POS": AnalyteOutcome.positive,
    ">": AnalyteOutcome.positive,
    "N": AnalyteOutcome.negative,
    "NEG": AnalyteOutcome.negative,
}
_DRUG_UNITS = {
    "ng/ml": Decimal(1),
    "ug/l": Decimal(1),
    "ug/ml": Decimal(1000),
    "mg/l": Decimal(1000),
    "pg/ml": Decimal("0.001"),
}
_CREATININE_UNITS = {
    "": Decimal(1),
    "mg/dl": Decimal(1),
    "mg/l": Decimal("0.1"),
    "g/l": Decimal(100),
    "umol/l": Decimal(1) / Decimal("88.42"),
    "mmol/l": Decimal(1000) / Decimal("88.42"),
}
VALIDITY_LABELS = {
    "creatinine": "Creatinine",
    "specific_gravity": "Specific gravity",
    "ph": "pH",
    "oxidants": "Oxidants",
    "nitrite": "Nitrite",
}
SCREEN = "screen"
CONFIRMATION = "confirmation"

# A validity measure of an order (creatinine in mg/dL, an oxidant outcome ...) and the OBX
# that gave it, by key.
ValidityMeasures = dict[str, tuple[Decimal | AnalyteOutcome, Segment]]


class FieldError(Exception):
    """A field of the OBX being read is wrong; the caller adds the segment's location."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


class Observation:
    """One OBX's reading of an analyte, as a screen or a confirmation."""

    __slots__ = (
        "abnormal_flag",
        "comments",
        "cutoff",
        "kind",
        "level",
        "method",
        "outcome",
        "reference_range",
        "segment",
        "units",
    )

    def __init__(self, segment: Segment, kind: str, method: str, outcome: AnalyteOutcome) -> None:
        self.segment = segment
        self.kind = kind
        self.method = method
        self.outcome = outcome
        self.cutoff: Decimal | None = None
        self.level: Decimal | None = None
        self.units = "ng/mL"
        self.reference_range = ""
        self.abnormal_flag = ""
        self.comments: list[str] = []


class Analyte:
    """An analyte of an order: its screen and confirmation readings, by kind."""

    __slots__ = ("code", "coding_system", "key", "name", "observations")

    def __init__(self, key: str, code: str, coding_system: str, name: str) -> None:
        self.key = key
        self.code = code
        self.coding_system = coding_system
        self.name = name
        self.observations: dict[str, Observation] = {}


# --- values -----------------------------------------------------------------------------


def _value(obx: Segment) -> tuple[str, str]:
    """OBX-5 as (comparator, text): '<' and '50' for SN '<^50' or ST '<50'."""
    value_type = obx.component(2, 1).upper()
    parts = obx.components(5)
    if value_type == "SN":
        parts = [*parts, "", "", "", ""]
        if parts[2] or parts[3]:
            raise FieldError("OBX-5", f"structured numeric {obx.raw(5)!r} is a range or ratio")
        return parts[0], parts[1]
    if not parts:
        return "", ""
    if value_type in ("CE", "CWE", "CNE") and parts[0].upper() not in _TEXT_OUTCOMES:
        if len(parts) > 1 and parts[1].upper() in _TEXT_OUTCOMES:
            return "", parts[1]
    text = parts[0]
    compared = _COMPARED_NUMBER.fullmatch(text)
    if compared:
        return compared.group(1), compared.group(2)
    if value_type == "NM" and text and _NUMBER.fullmatch(text) is None:
        raise FieldError("OBX-5", f"the value {text!r} is not a number, but OBX-2 says NM")
    return "", text


def _flags(obx: Segment) -> list[str]:
    """OBX-8's abnormal flags, upper case, empty repetitions dropped."""
    return [f.strip().upper() for f in obx.repetitions(8) if f.strip()]


def _cutoff(reference_range: str) -> Decimal | None:
    """The cutoff a reference range states ("cutoff 50 ng/mL", "<50"), if any."""
    match = _CUTOFF.fullmatch(reference_range.strip())
    if match is None:
        return None
    try:
        return Decimal(match.group(1))
    except InvalidOperation:
        return None


def _tidy(number: Decimal) -> Decimal:
    """50.000 → 50, 0.50 → 0.5, without switching to exponent notation."""
    tidy = number.normalize()
    return tidy.quantize(Decimal(1)) if tidy.as_tuple().exponent > 0 else tidy


def _unit_key(units: str) -> str:
    """Units as the conversion tables spell them: "µg/L" and "mcg/l" are "ug/l"."""
    key = units.strip().lower().replace(" ", "").replace("\u00b5", "u").replace("\u03bc", "u")
    return key.replace("mcg", "ug")


# --- outcomes ---------------------------------------------------------------------------


def _outcome(
    obx: Segment, comparator: str, text: str, cutoff: Decimal | None, what: str
) -> tuple[AnalyteOutcome, Decimal | None]:
    """The outcome and level (ng/mL in the OBX's units) of an OBX-5 value: a word
    (NEGATIVE), or a number read against the cutoff, the abnormal flag deciding only when
    there is no cutoff; a flag that contradicts the result is an error."""
    flags = _flags(obx)
    flag_outcome = _flag_outcome(flags)
    word = " ".join(text.upper().split())
    if word in _TEXT_OUTCOMES:
        return _word_outcome(_TEXT_OUTCOMES[word], flag_outcome, flags, text), None
    if _NUMBER.fullmatch(text) is None:
        raise FieldError(
            "OBX-5",
            f"the {what} result {text!r} is neither a number nor a result such as "
            "NEGATIVE, POSITIVE or INVALID",
        )
    number = Decimal(text)
    shown = f"{comparator}{text}"
    level = None if comparator in ("<", "<=") else number
    decided = _against_cutoff(comparator, number, cutoff)
    if decided is None:
        if flag_outcome is None:
            raise FieldError(
                "OBX-7",
                f"cannot tell whether the {what} result {shown} is positive: no cutoff in the "
                "reference range (OBX-7) and no abnormal flag (OBX-8)",
            )
        return flag_outcome, level
    if flag_outcome is not None and flag_outcome != decided:
        raise FieldError(
            "OBX-8",
            f"abnormal flag {'~'.join(flags)!r} contradicts the {what} result {shown} "
            f"against the cutoff {cutoff}",
        )
    return decided, level


def _flag_outcome(flags: list[str]) -> AnalyteOutcome | None:
    """What the abnormal flags say (H: positive, N: negative), None when they say nothing."""
    flagged = {_FLAG_OUTCOMES[f] for f in flags if f in _FLAG_OUTCOMES}
    if len(flagged) > 1:
        raise FieldError("OBX-8", f"abnormal flags {'~'.join(flags)!r} contradict each other")
    return next(iter(flagged), None)


def _word_outcome(
    outcome: AnalyteOutcome, flag_outcome: AnalyteOutcome | None, flags: list[str], text: str
) -> AnalyteOutcome:
    """A result given as a word; a flag may not contradict a positive or negative."""
    decisive = outcome in (AnalyteOutcome.positive, AnalyteOutcome.negative)
    if flag_outcome is not None and decisive and flag_outcome != outcome:
        raise FieldError(
            "OBX-8", f"abnormal flag {'~'.join(flags)!r} contradicts the result {text!r}"
        )
    return outcome


def _against_cutoff(
    comparator: str, number: Decimal, cutoff: Decimal | None
) -> AnalyteOutcome | None:
    """The outcome a number gives against the cutoff; None when it cannot tell ("<100"
    against a cutoff of 50, or a bare number without a cutoff)."""
    if comparator in ("<", "<="):
        return AnalyteOutcome.negative if cutoff is None or number <= cutoff else None
    if comparator in (">", ">="):
        return AnalyteOutcome.positive if cutoff is None or number >= cutoff else None
    if cutoff is not None:
        return AnalyteOutcome.positive if number >= cutoff else AnalyteOutcome.negative
    return None


# --- specimen validity ------------------------------------------------------------------


def read_validity(obx: Segment, key: str, status: str, validity: ValidityMeasures) -> None:
    """A validity OBX: its measure goes to ``validity``; a second OBX for the same measure
    must agree with the first."""
    label = VALIDITY_LABELS[key]
    comparator, text = _value(obx)
    if status == "N" and not text:
        return
    if not text:
        raise FieldError("OBX-5", f"the {label.lower()} result (OBX-5) is empty")
    measure: Decimal | AnalyteOutcome
    if key in ("oxidants", "nitrite"):
        cutoff = _cutoff(obx.component(7, 1))
        measure, _level = _outcome(obx, comparator, text, cutoff, label.lower())
    else:
        measure = _validity_number(obx, key, comparator, text, label)
    previous = validity.get(key)
    if previous is not None and previous[0] != measure:
        raise FieldError(
            "OBX-5",
            f"{label.lower()} {measure} disagrees with {previous[0]} at {previous[1].label}",
        )
    validity[key] = (measure, obx)


def _validity_number(obx: Segment, key: str, comparator: str, text: str, label: str) -> Decimal:
    """A measured figure (creatinine in mg/dL, specific gravity, pH), checked for range."""
    if comparator or _NUMBER.fullmatch(text) is None:
        raise FieldError("OBX-5", f"the {label.lower()} result {text!r} is not a number")
    measure = Decimal(text)
    if key == "creatinine":
        return _creatinine_mg_dl(obx, measure, text)
    if key == "ph" and not Decimal(0) <= measure <= Decimal(14):
        raise FieldError("OBX-5", f"pH {text} is not between 0 and 14")
    if key == "specific_gravity" and measure <= 0:
        raise FieldError("OBX-5", f"specific gravity {text} is not a positive number")
    return measure


def _creatinine_mg_dl(obx: Segment, measure: Decimal, text: str) -> Decimal:
    """Creatinine in mg/dL, the unit the program's thresholds use, from OBX-6's units."""
    units = obx.component(6, 1)
    factor = _CREATININE_UNITS.get(_unit_key(units))
    if factor is None:
        raise FieldError("OBX-6", f"creatinine units {units!r} are not mg/dL")
    if factor == 1:
        return measure
    if measure.adjusted() > 9:  # beyond any creatinine; quantize would raise
        raise FieldError("OBX-5", f"creatinine {text} is out of range")
    return _tidy((measure * factor).quantize(Decimal("0.01")))


# --- drugs ------------------------------------------------------------------------------


def read_analyte(
    obx: Segment,
    key: str,
    status: str,
    analytes: dict[str, Analyte],
    identity: tuple[str, str, str],
) -> Observation:
    """A drug's OBX (identity: code, coding system, name), merged into its analyte's
    screen or confirmation; the observation notes that follow it attach to."""
    code, system, name = identity
    method, confirmation = _method(obx, name)
    kind = CONFIRMATION if confirmation else SCREEN
    observation = Observation(obx, kind, method, AnalyteOutcome.not_tested)
    observation.reference_range = obx.unescape(obx.first_repetition(7)).strip()
    observation.abnormal_flag = "~".join(_flags(obx))
    comparator, text = _value(obx)
    if status != "N" or text:
        if not text:
            raise FieldError("OBX-5", f"the {key} result (OBX-5) is empty")
        _read_result(obx, observation, comparator, text, key)

    analyte = analytes.get(key)
    if analyte is None:
        analyte = analytes[key] = Analyte(key, code, system, name or code)
    existing = analyte.observations.get(kind)
    if existing is None:
        analyte.observations[kind] = observation
        return observation
    _merge(existing, observation, key)
    return existing


def _read_result(
    obx: Segment, observation: Observation, comparator: str, text: str, key: str
) -> None:
    """Outcome, level and cutoff, in ng/mL when the units convert; else in the lab's units,
    which the observation then names."""
    units = obx.component(6, 1)
    factor = _DRUG_UNITS.get(_unit_key(units)) if units else Decimal(1)
    cutoff = _cutoff(obx.component(7, 1))
    observation.outcome, level = _outcome(obx, comparator, text, cutoff, key)
    if factor is None:  # units we cannot convert: keep the numbers, say which units
        observation.units = units
    else:
        level = None if level is None else _tidy(level * factor)
        cutoff = None if cutoff is None else _tidy(cutoff * factor)
    observation.level, observation.cutoff = level, cutoff
    if comparator.startswith(">") and level is not None:
        observation.comments.append(f"reported as {comparator}{text} {units}".rstrip())


def _method(obx: Segment, name: str) -> tuple[str, bool]:
    """The OBX's method and whether it makes the result a confirmation.

    OBX-17 (observation method) is read first, its text then its code; without it the
    test's name (OBX-3 text) may say "GC/MS confirmation". A confirmation's method is
    stored as the method's usual name (LC-MS/MS, GC-MS), never the test's name: a name
    naming no method we know gives an empty method, and OBX-17 text we do not know is
    kept as the lab wrote it. A screen keeps OBX-17 as written ("Enzyme immunoassay")."""
    parts = obx.components(17)
    given = (parts[1] if len(parts) > 1 and parts[1] else "") or (parts[0] if parts else "")
    if given:
        both = " ".join(parts[:2])
        if not _is_confirmation(both):
            return given, False
        return (method_name(both) or given)[:40], True
    if _is_confirmation(name) or "CONFIRM" in name.upper():
        return method_name(name), True
    return "", False


def method_name(text: str) -> str:
    """LC-MS/MS, GC-MS ... for the first method the text names; "" for none."""
    for pattern, method in _METHODS:
        if pattern.search(text):
            return method
    return ""


def _is_confirmation(method: str) -> bool:
    """Whether a method names chromatography or mass spectrometry (GC, LC, MS ...)."""
    upper = method.upper()
    if "CHROMATOGRAPH" in upper or "MASS SPEC" in upper:
        return True
    return any(_CONFIRMATION_TOKEN.fullmatch(token) for token in WORD.findall(upper))


def _merge(existing: Observation, new: Observation, key: str) -> None:
    """Two OBX for the same analyte and kind: they must agree, and fill each other's gaps."""
    if existing.outcome != new.outcome:
        raise FieldError(
            "OBX-5",
            f"{new.kind} result {new.outcome} for {key} disagrees with {existing.outcome} "
            f"at {existing.segment.label}",
        )
    if existing.level is not None and new.level is not None and existing.level != new.level:
        raise FieldError(
            "OBX-5",
            f"{new.kind} level {new.level} for {key} disagrees with {existing.level} "
            f"at {existing.segment.label}",
        )
    if existing.level is None and new.level is not None:
        existing.level, existing.units = new.level, new.units
    existing.cutoff = existing.cutoff if existing.cutoff is not None else new.cutoff
    existing.method = existing.method or new.method
    existing.reference_range = existing.reference_range or new.reference_range
    existing.abnormal_flag = existing.abnormal_flag or new.abnormal_flag
    existing.comments.extend(new.comments)


def analyte_record(analyte: Analyte) -> AnalyteRecord:
    """The record of an analyte: its screen and confirmation side by side, the level from
    the confirmation when both measured it."""
    screen = analyte.observations.get(SCREEN)
    confirmation = analyte.observations.get(CONFIRMATION)
    measured = next(
        (o for o in (confirmation, screen) if o is not None and o.level is not None), None
    )
    main = confirmation or screen
    assert main is not None
    described = measured or main
    comments = [c for o in (screen, confirmation) if o is not None for c in o.comments]
    return AnalyteRecord(
        analyte_key=analyte.key,
        code=analyte.code,
        coding_system=analyte.coding_system,
        name=analyte.name,
        # Labs confirm only presumptive positives: a confirmation alone implies one.
        screen_result=screen.outcome if screen else AnalyteOutcome.positive,
        screen_method=screen.method if screen else "",
        screen_cutoff_ng_ml=screen.cutoff if screen else None,
        confirmation_result=confirmation.outcome if confirmation else None,
        confirmation_method=confirmation.method if confirmation else "",
        confirmation_cutoff_ng_ml=confirmation.cutoff if confirmation else None,
        level_ng_ml=measured.level if measured else None,
        units=described.units,
        reference_range=described.reference_range,
        abnormal_flag=described.abnormal_flag,
        comment="\n".join(comments),
    )
