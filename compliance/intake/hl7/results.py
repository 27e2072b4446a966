"""HL7 v2 ORU^R01 lab results (versions 2.3 to 2.5.1) → DrugTestRecords. Pure: bytes in,
records and errors out. The HL7 syntax (framing, segments, escapes, line numbers) is
compliance.intake.hl7.message; an OBX's reading is compliance.intake.hl7.observations.

What comes out:
- one DrugTestRecord per OBR: client id from PID-3, the name the lab gives from PID-5
  (family^given) and the date of birth from PID-7, for the identity check before anything
  is stored; collected_at from OBR-7, accession from OBR-3 (else OBR-2), chain of custody
  from OBR-18, result_reported_at from OBR-22, the specimen from SPM-4 / OBR-15, the lab
  from OBR-3's namespace, else MSH-4, else MSH-3;
- one AnalyteRecord per analyte key, screen and confirmation OBX merged;
- creatinine, specific gravity, pH, oxidants and nitrite as measured;
- NTE notes attach to what they follow: the OBX of a drug (its comment), else the
  specimen (the OBR, SPM, or a validity OBX: see ``_attach_note``);
- observed collection where labs send it: the specimen collection method (SPM-7, or
  OBR-15's third component), the specimen description (SPM-14), the collector's comment
  (OBR-39), or any note of the order ("Specimen observed", "witnessed collection").

Every problem is collected, located as "message 2, OBX segment 3 (line 14)"; a record is
produced only for an OBR without problems. ``ParseError`` is kept for input that is not an
HL7 results file at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from compliance.core.vocabulary import AnalyteOutcome, CollectionStatus, SpecimenType
from compliance.intake.hl7.message import (
    Message,
    Segment,
    parse_date,
    parse_timestamp,
    read_messages,
)
from compliance.intake.hl7.observations import (
    VALIDITY_LABELS,
    WORD,
    Analyte,
    FieldError,
    Observation,
    ValidityMeasures,
    analyte_record,
    method_name,
    read_analyte,
    read_validity,
)
from compliance.intake.records import (
    VALIDITY_KEYS,
    AnalyteLookup,
    DrugTestRecord,
    ParseError,
    ParseResult,
    RowError,
)

__all__ = ["SUPPORTED_VERSIONS", "parse_hl7_results"]

SUPPORTED_VERSIONS = ("2.3", "2.3.1", "2.4", "2.5", "2.5.1")
_ORU_R01 = ("ORU", "R01")

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

# OBX-11 (HL7 table 0085) statuses whose value is read; N means "not asked".
_READ_STATUSES = {"", "F", "C", "P", "R", "S", "U"}
_REJECTED_STATUSES = {
    "X": "result status 'X': the result cannot be obtained",
    "D": "result status 'D': the lab deleted this result",
    "W": "result status 'W': the lab marked this result wrong (for example the wrong patient)",
    "I": "result status 'I': the result is still pending",
    "O": "result status 'O': an order description without a result",
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
    result: ParseResult[DrugTestRecord] = ParseResult()
    messages = read_messages(data, result.errors)
    _check_message_types(messages)
    context = _Context(lookup=lookup, tz=tz, now=now, errors=result.errors)
    for message in messages:
        if message.msh is None:
            continue  # its header could not be read (already reported)
        if message.message_type == _ORU_R01:
            result.records.extend(_MessageReader(message.msh, context).read(message.segments))
        else:
            context.error(
                message.msh,
                "MSH-9",
                f"message type {message.type_label} is not a lab result (ORU^R01)",
            )
    return result


def _check_message_types(messages: list[Message]) -> None:
    """A file of only other messages (ADT, ORM ...) is the wrong file, not a bad one."""
    readable = [m for m in messages if m.msh is not None]
    if readable and not any(m.message_type == _ORU_R01 for m in readable):
        labels = sorted({m.type_label for m in readable})
        raise ParseError(
            f"not a lab results file: message type {', '.join(labels)} (expected ORU^R01)"
        )


# --- orders -----------------------------------------------------------------------------


@dataclass
class _Context:
    """What every message is read with: the program's analyte codes, its time zone, the
    time of the import (nothing may be in the future) and the errors collected."""

    lookup: AnalyteLookup
    tz: ZoneInfo
    now: datetime
    errors: list[RowError]

    def error(self, segment: Segment, field: str, reason: str) -> None:
        self.errors.append(RowError(segment.where, field, reason))


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
        obr: Segment,
        client_id: str | None,
        error_mark: int,
        patient: _Patient | None = None,
    ) -> None:
        self.obr = obr
        self.client_id = client_id
        self.error_mark = error_mark  # errors before this order: any after it spoil it
        self.patient = patient  # None: no PID, or one that could not be read
        # Statements on whether the collection was observed: (observed, where it is said).
        self.observed: list[tuple[bool, Segment, str]] = []
        self.notes: list[str] = []
        self.obx_count = 0
        self.analytes: dict[str, Analyte] = {}
        self.validity: ValidityMeasures = {}
        self.corrected = False
        self.specimen: SpecimenType | None = None


# An NTE attaches to the order's notes, to an analyte reading, to a validity measure, or
# (after an OBX that was rejected) to nothing.
_Target = Observation | str | None
_NOTES = "notes"


class _MessageReader:
    """Reads one ORU^R01 message's segments in order: a PID names the client of the orders
    after it, an OBR starts an order, and OBX, NTE and SPM belong to the current order."""

    def __init__(self, msh: Segment, ctx: _Context) -> None:
        self.msh = msh
        self.ctx = ctx
        # A message whose header is wrong gives no records, but its segments are still
        # read so that every error is found in one pass.
        self.message_ok = self._check_version()
        self.lab_name = msh.component(4, 1) or msh.component(4, 2) or msh.component(3, 1)
        self.records: list[DrugTestRecord] = []
        self.client_id: str | None = None
        self.patient: _Patient | None = None
        self.pid_seen = False
        self.missing_pid_reported = False
        self.order: _Order | None = None
        self.target: _Target = None
        self.obr_count = 0

    def read(self, segments: list[Segment]) -> list[DrugTestRecord]:
        """The records of the message's orders (segments from its MSH on)."""
        handlers: dict[str, Callable[[Segment], None]] = {
            "PID": self._pid,
            "ORC": self._orc,
            "OBR": self._obr,
            "OBX": self._obx,
            "NTE": self._nte,
            "SPM": self._spm,
        }
        for segment in segments[1:]:
            handler = handlers.get(segment.sid)
            if handler is not None:
                handler(segment)
        self._finish_order()
        if self.obr_count == 0:
            self.ctx.error(self.msh, "OBR", "the message has no OBR (observation request) segment")
        return self.records

    def _check_version(self) -> bool:
        version = self.msh.component(12, 1)
        if version in SUPPORTED_VERSIONS:
            return True
        shown = f"'{version}'" if version else "(empty)"
        self.ctx.error(self.msh, "MSH-12", f"HL7 version {shown} is not supported (2.3 to 2.5.1)")
        return False

    def _finish_order(self) -> None:
        if self.order is not None:
            record = _finish_order(self.order, self.ctx, self.lab_name)
            if record is not None and self.message_ok:
                self.records.append(record)
        self.order = None

    def _pid(self, pid: Segment) -> None:
        self._finish_order()
        self.pid_seen = True
        self.client_id = pid.component(3, 1) or None
        if self.client_id is None:
            self.ctx.error(pid, "PID-3", "the client id (PID-3) is empty")
        self.patient = _read_patient(pid, self.ctx)
        self.target = None

    def _orc(self, _orc: Segment) -> None:
        self._finish_order()
        self.target = None

    def _obr(self, obr: Segment) -> None:
        self._finish_order()
        self.obr_count += 1
        if not self.pid_seen and not self.missing_pid_reported:
            self.missing_pid_reported = True
            self.ctx.error(
                self.msh,
                "PID",
                "the message has no PID segment before its OBR; "
                "the client these results belong to is unknown",
            )
        self.order = _Order(obr, self.client_id, len(self.ctx.errors), self.patient)
        _read_obr(obr, self.order)
        self.target = _NOTES

    def _obx(self, obx: Segment) -> None:
        if self.order is None:
            self.ctx.error(obx, "OBR", "OBX segment is not preceded by an OBR segment")
            self.target = None
            return
        self.order.obx_count += 1
        self.target = _read_obx(obx, self.order, self.ctx)

    def _nte(self, nte: Segment) -> None:
        if self.order is not None:
            _attach_note(nte, self.order, self.target, self.ctx)

    def _spm(self, spm: Segment) -> None:
        if self.order is not None:
            self.order.specimen = _specimen_type(spm.components(4)) or self.order.specimen
            _read_spm_collection(spm, self.order)
            self.target = _NOTES


