"""Is the person a lab names the client whose id it gives?

A lab result is filed by client id (HL7 PID-3, the CSV's client_id). One mistyped id puts
a positive test on another person's court report, so every result that names the person
(HL7 PID-5 and PID-7, the CSV's last_name, first_name and date_of_birth columns) is
compared with the client's record before anything is stored. Pure: no database.

The rule (``check_identity``):
- Names are compared case- and accent-insensitively, ignoring spaces, hyphens,
  apostrophes and periods, so "O'Brien-Díaz" is "OBRIEN DIAZ". A generational suffix
  (Jr, Sr, II, III, IV) is ignored: labs put it in the name or leave it out.
- A last name that differs is a mismatch.
- A date of birth that differs is a mismatch.
- A first name that differs is a mismatch too (twins share a last name and a date of
  birth), unless one is plainly a short form of the other: an initial ("J" for John), a
  common short form or nickname from a fixed list ("Chris" for Christopher, "Bob" for
  Robert, "Peggy" for Margaret), or the same first given name when one side adds a
  middle name ("John Michael" for John). A name that merely starts like the other is
  not enough: Jane and Janet, Paul and Paula are different people, maybe twins.
- A value missing on either side is not a mismatch; it is reported as not checked.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

__all__ = [
    "CSV_FIELDS",
    "HL7_FIELDS",
    "IdentityCheck",
    "IdentityFields",
    "IdentityMismatch",
    "check_identity",
    "first_names_agree",
    "name_key",
]


@dataclass(frozen=True)
class IdentityFields:
    """Where each value comes from in the file, as errors and the preview name it."""

    last_name: str
    first_name: str
    date_of_birth: str


HL7_FIELDS = IdentityFields("PID-5", "PID-5", "PID-7")
CSV_FIELDS = IdentityFields("last_name", "first_name", "date_of_birth")


@dataclass(frozen=True)
class IdentityMismatch:
    """One value the file gives that is not the client record's."""

    field: str  # "PID-5", "PID-7", or the CSV column
    label: str  # "last name", "first name", "date of birth"
    in_file: str
    on_record: str


@dataclass(frozen=True)
class IdentityCheck:
    mismatches: tuple[IdentityMismatch, ...] = ()
    unchecked: tuple[str, ...] = ()  # "date of birth: the client's record has none"


_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015'\u2018\u2019`.,]+")
_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv"})

# Common US given-name short forms that are not simply the start of the full name.
_NICKNAME_GROUPS: tuple[frozenset[str], ...] = tuple(
    frozenset(group.split())
    for group in (
        "robert bob bobby rob robbie bert",
        "william bill billy will willie liam",
        "richard rick ricky dick rich richie",
        "james jim jimmy jamie",
        "john jack johnny jon",
        "jonathan jon jonny",
        "joseph joe joey",
        "michael mike mikey mick",
        "thomas tom tommy",
        "charles charlie chuck chas",
        "edward ed eddie ted ned",
        "theodore ted teddy theo",
        "elizabeth liz lizzie beth betty betsy lisa eliza libby",
        "margaret peggy maggie meg margie greta",
        "katherine catherine kathryn kate katie kathy cathy kat kay",
        "jennifer jen jenny",
        "patricia pat patty tricia trish",
        "anthony tony",
        "steven stephen steve stevie",
        "christopher chris kit",
        "alexander alexandra alex sandy sasha xander",
        "alejandro alex",
        "henry hank harry",
        "harold hal harry",
        "lawrence larry",
        "gerald jerry",
        "raymond ray",
        "francis frances frank fran frankie",
        "francisco paco pancho frank",
        "jose pepe",
        "guillermo memo will",
        "enrique kike henry",
        "susan sue susie",
        "deborah debra deb debbie",
        "rebecca becky becca",
        "victoria vicky tori",
        "dorothy dot dottie",
        "barbara barb barbie",
        "jacqueline jackie",
        "nathaniel nathan nate",
        "zachary zach zack",
        "cynthia cindy",
        "sandra sandy",
        "abigail abby",
        "isabel isabella izzy bella",
        "margarita rita",
        "roberto beto",
        "alberto beto al",
        "albert al bert",
        "alfred al fred freddie",
        "frederick fred freddie",
        "douglas doug",
        "samuel sam sammy",
        "samantha sam sammy",
        "christina christine chris tina",
        "daniel dan danny",
        "daniela daniella dani",
        "matthew matt matty",
        "gregory greg",
        "timothy tim timmy",
        "benjamin ben benny",
        "nicholas nick nicky",
        "joshua josh",
        "kimberly kim",
        "pamela pam",
        "ronald ron ronnie",
        "donald don donnie",
        "kenneth ken kenny",
        "jeffrey geoffrey jeff",
        "jessica jess jessie",
        "melissa missy mel",
        "michelle shelly",
        "stephanie steph",
        "andrew andy drew",
        "cameron cam",
        "vincent vince vinny",
        "leonard leo len lenny",
        "gabriel gabe",
        "gabriela gabriella gabby",
        "isaac ike",
        "jacob jake",
        "natalie nat",
        "natasha tasha",
        "valerie val",
        "philip phillip phil",
        "russell russ",
        "terrence terence terry",
        "theresa teresa terry tess",
        "walter walt",
        "wesley wes",
        "maximilian maxwell max",
        "eugene gene",
        "randall randolph randy",
        "rodney rod",
        "tobias toby",
        "abraham abe",
        "jeremiah jeremy jerry",
        "cassandra cassie",
        "angela angie",
        "allison alison ally",
        "amanda mandy",
        "caroline carrie",
        "tiffany tiff",
        "anthony antonio tony",
        "manuel manny",
        "jesus chuy",
        "ignacio nacho",
        "eduardo lalo eddie",
        "rafael rafa",
    )
)


