"""File imports (CSV attendance, CSV drug tests, HL7 lab results): preview, then commit.
The API and the pages call the same two service functions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, MultipartBody
from litestar.response import Template

from compliance.access import program_options
from compliance.accounts import Principal
from compliance.intake import imports
from compliance.intake.imports import ImportOutcome
from compliance.vocabulary import ImportKind
from compliance.web.auth import origin_of
from compliance.web.errors import documented, response_spec
from compliance.web.page import Page

KIND_LABELS = {
    ImportKind.attendance_csv: "Attendance (CSV)",
    ImportKind.drug_test_csv: "Drug tests (CSV)",
    ImportKind.hl7_oru: "Lab results (HL7 ORU^R01)",
}


@dataclass
class ImportUpload:
    program_id: int
    kind: ImportKind
    file: UploadFile


def _uploads(request: Request) -> Path:
    return request.app.state.settings.var_dir / "imports"


def _status(outcome: ImportOutcome, ok: int) -> int:
    return 422 if outcome.errors else ok


# A rejected file is a 422 in the shape of a success, listing every row's error.
REJECTED = {422: response_spec(ImportOutcome, "The file has errors (listed); nothing was stored")}


class ImportsAPI(Controller):
    path = "/api/imports"
    tags = ["imports"]

    @post(
        operation_id="previewImport",
        summary="Upload a file: see what would be stored",
        responses={**documented(401, 403, 404, 413), **REJECTED},
    )
    async def preview(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        data: MultipartBody[ImportUpload],
    ) -> Response[ImportOutcome]:
        """Nothing is stored but the file. 422 lists every error (line or segment, field,
        reason); otherwise commit with the returned ``batch_id``."""
        content = await data.file.read()
        outcome = await imports.preview(
            principal,
            data.program_id,
            data.kind,
            data.file.filename,
            content,
            _uploads(request),
            origin_of(request),
        )
        return Response(outcome, status_code=_status(outcome, 201))

    @post(
        "/{batch_id:int}/commit",
        operation_id="commitImport",
        summary="Store every row of a previewed file, or none",
        status_code=200,
        responses={**documented(401, 403, 404), **REJECTED},
    )
    async def commit(
        self, request: Request, principal: NamedDependency[Principal], batch_id: FromPath[int]
    ) -> Response[ImportOutcome]:
        outcome = await imports.commit(principal, batch_id, _uploads(request), origin_of(request))
        return Response(outcome, status_code=_status(outcome, 200))


class ImportPages(Controller):
    path = "/imports"
    include_in_schema = False

    @get()
    async def form(self, principal: NamedDependency[Principal]) -> Template:
        return Page(
            "pages/imports/new.html",
            context={
                "principal": principal,
                "programs": await program_options(principal),
                "kinds": [(k.value, label) for k, label in KIND_LABELS.items()],
            },
        )

    @post(status_code=200)
    async def preview(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        data: MultipartBody[ImportUpload],
    ) -> Template:
        content = await data.file.read()
        outcome = await imports.preview(
            principal,
            data.program_id,
            data.kind,
            data.file.filename,
            content,
            _uploads(request),
            origin_of(request),
        )
        return self._result(principal, outcome)

    @post("/{batch_id:int}/commit", status_code=200)
    async def commit(
        self, request: Request, principal: NamedDependency[Principal], batch_id: FromPath[int]
    ) -> Template:
        outcome = await imports.commit(principal, batch_id, _uploads(request), origin_of(request))
        return self._result(principal, outcome)

    def _result(self, principal: Principal, outcome: ImportOutcome) -> Template:
        context: dict[str, Any] = {
            "principal": principal,
            "o": outcome,
            "label": KIND_LABELS[ImportKind(outcome.kind)],
        }
        return Page("pages/imports/result.html", context=context, status_code=_status(outcome, 200))


ROUTES = [ImportsAPI, ImportPages]