def _read_obr(obr: Segment, order: _Order) -> None:
    """OBR-25 (a corrected result), OBR-15 (specimen source: the specimen type in its first
    component's subcomponents, the collection method in its third) and OBR-39."""
    if obr.component(25, 1).upper() == "C":
        order.corrected = True
    source = obr.first_repetition(15)
    specimen = source.split(obr.encoding.component, 1)[0]
    order.specimen = _specimen_type(
        [obr.unescape(p).strip() for p in specimen.split(obr.encoding.subcomponent)]
    )
    method = source.split(obr.encoding.component)
    if len(method) > 2:
        _collection_method(obr.unescape(method[2]).strip(), obr, "OBR-15", order)
    comment = obr.components(39)
    _collection_note(" ".join(comment[:2]), obr, "OBR-39", order)


def _read_patient(pid: Segment, ctx: _Context) -> _Patient | None:
    """PID-5 (family^given, first repetition: the legal name) and PID-7; None, with the
    error, when the date of birth cannot be read."""
    born = pid.component(7, 1)
    date_of_birth: date | None = None
    if born:
        date_of_birth = parse_date(born)
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


def _specimen_type(parts: list[str]) -> SpecimenType | None:
    """SPM-4 components or OBR-15's first component's subcomponents: code, then text."""
    for part in parts[:2]:
        word = part.upper()
        if word in _SPECIMEN_CODES:
            return _SPECIMEN_CODES[word]
        for token in WORD.findall(word):
            if token in _SPECIMEN_WORDS:
                return _SPECIMEN_WORDS[token]
    return None


