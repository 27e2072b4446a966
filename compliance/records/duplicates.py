"""A record that is already stored, refused the same way on every path.

The same no-show posted twice made two violations and doubled the week's reasons; the
same specimen typed in after its lab file was imported made two tests. What counts as
"the same" is each service's rule (drug_tests.specimen_key, attendance.attendance_key);
this is how a refusal says so: it names the field and the record already stored, so the
API (409) and a page (the form again, with the message) can point at it.
"""

from __future__ import annotations

from compliance.core.validation import FieldError, InvalidInput


class DuplicateRecord(InvalidInput):
    """The record is already stored; nothing was stored. ``existing_id`` and ``url``
    name the stored one. An InvalidInput, so a page form shows the reason beside the
    field like any other; the API answers 409 Conflict with the pointer."""

    def __init__(self, field: str, reason: str, existing_id: int, url: str) -> None:
        super().__init__([FieldError(field, reason)])
        self.existing_id = existing_id
        self.url = url
