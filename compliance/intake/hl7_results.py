"""HL7 v2 ORU^R01 lab results (versions 2.3 to 2.5.1) → DrugTestRecords. Pure: bytes in,
records and errors out.

Input: one message or a batch (FHS/BHS ... BTS/FTS, any number of MSH messages), with or
without MLLP framing (``\\x0b`` ... ``\\x1c\\x0d`` around any message), segments ended by CR,
CRLF or LF, a UTF-8 BOM, blank lines. Each message is split with its own separators from
MSH-1/MSH-2 and text is unescaped (``\\F\\ \\S\\ \\T\\ \\R\\ \\E\\``, ``\\Xhh..\\`` as UTF-8,
``\\.br\\``).

The segment splitting is done here rather than with python-hl7: we need the line of every
segment for error locations, hex escapes decoded as UTF-8 bytes, and malformed input turned
into RowErrors instead of assorted exceptions.

What comes out:
- one DrugTestRecord per OBR: client id from PID-3, the name the lab gives from PID-5
  (family^given) and the date of birth from PID-7, for the identity check before anything
  is stored; collected_at from OBR-7, accession from OBR-3 (else OBR-2), chain of custody
  from OBR-18, result_reported_at from OBR-22, the specimen from SPM-4 / OBR-15, the lab
  from OBR-3's namespace, else MSH-4, else MSH-3;
- one AnalyteRecord per analyte key, screen and confirmation OBX merged (the method in
  OBX-17, or failing that the OBX-3 text, naming GC, LC or MS makes it a confirmation).
  The confirmation method stored is the method itself, normalized (LC-MS/MS, GC-MS ...),
  never the test's name;
- creatinine, specific gravity, pH, oxidants and nitrite as measured: whether they make
  the specimen dilute, adulterated or substituted is the program's decision, taken when
  the file is matched (compliance.specimen_validity);
- NTE notes attach to what they follow: the OBX of a drug (its comment), else the
  specimen (the OBR, SPM, or a validity OBX: see ``_attach_note``);
- observed collection where labs send it: the specimen collection method (SPM-7, or
  OBR-15's third component), the specimen description (SPM-14), the collector's comment
  (OBR-39), or any note of the order ("Specimen observed", "witnessed collection").

Locations read "message 2, OBX segment 3 (line 14)": the message's number in the input,
the segment's number among the segments of that type in the message, and the line in the
input after the framing bytes are removed (all 1-based). Every problem is collected; a
record is produced only for an OBR without problems. ``ParseError`` is kept for input that
is not an HL7 results file at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from compliance.intake.records import (
    VALIDITY_KEYS,
    AnalyteLookup,
    AnalyteRecord,
    DrugTestRecord,
    ParseError,
    ParseResult,
    RowError,
)
from compliance.vocabulary import AnalyteOutcome, CollectionStatus, SpecimenType

__all__ = ["SUPPORTED_VERSIONS", "parse_hl7_results"]

SUPPORTED_VERSIONS = ("2.3", "2.3.1", "2.4", "2.5", "2.5.1")

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_FRAMING = re.compile(r"\x1c\r?\n?|[\x0b\x1a]")
_CONTROL = re.compile(r"[\x00-\x08\x0c\x0e-\x1f\x7f]")
_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{2}")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_COMPARED_NUMBER = re.compile(r"(<=|>=|<|>)\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))")
_CUTOFF = re.compile(
    r"(?:cut[\s-]?off|co)?\s*[:=]?\s*(?:<=|>=|<|>|=)?\s*(\d+(?:\.\d*)?|\.\d+)\s*[a-z/%\u00b5\u03bc]*",
    re.IGNORECASE,
)
_TS = re.compile(
    r"(\d{4})(\d{2})(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,6}))?)?)?)?([+-]\d{4})?"
)
_CONFIRMATION_TOKEN = re.compile(r"(?:(?:U?HP|UP)?LC|GC)?(?:MS)+|(?:U?HP|UP)?LC|GC")
_WORD = re.compile(r"[A-Z0-9]+")

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
# Statements that the collection was (or was not) observed, in a note or comment ...
_OBSERVED_NOTE = re.compile(
    r"\bdirect(?:ly)?[\s-]+(?:observed|observation|witnessed)\b"
    r"|\b(?:observed|witnessed)[\s-]+(?:collection|void|voiding|specimen|sample|urine)\b"
    r"|\b(?:collection|specimen|sample|void|urine)(?:\s+(?:was|is|were|has\s+been))?"
    r"\s+(?:directly\s+)?(?:observed|witnessed)\b"
    r"|\bobserved\s*(?:collection\s*)?[:=]\s*(?:y|yes|true)\b",
    re.IGNORECASE,
)
_NOT_OBSERVED = re.compile(
    r"\b(?:un|non[\s-]?)(?:observed|witnessed)\b"
    r"|\bnot\s+(?:directly\s+)?(?:observed|witnessed)\b"
    r"|\bno\s+(?:direct\s+)?observation\b"
    r"|\bobserved\s*(?:collection\s*)?[:=]\s*(?:n|no|false)\b",
    re.IGNORECASE,
)
# ... and in a field that holds only the collection method (SPM-7, OBR-15.3).
_OBSERVED_METHOD = re.compile(r"\b(?:observed|witnessed|direct\s+observation)\b", re.IGNORECASE)
_OBSERVED_CODES = frozenset({"OBS", "OBSV", "OBSERVED", "DO", "DOBS", "DIROBS", "WIT", "WITNESSED"})
_UNOBSERVED_CODES = frozenset({"UNOBS", "NOBS", "NOTOBS", "UNOBSERVED", "UNWITNESSED"})
# Words that make a note after a validity OBX about the specimen or a drug, not about that
# measure (see _attach_note).
_SPECIMEN_NOTE_WORDS = frozenset(
    "SPECIMEN SAMPLE COLLECTION COLLECTED COLLECTOR OBSERVED WITNESSED CUSTODY SEAL "
    "TEMPERATURE TEMP RECEIVED CONFIRMED CONFIRMATION SCREEN MRO PRESCRIPTION".split()
)
_VALIDITY_WORDS = {
    "creatinine": frozenset({"CREATININE", "CREAT", "CREA"}),
    "specific_gravity": frozenset({"GRAVITY", "SG"}),
    "ph": frozenset({"PH"}),
    "oxidants": frozenset({"OXIDANT", "OXIDANTS", "OXIDIZING", "OXIDIZER", "OXIDIZERS"}),
    "nitrite": frozenset({"NITRITE", "NITRITES"}),
}

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
# OBX-11 (HL7 table 0085) statuses whose value is read; N means "not asked".
_READ_STATUSES = {"", "F", "C", "P", "R", "S", "U"}
_REJECTED_STATUSES = {
    "X": "result status 'X': the result cannot be obtained",
    "D": "result status 'D': the lab deleted this result",
    "W": "result status 'W': the lab marked this result wrong (for example the wrong patient)",
    "I": "result status 'I': the result is still pending",
    "O": "result status 'O': an order description without a result",
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
# Specimen codes (HL7 tables 0070/0487 and common lab codes), matched whole ...
_SPECIMEN_CODES = {
    **dict.fromkeys(("UR", "URN", "URINE"), SpecimenType.urine),
    **dict.fromkeys(("OF", "ORH", "SAL", "SALIVA", "ORALFLUID"), SpecimenType.oral_fluid),
    **dict.fromkeys(("HAIR", "HAR"), SpecimenType.hair),
    **dict.fromkeys(("BRTH", "BRT", "BREATH"), SpecimenType.breath),
    **dict.fromkeys(("BLD", "BLDV", "WB", "SER", "PLAS", "BLOOD"), SpecimenType.blood),
    **dict.fromkeys(("SWT", "SWEAT"), SpecimenType.sweat_patch),
}
# ... and words found inside a description ("Oral fluid", "Whole blood").
_SPECIMEN_WORDS = {
    **dict.fromkeys(("URINE",), SpecimenType.urine),
    **dict.fromkeys(("ORAL", "SALIVA"), SpecimenType.oral_fluid),
    **dict.fromkeys(("HAIR",), SpecimenType.hair),
    **dict.fromkeys(("BREATH",), SpecimenType.breath),
    **dict.fromkeys(("BLOOD", "SERUM", "PLASMA"), SpecimenType.blood),
    **dict.fromkeys(("SWEAT",), SpecimenType.sweat_patch),
}

_VALIDITY_LABELS = {
    "creatinine": "Creatinine",
    "specific_gravity": "Specific gravity",
    "ph": "pH",
    "oxidants": "Oxidants",
    "nitrite": "Nitrite",
}
_SCREEN = "screen"
_CONFIRMATION = "confirmation"


def parse_hl7_results(
    data: bytes, *, lookup: AnalyteLookup, tz: ZoneInfo, now: datetime
) -> ParseResult[DrugTestRecord]:
    """Parse an HL7 ORU^R01 results file into one DrugTestRecord per OBR.

    Raises ParseError when the input is not an HL7 results file at all (empty, binary, no
    MSH, or only messages of another type); every other problem is a RowError in the
    result, and all of them are collected.
    """
    if now.tzinfo is None:
        now = now.replace(tzinfo=tz)
    lines = _LINE_BREAK.split(_decode(data))
    if not any(line.lstrip().startswith("MSH") for line in lines):
        raise ParseError("not an HL7 file: no MSH (message header) segment")

    result: ParseResult[DrugTestRecord] = ParseResult()
    messages = _split_messages(lines, result.errors)
    _check_message_types(messages)
    context = _Context(lookup=lookup, tz=tz, now=now, errors=result.errors)
    for message in messages:
        if message.msh is not None and message.is_oru:
            result.records.extend(_parse_message(message, context))
        elif message.msh is not None:
            result.errors.append(
                RowError(
                    message.msh.where,
                    "MSH-9",
                    f"message type {message.type_label} is not a lab result (ORU^R01)",
                )
            )
    return result


# --- input ------------------------------------------------------------------------------


def _decode(data: bytes) -> str:
    if not data:
        raise ParseError("the file is empty")
    if b"\x00" in data:
        raise ParseError("the file is binary (it contains NUL bytes), not an HL7 text file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(
            f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from None
    if "\x0b" in text or "\x1c" in text or "\x1a" in text:
        text = _strip_framing(text)
    text = text.replace("\ufeff", "")
    control = _CONTROL.search(text)
    if control is not None:
        raise ParseError(
            f"the file is binary (control character 0x{ord(control.group()):02x}), "
            "not an HL7 text file"
        )
    if not text.strip():
        raise ParseError("the file is empty")
    return text


def _strip_framing(text: str) -> str:
    """Remove MLLP bytes; one that ends an unterminated segment becomes a line break."""

    def replace(match: re.Match[str]) -> str:
        start = match.start()
        if start == 0 or text[start - 1] in "\r\n\x0b\x1c\x1a":
            return ""
        return "\r"

    return _FRAMING.sub(replace, text)


@dataclass(frozen=True, slots=True)
class _Encoding:
    field: str
    component: str
    repetition: str
    escape: str
    subcomponent: str


class _Segment:
    __slots__ = ("encoding", "fields", "line", "message", "ordinal", "sid")

    def __init__(
        self,
        sid: str,
        fields: list[str],
        encoding: _Encoding,
        line: int,
        message: int,
        ordinal: int,
    ) -> None:
        self.sid = sid
        self.fields = fields  # fields[n] is SEG-n
        self.encoding = encoding
        self.line = line
        self.message = message
        self.ordinal = ordinal

    @property
    def where(self) -> str:
        return f"message {self.message}, {self.sid} segment {self.ordinal} (line {self.line})"

    @property
    def label(self) -> str:
        return f"{self.sid} segment {self.ordinal} (line {self.line})"

    def raw(self, n: int) -> str:
        return self.fields[n] if n < len(self.fields) else ""

    def repetitions(self, n: int) -> list[str]:
        raw = self.raw(n)
        return raw.split(self.encoding.repetition) if raw else []

    def components(self, n: int) -> list[str]:
        """The components of the first repetition of SEG-n, unescaped and stripped."""
        raw = self.raw(n)
        if not raw:
            return []
        first = raw.split(self.encoding.repetition, 1)[0]
        return [
            _unescape(part, self.encoding).strip() for part in first.split(self.encoding.component)
        ]

    def component(self, n: int, c: int = 1) -> str:
        raw = self.raw(n)
        if not raw:
            return ""
        enc = self.encoding
        parts = raw.split(enc.repetition, 1)[0].split(enc.component)
        if c > len(parts):
            return ""
        return _unescape(parts[c - 1].split(enc.subcomponent, 1)[0], enc).strip()


@dataclass
class _Message:
    number: int
    msh: _Segment | None
    segments: list[_Segment]
    message_type: tuple[str, str] = ("", "")

    @property
    def is_oru(self) -> bool:
        return self.message_type == ("ORU", "R01")

    @property
    def type_label(self) -> str:
        kind, event = self.message_type
        if not kind and not event:
            return "(empty MSH-9)"
        return f"'{kind}^{event}'" if event else f"'{kind}'"


def _read_encoding(line: str) -> _Encoding | str:
    """The separators of an MSH/BHS/FHS line, or the reason they cannot be read."""
    if len(line) < 8:
        return "the header is too short to hold its separators (MSH-1, MSH-2)"
    fs = line[3]
    end = line.find(fs, 4)
    chars = line[4:] if end < 0 else line[4:end]
    if fs.isalnum() or fs.isspace():
        return f"field separator (MSH-1) {fs!r} is not valid"
    if not 4 <= len(chars) <= 5:
        return f"encoding characters (MSH-2) {chars!r} must be 4 characters, as in '^~\\&'"
    seen = fs + chars
    if len(set(seen)) != len(seen) or any(c.isalnum() or c.isspace() for c in chars):
        return f"encoding characters (MSH-2) {chars!r} are not valid"
    return _Encoding(fs, chars[0], chars[1], chars[2], chars[3])


def _split_messages(lines: list[str], errors: list[RowError]) -> list[_Message]:
    messages: list[_Message] = []
    current: _Message | None = None
    encoding: _Encoding | None = None
    counts: dict[str, int] = {}
    batch_start = 0  # number of messages before the current batch
    batches = 0
    for index, raw_line in enumerate(lines):
        line = raw_line.strip()
        if not line:
            continue
        number = index + 1
        sid = line[:3]
        if sid == "MSH":
            found = _read_encoding(line)
            counts = {"MSH": 1}
            if isinstance(found, str):
                encoding = None
                where = f"message {len(messages) + 1}, MSH segment 1 (line {number})"
                errors.append(RowError(where, "MSH-2", f"cannot read the message: {found}"))
                current = _Message(len(messages) + 1, None, [])
            else:
                encoding = found
                fields = ["MSH", found.field, *line[4:].split(found.field)]
                msh = _Segment("MSH", fields, found, number, len(messages) + 1, 1)
                current = _Message(
                    len(messages) + 1,
                    msh,
                    [msh],
                    (msh.component(9, 1).upper(), msh.component(9, 2).upper()),
                )
            messages.append(current)
        elif sid in ("FHS", "BHS", "BTS", "FTS"):
            current, encoding = None, None
            if sid == "BHS":
                batch_start = len(messages)
                batches += 1
            elif sid == "BTS":
                _check_count(line, number, "BTS-1", "messages", len(messages) - batch_start, errors)
                batch_start = len(messages)
            elif sid == "FTS":
                _check_count(line, number, "FTS-1", "batches", batches, errors)
        elif current is None:
            errors.append(
                RowError(f"line {number}", "segment", f"{sid} segment is outside any message")
            )
        elif encoding is None:
            continue  # the message header could not be read; already reported
        elif _SEGMENT_ID.fullmatch(sid) is None or (len(line) > 3 and line[3] != encoding.field):
            errors.append(
                RowError(
                    f"message {current.number}, line {number}",
                    "segment",
                    "this line is not an HL7 segment (a 3-letter segment name followed by "
                    f"{encoding.field!r})",
                )
            )
        else:
            counts[sid] = ordinal = counts.get(sid, 0) + 1
            current.segments.append(
                _Segment(sid, line.split(encoding.field), encoding, number, current.number, ordinal)
            )
    return messages


def _check_count(
    line: str, number: int, name: str, what: str, actual: int, errors: list[RowError]
) -> None:
    fs = line[3] if len(line) > 3 and not line[3].isalnum() else "|"
    fields = line.split(fs)
    stated = fields[1].strip() if len(fields) > 1 else ""
    if not stated:
        return
    if not stated.isdigit():
        errors.append(RowError(f"line {number}", name, f"{name} count {stated!r} is not a number"))
    elif int(stated) != actual:
        errors.append(
            RowError(
                f"line {number}",
                name,
                f"the trailer says {int(stated)} {what} but {actual} were found; "
                "the file may be truncated",
            )
        )


def _check_message_types(messages: list[_Message]) -> None:
    readable = [m for m in messages if m.msh is not None]
    if readable and not any(m.is_oru for m in readable):
        labels = sorted({m.type_label for m in readable})
        raise ParseError(
            f"not a lab results file: message type {', '.join(labels)} (expected ORU^R01)"
        )


def _unescape(value: str, enc: _Encoding) -> str:
    esc = enc.escape
    if esc not in value:
        return value
    out: list[str] = []
    i, n = 0, len(value)
    while i < n:
        start = value.find(esc, i)
        if start < 0:
            out.append(value[i:])
            break
        out.append(value[i:start])
        end = value.find(esc, start + 1)
        if end < 0:
            out.append(value[start:])
            break
        replacement = _escape_sequence(value[start + 1 : end], enc)
        out.append(value[start : end + 1] if replacement is None else replacement)
        i = end + 1
    return "".join(out)


def _escape_sequence(seq: str, enc: _Encoding) -> str | None:
    simple = {
        "F": enc.field,
        "S": enc.component,
        "T": enc.subcomponent,
        "R": enc.repetition,
        "E": enc.escape,
        "H": "",
        "N": "",
        ".br": "\n",
        ".fi": "",
        ".nf": "",
        ".ce": "\n",
    }
    if seq in simple:
        return simple[seq]
    if seq[:1] == "X" and len(seq) > 1 and len(seq) % 2 == 1:
        try:
            raw = bytes.fromhex(seq[1:])
        except ValueError:
            return None
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1")
    if seq[:3] in (".sp", ".sk", ".in", ".ti"):
        count = seq[3:].lstrip("+-")
        times = min(int(count), 10) if count.isdigit() else 1
        return ("\n" if seq[:3] == ".sp" else " ") * max(times, 1)
    return None


# --- messages ---------------------------------------------------------------------------


@dataclass
class _Context:
    lookup: AnalyteLookup
    tz: ZoneInfo
    now: datetime
    errors: list[RowError]

    def error(self, segment: _Segment, field: str, reason: str) -> None:
        self.errors.append(RowError(segment.where, field, reason))


class _FieldError(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


class _Observation:
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

    def __init__(self, segment: _Segment, kind: str, method: str, outcome: AnalyteOutcome) -> None:
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


class _Analyte:
    __slots__ = ("code", "coding_system", "key", "name", "observations")

    def __init__(self, key: str, code: str, coding_system: str, name: str) -> None:
        self.key = key
        self.code = code
        self.coding_system = coding_system
        self.name = name
        self.observations: dict[str, _Observation] = {}


@dataclass(frozen=True, slots=True)
class _Patient:
    """Who the lab says the specimen is from (PID-5, PID-7), for the identity check."""

    last_name: str
    first_name: str
    date_of_birth: date | None


class _Order:
    """An OBR and what follows it, up to the next OBR, ORC or PID."""

    def __init__(
        self,
        obr: _Segment,
        client_id: str | None,
        error_mark: int,
        patient: _Patient | None = None,
    ) -> None:
        self.obr = obr
        self.client_id = client_id
        self.error_mark = error_mark
        self.patient = patient  # None: no PID, or one that could not be read
        # Statements on whether the collection was observed: (observed, where it is said).
        self.observed: list[tuple[bool, _Segment, str]] = []
        self.notes: list[str] = []
        self.obx_count = 0
        self.analytes: dict[str, _Analyte] = {}
        self.validity: dict[str, tuple[Decimal | AnalyteOutcome, _Segment]] = {}
        self.corrected = False
        self.specimen: SpecimenType | None = None


# An NTE attaches to the order's notes, to an analyte reading, to a validity measure, or
# (after an OBX that was rejected) to nothing.
_Target = _Observation | str | None
_NOTES = "notes"


def _parse_message(message: _Message, ctx: _Context) -> list[DrugTestRecord]:
    msh = message.msh
    assert msh is not None
    message_errors = len(ctx.errors)
    version = msh.component(12, 1)
    if version not in SUPPORTED_VERSIONS:
        shown = f"'{version}'" if version else "(empty)"
        ctx.error(msh, "MSH-12", f"HL7 version {shown} is not supported (2.3 to 2.5.1)")
    lab_name = msh.component(4, 1) or msh.component(4, 2) or msh.component(3, 1)
    message_ok = len(ctx.errors) == message_errors

    records: list[DrugTestRecord] = []
    client_id: str | None = None
    patient: _Patient | None = None
    pid_seen = False
    missing_pid_reported = False
    order: _Order | None = None
    target: _Target = None
    obr_count = 0

    def finish() -> None:
        nonlocal order
        if order is not None:
            record = _finish_order(order, ctx, lab_name)
            if record is not None and message_ok:
                records.append(record)
        order = None

    for segment in message.segments[1:]:
        sid = segment.sid
        if sid == "OBX":
            if order is None:
                ctx.error(segment, "OBR", "OBX segment is not preceded by an OBR segment")
                target = None
            else:
                order.obx_count += 1
                target = _read_obx(segment, order, ctx)
        elif sid == "NTE":
            if order is not None:
                _attach_note(segment, order, target, ctx)
        elif sid == "OBR":
            finish()
            obr_count += 1
            if not pid_seen and not missing_pid_reported:
                missing_pid_reported = True
                ctx.error(
                    msh,
                    "PID",
                    "the message has no PID segment before its OBR; "
                    "the client these results belong to is unknown",
                )
            order = _Order(segment, client_id, len(ctx.errors), patient)
            _read_obr(segment, order)
            target = _NOTES
        elif sid == "PID":
            finish()
            pid_seen = True
            client_id = segment.component(3, 1) or None
            if client_id is None:
                ctx.error(segment, "PID-3", "the client id (PID-3) is empty")
            patient = _read_patient(segment, ctx)
            target = None
        elif sid == "ORC":
            finish()
            target = None
        elif sid == "SPM":
            if order is not None:
                order.specimen = _specimen_type(segment.components(4)) or order.specimen
                _read_spm_collection(segment, order)
                target = _NOTES
    finish()
    if obr_count == 0:
        ctx.error(msh, "OBR", "the message has no OBR (observation request) segment")
    return records


def _read_obr(obr: _Segment, order: _Order) -> None:
    if obr.component(25, 1).upper() == "C":
        order.corrected = True
    source = obr.raw(15).split(obr.encoding.repetition, 1)[0].split(obr.encoding.component, 1)[0]
    parts = [_unescape(p, obr.encoding).strip() for p in source.split(obr.encoding.subcomponent)]
    order.specimen = _specimen_type(parts)
    method = obr.raw(15).split(obr.encoding.repetition, 1)[0].split(obr.encoding.component)
    if len(method) > 2:
        _collection_method(_unescape(method[2], obr.encoding).strip(), obr, "OBR-15", order)
    comment = obr.components(39)
    _collection_note(" ".join(comment[:2]), obr, "OBR-39", order)


def _read_patient(pid: _Segment, ctx: _Context) -> _Patient | None:
    """PID-5 (family^given, first repetition: the legal name) and PID-7; None, with the
    error, when the date of birth cannot be read."""
    born = pid.component(7, 1)
    date_of_birth: date | None = None
    if born:
        match = _TS.fullmatch(born)
        try:
            date_of_birth = date(*map(int, match.groups()[:3])) if match else None
        except ValueError:
            date_of_birth = None
        if date_of_birth is None:
            ctx.error(
                pid,
                "PID-7",
                f"the date of birth (PID-7) {born!r} is not a valid HL7 date (YYYYMMDD)",
            )
            return None
        if date_of_birth > ctx.now.astimezone(ctx.tz).date():
            ctx.error(pid, "PID-7", f"the date of birth (PID-7) {born} is in the future")
            return None
    return _Patient(pid.component(5, 1), pid.component(5, 2), date_of_birth)


def _read_spm_collection(spm: _Segment, order: _Order) -> None:
    """SPM-7 (specimen collection method) and SPM-14 (specimen description)."""
    code, text = [*spm.components(7), "", ""][:2]
    if code.upper() in _OBSERVED_CODES:
        order.observed.append((True, spm, "SPM-7"))
    elif code.upper() in _UNOBSERVED_CODES:
        order.observed.append((False, spm, "SPM-7"))
    else:
        _collection_method(text or code, spm, "SPM-7", order)
    for description in spm.repetitions(14):
        _collection_note(_unescape(description, spm.encoding), spm, "SPM-14", order)


def _collection_method(text: str, segment: _Segment, name: str, order: _Order) -> None:
    """A field holding the collection method: "Observed" alone is enough."""
    if _NOT_OBSERVED.search(text):
        order.observed.append((False, segment, name))
    elif _OBSERVED_METHOD.search(text):
        order.observed.append((True, segment, name))


def _collection_note(text: str, segment: _Segment, name: str, order: _Order) -> None:
    """Free text: only a statement about the collection counts ("Specimen observed",
    "observed collection: yes"), not any use of the word ("no crystals observed")."""
    if _NOT_OBSERVED.search(text):
        order.observed.append((False, segment, name))
    elif _OBSERVED_NOTE.search(text):
        order.observed.append((True, segment, name))


def _observed(order: _Order, ctx: _Context) -> bool:
    """Whether the collection was observed; statements that contradict each other are an
    error naming both, since a court reads this fact."""
    said = {value for value, _, _ in order.observed}
    if len(said) > 1:
        yes = next(f"{n} ({s.label})" for v, s, n in order.observed if v)
        no = next(f"{n} ({s.label})" for v, s, n in order.observed if not v)
        _, segment, name = order.observed[-1]
        ctx.error(
            segment,
            name,
            f"{yes} says the collection was observed but {no} says it was not",
        )
        return False
    return said == {True}


def _finish_order(order: _Order, ctx: _Context, lab_name: str) -> DrugTestRecord | None:
    obr = order.obr
    collected_at = _timestamp(obr, 7, "collection date/time", ctx, required=True)
    if collected_at is not None and collected_at > ctx.now:
        ctx.error(obr, "OBR-7", f"collection date/time {collected_at.isoformat()} is in the future")
    reported_at = _timestamp(obr, 22, "results report date/time", ctx, required=False)
    if reported_at is not None and collected_at is not None and reported_at < collected_at:
        ctx.error(
            obr,
            "OBR-22",
            f"results reported at {reported_at.isoformat()}, before the specimen was "
            f"collected at {collected_at.isoformat()}",
        )
    if order.obx_count == 0:
        ctx.error(obr, "OBX", "the OBR has no OBX (result) segments")

    results = tuple(_analyte_record(analyte) for analyte in order.analytes.values())
    creatinine = _decimal_measure(order, "creatinine")
    specific_gravity = _decimal_measure(order, "specific_gravity")
    ph = _decimal_measure(order, "ph")
    observed = _observed(order, ctx)
    if len(ctx.errors) != order.error_mark or order.client_id is None or collected_at is None:
        return None
    if order.patient is None:  # its PID could not be read (already reported)
        return None
    return DrugTestRecord(
        location=obr.where,
        client_id=order.client_id,
        collected_at=collected_at,
        collection_status=CollectionStatus.collected,
        specimen_type=order.specimen or SpecimenType.urine,
        lab_name=obr.component(3, 2) or lab_name,
        accession_id=obr.component(3, 1) or obr.component(2, 1),
        chain_of_custody_id=obr.component(18, 1),
        result_reported_at=reported_at,
        creatinine_mg_dl=creatinine,
        specific_gravity=specific_gravity,
        ph=ph,
        oxidants=_outcome_measure(order, "oxidants"),
        nitrite=_outcome_measure(order, "nitrite"),
        notes="\n".join(order.notes),
        corrected=order.corrected,
        results=results,
        observed=observed,
        last_name=order.patient.last_name,
        first_name=order.patient.first_name,
        date_of_birth=order.patient.date_of_birth,
    )


def _timestamp(
    segment: _Segment, n: int, what: str, ctx: _Context, *, required: bool
) -> datetime | None:
    name = f"{segment.sid}-{n}"
    value = segment.component(n, 1)
    if not value:
        if required:
            ctx.error(segment, name, f"the {what} ({name}) is missing")
        return None
    parsed = _parse_ts(value, ctx.tz)
    if parsed is None:
        ctx.error(
            segment,
            name,
            f"the {what} ({name}) {value!r} is not a valid HL7 date/time "
            "(YYYYMMDD[HHMM[SS]][+/-ZZZZ])",
        )
    return parsed


def _parse_ts(value: str, tz: ZoneInfo) -> datetime | None:
    match = _TS.fullmatch(value)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        tzinfo: timezone | ZoneInfo = tz
        if offset:
            hours, minutes = int(offset[1:3]), int(offset[3:5])
            if hours > 14 or minutes > 59:
                return None
            sign = -1 if offset[0] == "-" else 1
            tzinfo = timezone(sign * timedelta(hours=hours, minutes=minutes))
        parsed = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "0").ljust(6, "0")),
            tzinfo=tzinfo,
        )
        parsed.astimezone(UTC)  # out-of-range instants raise here, not later
    except (ValueError, OverflowError):
        return None
    return parsed


def _attach_note(nte: _Segment, order: _Order, target: _Target, ctx: _Context) -> None:
    """A note belongs to what it follows: a drug's OBX (its comment), else the specimen.

    After a validity OBX (creatinine, specific gravity ...) the note goes to the
    specimen's notes, where the lab's remarks on the specimen are read. It is labeled
    with the measure ("Creatinine: below reference range") only when it reads as a
    remark on that measure: when it names neither the measure (it says what it is about
    already) nor anything else (a drug, the specimen, the collection, a confirmation).
    Any note of the order may say the collection was observed."""
    text = _note_text(nte)
    if not text:
        return
    _collection_note(text, nte, "NTE-3", order)
    if target is None:
        return
    if isinstance(target, _Observation):
        target.comments.append(text)
    elif target == _NOTES or _names_something(text, target, order, ctx):
        order.notes.append(text)
    else:
        order.notes.append(f"{_VALIDITY_LABELS[target]}: {text}")


def _names_something(text: str, measure: str, order: _Order, ctx: _Context) -> bool:
    """Whether a note names the validity measure itself, or something else: a specimen
    or collection word, a drug of the order or of the program's code table."""
    words = set(_WORD.findall(text.upper()))
    if words & (_VALIDITY_WORDS[measure] | _SPECIMEN_NOTE_WORDS):
        return True
    if _method_name(text):
        return True
    for analyte in order.analytes.values():
        named = {analyte.key.upper(), analyte.code.upper(), *_WORD.findall(analyte.name.upper())}
        if words & named:
            return True
    return any(
        (key := ctx.lookup("", word)) is not None and key not in VALIDITY_KEYS
        for word in words
        if not word.isdigit()
    )


