"""The drug-test form a clinician fills from a lab report: a panel preset from the
program's analyte table, "all negative" in one click, then only the exceptions. It
posts to the same service function as the API (drug_tests.record_test), which applies
the preset, so a page and an API client are held to the same rules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar.response import Template

from compliance.core.vocabulary import CollectionStatus, SpecimenType, TestReason
from compliance.records import participants
from compliance.records.analytes import panel_presets
from compliance.staff.accounts import Principal
from compliance.tables import Analyte
from compliance.web.common.page import Page

# The screen column: blank means "not marked" (negative when "all negative" is chosen).
SCREEN_CHOICES = [
    ("negative", "negative"),
    ("positive", "positive"),
    ("invalid", "invalid"),
    ("not_tested", "not tested"),
]
OXIDANT_CHOICES = [("negative", "negative"), ("positive", "positive")]
COLLECTION_WORDS = {
    "collected": "collected",
    "no_show": "no-show (did not come)",
    "refused": "refused",
    "unable_to_provide": "unable to provide",
    "dilute": "dilute",
    "adulterated": "adulterated",
    "substituted": "substituted",
}


def _beside(column: str, reason: str) -> str:
    """ "Why is required", "Level: 'abc' is not a number"."""
    if not column:
        return reason
    return f"{column} {reason}" if reason.startswith("is ") else f"{column}: {reason}"


def beside_rows(
    errors: dict[str, str], sent: list[dict[str, Any]], columns: dict[str, str]
) -> tuple[dict[str, str], list[str]]:
    """A result's error names its place in the list sent ("results[3].level_ng_ml"):
    each goes beside that analyte's row, naming its column (``columns``: the table's
    heads); the reasons about no row sent are returned apart, for above the form."""
    rows: dict[str, str] = {}
    unplaced: list[str] = []
    for name, reason in errors.items():
        if name.startswith("results["):
            index = int(name[len("results[") : name.index("]")])
            column = columns.get(name.rpartition(".")[2], "")
            if index < len(sent):
                rows.setdefault(sent[index]["analyte"], _beside(column, reason))
            else:
                unplaced.append(reason)
    return rows, unplaced


def _options(enum: type) -> list[tuple[str, str]]:
    return [(m.value, m.value.replace("_", " ")) for m in enum]


async def form_page(
    principal: Principal,
    participant_id: int,
    values: Mapping[str, Any],
    errors: dict,
    status: int,
    existing: str = "",
) -> Template:
    """The form, filled with what was sent and the reasons beside the fields; when the
    test is already recorded, ``existing`` is the stored test's page, linked."""
    person = await participants.get_participant(principal, participant_id)
    presets = await panel_presets(person.program_id)
    analytes = (
        await Analyte.select(
            Analyte.key,
            Analyte.name,
            Analyte.screen_cutoff_ng_ml,
            Analyte.in_default_panel,
        )
        .where((Analyte.program == person.program_id) & Analyte.active.eq(True))
        .order_by(Analyte.name)
    )
    # Results' errors beside their rows; the rest go above the form.
    sent = (await service_input(principal, participant_id, values))["results"] if errors else []
    rows, unplaced = beside_rows(errors, sent, {"level_ng_ml": "Level"})
    others = [reason for name, reason in errors.items() if name in ("results", "drug_test_id")]
    others += unplaced
    for a in analytes:
        cutoff = a["screen_cutoff_ng_ml"]
        a["cutoff"] = format(cutoff.normalize(), "f") if cutoff is not None else ""
    context = {
        "principal": principal,
        "person": person,
        "values": {"collection_status": "collected", "panel": "panel", **values},
        "errors": errors,
        "existing": existing,
        "row_errors": rows,
        "other_errors": others,
        "presets": presets,
        "analytes": analytes,
        "screens": SCREEN_CHOICES,
        "oxidant_choices": OXIDANT_CHOICES,
        "statuses": [(s.value, COLLECTION_WORDS[s.value]) for s in CollectionStatus],
        "specimens": _options(SpecimenType),
        "reasons": _options(TestReason),
    }
    return Page("pages/referrals/drug_test.html", context=context, status_code=status)


async def service_input(
    principal: Principal, participant_id: int, values: Mapping[str, str]
) -> dict[str, Any]:
    """The form's fields as record_test reads them: a result for each analyte marked,
    among the chosen preset's (a row left visible from another preset is not sent). The
    preset itself goes along, so the service fills "all negative" and checks the rest."""
    keys = sorted({k.split(":", 1)[1] for k in values if k.startswith("screen:")})
    chosen = values.get("panel", "")
    if chosen:
        person = await participants.get_participant(principal, participant_id)
        presets = await panel_presets(person.program_id)
        preset = next((p for p in presets if p.key == chosen), None)
        if preset is not None:
            wanted = {key for key, _ in preset.analytes}
            keys = [k for k in keys if k in wanted]
    results = [
        {
            "analyte": key,
            "screen_result": values[f"screen:{key}"],
            "level_ng_ml": values.get(f"level:{key}", ""),
            # The earlier form's confirmation columns, still read when sent.
            "confirmation_result": values.get(f"confirm:{key}", ""),
            "confirmation_method": values.get(f"method:{key}", ""),
        }
        for key in keys
        if values.get(f"screen:{key}")
    ]
    return {**values, "results": results}