@lru_cache(maxsize=65536)
def name_key(text: str) -> str:
    """A name as compared: no accents, case, spaces, hyphens, apostrophes, periods or
    generational suffix. "O'Brien-Díaz Jr." -> "obriendiaz"."""
    return "".join(_name_tokens(text))


@lru_cache(maxsize=65536)
def _name_tokens(text: str) -> tuple[str, ...]:
    plain = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in plain if not unicodedata.combining(c)).casefold()
    tokens = [t for t in _SEPARATORS.split(plain) if t]
    while len(tokens) > 1 and tokens[-1] in _SUFFIXES:
        tokens.pop()
    return tuple(tokens)


def _given_tokens(text: str) -> tuple[str, ...]:
    """Given names split on spaces only: "Mary-Ann" stays one name, "John Michael" two."""
    words = text.split()
    return tuple(k for k in (name_key(w) for w in words) if k)


@lru_cache(maxsize=65536)
def first_names_agree(in_file: str, on_record: str) -> bool:
    """Whether two first names can be the same person's (see the module's rule)."""
    if name_key(in_file) == name_key(on_record):
        return True
    a, b = _given_tokens(in_file), _given_tokens(on_record)
    if not a or not b:
        return True  # nothing to compare: reported as not checked, not as a mismatch
    return _short_form(a[0], b[0])


def _short_form(a: str, b: str) -> bool:
    if a == b:
        return True
    short, full = sorted((a, b), key=len)
    if len(short) == 1:
        return full.startswith(short)
    return any(a in group and b in group for group in _NICKNAMES.get(a, ()))


def _by_name(groups: tuple[frozenset[str], ...]) -> dict[str, list[frozenset[str]]]:
    """Each name with the groups it belongs to, so a comparison looks at a few groups."""
    index: dict[str, list[frozenset[str]]] = {}
    for group in groups:
        for name in group:
            index.setdefault(name, []).append(group)
    return index


_NICKNAMES = _by_name(_NICKNAME_GROUPS)


def check_identity(
    fields: IdentityFields,
    *,
    file_last: str,
    file_first: str,
    file_dob: date | None,
    record_last: str,
    record_first: str,
    record_dob: date | None,
) -> IdentityCheck:
    """Compare what the file says with the client's record: the mismatches, and what
    could not be checked because one side does not give it."""
    mismatches: list[IdentityMismatch] = []
    unchecked: list[str] = []
    if not name_key(file_last):
        unchecked.append(f"last name: the file does not give it ({fields.last_name})")
    elif not name_key(record_last):
        unchecked.append("last name: the client's record has none")
    elif name_key(file_last) != name_key(record_last):
        mismatches.append(
            IdentityMismatch(fields.last_name, "last name", file_last.strip(), record_last)
        )
    if not name_key(file_first):
        unchecked.append(f"first name: the file does not give it ({fields.first_name})")
    elif not name_key(record_first):
        unchecked.append("first name: the client's record has none")
    elif not first_names_agree(file_first, record_first):
        mismatches.append(
            IdentityMismatch(fields.first_name, "first name", file_first.strip(), record_first)
        )
    if file_dob is None:
        unchecked.append(f"date of birth: the file does not give it ({fields.date_of_birth})")
    elif record_dob is None:
        unchecked.append("date of birth: the client's record has none")
    elif file_dob != record_dob:
        mismatches.append(
            IdentityMismatch(
                fields.date_of_birth,
                "date of birth",
                file_dob.isoformat(),
                record_dob.isoformat(),
            )
        )
    return IdentityCheck(tuple(mismatches), tuple(unchecked))
