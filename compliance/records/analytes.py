"""The program's analyte table: the default catalogue a new program starts with
(shared/DOMAIN.md cutoffs, ng/mL), and what administrators and staff change in it.

Programs edit their own copy (the ``analyte`` and ``analyte_code`` tables); the defaults
are only the starting values. The analytes a program screens by default
(``Analyte.in_default_panel``) are its panel: the drug-test form's preset.

Every change goes through this module, whoever asks (pages, API): administrators add
analytes and immunoassay classes and retire them (never delete: old records and reports
still name them); program staff map a lab's codes to analytes, one at a time or as a
CSV code map that is previewed before it is applied. Each change is audited, and bad
input is refused whole with the row or field and the reason.

An immunoassay class ("opiates", screened at 2000 ng/mL) is an analyte of kind "class":
a lab's class screen (OPIS) is a result on the class, and its confirmation is reported
per drug, on the member analytes (morphine, codeine...), each naming its class.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from compliance import audit
from compliance.core import db
from compliance.core.validation import FieldError, Form, InvalidInput, fit_decimal
from compliance.intake.records import VALIDITY_KEYS
from compliance.staff import access
from compliance.staff.accounts import Principal
from compliance.tables import Analyte, AnalyteCode


class DefaultAnalyte(NamedTuple):
    key: str
    name: str
    screen: Decimal | None
    confirmation: Decimal | None
    local_code: str
    in_panel: bool


# A new program's panel: a 12-panel common in treatment courts (the rest of the table is
# there for the tests a program orders beyond it).
DEFAULT_PANEL = frozenset(
    (
        "thc",
        "cocaine",
        "codeine",
        "morphine",
        "6am",
        "oxycodone",
        "amphetamine",
        "methamphetamine",
        "mdma",
        "pcp",
        "fentanyl",
        "etg",
    )
)


def _d(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


DEFAULT_ANALYTES: tuple[DefaultAnalyte, ...] = tuple(
    DefaultAnalyte(key, name, _d(screen), _d(confirmation), code, key in DEFAULT_PANEL)
    for key, name, screen, confirmation, code in [
        ("thc", "Marijuana metabolite (THC-COOH)", "50", "15", "THC"),
        ("cocaine", "Cocaine metabolite (benzoylecgonine)", "150", "100", "COC"),
        ("codeine", "Codeine", "2000", "2000", "COD"),
        ("morphine", "Morphine", "2000", "2000", "MOR"),
        ("hydrocodone", "Hydrocodone", "300", "100", "HYC"),
        ("hydromorphone", "Hydromorphone", "300", "100", "HYM"),
        ("oxycodone", "Oxycodone", "100", "100", "OXY"),
        ("oxymorphone", "Oxymorphone", "100", "100", "OXM"),
        ("6am", "6-Acetylmorphine (heroin)", "10", "10", "6AM"),
        ("pcp", "Phencyclidine (PCP)", "25", "25", "PCP"),
        ("amphetamine", "Amphetamine", "500", "250", "AMP"),
        ("methamphetamine", "Methamphetamine", "500", "250", "MAMP"),
        ("mdma", "MDMA", "500", "250", "MDMA"),
        ("mda", "MDA", "500", "250", "MDA"),
        ("fentanyl", "Fentanyl", "1", "1", "FEN"),
        ("etg", "Ethyl glucuronide (alcohol)", "500", None, "ETG"),
    ]
)

# The drug class each default analyte belongs to, as the analyte table shows it.
DRUG_CLASSES = {
    "thc": "Cannabinoids",
    "cocaine": "Stimulants",
    "amphetamine": "Stimulants",
    "methamphetamine": "Stimulants",
    "mdma": "Stimulants",
    "mda": "Stimulants",
    "pcp": "Hallucinogens",
    "etg": "Alcohol",
    **{
        k: "Opioids"
        for k in (
            "codeine",
            "morphine",
            "hydrocodone",
            "hydromorphone",
            "oxycodone",
            "oxymorphone",
            "6am",
            "fentanyl",
        )
    },
}

LOCAL_CODING_SYSTEM = "local"

# Specimen-validity observations: (coding system, code) -> the parsers' validity key.
# "" as the system matches a lab's local code whatever system it names.
VALIDITY_CODES: dict[tuple[str, str], str] = {
    ("LN", "2161-8"): "creatinine",  # Creatinine [Mass/volume] in Urine
    ("LN", "2965-2"): "specific_gravity",  # Specific gravity of Urine
    ("", "CREA"): "creatinine",
    ("", "CREAT"): "creatinine",
    ("", "SG"): "specific_gravity",
    ("", "PH"): "ph",
    ("", "OXID"): "oxidants",
    ("", "NITR"): "nitrite",
}


async def seed_program_analytes(
    program_id: int, panel: Iterable[str] | None = None
) -> dict[str, int]:
    """Give a program the default catalogue, ``panel`` (analyte keys) as the analytes it
    screens by default, else DEFAULT_PANEL; returns analyte key -> id."""
    screened = DEFAULT_PANEL if panel is None else frozenset(panel)
    rows = await Analyte.insert(
        *[
            Analyte(
                program=program_id,
                key=a.key,
                name=a.name,
                screen_cutoff_ng_ml=a.screen,
                confirmation_cutoff_ng_ml=a.confirmation,
                in_default_panel=a.key in screened,
                drug_class=DRUG_CLASSES.get(a.key, ""),
            )
            for a in DEFAULT_ANALYTES
        ]
    ).returning(Analyte.id, Analyte.key)
    ids = {row["key"]: row["id"] for row in rows}
    await AnalyteCode.insert(
        *[
            AnalyteCode(
                program=program_id,
                analyte=ids[a.key],
                coding_system=LOCAL_CODING_SYSTEM,
                code=a.local_code,
            )
            for a in DEFAULT_ANALYTES
        ]
    )
    return ids


# --- the program's table, as staff see and edit it ---------------------------------

KINDS = ("drug", "class")
KIND_WORDS = {"drug": "Drug", "class": "Immunoassay class"}
KEY = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
LOINC = re.compile(r"(\d{1,7})-(\d)")
CUTOFF_DIGITS = (10, 3)  # Analyte's cutoff columns


async def _rows(program_id: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The program's analytes (by name) and lab codes, as stored."""
    analytes = await Analyte.select().where(Analyte.program == program_id).order_by(Analyte.name)
    codes = (
        await AnalyteCode.select()
        .where(AnalyteCode.program == program_id)
        .order_by(AnalyteCode.coding_system, AnalyteCode.code)
    )
    return analytes, codes


