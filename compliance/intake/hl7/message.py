"""HL7 v2 syntax: bytes → messages of segments, with the line of every segment.

Input: one message or a batch (FHS/BHS ... BTS/FTS, any number of MSH messages), with or
without MLLP framing (``\\x0b`` ... ``\\x1c\\x0d`` around any message), segments ended by CR,
CRLF or LF, a UTF-8 BOM, blank lines. Each message is split with its own separators from
MSH-1/MSH-2 and text is unescaped (``\\F\\ \\S\\ \\T\\ \\R\\ \\E\\``, ``\\Xhh..\\`` as UTF-8,
``\\.br\\``).

This is done here rather than with python-hl7: we need the line of every segment for error
locations, hex escapes decoded as UTF-8 bytes, and malformed input turned into RowErrors
instead of assorted exceptions. Nothing here knows what the messages are about: reading lab
results out of them is compliance.intake.hl7.results.

A segment's location reads "message 2, OBX segment 3 (line 14)": the message's number in
the input, the segment's number among the segments of that type in the message, and the
line in the input after the framing bytes are removed (all 1-based).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from compliance.intake.records import ParseError, RowError

__all__ = [
    "Encoding",
    "Message",
    "Segment",
    "parse_date",
    "parse_timestamp",
    "read_messages",
    "unescape",
]

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_FRAMING = re.compile(r"\x1c\r?\n?|[\x0b\x1a]")
_CONTROL = re.compile(r"[\x00-\x08\x0c\x0e-\x1f\x7f]")
_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{2}")
_TS = re.compile(
    r"(\d{4})(\d{2})(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,6}))?)?)?)?([+-]\d{4})?"
)
_BATCH_SEGMENTS = ("FHS", "BHS", "BTS", "FTS")


@dataclass(frozen=True, slots=True)
class Encoding:
    """A message's separators (MSH-1, MSH-2): each message may bring its own."""

    field: str
    component: str
    repetition: str
    escape: str
    subcomponent: str


