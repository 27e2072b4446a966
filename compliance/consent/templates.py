"""Consent templates: the §2.31 elements pre-filled in plain words for the three
referrals a program sees most (court supervision, an EAP, a DOT SAP).

The clinician checks the form against what the client signs and edits any element;
a template only fills the form. ``consents.create_consent`` validates what is posted
exactly as it validates a form typed from scratch. The descriptions are in the
client's own voice because the client signs them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from compliance.core.vocabulary import ConsentPurpose as P
from compliance.core.vocabulary import InformationCategory as C
from compliance.core.vocabulary import ReferralSource
from compliance.records.mandates import MandateView

# A consent with no end date in the mandate still needs one (§2.31): a year is the
# span programs commonly print on EAP and SAP forms.
DEFAULT_SPAN = timedelta(days=365)


@dataclass(frozen=True)
class ConsentTemplate:
    key: str
    title: str
    # What the consent means for the client, said to the clinician who explains it.
    meaning: str
    categories: tuple[str, ...]
    purposes: tuple[str, ...]
    criminal_justice: bool = False


TEMPLATES: dict[str, ConsentTemplate] = {
    "court": ConsentTemplate(
        key="court",
        title="Court supervision",
        meaning=(
            "A criminal-justice consent (42 CFR 2.35), for treatment a court, probation or "
            "parole ordered. It lets the program report to the court or the officer, and "
            "the client cannot take it back until the date or event written below: at "
            "the latest, when the case is finally decided. Tell the client this before "
            "they sign."
        ),
        categories=(
            C.attendance,
            C.drug_tests,
            C.compliance_status,
            C.treatment_progress,
            C.discharge_status,
        ),
        purposes=(P.court_supervision,),
        criminal_justice=True,
    ),
    "eap": ConsentTemplate(
        key="eap",
        title="EAP (employer referral)",
        meaning=(
            "For an employee referred through an employee assistance program. It shares "
            "only what the employer needs: whether the client attends, whether they are "
            "following their agreement, and whether they are fit to return to work. The "
            "client may take it back at any time."
        ),
        categories=(C.attendance, C.compliance_status, C.fitness_to_return),
        purposes=(P.employment,),
    ),
    "dot_sap": ConsentTemplate(
        key="dot_sap",
        title="DOT SAP (return to duty)",
        meaning=(
            "For a DOT-regulated employee sent by a Substance Abuse Professional (SAP). "
            "The SAP needs the drug and alcohol tests against the follow-up plan, "
            "attendance, compliance and fitness for safety-sensitive duty. The client may "
            "take it back at any time."
        ),
        categories=(C.attendance, C.drug_tests, C.compliance_status, C.fitness_to_return),
        purposes=(P.dot_return_to_duty,),
    ),
}

TEMPLATE_FOR_SOURCE = {
    ReferralSource.court: "court",
    ReferralSource.probation: "court",
    ReferralSource.eap: "eap",
    ReferralSource.dot_sap: "dot_sap",
}


def for_mandate(mandate: MandateView | None) -> str:
    """The template a mandate calls for; "" (a blank form) for none or another source."""
    if mandate is None:
        return ""
    return TEMPLATE_FOR_SOURCE.get(ReferralSource(mandate.source), "")


def _case(mandate: MandateView | None) -> str:
    return f" ({mandate.case_number})" if mandate and mandate.case_number else ""


def _court(
    mandate: MandateView | None, recipient: Mapping[str, Any] | None, program: str
) -> dict[str, str]:
    who = (
        (recipient or {}).get("organisation")
        or (mandate.referring_agency if mandate else "")
        or "my probation officer"
    )
    court = (mandate.court_name if mandate else "") or "the court"
    until_event = f"the final disposition of my case{_case(mandate)}"
    ends = mandate.ends_on if mandate else None
    until = (
        f"{ends:%B} {ends.day}, {ends.year}, or {until_event}, whichever comes first"
        if ends
        else until_event
    )
    return {
        "information_description": (
            "My attendance at treatment sessions, the results of my drug and alcohol tests, "
            "whether I am meeting the treatment my court order requires, my progress in "
            "treatment, and when and why I leave the program."
        ),
        "purpose_description": (
            f"So that {who} and {court} can supervise my case{_case(mandate)} and know "
            "whether I am following the treatment the court ordered."
        ),
        "expires_on": ends.isoformat() if ends else "",
        "expiry_event": "" if ends else until_event,
        "revocable_after": ends.isoformat() if ends else "",
        "irrevocable_until_event": until_event,
        "revocation_instructions": (
            "Because this consent is a condition of my court-ordered treatment, I cannot "
            f"take it back (revoke it) before {until}. After that I may revoke it by telling "
            f"{program} in writing or in person. Revoking does not undo anything already "
            "shared."
        ),
    }


def _eap(mandate: MandateView | None, recipient: Mapping[str, Any] | None) -> dict[str, str]:
    who = (
        (recipient or {}).get("organisation")
        or (mandate.referring_agency if mandate else "")
        or "my employee assistance program"
    )
    return {
        "information_description": (
            "Whether I attend treatment as required, whether I am following my "
            "return-to-work agreement (yes or no), and whether I am fit to return to work."
        ),
        "purpose_description": (
            f"So that {who} can tell my employer whether I am following my return-to-work "
            "agreement."
        ),
    }


def _sap(mandate: MandateView | None, recipient: Mapping[str, Any] | None) -> dict[str, str]:
    who = (recipient or {}).get("name") or (mandate.contact_name if mandate else "")
    sap = f"{who}, my Substance Abuse Professional" if who else "my Substance Abuse Professional"
    return {
        "information_description": (
            "My attendance, the results of my drug and alcohol tests, whether I am following "
            "the treatment and follow-up testing plan my Substance Abuse Professional set, "
            "and whether I am fit to return to safety-sensitive duty."
        ),
        "purpose_description": (
            f"So that {sap} can decide on my return to safety-sensitive duty and follow my "
            "follow-up testing under the DOT rules (49 CFR Part 40)."
        ),
    }


REVOCABLE = (
    "I may take back (revoke) this consent at any time by telling {program} in writing "
    "or in person. Revoking does not undo anything already shared."
)


def prefill(
    key: str,
    *,
    program_name: str,
    client_name: str,
    mandate: MandateView | None,
    recipient: Mapping[str, Any] | None,
    today: date,
) -> dict[str, Any]:
    """The consent form's values for template ``key`` ("" or unknown: only what every
    consent shares: who discloses, who signs, and when)."""
    values: dict[str, Any] = {
        "disclosing_party": program_name,
        "signed_by_name": client_name,
        "signer_relationship": "self",
        "signed_on": today.isoformat(),
        "information_categories": [],
        "purposes": [],
    }
    if mandate is not None:
        values["mandate_id"] = str(mandate.id)
    if recipient is not None:
        values["recipient_id"] = str(recipient["id"])
    template = TEMPLATES.get(key)
    if template is None:
        return values
    values["information_categories"] = [c.value for c in map(C, template.categories)]
    values["purposes"] = [p.value for p in map(P, template.purposes)]
    if template.criminal_justice:
        values["is_criminal_justice"] = "true"
        values.update(_court(mandate, recipient, program_name))
        return values
    ends = mandate.ends_on if mandate and mandate.ends_on else today + DEFAULT_SPAN
    values.update(
        {
            "expires_on": ends.isoformat(),
            "revocation_instructions": REVOCABLE.format(program=program_name),
        },
        **(_eap if key == "eap" else _sap)(mandate, recipient),
    )
    return values
