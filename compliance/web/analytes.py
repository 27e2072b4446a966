"""The program's analyte table: which lab code (LOINC or a lab's own) means which drug,
and which analytes and immunoassay classes the program tests for. Imports look codes up
here; an unknown code is an import error until someone adds it.

Pages and API call the same service functions (compliance/records/analytes.py), which check,
store and audit; this module only reads requests and shows answers. Pages follow
Post/Redirect/Get; a refused form comes back (422) with its reasons beside the fields.
A code map (CSV) is previewed first, and applied only from that preview.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import MediaType
from litestar.params import FromPath, JSONBody, MultipartBody, URLEncodedBody
from litestar.response import Redirect, Template

from compliance.records import analytes
from compliance.records.analytes import CodeMapOutcome, CodeMapProblem, program_catalogue
from compliance.staff import access
from compliance.staff.accounts import Principal
from compliance.tables import Program
from compliance.web.auth import origin_of
from compliance.web.errors import documented, response_spec
from compliance.web.forms import submit
from compliance.web.page import Page

NOTICE = "analytes_notice"


@dataclass
class NewCode:
    analyte_key: str  # the analyte's key ("thc") or a lab code it has ("THC")
    coding_system: str  # "LN" for LOINC, "local", or the lab's name
    code: str


@dataclass
class NewAnalyte:
    """A drug, or an immunoassay class (``kind`` "class") confirmed per member drug."""

    name: str
    key: str = ""  # from the name when empty: "Xylazine" -> "xylazine"
    kind: str = "drug"  # "drug" or "class"
    drug_class: str = ""  # e.g. "Sedatives"
    screen_cutoff_ng_ml: Decimal | None = None
    confirmation_cutoff_ng_ml: Decimal | None = None  # a class has none: per member
    loinc_code: str = ""
    local_code: str = ""  # the program's own code for it, as the table shows it
    in_default_panel: bool = False
    class_key: str = ""  # a drug: the class whose screen it confirms
    members: list[str] = field(default_factory=list)  # a class: its drugs' keys


@dataclass
class AnalyteChoice:
    analyte: str  # the analyte's key


@dataclass
class CodeMapUpload:
    file: UploadFile  # CSV: code, coding_system, analyte (key or name)
    replace: bool = False  # move a code already mapped to another analyte
    confirmation: str = ""  # applying: the preview's confirmation


# A refused code map answers 422 in the shape of a success, listing every problem.
REFUSED_MAP = {
    422: response_spec(CodeMapOutcome, "The code map has problems (listed); nothing was stored")
}


def _outcome(outcome: CodeMapOutcome) -> Response[CodeMapOutcome]:
    return Response(outcome, status_code=422 if outcome.errors else 200)


class AnalytesAPI(Controller):
    path = "/api/programs/{program_id:int}/analytes"
    tags = ["analytes"]

    @get(
        operation_id="listAnalytes",
        responses=documented(401, 404),
        summary="The program's analytes, cutoffs and lab codes, retired ones too",
    )
    async def index(
        self, principal: NamedDependency[Principal], program_id: FromPath[int]
    ) -> list[dict[str, Any]]:
        access.require_program(principal, program_id)
        return await program_catalogue(program_id)

    @post(
        operation_id="addAnalyte",
        responses=documented(401, 403, 404, 422),
        summary="Add an analyte or an immunoassay class (administrators)",
    )
    async def add_analyte(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        program_id: FromPath[int],
        data: JSONBody[NewAnalyte],
    ) -> dict[str, Any]:
        """A class names its member drugs (``members``); a drug may name its class
        (``class_key``). A key, name or code already in the table is refused."""
        return await analytes.add_analyte(principal, program_id, data.__dict__, origin_of(request))

    @post(
        "/retire",
        operation_id="retireAnalyte",
        status_code=200,
        responses=documented(401, 403, 404, 422),
        summary="Retire an analyte: gone from new entry, kept on records (administrators)",
    )
    async def retire(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        program_id: FromPath[int],
        data: JSONBody[AnalyteChoice],
    ) -> dict[str, Any]:
        return await analytes.set_analyte_active(
            principal, program_id, data.__dict__, False, origin_of(request)
        )

    @post(
        "/reinstate",
        operation_id="reinstateAnalyte",
        status_code=200,
        responses=documented(401, 403, 404, 422),
        summary="Bring a retired analyte back into use (administrators)",
    )
    async def reinstate(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        program_id: FromPath[int],
        data: JSONBody[AnalyteChoice],
    ) -> dict[str, Any]:
        return await analytes.set_analyte_active(
            principal, program_id, data.__dict__, True, origin_of(request)
        )

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
        await analytes.add_code(principal, program_id, data.__dict__, origin_of(request))
        return await program_catalogue(program_id)

    @post(
        "/code-map/preview",
        operation_id="previewCodeMap",
        status_code=200,
        responses={**documented(401, 403, 404), **REFUSED_MAP},
        summary="Upload a CSV code map (code, coding_system, analyte): see what it would do",
    )
    async def preview_map(
        self,
        principal: NamedDependency[Principal],
        program_id: FromPath[int],
        data: MultipartBody[CodeMapUpload],
    ) -> Response[CodeMapOutcome]:
        """Stores nothing. Each row is new, unchanged, changed (with ``replace``) or a
        clash; 422 lists every problem by row and column. Apply the same file with the
        returned ``confirmation``."""
        content = await data.file.read()
        return _outcome(
            await analytes.preview_code_map(principal, program_id, content, data.replace)
        )

    @post(
        "/code-map",
        operation_id="applyCodeMap",
        status_code=200,
        responses={**documented(401, 403, 404), **REFUSED_MAP},
        summary="Apply a previewed CSV code map: every row, or none",
    )
    async def apply_map(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        program_id: FromPath[int],
        data: MultipartBody[CodeMapUpload],
    ) -> Response[CodeMapOutcome]:
        content = await data.file.read()
        return _outcome(
            await analytes.apply_code_map(
                principal,
                program_id,
                content,
                data.replace,
                data.confirmation,
                origin_of(request),
            )
        )


def _form_values(raw: Any) -> dict[str, Any]:
    """A posted form as the service reads it: one value per field, but every ticked
    member of a class."""
    values: dict[str, Any] = {
        k: v for k, v in raw.items() if isinstance(v, str) and k != "_csrf_token"
    }
    values["members"] = [m for m in raw.getall("members", []) if isinstance(m, str)]
    return values


class AnalytePages(Controller):
    path = "/programs/{program_id:int}/analytes"
    include_in_schema = False

    @get()
    async def show(
        self, request: Request, principal: NamedDependency[Principal], program_id: FromPath[int]
    ) -> Template:
        notice = (request.session or {}).get(NOTICE)
        if notice and notice.get("program_id") == program_id:
            request.session.pop(NOTICE, None)
        else:
            notice = None
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
        request.session[NOTICE] = {"program_id": program_id, "text": text}
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


ROUTES = [AnalytesAPI, AnalytePages]