def _entries(analytes: list[dict[str, Any]], codes: list[dict[str, Any]]) -> list[dict]:
    """Each analyte as the API and the page show it: cutoffs, lab codes, its kind, the
    class it is confirmed under or, for a class, its member drugs."""
    by_analyte: dict[int, list[dict]] = {}
    for c in codes:
        by_analyte.setdefault(c["analyte"], []).append(
            {"id": c["id"], "coding_system": c["coding_system"], "code": c["code"]}
        )
    keys = {a["id"]: a["key"] for a in analytes}
    members: dict[int, list[str]] = {}
    for a in analytes:
        if a["member_of"] is not None:
            members.setdefault(a["member_of"], []).append(a["key"])
    return [
        {
            "key": a["key"],
            "name": a["name"],
            "kind": a["kind"],
            "drug_class": a["drug_class"],
            "screen_cutoff_ng_ml": a["screen_cutoff_ng_ml"],
            "confirmation_cutoff_ng_ml": a["confirmation_cutoff_ng_ml"],
            "active": a["active"],
            "in_default_panel": a["in_default_panel"],
            "member_of": keys.get(a["member_of"]) if a["member_of"] is not None else None,
            "members": members.get(a["id"], []),
            "codes": by_analyte.get(a["id"], []),
        }
        for a in analytes
    ]


async def program_catalogue(program_id: int) -> list[dict]:
    """Every analyte of the program, retired ones too (``active`` says which), with its
    cutoffs and the lab codes that map to it."""
    return _entries(*await _rows(program_id))


async def catalogue_entry(program_id: int, key: str) -> dict:
    found = next((a for a in await program_catalogue(program_id) if a["key"] == key), None)
    if found is None:
        raise access.NotFound("no such analyte")
    return found


def _require_admin(principal: Principal, program_id: int) -> None:
    """Another program's table is "not found" before the role is asked about."""
    access.require_program(principal, program_id)
    from compliance.staff.admin import require_admin  # admin imports much; analytes is low-level

    require_admin(principal)


