"""File imports (CSV attendance, CSV drug tests, HL7 lab results) as staff pages:
preview, then commit. The API calls the same service functions.

Pages follow Post/Redirect/Get: an upload that can be previewed answers 303 to the
batch's page, which plans it again on every visit and writes nothing; a commit answers
303 to the same page, which then lists what was stored. A refused upload re-renders the
form (422) with the file's problems, so the corrected file goes in the same place."""

from __future__ import annotations

import asyncio
import re
from functools import cache
from itertools import pairwise
from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import MediaType
from litestar.params import FromPath
from litestar.response import Redirect, Template
from markdown_it import MarkdownIt

from compliance import PROJECT_ROOT
from compliance.core.validation import Form
from compliance.core.vocabulary import ImportKind
from compliance.intake import imports
from compliance.intake.imports import ImportOutcome
from compliance.staff.access import program_options, require_program
from compliance.staff.accounts import Principal
from compliance.web.common.forms import submit, text_fields
from compliance.web.common.page import Page
from compliance.web.common.principal import origin_of

KIND_LABELS = {
    ImportKind.attendance_csv: "Attendance (CSV)",
    ImportKind.drug_test_csv: "Drug tests (CSV)",
    ImportKind.hl7_oru: "Lab results (HL7 ORU^R01)",
}
# What one row of the preview is, per kind: "3 drug tests".
ROW_NOUNS = {
    ImportKind.attendance_csv: ("attendance record", "attendance records"),
    ImportKind.drug_test_csv: ("drug test", "drug tests"),
    ImportKind.hl7_oru: ("drug test", "drug tests"),
}
CSV_FORMATS = PROJECT_ROOT / "docs" / "csv-formats.md"
_FOR_DEVELOPERS = re.compile(r"<!-- developers.*?<!-- /developers -->\n?", re.DOTALL)


def nouns(kind: str | None, count: int) -> str:
    """ "1 drug test", "12 attendance records"."""
    one, many = ROW_NOUNS.get(ImportKind(kind), ("row", "rows")) if kind else ("row", "rows")
    return f"{count:,} {one if count == 1 else many}"


@cache
def formats_html() -> str:
    """docs/csv-formats.md as the help page shows it: its headings one level down (the
    page has its own title), each with an anchor, and without the developers' notes."""
    source = _FOR_DEVELOPERS.sub("", CSV_FORMATS.read_text(encoding="utf-8"))
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    tokens = md.parse(source)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + 1, 6)}"
    for opening, inline in pairwise(tokens):
        if opening.type == "heading_open":
            slug = re.sub(r"[^a-z0-9]+", "-", inline.content.lower()).strip("-")
            opening.attrSet("id", slug)
    return md.renderer.render(tokens, md.options, {})


class ImportPages(Controller):
    path = "/imports"
    include_in_schema = False

    @get()
    async def form(self, principal: NamedDependency[Principal]) -> Template:
        return await self._form(principal, {}, {})

    async def _form(
        self,
        principal: Principal,
        values: dict[str, Any],
        errors: dict[str, str],
        outcome: ImportOutcome | None = None,
        status: int = 200,
    ) -> Template:
        return Page(
            "pages/imports/new.html",
            status_code=status,
            context={
                "principal": principal,
                "programs": await program_options(principal),
                "kinds": [(k.value, label) for k, label in KIND_LABELS.items()],
                "values": values,
                "errors": errors,
                "o": outcome,
                "label": _label(outcome.kind) if outcome else "",
            },
        )

    @post(status_code=303, media_type=MediaType.HTML)
    async def preview(
        self,
        request: Request,
        principal: NamedDependency[Principal],
    ) -> Template | Redirect:
        """An upload that can be previewed goes to its page; anything else comes back
        here with the reasons, the program and kind as chosen."""
        raw = await request.form()
        values = text_fields(raw)
        form = Form(values)
        program_id = form.integer("program_id", minimum=1)
        kind = form.choice("kind", ImportKind, required=False)
        upload = raw.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            form.errors.add("file", "is required: choose the file to import")
        if form.errors.items or program_id is None or not isinstance(upload, UploadFile):
            problems = {e.field: e.reason for e in reversed(form.errors.items)}
            return await self._form(principal, values, problems, status=422)
        require_program(principal, program_id)  # another program's: 404, before reading
        outcome = await imports.preview(
            principal,
            program_id,
            kind,
            upload.filename,
            await upload.read(),
            origin_of(request),
        )
        if outcome.errors:
            return await self._form(principal, values, {}, outcome, status=422)
        return Redirect(f"/imports/{outcome.batch_id}", status_code=303)

    @get("/help")
    async def help(self, principal: NamedDependency[Principal]) -> Template:
        return Page(
            "pages/imports/help.html",
            context={
                "principal": principal,
                "formats": await asyncio.to_thread(formats_html),
                "programs": await program_options(principal),
                "kinds": KIND_LABELS,
            },
        )

    @get("/{batch_id:int}")
    async def batch(
        self,
        principal: NamedDependency[Principal],
        batch_id: FromPath[int],
    ) -> Template:
        """The preview until it is committed, then what was stored. Changes nothing."""
        return await self._batch_page(principal, batch_id)

    async def _batch_page(
        self,
        principal: Principal,
        batch_id: int,
        refused: dict[str, str] | None = None,
        values: dict[str, str] | None = None,
    ) -> Template:
        view = await imports.batch_view(principal, batch_id)
        o = view.outcome
        template = "result" if o.status == "committed" else "preview"
        return Page(
            f"pages/imports/{template}.html",
            status_code=422 if refused else 200,
            context={
                "principal": principal,
                "view": view,
                "o": o,
                "label": _label(o.kind),
                "nouns": lambda count: nouns(o.kind, count),
                "to_commit": o.created + o.corrected,
                "unchecked": _unchecked(o),
                "refused": refused or {},
                "values": values or {},
            },
            headers={"Cache-Control": "no-store"},
        )

    @post("/{batch_id:int}/identity", status_code=303, media_type=MediaType.HTML)
    async def confirm_identity(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        batch_id: FromPath[int],
    ) -> Template | Redirect:
        """A clinician confirms one held row with a reason; refused (no reason, a row
        not held), the preview comes back with the reason beside that row's form."""
        values = text_fields(await request.form())
        location = values.get("location", "")
        return await submit(
            imports.confirm_identity(
                principal,
                batch_id,
                location,
                values.get("reason", ""),
                origin_of(request),
            ),
            lambda _: Redirect(f"/imports/{batch_id}#identity", status_code=303),
            lambda errors: self._batch_page(principal, batch_id, errors, values),
        )

    @post("/{batch_id:int}/commit", status_code=303, media_type=MediaType.HTML)
    async def commit(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        batch_id: FromPath[int],
    ) -> Redirect:
        """Whatever the commit found (stored, refused, already done), the batch's page
        says it; a second submit or a refresh there stores nothing again."""
        await imports.commit(principal, batch_id, origin_of(request))
        return Redirect(f"/imports/{batch_id}", status_code=303)


def _unchecked(outcome: ImportOutcome) -> list[tuple[str, int]]:
    """What the identity check could not compare, once per kind with its count of rows:
    a file without names would otherwise say so on every row."""
    counts: dict[str, int] = {}
    for row in outcome.rows:
        for note in row.identity_unchecked:
            counts[note] = counts.get(note, 0) + 1
    return list(counts.items())


def _label(kind: str | None) -> str:
    return KIND_LABELS[ImportKind(kind)] if kind else "Unrecognized file"


ROUTES = [ImportPages]