def _note_text(nte: _Segment) -> str:
    lines = [_unescape(rep, nte.encoding) for rep in nte.repetitions(3)]
    text = "\n".join(lines).replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()


def _specimen_type(parts: list[str]) -> SpecimenType | None:
    """SPM-4 components or OBR-15's first component's subcomponents: code, then text."""
    for part in parts[:2]:
        word = part.upper()
        if word in _SPECIMEN_CODES:
            return _SPECIMEN_CODES[word]
        for token in _WORD.findall(word):
            if token in _SPECIMEN_WORDS:
                return _SPECIMEN_WORDS[token]
    return None


# --- observations -----------------------------------------------------------------------


def _read_obx(obx: _Segment, order: _Order, ctx: _Context) -> _Target:
    identifier = obx.components(3) + [""] * 6
    code, name, system, alt_code, alt_name, alt_system = identifier[:6]
    if not code and not alt_code:
        ctx.error(obx, "OBX-3", "the observation identifier (OBX-3) is empty")
        return None
    key = ctx.lookup(system, code) if code else None
    if key is None and alt_code:
        key = ctx.lookup(alt_system, alt_code)
    if key is None:
        reason = f"unknown analyte code '{code}' (system '{system}')"
        if alt_code:
            reason += f" or '{alt_code}' (system '{alt_system}')"
        ctx.error(obx, "OBX-3", reason + "; add it to the program's analyte table")
        return None

    status = obx.component(11, 1).upper()
    if status in _REJECTED_STATUSES:
        ctx.error(obx, "OBX-11", f"{_REJECTED_STATUSES[status]} ({key})")
        return None
    if status != "N" and status not in _READ_STATUSES:
        ctx.error(obx, "OBX-11", f"result status {status!r} is not a known HL7 result status")
        return None
    if status == "C":
        order.corrected = True
    try:
        if key in VALIDITY_KEYS:
            _read_validity(obx, key, status, order)
            return key
        return _read_analyte(obx, key, status, order, (code or alt_code, system, name or alt_name))
    except _FieldError as exc:
        ctx.error(obx, exc.field, exc.reason)
        return None


