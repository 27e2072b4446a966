"""Recipients and 42 CFR Part 2 consents: every §2.31 element, §2.35 criminal-justice
irrevocability, revocation, and the signed consent document kept beside the record.

The document is kept in the database (``consent_document``, by its SHA-256), not on one
instance's disk: any instance serves it, it is written in the same transaction as the
consent's row (a refused consent leaves no file behind) and every database backup holds
it. Documents attached before that were files under VAR_DIR/documents; the first
download on the instance holding one moves it into the database."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from compliance import audit
from compliance.core import db
from compliance.core.rows import view_of
from compliance.core.validation import Form, clean_filename
from compliance.core.vocabulary import ConsentPurpose, InformationCategory, RecipientKind
from compliance.staff import access
from compliance.staff.accounts import Principal
from compliance.tables import Consent, ConsentDocument, Mandate, Program, Recipient

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
DOCUMENT_TYPES = {
    b"%PDF-": "application/pdf",
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
}


@dataclass
class RecipientView:
    id: int
    program_id: int
    kind: str
    name: str
    title: str
    organisation: str
    email: str
    phone: str
    active: bool


@dataclass
class ConsentView:
    id: int
    participant_id: int
    mandate_id: int | None
    recipient_id: int | None
    recipient_name: str
    recipient_organisation: str
    disclosing_party: str
    information_categories: list[str]
    information_description: str
    purposes: list[str]
    purpose_description: str
    is_criminal_justice: bool
    for_court_proceedings: bool
    expires_on: date | None
    expiry_event: str
    revocable_after: date | None
    irrevocable_until_event: str
    revocation_instructions: str
    signed_by_name: str
    signer_relationship: str
    signed_on: date
    has_document: bool
    document_filename: str
    revoked_at: datetime | None
    revocation_note: str
    state: str  # "active", "expired", "revoked"


def _list(form: Form, name: str, enum: type, raw: Any) -> list[str]:
    items = raw if isinstance(raw, list | tuple) else [raw] if raw else []
    values: list[str] = []
    for item in items:
        try:
            values.append(enum(item).value)
        except ValueError:
            allowed = ", ".join(m.value for m in enum)
            form.errors.add(name, f"{item!r} is not one of: {allowed}")
    if not values:
        form.errors.add(name, "choose at least one")
    return sorted(set(values))


# --- recipients ---------------------------------------------------------------------


def _recipient_view(r: dict[str, Any]) -> RecipientView:
    return view_of(RecipientView, r)


async def create_recipient(
    principal: Principal, data: Mapping[str, Any], origin: str
) -> RecipientView:
    form = Form(data)
    program_id = form.integer("program_id")
    if program_id is not None and program_id not in principal.program_ids:
        form.errors.add("program_id", "is not one of your programs")
    kind = form.choice("kind", RecipientKind)
    values = {
        "name": form.text("name"),
        "title": form.text("title", required=False),
        "organisation": form.text("organisation", required=False),
        "email": form.text("email", required=False, max_length=254),
        "phone": form.text("phone", required=False, max_length=40),
    }
    if values["email"] and "@" not in values["email"]:
        form.errors.add("email", "is not an e-mail address")
    if not values["email"] and not values["phone"]:
        form.errors.add("email", "give an e-mail address or a phone number")
    form.errors.raise_if_any()
    async with db.transaction():
        row = Recipient(program=program_id, kind=kind.value, **values)  # type: ignore[union-attr]
        await row.save()
        await audit.record("recipient.create", principal.actor(origin), "recipient", row.id)
    return _recipient_view(await Recipient.select().where(Recipient.id == row.id).first())


def _same(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


def _digits(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit())


async def matching_recipient(
    program_id: int, name: str, email: str = "", phone: str = ""
) -> dict[str, Any] | None:
    """The program's active recipient who is this person: the same name and the same
    e-mail address or phone number. Reused rather than added again, so an officer named
    on several mandates stays one recipient whom every consent names."""
    if not name.strip() or not (email.strip() or _digits(phone)):
        return None
    rows = (
        await Recipient.select()
        .where((Recipient.program == program_id) & Recipient.active.eq(True))
        .order_by(Recipient.id)
    )
    for row in rows:
        if not _same(row["name"], name):
            continue
        if (email.strip() and _same(row["email"], email)) or (
            _digits(phone) and _digits(row["phone"]) == _digits(phone)
        ):
            return row
    return None


async def add_or_reuse_recipient(
    principal: Principal, program_id: int, fields: Mapping[str, str], origin: str
) -> tuple[int, bool]:
    """Inside the caller's transaction: the matching recipient's id, or a new one's; and
    whether it was added. ``fields`` were checked by the caller (name, and an e-mail
    address or a phone number)."""
    await db.serialize(f"recipients.{program_id}")
    found = await matching_recipient(
        program_id, fields["name"], fields.get("email", ""), fields.get("phone", "")
    )
    if found is not None:
        return found["id"], False
    row = Recipient(
        program=program_id,
        kind=fields["kind"],
        name=fields["name"],
        organisation=fields.get("organisation", ""),
        email=fields.get("email", ""),
        phone=fields.get("phone", ""),
    )
    await row.save()
    await audit.record(
        "recipient.create", principal.actor(origin), "recipient", row.id, {"from": "mandate"}
    )
    return row.id, True


async def list_recipients(
    principal: Principal, program_id: int | None = None
) -> list[RecipientView]:
    programs = access.covered_programs(principal, program_id)
    rows = (
        await Recipient.select()
        .where(Recipient.program.is_in(programs or [0]))
        .order_by(Recipient.name)
    )
    return [_recipient_view(r) for r in rows]


# --- consents -----------------------------------------------------------------------


def consent_state(row: Mapping[str, Any], today: date | None = None) -> str:
    today = today or date.today()
    if row["revoked_at"] is not None:
        return "revoked"
    if row["expires_on"] is not None and row["expires_on"] < today:
        return "expired"
    return "active"


async def _consent_views(rows: Sequence[dict[str, Any]]) -> list[ConsentView]:
    ids = {r["recipient"] for r in rows if r["recipient"]}
    recipients = {
        r["id"]: r for r in await Recipient.select().where(Recipient.id.is_in(sorted(ids) or [0]))
    }
    out = []
    for r in rows:
        rec = recipients.get(r["recipient"], {})
        out.append(
            view_of(
                ConsentView,
                r,
                recipient_name=rec.get("name", ""),
                recipient_organisation=r["recipient_organisation"] or rec.get("organisation", ""),
                information_categories=list(r["information_categories"] or []),
                purposes=list(r["purposes"] or []),
                has_document=bool(r["document_sha256"]),
                state=consent_state(r),
            )
        )
    return out


async def create_consent(
    principal: Principal, participant_id: int, data: Mapping[str, Any], origin: str
) -> ConsentView:
    """Record a signed consent; refuses one that lacks any §2.31 element."""
    person = await access.participant_row(principal, participant_id)
    form = Form(data)
    recipient_id = form.integer("recipient_id")
    recipient = None
    if recipient_id is not None:
        recipient = await Recipient.select().where(Recipient.id == recipient_id).first()
        if recipient is None or recipient["program"] != person["program"]:
            form.errors.add("recipient_id", "is not a recipient of this participant's program")
    mandate_id = form.integer("mandate_id", required=False)
    if mandate_id is not None and not await Mandate.exists().where(
        (Mandate.id == mandate_id) & (Mandate.participant == participant_id)
    ):
        form.errors.add("mandate_id", "is not a mandate of this participant")
    program = await Program.select(Program.name).where(Program.id == person["program"]).first()
    categories = _list(
        form, "information_categories", InformationCategory, data.get("information_categories")
    )
    purposes = _list(form, "purposes", ConsentPurpose, data.get("purposes"))
    criminal_justice = form.boolean("is_criminal_justice")
    court_proceedings = form.boolean("for_court_proceedings")
    values = _consent_terms(form, program["name"])
    _check_terms(form, values, purposes, criminal_justice, court_proceedings)
    form.errors.raise_if_any()
    async with db.transaction():
        row = Consent(
            participant=participant_id,
            recipient=recipient_id,
            mandate=mandate_id,
            recipient_organisation=(recipient or {}).get("organisation", ""),
            information_categories=categories,
            purposes=purposes,
            is_criminal_justice=criminal_justice,
            for_court_proceedings=court_proceedings,
            created_by=principal.id,
            **values,
        )
        await row.save()
        await audit.record(
            "consent.create",
            principal.actor(origin),
            "consent",
            row.id,
            {"recipient": recipient_id, "categories": categories},
        )
    return await get_consent(principal, row.id)


def _consent_terms(form: Form, program_name: str) -> dict[str, Any]:
    """The signed form's terms as written: who discloses, what, why, until when, how to
    revoke, and who signed when."""
    return {
        "disclosing_party": form.text("disclosing_party", required=False) or program_name,
        "information_description": form.text("information_description", max_length=4000),
        "purpose_description": form.text("purpose_description", required=False, max_length=2000),
        "expires_on": form.date("expires_on", required=False, not_future=False),
        "expiry_event": form.text("expiry_event", required=False, max_length=500),
        "revocable_after": form.date("revocable_after", required=False, not_future=False),
        "irrevocable_until_event": form.text(
            "irrevocable_until_event", required=False, max_length=500
        ),
        "revocation_instructions": form.text("revocation_instructions", max_length=2000),
        "signed_by_name": form.text("signed_by_name"),
        "signer_relationship": form.text("signer_relationship", required=False) or "self",
        "signed_on": form.date("signed_on"),
    }


def _check_terms(
    form: Form,
    values: dict[str, Any],
    purposes: list[str],
    criminal_justice: bool,
    court_proceedings: bool,
) -> None:
    """42 CFR Part 2's rules for the terms: an end (§2.31), a court-proceedings consent
    on its own, and irrevocability only for a criminal-justice consent (§2.35)."""
    if not values["expires_on"] and not values["expiry_event"]:
        form.errors.add(
            "expires_on",
            "give the date or the event when the consent ends: "
            "every consent needs one (42 CFR §2.31)",
        )
    if values["expires_on"] and values["signed_on"] and values["expires_on"] < values["signed_on"]:
        form.errors.add("expires_on", "is before the date signed")
    if court_proceedings and purposes != [ConsentPurpose.court_proceedings.value]:
        form.errors.add(
            "purposes",
            "a consent for use as evidence in court proceedings must be a consent of its own: "
            "it cannot be combined with any other purpose",
        )
    if criminal_justice:
        if not values["revocable_after"] and not values["irrevocable_until_event"]:
            form.errors.add(
                "revocable_after",
                "a criminal-justice consent (42 CFR §2.35) must say until what date or "
                "event the client cannot take it back",
            )
    elif values["revocable_after"] or values["irrevocable_until_event"]:
        form.errors.add(
            "revocable_after",
            "only a criminal-justice consent, for court-ordered treatment, may say the client "
            "cannot take it back: mark it as one, or leave the date and event blank",
        )


async def for_decisions(participant_ids: Collection[int]) -> dict[int, list[dict[str, Any]]]:
    """The one loader of consents for a disclosure decision (``consent.gate.decide``).

    Every consent of each participant, revoked and expired ones included: the gate is
    what says why one does not count, so no caller filters first and no path judges on
    a different set. Oldest first, so ties in the gate fall the same way everywhere.
    A caller bound to one consent (a link) picks it from this list by id.
    """
    found: dict[int, list[dict[str, Any]]] = {pid: [] for pid in participant_ids}
    if not found:
        return found
    rows = (
        await Consent.select()
        .where(Consent.participant.is_in(list(found)))
        .order_by(Consent.signed_on)
        .order_by(Consent.id)
    )
    for row in rows:
        found[row["participant"]].append(row)
    return found


async def for_decision(participant_id: int) -> list[dict[str, Any]]:
    """One participant's consents for a disclosure decision (see ``for_decisions``)."""
    return (await for_decisions([participant_id]))[participant_id]