# --- resolving what staff and the API name -------------------------------------------


async def key_resolver(program_id: int) -> Callable[[str], str]:
    """Reads the program's table once and returns ``resolve`` for it, so a form with
    sixteen results costs two queries, not thirty-two."""
    analytes = await Analyte.select(Analyte.id, Analyte.key).where(Analyte.program == program_id)
    keys = {a["key"]: a["id"] for a in analytes}
    by_id = {v: k for k, v in keys.items()}
    codes: dict[str, set[tuple[str, str]]] = {}
    for c in await AnalyteCode.select(
        AnalyteCode.coding_system, AnalyteCode.code, AnalyteCode.analyte
    ).where(AnalyteCode.program == program_id):
        if c["analyte"] in by_id:
            codes.setdefault(c["code"].upper(), set()).add(
                (c["coding_system"].upper(), by_id[c["analyte"]])
            )

    def resolve_key(key_or_code: str) -> str:
        text = key_or_code.strip() if isinstance(key_or_code, str) else ""
        if not text or len(text) > 40 or "\x00" in text:
            return key_or_code
        for candidate in (text, text.lower()):
            if candidate in keys:
                return candidate
        matches = codes.get(text.upper(), set())
        local = {key for system, key in matches if system == LOCAL_CODING_SYSTEM.upper()}
        found = local or {key for _, key in matches}
        return found.pop() if len(found) == 1 else key_or_code

    return resolve_key


async def resolve(program_id: int, key_or_code: str) -> str:
    """The analyte key for what a person or a client program typed: the key itself
    ("thc"), or the program's lab code as the analyte table shows it ("THC", "MAMP").
    A code that names two analytes (in two coding systems) is read with the program's
    local code, else not at all. Anything else comes back unchanged, so the caller's
    "not in the program's analyte table" names what was sent."""
    return (await key_resolver(program_id))(key_or_code)


# --- checks shared by every path -------------------------------------------------------


def loinc_problem(code: str) -> str:
    """Why ``code`` is not a LOINC code ("" when it is): digits, a hyphen and the mod-10
    check digit LOINC defines, which catches most typing errors."""
    match = LOINC.fullmatch(code)
    if match is None:
        return f"{code!r} is not a LOINC code (digits, a hyphen and a check digit: 12345-6)"
    total = 0
    for n, digit in enumerate(reversed(match.group(1))):
        value = int(digit) * (2 if n % 2 == 0 else 1)
        total += value // 10 + value % 10
    if (10 - total % 10) % 10 != int(match.group(2)):
        return f"{code!r} is not a LOINC code: its check digit is wrong"
    return ""


def validity_code(system: str, code: str) -> str:
    """The specimen-validity measure a code already means (creatinine, pH...), or ""."""
    system, code = system.upper(), code.upper()
    if (system, code) in VALIDITY_CODES:
        return VALIDITY_CODES[(system, code)]
    if system in ("LN", "LOINC"):
        return ""
    return VALIDITY_CODES.get(("", code), "")


def _code_clash(system: str, code: str, codes: Sequence[dict]) -> tuple[dict | None, str]:
    """The stored mapping of (system, code), compared as imports read codes (in any
    case: "LOCAL THC" is the default table's "local THC"), and why the code cannot be
    mapped at all (a specimen-validity code), "" if it can."""
    measure = validity_code(system, code)
    if measure:
        reason = (
            f"{system} {code} is the specimen-validity code for {measure.replace('_', ' ')}; "
            "it cannot name an analyte"
        )
        return None, reason
    wanted = (system.upper(), code.upper())
    stored = next(
        (c for c in codes if (c["coding_system"].upper(), c["code"].upper()) == wanted), None
    )
    return stored, ""


def _cutoff(form: Form, name: str) -> Decimal | None:
    raw = form.data.get(name)
    text = str(raw).strip() if raw is not None else ""
    if not text:
        return None
    try:
        value = Decimal(text)
        if not value.is_finite() or value <= 0:
            raise ValueError
        return fit_decimal(value, CUTOFF_DIGITS)
    except (InvalidOperation, ValueError):
        form.errors.add(name, f"{text!r} is not a cutoff in ng/mL (a number above 0)")
        return None