# --- observed collection ----------------------------------------------------------------


def _read_spm_collection(spm: Segment, order: _Order) -> None:
    """SPM-7 (specimen collection method) and SPM-14 (specimen description)."""
    code, text = [*spm.components(7), "", ""][:2]
    if code.upper() in _OBSERVED_CODES:
        order.observed.append((True, spm, "SPM-7"))
    elif code.upper() in _UNOBSERVED_CODES:
        order.observed.append((False, spm, "SPM-7"))
    else:
        _collection_method(text or code, spm, "SPM-7", order)
    for description in spm.repetitions(14):
        _collection_note(spm.unescape(description), spm, "SPM-14", order)


def _collection_method(text: str, segment: Segment, name: str, order: _Order) -> None:
    """A field holding the collection method: "Observed" alone is enough."""
    if _NOT_OBSERVED.search(text):
        order.observed.append((False, segment, name))
    elif _OBSERVED_METHOD.search(text):
        order.observed.append((True, segment, name))


def _collection_note(text: str, segment: Segment, name: str, order: _Order) -> None:
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


# --- the record -------------------------------------------------------------------------


def _finish_order(order: _Order, ctx: _Context, lab_name: str) -> DrugTestRecord | None:
    """The order's record, or None when any problem was found in it (reported)."""
    obr = order.obr
    collected_at, reported_at = _order_times(obr, ctx)
    if order.obx_count == 0:
        ctx.error(obr, "OBX", "the OBR has no OBX (result) segments")

    results = tuple(analyte_record(analyte) for analyte in order.analytes.values())
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
        creatinine_mg_dl=_decimal_measure(order, "creatinine"),
        specific_gravity=_decimal_measure(order, "specific_gravity"),
        ph=_decimal_measure(order, "ph"),
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


def _order_times(obr: Segment, ctx: _Context) -> tuple[datetime | None, datetime | None]:
    """OBR-7 (collected, required, not in the future) and OBR-22 (results reported, not
    before the collection)."""
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
    return collected_at, reported_at