async def _consent_row(principal: Principal, consent_id: int) -> dict[str, Any]:
    return await access.participant_record(principal, Consent, consent_id, "consent")


async def get_consent(principal: Principal, consent_id: int) -> ConsentView:
    return (await _consent_views([await _consent_row(principal, consent_id)]))[0]


async def participant_consents(principal: Principal, participant_id: int) -> list[ConsentView]:
    await access.participant_row(principal, participant_id)
    rows = (
        await Consent.select()
        .where(Consent.participant == participant_id)
        .order_by(Consent.signed_on)
    )
    return await _consent_views(rows)


async def revoke_consent(
    principal: Principal,
    consent_id: int,
    data: Mapping[str, Any],
    origin: str,
    today: date | None = None,
) -> ConsentView:
    """The client revokes; a §2.35 consent refuses until its stated date or event."""
    row = await _consent_row(principal, consent_id)
    form = Form(data)
    note = form.text("note", max_length=2000)
    event_passed = form.boolean("irrevocable_event_has_occurred")
    today = today or date.today()
    if row["revoked_at"] is not None:
        form.errors.add("consent_id", "is already revoked")
    elif row["is_criminal_justice"]:
        until = row["revocable_after"]
        if until and today < until and not event_passed:
            form.errors.add(
                "consent_id", f"a criminal-justice consent is irrevocable until {until.isoformat()}"
            )
        elif not until and row["irrevocable_until_event"] and not event_passed:
            form.errors.add(
                "consent_id",
                f"a criminal-justice consent is irrevocable until {row['irrevocable_until_event']}",
            )
    form.errors.raise_if_any()
    async with db.transaction():
        await Consent.update(
            {
                Consent.revoked_at: datetime.now(UTC),
                Consent.revoked_by: principal.id,
                Consent.revocation_note: note,
            }
        ).where(Consent.id == consent_id)
        await audit.record("consent.revoke", principal.actor(origin), "consent", consent_id)
    return await get_consent(principal, consent_id)