def _value(obx: _Segment) -> tuple[str, str]:
    """OBX-5 as (comparator, text): '<' and '50' for SN '<^50' or ST '<50'."""
    value_type = obx.component(2, 1).upper()
    parts = obx.components(5)
    if value_type == "SN":
        parts = [*parts, "", "", "", ""]
        if parts[2] or parts[3]:
            raise _FieldError("OBX-5", f"structured numeric {obx.raw(5)!r} is a range or ratio")
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
        raise _FieldError("OBX-5", f"the value {text!r} is not a number, but OBX-2 says NM")
    return "", text


def _read_validity(obx: _Segment, key: str, status: str, order: _Order) -> None:
    label = _VALIDITY_LABELS[key]
    comparator, text = _value(obx)
    if status == "N" and not text:
        return
    if not text:
        raise _FieldError("OBX-5", f"the {label.lower()} result (OBX-5) is empty")
    if key in ("oxidants", "nitrite"):
        outcome, _level = _outcome(
            obx, comparator, text, _cutoff(obx.component(7, 1)), label.lower()
        )
        measure: Decimal | AnalyteOutcome = outcome
    else:
        if comparator or _NUMBER.fullmatch(text) is None:
            raise _FieldError("OBX-5", f"the {label.lower()} result {text!r} is not a number")
        measure = Decimal(text)
        if key == "creatinine":
            units = obx.component(6, 1)
            factor = _CREATININE_UNITS.get(_unit_key(units))
            if factor is None:
                raise _FieldError("OBX-6", f"creatinine units {units!r} are not mg/dL")
            if factor != 1:
                if measure.adjusted() > 9:  # beyond any creatinine; quantize would raise
                    raise _FieldError("OBX-5", f"creatinine {text} is out of range")
                measure = _tidy((measure * factor).quantize(Decimal("0.01")))
        elif key == "ph" and not Decimal(0) <= measure <= Decimal(14):
            raise _FieldError("OBX-5", f"pH {text} is not between 0 and 14")
        elif key == "specific_gravity" and measure <= 0:
            raise _FieldError("OBX-5", f"specific gravity {text} is not a positive number")
    previous = order.validity.get(key)
    if previous is not None and previous[0] != measure:
        raise _FieldError(
            "OBX-5",
            f"{label.lower()} {measure} disagrees with {previous[0]} at {previous[1].label}",
        )
    order.validity[key] = (measure, obx)


