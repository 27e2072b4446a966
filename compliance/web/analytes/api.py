"""The program's analyte table through the JSON API: which lab code (LOINC or a lab's
own) means which drug, and which analytes and immunoassay classes the program tests
for. Imports look codes up here; an unknown code is an import error until someone
adds it.

The same service functions as the pages (compliance/records/analytes.py) check, store
and audit. A code map (CSV) is previewed first, and applied only from that preview.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, MultipartBody

from compliance.records import analytes
from compliance.records.analytes import CodeMapOutcome, program_catalogue
from compliance.staff import access
from compliance.staff.accounts import Principal
from compliance.web.common.errors import documented, response_spec
from compliance.web.common.principal import origin_of


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


ROUTES = [AnalytesAPI]