async def _keep_document(digest: str, content: bytes) -> None:
    """Written once by its hash: the same file attached again (or by two requests at
    once) leaves the stored one as it is."""
    await ConsentDocument.insert(
        ConsentDocument(sha256=digest, size_bytes=len(content), content=content)
    ).on_conflict(target=ConsentDocument.sha256, action="DO NOTHING")


async def _stored_document(digest: str) -> bytes | None:
    row = (
        await ConsentDocument.select(ConsentDocument.content)
        .where(ConsentDocument.sha256 == digest)
        .first()
    )
    return None if row is None else bytes(row["content"])


def sniff_document(content: bytes) -> str | None:
    return next((kind for magic, kind in DOCUMENT_TYPES.items() if content.startswith(magic)), None)


async def attach_document(
    principal: Principal,
    consent_id: int,
    filename: str,
    content: bytes,
    documents_dir: Path,
    origin: str,
) -> ConsentView:
    """Keep the signed consent (PDF, PNG or JPEG) in the database by its SHA-256.
    ``documents_dir`` (VAR_DIR/documents, where older installations kept them) is not
    written."""
    await _consent_row(principal, consent_id)
    form = Form({})
    media_type = sniff_document(content)
    if not content:
        form.errors.add("document", "the file is empty")
    elif len(content) > MAX_DOCUMENT_BYTES:
        form.errors.add("document", "is larger than 10 MB")
    elif media_type is None:
        form.errors.add("document", "must be a PDF, PNG or JPEG file")
    form.errors.raise_if_any()
    digest = hashlib.sha256(content).hexdigest()
    async with db.transaction():
        await _keep_document(digest, content)
        await Consent.update(
            {
                Consent.document_filename: clean_filename(filename, "consent"),
                Consent.document_media_type: media_type,
                Consent.document_sha256: digest,
                Consent.document_path: "",  # not on disk: in consent_document
            }
        ).where(Consent.id == consent_id)
        await audit.record(
            "consent.document", principal.actor(origin), "consent", consent_id, {"sha256": digest}
        )
    return await get_consent(principal, consent_id)


async def document(
    principal: Principal, consent_id: int, documents_dir: Path
) -> tuple[bytes, str, str]:
    """The signed consent as attached: its bytes, media type and file name. One attached
    before documents moved into the database is read from ``documents_dir`` (VAR_DIR/
    documents) and kept in the database from then on, for every instance."""
    row = await _consent_row(principal, consent_id)
    digest = row["document_sha256"]
    if not digest:
        raise access.NotFound("no document attached")
    content = await _stored_document(digest)
    if content is None and row["document_path"]:
        content = await asyncio.to_thread(_legacy_file, documents_dir / row["document_path"])
        if content is not None and hashlib.sha256(content).hexdigest() == digest:
            async with db.transaction():
                await _keep_document(digest, content)
    if content is None:
        raise access.NotFound("the signed document is not stored here")
    if hashlib.sha256(content).hexdigest() != digest:
        raise access.NotFound("the stored document does not match its fingerprint")
    return content, row["document_media_type"], row["document_filename"]


def _legacy_file(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