def _timestamp(
    segment: Segment, n: int, what: str, ctx: _Context, *, required: bool
) -> datetime | None:
    """SEG-n as a date/time; a missing required one or an invalid one is reported."""
    name = f"{segment.sid}-{n}"
    value = segment.component(n, 1)
    if not value:
        if required:
            ctx.error(segment, name, f"the {what} ({name}) is missing")
        return None
    parsed = parse_timestamp(value, ctx.tz)
    if parsed is None:
        ctx.error(
            segment,
            name,
            f"the {what} ({name}) {value!r} is not a valid HL7 date/time "
            "(YYYYMMDD[HHMM[SS]][+/-ZZZZ])",
        )
    return parsed


def _decimal_measure(order: _Order, key: str) -> Decimal | None:
    found = order.validity.get(key)
    return found[0] if found is not None and isinstance(found[0], Decimal) else None


def _outcome_measure(order: _Order, key: str) -> str:
    """An oxidant or nitrite result as the record carries it: "", "negative" or
    "positive". Whether it makes the specimen adulterated is decided with the other
    figures by compliance.engine.specimen_validity, when the file is matched to the program."""
    found = order.validity.get(key)
    return found[0].value if found is not None and isinstance(found[0], AnalyteOutcome) else ""


# --- notes ------------------------------------------------------------------------------


def _attach_note(nte: Segment, order: _Order, target: _Target, ctx: _Context) -> None:
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
    if isinstance(target, Observation):
        target.comments.append(text)
    elif target == _NOTES or _names_something(text, target, order, ctx):
        order.notes.append(text)
    else:
        order.notes.append(f"{VALIDITY_LABELS[target]}: {text}")


def _names_something(text: str, measure: str, order: _Order, ctx: _Context) -> bool:
    """Whether a note names the validity measure itself, or something else: a specimen
    or collection word, a drug of the order or of the program's code table."""
    words = set(WORD.findall(text.upper()))
    if words & (_VALIDITY_WORDS[measure] | _SPECIMEN_NOTE_WORDS):
        return True
    if method_name(text):
        return True
    for analyte in order.analytes.values():
        named = {analyte.key.upper(), analyte.code.upper(), *WORD.findall(analyte.name.upper())}
        if words & named:
            return True
    return any(
        (key := ctx.lookup("", word)) is not None and key not in VALIDITY_KEYS
        for word in words
        if not word.isdigit()
    )


def _note_text(nte: Segment) -> str:
    """NTE-3's repetitions as lines, each without trailing blanks."""
    lines = [nte.unescape(rep) for rep in nte.repetitions(3)]
    text = "\n".join(lines).replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()


# --- observations -----------------------------------------------------------------------


def _read_obx(obx: Segment, order: _Order, ctx: _Context) -> _Target:
    """An OBX of the order: what a following NTE attaches to, None when it was rejected."""
    identified = _identify(obx, ctx)
    if identified is None:
        return None
    key, identity = identified
    status = _result_status(obx, key, ctx)
    if status is None:
        return None
    if status == "C":
        order.corrected = True
    try:
        if key in VALIDITY_KEYS:
            read_validity(obx, key, status, order.validity)
            return key
        return read_analyte(obx, key, status, order.analytes, identity)
    except FieldError as exc:
        ctx.error(obx, exc.field, exc.reason)
        return None


def _identify(obx: Segment, ctx: _Context) -> tuple[str, tuple[str, str, str]] | None:
    """OBX-3 → the program's analyte key and the (code, coding system, name) the lab
    used, its alternate code when the first is not in the program's table."""
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
    return key, (code or alt_code, system, name or alt_name)


def _result_status(obx: Segment, key: str, ctx: _Context) -> str | None:
    """OBX-11, or None (reported) for a result that must not be read: deleted, wrong,
    pending, or a status HL7 does not have."""
    status = obx.component(11, 1).upper()
    if status in _REJECTED_STATUSES:
        ctx.error(obx, "OBX-11", f"{_REJECTED_STATUSES[status]} ({key})")
        return None
    if status != "N" and status not in _READ_STATUSES:
        ctx.error(obx, "OBX-11", f"result status {status!r} is not a known HL7 result status")
        return None
    return status