class Segment:
    """One segment line, split into fields but not further: components, repetitions and
    escapes are read on demand, since most fields of a lab message are never looked at."""

    __slots__ = ("encoding", "fields", "line", "message", "ordinal", "sid")

    def __init__(
        self,
        sid: str,
        fields: list[str],
        encoding: Encoding,
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
        """The location an error names: message, segment and line."""
        return f"message {self.message}, {self.sid} segment {self.ordinal} (line {self.line})"

    @property
    def label(self) -> str:
        """The location within its message, for an error that names a second segment."""
        return f"{self.sid} segment {self.ordinal} (line {self.line})"

    def raw(self, n: int) -> str:
        """SEG-n as written, escapes and all; "" when the segment is shorter."""
        return self.fields[n] if n < len(self.fields) else ""

    def repetitions(self, n: int) -> list[str]:
        """The repetitions of SEG-n, as written."""
        raw = self.raw(n)
        return raw.split(self.encoding.repetition) if raw else []

    def first_repetition(self, n: int) -> str:
        """The first repetition of SEG-n, as written: where a field's main value is."""
        return self.raw(n).split(self.encoding.repetition, 1)[0]

    def components(self, n: int) -> list[str]:
        """The components of the first repetition of SEG-n, unescaped and stripped."""
        raw = self.raw(n)
        if not raw:
            return []
        first = raw.split(self.encoding.repetition, 1)[0]
        return [
            unescape(part, self.encoding).strip() for part in first.split(self.encoding.component)
        ]

    def component(self, n: int, c: int = 1) -> str:
        """Component c of SEG-n's first repetition (its first subcomponent), unescaped."""
        raw = self.raw(n)
        if not raw:
            return ""
        enc = self.encoding
        parts = raw.split(enc.repetition, 1)[0].split(enc.component)
        if c > len(parts):
            return ""
        return unescape(parts[c - 1].split(enc.subcomponent, 1)[0], enc).strip()

    def unescape(self, value: str) -> str:
        """Text of this segment with its escape sequences replaced."""
        return unescape(value, self.encoding)


@dataclass
class Message:
    """One MSH and the segments after it; ``msh`` is None when its header could not be
    read (already reported), so its segments are skipped."""

    number: int
    msh: Segment | None
    segments: list[Segment]
    message_type: tuple[str, str] = ("", "")  # MSH-9: message code, trigger event

    @property
    def type_label(self) -> str:
        """MSH-9 as an error shows it: 'ORU^R01', 'ADT' or (empty MSH-9)."""
        kind, event = self.message_type
        if not kind and not event:
            return "(empty MSH-9)"
        return f"'{kind}^{event}'" if event else f"'{kind}'"


def read_messages(data: bytes, errors: list[RowError]) -> list[Message]:
    """The messages of an HL7 file; problems of framing and segment syntax go to errors.

    Raises ParseError when the input is not HL7 text at all (empty, binary, not UTF-8, no
    MSH segment)."""
    lines = _LINE_BREAK.split(_decode(data))
    if not any(line.lstrip().startswith("MSH") for line in lines):
        raise ParseError("not an HL7 file: no MSH (message header) segment")
    splitter = _Splitter(errors)
    for index, raw_line in enumerate(lines):
        line = raw_line.strip()
        if line:
            splitter.add(line, index + 1)
    return splitter.messages


# --- input ------------------------------------------------------------------------------


def _decode(data: bytes) -> str:
    """The file's text without framing bytes; a ParseError for what is not HL7 text."""
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


def _read_encoding(line: str) -> Encoding | str:
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
    return Encoding(fs, chars[0], chars[1], chars[2], chars[3])


# --- messages and batches ---------------------------------------------------------------


@dataclass
class _Splitter:
    """Cuts the lines of a file into messages, one line at a time: an MSH starts a
    message, the batch segments (FHS, BHS, BTS, FTS) end one and check the trailers'
    counts, and any other segment belongs to the current message."""

    errors: list[RowError]
    messages: list[Message] = field(default_factory=list)
    current: Message | None = None
    encoding: Encoding | None = None  # None: no message, or its header could not be read
    counts: dict[str, int] = field(default_factory=dict)  # segments of each type so far
    batch_start: int = 0  # number of messages before the current batch
    batches: int = 0

    def add(self, line: str, number: int) -> None:
        """Read one non-blank line, the file's line number ``number``."""
        sid = line[:3]
        if sid == "MSH":
            self._start_message(line, number)
        elif sid in _BATCH_SEGMENTS:
            self._batch_segment(sid, line, number)
        elif self.current is None:
            self.errors.append(
                RowError(f"line {number}", "segment", f"{sid} segment is outside any message")
            )
        elif self.encoding is not None:  # else the header could not be read; reported
            self._segment(sid, line, number, self.current, self.encoding)

    def _start_message(self, line: str, number: int) -> None:
        found = _read_encoding(line)
        self.counts = {"MSH": 1}
        message_number = len(self.messages) + 1
        if isinstance(found, str):
            self.encoding = None
            where = f"message {message_number}, MSH segment 1 (line {number})"
            self.errors.append(RowError(where, "MSH-2", f"cannot read the message: {found}"))
            self.current = Message(message_number, None, [])
        else:
            self.encoding = found
            fields = ["MSH", found.field, *line[4:].split(found.field)]
            msh = Segment("MSH", fields, found, number, message_number, 1)
            message_type = (msh.component(9, 1).upper(), msh.component(9, 2).upper())
            self.current = Message(message_number, msh, [msh], message_type)
        self.messages.append(self.current)

    def _batch_segment(self, sid: str, line: str, number: int) -> None:
        """A batch header or trailer ends the current message; trailers state counts."""
        self.current, self.encoding = None, None
        if sid == "BHS":
            self.batch_start = len(self.messages)
            self.batches += 1
        elif sid == "BTS":
            in_batch = len(self.messages) - self.batch_start
            _check_count(line, number, "BTS-1", "messages", in_batch, self.errors)
            self.batch_start = len(self.messages)
        elif sid == "FTS":
            _check_count(line, number, "FTS-1", "batches", self.batches, self.errors)

    def _segment(self, sid: str, line: str, number: int, message: Message, enc: Encoding) -> None:
        if _SEGMENT_ID.fullmatch(sid) is None or (len(line) > 3 and line[3] != enc.field):
            self.errors.append(
                RowError(
                    f"message {message.number}, line {number}",
                    "segment",
                    "this line is not an HL7 segment (a 3-letter segment name followed by "
                    f"{enc.field!r})",
                )
            )
            return
        self.counts[sid] = ordinal = self.counts.get(sid, 0) + 1
        message.segments.append(
            Segment(sid, line.split(enc.field), enc, number, message.number, ordinal)
        )


def _check_count(
    line: str, number: int, name: str, what: str, actual: int, errors: list[RowError]
) -> None:
    """A trailer's count (BTS-1, FTS-1) against what was found: a short count is how a
    truncated file shows."""
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


# --- escapes ----------------------------------------------------------------------------


def unescape(value: str, enc: Encoding) -> str:
    """Replace HL7 escape sequences; one we do not know is kept as written."""
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


def _escape_sequence(seq: str, enc: Encoding) -> str | None:
    """The text of one escape sequence (without its escape characters), None if unknown."""
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
        return _hex_text(seq[1:])
    if seq[:3] in (".sp", ".sk", ".in", ".ti"):
        count = seq[3:].lstrip("+-")
        times = min(int(count), 10) if count.isdigit() else 1
        return ("\n" if seq[:3] == ".sp" else " ") * max(times, 1)
    return None


def _hex_text(digits: str) -> str | None:
    """``\\Xhh..\\``: labs send UTF-8 bytes, older systems Latin-1."""
    try:
        raw = bytes.fromhex(digits)
    except ValueError:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


# --- dates and times (HL7 DT and TS) ----------------------------------------------------


def parse_date(value: str) -> date | None:
    """The date of a DT or TS value (YYYYMMDD...), None when it is not a valid date."""
    match = _TS.fullmatch(value)
    try:
        return date(*map(int, match.groups()[:3])) if match else None
    except ValueError:
        return None


def parse_timestamp(value: str, tz: ZoneInfo) -> datetime | None:
    """A TS value (YYYYMMDD[HHMM[SS[.S]]][+/-ZZZZ]); without an offset it is in tz.
    None when it is not a valid instant."""
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