def _read_analyte(
    obx: _Segment, key: str, status: str, order: _Order, identity: tuple[str, str, str]
) -> _Observation:
    code, system, name = identity
    method, confirmation = _method(obx, name)
    kind = _CONFIRMATION if confirmation else _SCREEN

    reference_range = _unescape(obx.raw(7).split(obx.encoding.repetition, 1)[0], obx.encoding)
    flags = [f.strip().upper() for f in obx.repetitions(8) if f.strip()]
    comparator, text = _value(obx)
    observation = _Observation(obx, kind, method, AnalyteOutcome.not_tested)
    observation.reference_range = reference_range.strip()
    observation.abnormal_flag = "~".join(flags)
    if status != "N" or text:
        if not text:
            raise _FieldError("OBX-5", f"the {key} result (OBX-5) is empty")
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

    analyte = order.analytes.get(key)
    if analyte is None:
        analyte = order.analytes[key] = _Analyte(key, code, system, name or code)
    existing = analyte.observations.get(kind)
    if existing is None:
        analyte.observations[kind] = observation
        return observation
    _merge(existing, observation, key)
    return existing


def _outcome(
    obx: _Segment, comparator: str, text: str, cutoff: Decimal | None, what: str
) -> tuple[AnalyteOutcome, Decimal | None]:
    """The outcome and level (ng/mL in the OBX's units) of an OBX-5 value."""
    flags = [f.strip().upper() for f in obx.repetitions(8) if f.strip()]
    flagged = {_FLAG_OUTCOMES[f] for f in flags if f in _FLAG_OUTCOMES}
    if len(flagged) > 1:
        raise _FieldError("OBX-8", f"abnormal flags {'~'.join(flags)!r} contradict each other")
    flag_outcome = next(iter(flagged), None)

    word = " ".join(text.upper().split())
    if word in _TEXT_OUTCOMES:
        outcome = _TEXT_OUTCOMES[word]
        if (
            flag_outcome is not None
            and outcome
            in (
                AnalyteOutcome.positive,
                AnalyteOutcome.negative,
            )
            and flag_outcome != outcome
        ):
            raise _FieldError(
                "OBX-8", f"abnormal flag {'~'.join(flags)!r} contradicts the result {text!r}"
            )
        return outcome, None
    if _NUMBER.fullmatch(text) is None:
        raise _FieldError(
            "OBX-5",
            f"the {what} result {text!r} is neither a number nor a result such as "
            "NEGATIVE, POSITIVE or INVALID",
        )
    number = Decimal(text)
    shown = f"{comparator}{text}"
    level: Decimal | None = number
    if comparator in ("<", "<="):
        level = None
        decided = AnalyteOutcome.negative if cutoff is None or number <= cutoff else None
    elif comparator in (">", ">="):
        decided = AnalyteOutcome.positive if cutoff is None or number >= cutoff else None
    elif cutoff is not None:
        decided = AnalyteOutcome.positive if number >= cutoff else AnalyteOutcome.negative
    else:
        decided = None
    if decided is None:
        if flag_outcome is None:
            raise _FieldError(
                "OBX-7",
                f"cannot tell whether the {what} result {shown} is positive: no cutoff in the "
                "reference range (OBX-7) and no abnormal flag (OBX-8)",
            )
        return flag_outcome, level
    if flag_outcome is not None and flag_outcome != decided:
        raise _FieldError(
            "OBX-8",
            f"abnormal flag {'~'.join(flags)!r} contradicts the {what} result {shown} "
            f"against the cutoff {cutoff}",
        )
    return decided, level


