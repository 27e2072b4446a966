"""The guided flow for a new client: enrolment, the mandate, the consent, then (if
wanted) the first report or link. Each step's page carries ``flow=new`` so its form
leads on to the next step; the same forms reached from a participant's page lead back
there instead."""

from __future__ import annotations

from urllib.parse import urlencode

from compliance.web.common.principal import safe_next

FLOW = "new"
STEPS = ("The client", "The mandate", "The consent", "First report or link")


def in_flow(value: object) -> bool:
    return value == FLOW


def mandate_step(participant_id: int) -> str:
    return f"/participants/{participant_id}/mandates/new?flow={FLOW}"


def consent_step(participant_id: int, template: str = "") -> str:
    query = {"flow": FLOW, **({"template": template} if template else {})}
    return f"/participants/{participant_id}/consents/new?{urlencode(query)}"


def report_step(participant_id: int) -> str:
    return f"/participants/{participant_id}/first-report"


def local_path(target: str) -> str | None:
    """``target`` when it is a path on this site (a form's way back), else None: never
    a redirect to another host (the sign-in page's rule)."""
    return target if target and safe_next(target) == target else None
