"""The program's analyte table as staff pages: the table, its forms, and a code map's
preview and apply.

Pages and API call the same service functions (compliance/records/analytes.py), which check,
store and audit; this module only reads requests and shows answers. Pages follow
Post/Redirect/Get; a refused form comes back (422) with its reasons beside the fields.
A code map (CSV) is previewed first, and applied only from that preview.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import MediaType
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template

from compliance.records import analytes
from compliance.records.analytes import CodeMapOutcome, CodeMapProblem, program_catalogue
from compliance.staff import access
from compliance.staff.accounts import Principal
from compliance.tables import Program
from compliance.web.common import once
from compliance.web.common.forms import submit, text_fields
from compliance.web.common.page import Page
from compliance.web.common.principal import origin_of

NOTICE = "analytes_notice"


def _form_values(raw: Any) -> dict[str, Any]:
    """A posted form as the service reads it: one value per field, but every ticked
    member of a class."""
    values: dict[str, Any] = text_fields(raw)
    values["members"] = [m for m in raw.getall("members", []) if isinstance(m, str)]
    return values


class AnalytePages(Controller):
    path = "/programs/{program_id:int}/analytes"
    include_in_schema = False

    @get()
    async def show(
        self, request: Request, principal: NamedDependency[Principal], program_id: FromPath[int]
    ) -> Template:
        notice = once.take(request, NOTICE, program_id=program_id)
        return await self._show(principal, program_id, notice=notice)

    async def _show(
        self,
        principal: Principal,
        program_id: int,
        status: int = 200,
        notice: dict | None = None,
        **forms: Any,
    ) -> Template:
        """The table and its forms; ``forms`` gives one form's values and errors
        (``code_values``, ``new_errors``, ``map_problems``...) when it was refused."""
        access.require_program(principal, program_id)
        program = await Program.select().where(Program.id == program_id).first()
        catalogue = await program_catalogue(program_id)
        in_use = [a for a in catalogue if a["active"]]
        context = {
            "principal": principal,
            "program": program,
            "catalogue": in_use,
            "retired": [a for a in catalogue if not a["active"]],
            "names": {a["key"]: a["name"] for a in catalogue},
            "keys": [(a["key"], a["name"]) for a in in_use],
            "classes": [(a["key"], a["name"]) for a in in_use if a["kind"] == "class"],
            "drugs": [
                (a["key"], a["name"])
                for a in in_use
                if a["kind"] == "drug" and a["member_of"] is None
            ],
            "kind_words": analytes.KIND_WORDS,
            "notice": notice,
            "code_values": {},
            "code_errors": {},
            "new_values": {"kind": "drug"},
            "new_errors": {},
            "map_problems": [],
            "retire_errors": {},
            **forms,
        }
        return Page("pages/analytes.html", context=context, status_code=status)

    def _done(self, request: Request, program_id: int, text: str) -> Redirect:
        once.leave(request, NOTICE, program_id=program_id, text=text)
        return Redirect(f"/programs/{program_id}/analytes", status_code=303)

    @post(status_code=303)
    async def add(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        program_id: FromPath[int],
        data: URLEncodedBody[dict[str, str]],
    ) -> Any:
        """Map one lab code."""
        system, code = data.get("coding_system", "").upper(), data.get("code", "").upper()
        mapped = f"{system} {code} is mapped."
        return await submit(
            analytes.add_code(principal, program_id, data, origin_of(request)),
            lambda _: self._done(request, program_id, mapped),
            lambda errors: self._show(
                principal, program_id, 422, code_values=data, code_errors=errors
            ),
        )

    @post("/new", status_code=303, media_type=MediaType.HTML)
    async def add_analyte(
        self, request: Request, principal: NamedDependency[Principal], program_id: FromPath[int]
    ) -> Any:
        values = _form_values(await request.form())

        def added(made: dict[str, Any]) -> Redirect:
            what = "immunoassay class" if made["kind"] == "class" else "analyte"
            return self._done(request, program_id, f"{made['name']} is added as an {what}.")

        return await submit(
            analytes.add_analyte(principal, program_id, values, origin_of(request)),
            added,
            lambda errors: self._show(
                principal, program_id, 422, new_values=values, new_errors=errors
            ),
        )

    @post("/retire", status_code=303)
    async def retire(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        program_id: FromPath[int],
        data: URLEncodedBody[dict[str, str]],
    ) -> Any:
        return await self._set_active(request, principal, program_id, data, False)

    @post("/reinstate", status_code=303)
    async def reinstate(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        program_id: FromPath[int],
        data: URLEncodedBody[dict[str, str]],
    ) -> Any:
        return await self._set_active(request, principal, program_id, data, True)

    async def _set_active(
        self,
        request: Request,
        principal: Principal,
        program_id: int,
        data: dict[str, str],
        active: bool,
    ) -> Any:
        said = "back in use" if active else "retired: kept on past records, gone from new entry"
        return await submit(
            analytes.set_analyte_active(principal, program_id, data, active, origin_of(request)),
            lambda row: self._done(request, program_id, f"{row['name']} is {said}."),
            lambda errors: self._show(principal, program_id, 422, retire_errors=errors),
        )

    @post("/code-map", status_code=200, media_type=MediaType.HTML)
    async def preview_map(
        self, request: Request, principal: NamedDependency[Principal], program_id: FromPath[int]
    ) -> Template:
        """The preview, stored nowhere: the file travels in the page's confirm form."""
        raw = await request.form()
        upload = raw.get("file")
        replace = raw.get("replace") in ("true", "on", "1")
        if not isinstance(upload, UploadFile) or not upload.filename:
            access.require_program(principal, program_id)
            missing = [CodeMapProblem(1, "file", "is required: choose the CSV file")]
            return await self._show(principal, program_id, 422, map_problems=missing)
        content = await upload.read()
        outcome = await analytes.preview_code_map(principal, program_id, content, replace)
        if outcome.errors and not outcome.rows:
            return await self._show(principal, program_id, 422, map_problems=outcome.errors)
        return await self._preview(principal, program_id, outcome, content, replace, upload)

    async def _preview(
        self,
        principal: Principal,
        program_id: int,
        outcome: CodeMapOutcome,
        content: bytes,
        replace: bool,
        upload: UploadFile | None = None,
    ) -> Template:
        program = await Program.select().where(Program.id == program_id).first()
        return Page(
            "pages/analytes_code_map.html",
            status_code=422 if outcome.errors else 200,
            context={
                "principal": principal,
                "program": program,
                "o": outcome,
                "filename": upload.filename if upload else "",
                "content": base64.b64encode(content).decode(),
                "replace": replace,
            },
        )

    @post("/code-map/apply", status_code=303)
    async def apply_map(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        program_id: FromPath[int],
        data: URLEncodedBody[dict[str, str]],
    ) -> Any:
        try:
            content = base64.b64decode(data.get("content", ""), validate=True)
        except (binascii.Error, ValueError):
            content = b""
        replace = data.get("replace") == "true"
        outcome = await analytes.apply_code_map(
            principal,
            program_id,
            content,
            replace,
            data.get("confirmation", ""),
            origin_of(request),
        )
        if outcome.errors:
            return await self._preview(principal, program_id, outcome, content, replace)
        said = f"The code map is applied: {outcome.new} new, {outcome.changed} changed"
        return self._done(request, program_id, f"{said}, {outcome.unchanged} unchanged.")


ROUTES = [AnalytePages]