def _cutoff(reference_range: str) -> Decimal | None:
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
    key = units.strip().lower().replace(" ", "").replace("\u00b5", "u").replace("\u03bc", "u")
    return key.replace("mcg", "ug")


def _method(obx: _Segment, name: str) -> tuple[str, bool]:
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
        return (_method_name(both) or given)[:40], True
    if _is_confirmation(name) or "CONFIRM" in name.upper():
        return _method_name(name), True
    return "", False


def _method_name(text: str) -> str:
    """LC-MS/MS, GC-MS ... for the first method the text names; "" for none."""
    for pattern, method in _METHODS:
        if pattern.search(text):
            return method
    return ""


def _is_confirmation(method: str) -> bool:
    upper = method.upper()
    if "CHROMATOGRAPH" in upper or "MASS SPEC" in upper:
        return True
    return any(_CONFIRMATION_TOKEN.fullmatch(token) for token in _WORD.findall(upper))


def _merge(existing: _Observation, new: _Observation, key: str) -> None:
    """Two OBX for the same analyte and kind: they must agree, and fill each other's gaps."""
    if existing.outcome != new.outcome:
        raise _FieldError(
            "OBX-5",
            f"{new.kind} result {new.outcome} for {key} disagrees with {existing.outcome} "
            f"at {existing.segment.label}",
        )
    if existing.level is not None and new.level is not None and existing.level != new.level:
        raise _FieldError(
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


def _analyte_record(analyte: _Analyte) -> AnalyteRecord:
    screen = analyte.observations.get(_SCREEN)
    confirmation = analyte.observations.get(_CONFIRMATION)
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


# --- specimen validity ------------------------------------------------------------------


def _decimal_measure(order: _Order, key: str) -> Decimal | None:
    found = order.validity.get(key)
    return found[0] if found is not None and isinstance(found[0], Decimal) else None


def _outcome_measure(order: _Order, key: str) -> str:
    """An oxidant or nitrite result as the record carries it: "", "negative" or
    "positive". Whether it makes the specimen adulterated is decided with the other
    figures by compliance.specimen_validity, when the file is matched to the program."""
    found = order.validity.get(key)
    return found[0].value if found is not None and isinstance(found[0], AnalyteOutcome) else ""
