"""The default analyte catalogue a new program starts with (shared/DOMAIN.md cutoffs, ng/mL).

Programs edit their own copy (the ``analyte`` and ``analyte_code`` tables); these are
only the starting values. The analytes a program screens by default
(``Analyte.in_default_panel``) are its panel: the drug-test form's preset.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

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


async def program_catalogue(program_id: int) -> list[dict]:
    """Every analyte of the program with its cutoffs and the lab codes that map to it."""
    analytes = await Analyte.select().where(Analyte.program == program_id).order_by(Analyte.name)
    codes = (
        await AnalyteCode.select()
        .where(AnalyteCode.program == program_id)
        .order_by(AnalyteCode.coding_system, AnalyteCode.code)
    )
    by_analyte: dict[int, list[dict]] = {}
    for c in codes:
        by_analyte.setdefault(c["analyte"], []).append(
            {"id": c["id"], "coding_system": c["coding_system"], "code": c["code"]}
        )
    return [
        {
            "key": a["key"],
            "name": a["name"],
            "screen_cutoff_ng_ml": a["screen_cutoff_ng_ml"],
            "confirmation_cutoff_ng_ml": a["confirmation_cutoff_ng_ml"],
            "active": a["active"],
            "in_default_panel": a["in_default_panel"],
            "codes": by_analyte.get(a["id"], []),
        }
        for a in analytes
    ]


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