def _slug(name: str) -> str:
    """The key a new analyte gets from its name when none is given: "Xylazine" ->
    "xylazine", "Nitazenes (class)" -> "nitazenes_class"."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:40].rstrip("_")


def _key_list(raw: Any) -> list[str]:
    """Member keys as the API (a list) or a form (a comma-separated field) sends them."""
    if raw is None or raw == "":
        return []
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list):
        return [str(items)]
    return [str(i).strip().lower() for i in items if str(i).strip()]


# --- administrators: analytes and immunoassay classes ----------------------------------


@dataclass
class _NewAnalyte:
    """A new analyte as read and checked, before anything is stored."""

    values: dict[str, Any]
    codes: list[tuple[str, str]]  # (coding system, code)
    class_id: int | None = None
    member_ids: list[int] = field(default_factory=list)


def _read_new(data: Mapping[str, Any]) -> tuple[Form, dict[str, Any]]:
    """The fields of a new analyte, each checked on its own."""
    form = Form(data)
    name = form.text("name", max_length=120)
    key = form.text("key", required=False, max_length=40).lower() or _slug(name)
    kind = form.text("kind", required=False, max_length=10).lower() or "drug"
    values = {
        "name": name,
        "key": key,
        "kind": kind,
        "drug_class": form.text("drug_class", required=False, max_length=80),
        "screen_cutoff_ng_ml": _cutoff(form, "screen_cutoff_ng_ml"),
        "confirmation_cutoff_ng_ml": _cutoff(form, "confirmation_cutoff_ng_ml"),
        "in_default_panel": form.boolean("in_default_panel"),
        "loinc_code": form.text("loinc_code", required=False, max_length=40),
        "local_code": form.text("local_code", required=False, max_length=40).upper(),
        "class_key": form.text("class_key", required=False, max_length=40).lower(),
        "members": _key_list(data.get("members")),
    }
    if key and not KEY.fullmatch(key):
        form.errors.add("key", f"{key!r} must be lower-case letters, digits, '-' or '_' (up to 40)")
    elif key in VALIDITY_KEYS:
        form.errors.add("key", f"{key!r} is the specimen-validity measure of that name")
    if kind not in KINDS:
        form.errors.add("kind", f"{kind!r} is not one of: {', '.join(KINDS)}")
    if values["loinc_code"] and (problem := loinc_problem(values["loinc_code"])):
        form.errors.add("loinc_code", problem)
    if kind == "class":
        if values["confirmation_cutoff_ng_ml"] is not None:
            form.errors.add(
                "confirmation_cutoff_ng_ml",
                "is set per drug for a class: give each member drug its confirmation cutoff",
            )
        if values["screen_cutoff_ng_ml"] is None:
            form.errors.add("screen_cutoff_ng_ml", "is required for an immunoassay class")
        if not values["members"]:
            form.errors.add("members", "name the drugs the class screen is confirmed by")
        if values["class_key"]:
            form.errors.add("class_key", "a class cannot be a member of another class")
    elif values["members"]:
        form.errors.add("members", "only an immunoassay class has member drugs")
    return form, values


def _check_against_table(
    form: Form, values: dict[str, Any], analytes: list[dict], codes: list[dict]
) -> _NewAnalyte:
    """What only the program's table can tell: clashes of key, name and codes, and the
    class or members named."""
    by_key = {a["key"]: a for a in analytes}
    names = {a["id"]: a["name"] for a in analytes}
    existing = by_key.get(values["key"])
    if existing is not None:
        state = " (retired: reinstate it instead)" if not existing["active"] else ""
        form.errors.add(
            "key",
            f"{values['key']!r} is already in this program's table: {existing['name']}" + state,
        )
    same_name = next(
        (a for a in analytes if a["name"].casefold() == values["name"].casefold()), None
    )
    if values["name"] and same_name is not None:
        form.errors.add("name", f"is already the name of {same_name['key']!r}")
    wanted: list[tuple[str, str]] = []
    for name, system, code in (
        ("loinc_code", "LN", values["loinc_code"]),
        ("local_code", LOCAL_CODING_SYSTEM.upper(), values["local_code"]),
    ):
        if not code:
            continue
        stored, reason = _code_clash(system, code, codes)
        if reason:
            form.errors.add(name, reason)
        elif stored is not None:
            form.errors.add(
                name, f"{system} {code} is already mapped to {names[stored['analyte']]}"
            )
        wanted.append((system, code))
    new = _NewAnalyte(
        {
            k: v
            for k, v in values.items()
            if k not in ("loinc_code", "local_code", "class_key", "members")
        },
        wanted,
    )
    if values["class_key"]:
        group = by_key.get(values["class_key"])
        if group is None or group["kind"] != "class" or not group["active"]:
            form.errors.add(
                "class_key", f"{values['class_key']!r} is not an immunoassay class in use here"
            )
        else:
            new.class_id = group["id"]
    for member in values["members"]:
        drug = by_key.get(member)
        if drug is None or drug["kind"] != "drug":
            form.errors.add("members", f"{member!r} is not a drug in this program's table")
        elif drug["member_of"] is not None:
            group_name = names.get(drug["member_of"], "another class")
            form.errors.add("members", f"{drug['name']} is already confirmed under {group_name}")
        else:
            new.member_ids.append(drug["id"])
    return new


async def add_analyte(
    principal: Principal, program_id: int, data: Mapping[str, Any], origin: str
) -> dict:
    """A new analyte or immunoassay class for the program (administrators). Its lab
    codes (LOINC, the program's own) go in with it, a class's members point at it, and
    the change is one audited transaction; a clash stores nothing."""
    _require_admin(principal, program_id)
    form, values = _read_new(data)
    # Every clash is found in the rows read here, never by a query naming the input (a
    # NUL byte in one is an error on PostgreSQL), so one answer lists every problem.
    async with db.transaction():
        await db.serialize(f"analytes:{program_id}")
        new = _check_against_table(form, values, *await _rows(program_id))
        form.errors.raise_if_any()
        made = await Analyte.insert(
            Analyte(program=program_id, member_of=new.class_id, **new.values)
        ).returning(Analyte.id)
        analyte_id = made[0]["id"]
        if new.codes:
            await AnalyteCode.insert(
                *[
                    AnalyteCode(program=program_id, analyte=analyte_id, coding_system=s, code=c)
                    for s, c in new.codes
                ]
            )
        if new.member_ids:
            await Analyte.update({Analyte.member_of: analyte_id}).where(
                Analyte.id.is_in(new.member_ids)
            )
        await audit.record(
            "analyte.create",
            principal.actor(origin),
            "program",
            program_id,
            {
                **{k: str(v) if isinstance(v, Decimal) else v for k, v in new.values.items()},
                "codes": [f"{s} {c}" for s, c in new.codes],
                "class": values["class_key"],
                "members": values["members"],
            },
        )
    return await catalogue_entry(program_id, new.values["key"])


async def set_analyte_active(
    principal: Principal, program_id: int, data: Mapping[str, Any], active: bool, origin: str
) -> dict:
    """Retire an analyte (``active`` false) or bring it back (administrators). Retired,
    it leaves new entry and the form's presets; the records and reports that name it
    keep it, and its lab codes still read a lab's file, so a result is never lost."""
    _require_admin(principal, program_id)
    form = Form(data)
    key = form.text("analyte", max_length=40)
    form.errors.raise_if_any()
    async with db.transaction():
        await db.serialize(f"analytes:{program_id}")
        row = (
            await Analyte.select()
            .where((Analyte.program == program_id) & (Analyte.key == key))
            .first()
        )
        if row is None:
            raise InvalidInput([FieldError("analyte", f"{key!r} is not in this program's table")])
        if row["active"] == active:
            state = "in use" if active else "retired already"
            raise InvalidInput([FieldError("analyte", f"{row['name']} is {state}")])
        await Analyte.update({Analyte.active: active}).where(Analyte.id == row["id"])
        await audit.record(
            "analyte.reinstate" if active else "analyte.retire",
            principal.actor(origin),
            "program",
            program_id,
            {"analyte": key, "name": row["name"]},
        )
    return await catalogue_entry(program_id, key)


# --- staff: a lab's codes, one at a time -------------------------------------------------


async def add_code(
    principal: Principal, program_id: int, data: Mapping[str, Any], origin: str
) -> None:
    """Map one lab code to an analyte (program staff: an unknown code stops an import
    until someone maps it). The analyte may be named by key or by a code it has."""
    access.require_program(principal, program_id)
    form = Form(data)
    named = form.text("analyte_key", max_length=40)
    system = form.text("coding_system", max_length=40).upper()
    code = form.text("code", max_length=40).upper()
    # Before any lookup: PostgreSQL refuses a NUL byte in a query with an error (a 500).
    form.errors.raise_if_any()
    if system in ("LN", "LOINC") and (problem := loinc_problem(code)):
        form.errors.add("code", problem)
    async with db.transaction():
        await db.serialize(f"analytes:{program_id}")
        analytes, codes = await _rows(program_id)
        key = await resolve(program_id, named)
        analyte = next((a for a in analytes if a["key"] == key), None)
        if analyte is None:
            form.errors.add("analyte_key", f"{named!r} is not in this program's analyte table")
        elif not analyte["active"]:
            form.errors.add("analyte_key", f"{analyte['name']} is retired")
        names = {a["id"]: a["name"] for a in analytes}
        stored, reason = _code_clash(system, code, codes)
        if reason:
            form.errors.add("code", reason)
        elif stored is not None:
            form.errors.add(
                "code", f"{system} {code} is already mapped to {names[stored['analyte']]}"
            )
        form.errors.raise_if_any()
        assert analyte is not None
        await AnalyteCode.insert(
            AnalyteCode(program=program_id, analyte=analyte["id"], coding_system=system, code=code)
        )
        await audit.record(
            "analyte_code.create",
            principal.actor(origin),
            "program",
            program_id,
            {"analyte": analyte["key"], "system": system, "code": code},
        )


# --- staff: a lab's codes as a CSV code map, previewed, then applied ---------------------

CODE_MAP_COLUMNS = ("code", "coding_system", "analyte")
MAX_CODE_MAP_ROWS = 5000
MAX_CODE_MAP_BYTES = 1_000_000
CELL_LIMITS = {"code": 40, "coding_system": 40, "analyte": 120}  # the columns' lengths


@dataclass
class CodeMapProblem:
    row: int  # the spreadsheet's row: the header is row 1
    field: str  # a column, or "file"
    reason: str


@dataclass
class CodeMapRow:
    row: int
    coding_system: str
    code: str
    analyte_key: str
    analyte_name: str
    # "new" (added), "unchanged" (mapped so already), "changed" (moved from the analyte
    # in ``was``: only when the upload asks to replace), "clash" (mapped to another
    # analyte, and the upload does not ask to replace: refused).
    status: str
    was: str = ""


@dataclass
class CodeMapOutcome:
    """A code map's preview, or what applying it did. ``errors`` lists every problem
    (row, column, reason); with any, nothing was or will be stored."""

    status: str  # "previewed", "applied" or "rejected"
    rows: list[CodeMapRow] = field(default_factory=list)
    errors: list[CodeMapProblem] = field(default_factory=list)
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    # Applying needs this, from the preview of the same file against the same table.
    confirmation: str = ""


class _Line(NamedTuple):
    row: int
    cells: dict[str, str]


def _code_map_lines(data: bytes, problems: list[CodeMapProblem]) -> list[_Line]:
    """The file's rows by column name; a problem with the file as a whole (not UTF-8
    text, no header, a missing or unknown column) is its only problem."""

    def whole(reason: str, where: str = "file", row: int = 1) -> list[_Line]:
        problems.append(CodeMapProblem(row, where, reason))
        return []

    if len(data) > MAX_CODE_MAP_BYTES:
        return whole(f"the file is larger than {MAX_CODE_MAP_BYTES:,} bytes")
    if b"\x00" in data:
        return whole("the file holds binary data; save the spreadsheet as CSV UTF-8")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return whole('the file is not UTF-8 text; save it as "CSV UTF-8 (comma delimited)"')
    try:
        table = [cells for cells in csv.reader(io.StringIO(text, newline=""))]
    except csv.Error as exc:
        return whole(f"the file cannot be read as CSV ({exc})")
    numbered = [(n, cells) for n, cells in enumerate(table, start=1) if "".join(cells).strip()]
    if not numbered:
        return whole("the file is empty")
    header_row, header = numbered[0]
    columns = [c.strip().lower().replace(" ", "_") for c in header]
    for column in CODE_MAP_COLUMNS:
        if column not in columns:
            return whole(
                f"the column is missing; the header must name {', '.join(CODE_MAP_COLUMNS)}",
                column,
                header_row,
            )
    for column in columns:
        if column not in CODE_MAP_COLUMNS or columns.count(column) > 1:
            reason = (
                "is named twice" if column in CODE_MAP_COLUMNS else "is not a column of a code map"
            )
            return whole(
                f"{column!r} {reason} ({', '.join(CODE_MAP_COLUMNS)})", column or "file", header_row
            )
    lines = numbered[1:]
    if not lines:
        return whole("the file has a header but no rows")
    if len(lines) > MAX_CODE_MAP_ROWS:
        return whole(f"the file has more than {MAX_CODE_MAP_ROWS:,} rows; split it")
    out = []
    for n, cells in lines:
        if len(cells) > len(columns):
            problems.append(CodeMapProblem(n, "file", "the row has more cells than the header"))
        out.append(
            _Line(
                n, {c: (cells[i].strip() if i < len(cells) else "") for i, c in enumerate(columns)}
            )
        )
    return out


def _analyte_named(text: str, analytes: Sequence[dict]) -> dict | None:
    """A row's analyte: its key, or its name, in any case."""
    wanted = text.casefold()
    return next((a for a in analytes if a["key"] == wanted or a["name"].casefold() == wanted), None)


def _plan_line(
    line: _Line,
    analytes: Sequence[dict],
    codes: Sequence[dict],
    seen: dict[tuple[str, str], int],
    replace: bool,
) -> tuple[CodeMapRow | None, list[CodeMapProblem]]:
    """One row checked and matched against the table: what applying it would do."""
    problems: list[CodeMapProblem] = []

    def bad(column: str, reason: str) -> None:
        problems.append(CodeMapProblem(line.row, column, reason))

    values = {}
    for column in CODE_MAP_COLUMNS:
        value, limit = line.cells[column], CELL_LIMITS[column]
        if not value:
            bad(column, "is empty")
        elif len(value) > limit:
            bad(column, f"is longer than {limit} characters")
        elif any(ch < " " for ch in value):
            bad(column, "holds a control character")
        values[column] = value
    if problems:
        return None, problems
    system, code = values["coding_system"].upper(), values["code"].upper()
    if system in ("LN", "LOINC") and (problem := loinc_problem(code)):
        bad("code", problem)
    if (system, code) in seen:
        bad("code", f"{system} {code} is also on row {seen[(system, code)]}")
    else:
        seen[(system, code)] = line.row
    analyte = _analyte_named(values["analyte"], analytes)
    if analyte is None:
        bad("analyte", f"{values['analyte']!r} is not in this program's analyte table")
    elif not analyte["active"]:
        bad("analyte", f"{analyte['name']} is retired")
    names = {a["id"]: a["name"] for a in analytes}
    stored, reason = _code_clash(system, code, codes)
    if reason:
        bad("code", reason)
    if problems or analyte is None:
        return None, problems
    row = CodeMapRow(line.row, system, code, analyte["key"], analyte["name"], "new")
    if stored is not None and stored["analyte"] == analyte["id"]:
        row.status = "unchanged"
    elif stored is not None:
        row.was = names[stored["analyte"]]
        row.status = "changed" if replace else "clash"
        if not replace:
            bad(
                "analyte",
                f"{system} {code} is already mapped to {row.was}; to map it to "
                f"{analyte['name']} instead, upload the file again asking to replace",
            )
    return row, problems


def _confirmation(program_id: int, replace: bool, rows: Sequence[CodeMapRow]) -> str:
    """What the preview showed, as a digest: applying checks the file and the table
    still give exactly that, so nothing is applied that nobody saw."""
    content = json.dumps(
        [
            program_id,
            replace,
            [[r.coding_system, r.code, r.analyte_key, r.status, r.was] for r in rows],
        ],
        separators=(",", ":"),
    )
    return hashlib.sha256(content.encode()).hexdigest()


async def _plan_code_map(program_id: int, data: bytes, replace: bool) -> CodeMapOutcome:
    problems: list[CodeMapProblem] = []
    lines = _code_map_lines(data, problems)
    if problems:
        return CodeMapOutcome("rejected", errors=problems)
    analytes, codes = await _rows(program_id)
    seen: dict[tuple[str, str], int] = {}
    rows = []
    for line in lines:
        row, found = _plan_line(line, analytes, codes, seen, replace)
        problems += found
        if row is not None:
            rows.append(row)
    outcome = CodeMapOutcome("rejected" if problems else "previewed", rows, problems)
    for r in rows:
        if r.status in ("new", "changed", "unchanged"):
            setattr(outcome, r.status, getattr(outcome, r.status) + 1)
    if not problems:
        outcome.confirmation = _confirmation(program_id, replace, rows)
    return outcome


async def preview_code_map(
    principal: Principal, program_id: int, data: bytes, replace: bool = False
) -> CodeMapOutcome:
    """What the code map would do, row by row (new, unchanged, changed, clash); every
    problem at once. Stores nothing."""
    access.require_program(principal, program_id)
    return await _plan_code_map(program_id, data, replace)


async def apply_code_map(
    principal: Principal,
    program_id: int,
    data: bytes,
    replace: bool,
    confirmation: str,
    origin: str,
) -> CodeMapOutcome:
    """Apply a previewed code map: every row or none, in one audited transaction, and
    only as its preview showed it (``confirmation``)."""
    access.require_program(principal, program_id)
    async with db.transaction():
        await db.serialize(f"analytes:{program_id}")
        outcome = await _plan_code_map(program_id, data, replace)
        if outcome.errors:
            return outcome
        if not confirmation:
            outcome.errors.append(
                CodeMapProblem(
                    1,
                    "confirmation",
                    "preview the file first: applying needs the confirmation its preview gives",
                )
            )
        elif confirmation != outcome.confirmation:
            outcome.errors.append(
                CodeMapProblem(
                    1,
                    "confirmation",
                    "the file or the analyte table changed since the preview: preview it again",
                )
            )
        if outcome.errors:
            outcome.status = "rejected"
            return outcome
        await _write_code_map(principal, program_id, outcome, origin)
    outcome.status = "applied"
    return outcome


async def _write_code_map(
    principal: Principal, program_id: int, outcome: CodeMapOutcome, origin: str
) -> None:
    """Insert the new codes and move the changed ones; caller owns the transaction."""
    analytes, codes = await _rows(program_id)
    ids = {a["key"]: a["id"] for a in analytes}
    stored = {(c["coding_system"].upper(), c["code"].upper()): c["id"] for c in codes}
    new = [r for r in outcome.rows if r.status == "new"]
    if new:
        await db.insert_many(
            AnalyteCode,
            [
                {
                    "program": program_id,
                    "analyte": ids[r.analyte_key],
                    "coding_system": r.coding_system,
                    "code": r.code,
                }
                for r in new
            ],
        )
    changed = [r for r in outcome.rows if r.status == "changed"]
    for r in changed:
        await AnalyteCode.update({AnalyteCode.analyte: ids[r.analyte_key]}).where(
            AnalyteCode.id == stored[(r.coding_system, r.code)]
        )
    await audit.record(
        "analyte_code.import",
        principal.actor(origin),
        "program",
        program_id,
        {
            "new": [[r.coding_system, r.code, r.analyte_key] for r in new],
            "changed": [[r.coding_system, r.code, r.analyte_key, r.was] for r in changed],
            "unchanged": outcome.unchanged,
        },
    )


@dataclass(frozen=True)
class PanelPreset:
    """A set of analytes the drug-test form fills in at once."""

    key: str  # "panel" or "all"
    label: str
    analytes: tuple[tuple[str, str], ...]  # (key, name), by name


async def panel_presets(program_id: int) -> list[PanelPreset]:
    """The program's panel (the analytes it screens by default) and every active
    analyte of its table; the form offers both, the panel first."""
    rows = (
        await Analyte.select(Analyte.key, Analyte.name, Analyte.in_default_panel)
        .where((Analyte.program == program_id) & Analyte.active.eq(True))
        .order_by(Analyte.name)
    )
    panel = tuple((a["key"], a["name"]) for a in rows if a["in_default_panel"])
    everything = tuple((a["key"], a["name"]) for a in rows)
    return [
        PanelPreset("panel", f"Program panel ({len(panel)} analytes)", panel),
        PanelPreset("all", f"Every analyte in the table ({len(everything)})", everything),
    ]
