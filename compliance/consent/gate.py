"""The one decision whether a report may go to a recipient (42 CFR §2.31, §2.35).

A report may be produced only on a consent that is signed, neither expired nor
revoked, names the recipient (or the recipient's organization), lists the purpose,
and covers every information category the report must show. The report's context is
then built from ``Decision.categories``, so what the consent does not cover never
reaches the template. Every path that discloses (report generation, batches, links,
violation notices, the choices offered on a page) asks here, with the consents loaded
by the one loader, ``consents.for_decision``/``for_decisions``, so no path judges on a
set of consents filtered its own way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from compliance.core.vocabulary import ConsentPurpose, InformationCategory, ReportKind

C = InformationCategory
P = ConsentPurpose


@dataclass(frozen=True)
class ReportNeeds:
    """What a kind of report shows: ``required`` categories must all be covered;
    ``optional`` ones appear only when covered; ``at_least_one`` of them must be."""

    purposes: frozenset[str]
    required: frozenset[str] = frozenset()
    optional: frozenset[str] = frozenset()
    at_least_one: bool = False


NEEDS: dict[str, ReportNeeds] = {
    ReportKind.court_progress: ReportNeeds(
        purposes=frozenset({P.court_supervision, P.court_proceedings}),
        required=frozenset({C.attendance, C.drug_tests, C.compliance_status}),
        optional=frozenset({C.treatment_progress}),
    ),
    ReportKind.eap_status: ReportNeeds(
        purposes=frozenset({P.employment, P.dot_return_to_duty}),
        optional=frozenset(
            {
                C.attendance,
                C.compliance_status,
                C.fitness_to_return,
                C.drug_tests,
                C.treatment_progress,
            }
        ),
        at_least_one=True,
    ),
    # 49 CFR 40.307-.311: the SAP needs the follow-up plan against the tests done, so
    # drug tests are required; attendance, compliance and fitness appear when covered.
    ReportKind.sap_followup: ReportNeeds(
        purposes=frozenset({P.dot_return_to_duty}),
        required=frozenset({C.drug_tests}),
        optional=frozenset({C.attendance, C.compliance_status, C.fitness_to_return}),
    ),
    ReportKind.discharge_letter: ReportNeeds(
        purposes=frozenset(P),
        required=frozenset({C.discharge_status}),
        optional=frozenset({C.attendance, C.compliance_status, C.treatment_progress}),
    ),
}

CATEGORY_WORDS = {
    C.attendance: "attendance",
    C.drug_tests: "drug-test results",
    C.compliance_status: "compliance status",
    C.treatment_progress: "treatment progress",
    C.diagnosis: "diagnosis",
    C.discharge_status: "discharge status",
    C.fitness_to_return: "fitness to return to work",
}
PURPOSE_WORDS = {
    P.court_supervision: "court supervision",
    P.court_proceedings: "court proceedings",
    P.employment: "employment",
    P.dot_return_to_duty: "DOT return-to-duty and follow-up testing",
    P.treatment_coordination: "treatment coordination",
    P.other: "other",
}


@dataclass(frozen=True)
class Decision:
    allowed: bool
    consent_id: int | None = None
    categories: frozenset[str] = frozenset()  # what the report may show
    purpose: str = ""
    missing: tuple[str, ...] = ()  # why not, one plain sentence each
    scope: str = ""  # the consent's scope as printed on the report


def _names_recipient(consent: Mapping[str, Any], recipient: Mapping[str, Any]) -> bool:
    if consent["recipient"] is not None:
        return consent["recipient"] == recipient["id"]
    wanted = consent["recipient_organisation"].strip().casefold()
    return bool(wanted) and wanted == recipient["organisation"].strip().casefold()


def _day(day: date | datetime) -> str:
    return f"{day.day} {day:%b %Y}"


def _words(categories: Sequence[str]) -> str:
    return ", ".join(CATEGORY_WORDS.get(c, c) for c in sorted(categories))


def scope_text(consent: Mapping[str, Any], recipient_name: str) -> str:
    """The consent's scope as a reader of the report needs it (DOMAIN: every
    disclosure carries a statement of the consent's scope)."""
    until = (
        f"until {_day(consent['expires_on'])}"
        if consent["expires_on"]
        else f"until {consent['expiry_event'] or 'revoked'}"
    )
    purposes = ", ".join(PURPOSE_WORDS.get(p, p) for p in consent["purposes"])
    return (
        f"Consent signed {_day(consent['signed_on'])} by {consent['signed_by_name']} "
        f"authorizes {consent['disclosing_party']} to disclose "
        f"{_words(consent['information_categories'])} to {recipient_name} "
        f"for {purposes}, {until}. Described as: {consent['information_description']}"
    )


def decide(
    kind: str,
    recipient: Mapping[str, Any] | None,
    consents: Sequence[Mapping[str, Any]],
    today: date,
    purpose: str | None = None,
) -> Decision:
    """Pure: the best valid consent among ``consents`` (the participant's), or why none is.

    Of several valid consents the one covering most of the report wins, then the most
    recently signed."""
    needs = NEEDS.get(kind)
    if needs is None:
        return Decision(False, missing=(f"unknown report kind {kind!r}",))
    if recipient is None:
        return Decision(False, missing=("no recipient was named",))
    if not recipient["active"]:
        return Decision(False, missing=(f"{recipient['name']} is no longer an active recipient",))
    if purpose is not None and purpose not in needs.purposes:
        return Decision(
            False,
            missing=(f"a {kind.replace('_', ' ')} report is not made for {purpose}",),
        )
    named = [c for c in consents if _names_recipient(c, recipient)]
    if not named:
        who = recipient["name"] + (
            f" ({recipient['organisation']})" if recipient["organisation"] else ""
        )
        return Decision(False, missing=(f"no consent names {who} as a recipient",))
    candidates: list[tuple[tuple[int, date, int], Decision]] = []
    refusals: list[str] = []
    for consent in named:
        signed = consent["signed_on"]
        label = f"the consent signed {_day(signed)}"
        if consent["revoked_at"] is not None:
            refusals.append(f"{label} was revoked on {_day(consent['revoked_at'])}")
            continue
        if consent["expires_on"] is not None and consent["expires_on"] < today:
            refusals.append(f"{label} expired on {_day(consent['expires_on'])}")
            continue
        if signed > today:
            refusals.append(f"{label} is dated in the future")
            continue
        purposes = set(consent["purposes"])
        usable = sorted(purposes & needs.purposes) if purpose is None else [purpose]
        if not usable or usable[0] not in purposes:
            wanted = purpose or " or ".join(sorted(PURPOSE_WORDS[p] for p in needs.purposes))
            refusals.append(f"{label} does not list the purpose {wanted.replace('_', ' ')}")
            continue
        covered = set(consent["information_categories"])
        lacking = needs.required - covered
        if lacking:
            refusals.append(f"{label} does not cover {_words(sorted(lacking))}")
            continue
        shown = frozenset(needs.required | (needs.optional & covered))
        if needs.at_least_one and not shown:
            refusals.append(
                f"{label} covers nothing this report shows ({_words(sorted(needs.optional))})"
            )
            continue
        decision = Decision(
            True,
            consent_id=consent["id"],
            categories=shown,
            purpose=usable[0],
            scope=scope_text(consent, recipient["name"]),
        )
        candidates.append(((len(shown), signed, consent["id"]), decision))
    if candidates:
        return max(candidates, key=lambda c: c[0])[1]
    return Decision(False, missing=tuple(refusals))
