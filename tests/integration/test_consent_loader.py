"""One loader of consents for every disclosure decision (issue 16, point 8)."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

from compliance.consent import consents
from compliance.core import db
from compliance.tables import Consent, Participant
from tests.support.staff import demo_with_clinician

PACKAGE = Path(__file__).resolve().parent.parent.parent / "compliance"


def _calls(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            names.add(f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", ""))
    return names


def _selects_consents(tree: ast.AST) -> bool:
    """``Consent.select(...)`` anywhere in the module."""
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "select"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "Consent"
        ):
            return True
    return False


def test_every_module_that_decides_loads_consents_through_the_one_loader() -> None:
    deciders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" in path.parts or path.relative_to(PACKAGE).as_posix() == "consent/gate.py":
            continue
        tree = ast.parse(path.read_text(), str(path))
        calls = _calls(tree)
        if "decide" in calls or "consent_decision" in calls:
            deciders.append(path.relative_to(PACKAGE).as_posix())
            assert (
                "for_decision" in calls
                or "for_decisions" in calls
                or ("consent_decision" in calls and "decide" not in calls)
            ), f"{path.name} decides without the loader"
    # The paths the issue counted: reports, batches, links, notices, page choices.
    assert {
        "reporting/service.py",
        "reporting/batch.py",
        "disclosure/links.py",
        "disclosure/notices.py",
        "disclosure/choices.py",
    } <= set(deciders)
    for name in ("reporting/batch.py", "disclosure/notices.py", "disclosure/choices.py"):
        tree = ast.parse((PACKAGE / name).read_text())
        assert not _selects_consents(tree), f"{name} loads consents itself"


async def test_the_loader_returns_every_consent_oldest_first_revoked_included(
    bound_engine: db.Engine,
) -> None:
    await demo_with_clinician("loader@example.org")
    people = await Participant.select(Participant.id)
    ids = [p["id"] for p in people]
    found = await consents.for_decisions([*ids, 999_999])
    assert found[999_999] == []  # asked for, none held: an empty list, not a KeyError
    stored = await Consent.select().where(Consent.participant.is_in(ids))
    assert sum(len(v) for v in found.values()) == len(stored) > 0
    someone = next(pid for pid in ids if found[pid])
    first = found[someone][0]
    await Consent.update({Consent.revoked_at: datetime(2026, 11, 1, tzinfo=UTC)}).where(
        Consent.id == first["id"]
    )
    again = await consents.for_decision(someone)
    assert [c["id"] for c in again] == [c["id"] for c in found[someone]]
    assert again[0]["revoked_at"] is not None
    keys = [(c["signed_on"], c["id"]) for c in again]
    assert keys == sorted(keys)
