"""The program's analyte table: which lab code (LOINC or a lab's own) means which drug.
Imports look codes up here; an unknown code is an import error until someone adds it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, URLEncodedBody
from litestar.response import Redirect, Template

from compliance import access, audit, db
from compliance.accounts import Principal
from compliance.analytes import program_catalogue
from compliance.tables import Analyte, AnalyteCode, Program
from compliance.validation import Form, InvalidInput
from compliance.web.auth import origin_of
from compliance.web.errors import documented
from compliance.web.page import Page


@dataclass
class NewCode:
    analyte_key: str
    coding_system: str  # "LN" for LOINC, "local", or the lab's name
    code: str


async def add_code(
    principal: Principal, program_id: int, data: dict[str, Any], origin: str
) -> None:
    access.require_program(principal, program_id)
    form = Form(data)
    key = form.text("analyte_key", max_length=40)
    system = form.text("coding_system", max_length=40).upper()
    code = form.text("code", max_length=40).upper()
    # Before any lookup: PostgreSQL refuses a NUL byte in a query with an error (a 500).
    form.errors.raise_if_any()
    analyte = (
        await Analyte.select().where((Analyte.program == program_id) & (Analyte.key == key)).first()
    )
    if key and analyte is None:
        form.errors.add("analyte_key", f"{key!r} is not in this program's analyte table")
    # Imports read codes in any case (intake/imports.py), and the default table's are
    # stored "local": "LOCAL THC" must count as the "local THC" already there.
    mapped = await AnalyteCode.select(AnalyteCode.coding_system, AnalyteCode.code).where(
        AnalyteCode.program == program_id
    )
    if code and any(
        (c["coding_system"].upper(), c["code"].upper()) == (system, code) for c in mapped
    ):
        form.errors.add("code", f"{system} {code} is already mapped")
    form.errors.raise_if_any()
    async with db.transaction():
        await AnalyteCode.insert(
            AnalyteCode(program=program_id, analyte=analyte["id"], coding_system=system, code=code)
        )
        await audit.record(
            "analyte_code.create",
            principal.actor(origin),
            "program",
            program_id,
            {"analyte": key, "system": system, "code": code},
        )


class AnalytesAPI(Controller):
    path = "/api/programs/{program_id:int}/analytes"
    tags = ["analytes"]

    @get(
        operation_id="listAnalytes",
        responses=documented(401, 404),
        summary="The program's analytes, cutoffs and lab codes",
    )
    async def index(
        self, principal: NamedDependency[Principal], program_id: FromPath[int]
    ) -> list[dict[str, Any]]:
        access.require_program(principal, program_id)
        return await program_catalogue(program_id)

    @post(
        "/codes",
        operation_id="addAnalyteCode",
        responses=documented(401, 403, 404, 422),
        summary="Map a lab code to an analyte",
    )
    async def add(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        program_id: FromPath[int],
        data: JSONBody[NewCode],
    ) -> list[dict[str, Any]]:
        await add_code(principal, program_id, data.__dict__, origin_of(request))
        return await program_catalogue(program_id)


class AnalytePages(Controller):
    path = "/programs/{program_id:int}/analytes"
    include_in_schema = False

    @get()
    async def show(
        self, principal: NamedDependency[Principal], program_id: FromPath[int]
    ) -> Template:
        return await self._show(principal, program_id, {}, {})

    async def _show(
        self, principal: Principal, program_id: int, values: dict, errors: dict, status: int = 200
    ) -> Template:
        access.require_program(principal, program_id)
        program = await Program.select().where(Program.id == program_id).first()
        catalogue = await program_catalogue(program_id)
        context = {
            "principal": principal,
            "program": program,
            "catalogue": catalogue,
            "values": values,
            "errors": errors,
            "keys": [(a["key"], a["name"]) for a in catalogue],
        }
        return Page("pages/analytes.html", context=context, status_code=status)

    @post(status_code=303)
    async def add(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        program_id: FromPath[int],
        data: URLEncodedBody[dict[str, str]],
    ) -> Any:
        try:
            await add_code(principal, program_id, data, origin_of(request))
        except InvalidInput as exc:
            return await self._show(
                principal, program_id, data, {e.field: e.reason for e in exc.errors}, 422
            )
        return Redirect(f"/programs/{program_id}/analytes", status_code=303)


ROUTES = [AnalytesAPI, AnalytePages]
