"""File imports (CSV attendance, CSV drug tests, HL7 lab results) through the JSON API:
preview, confirm a held row's identity, then commit. The pages call the same service
functions."""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Controller, Request, Response, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, MultipartBody

from compliance.core.vocabulary import ImportKind
from compliance.intake import imports
from compliance.intake.imports import ImportOutcome
from compliance.staff.accounts import Principal
from compliance.web.common.errors import documented, response_spec
from compliance.web.common.principal import origin_of


@dataclass
class IdentityConfirmationRequest:
    location: str  # the row, as the preview names it: "line 7", "message 2, OBR segment 1 (line 9)"
    reason: str  # why the results are the client's although the name or date of birth differs


@dataclass
class ImportUpload:
    program_id: int
    file: UploadFile
    kind: ImportKind | None = None  # absent: recognized from the file


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
        """Nothing is stored but the file. Without ``kind`` the file says what it is (an
        MSH segment, or its CSV header); with it, the file must be that kind. 422 lists
        every error (line or segment, field, reason); otherwise commit with the returned
        ``batch_id``."""
        content = await data.file.read()
        outcome = await imports.preview(
            principal,
            data.program_id,
            data.kind,
            data.file.filename,
            content,
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
        self,
        request: Request,
        principal: NamedDependency[Principal],
        batch_id: FromPath[int],
    ) -> Response[ImportOutcome]:
        outcome = await imports.commit(principal, batch_id, origin_of(request))
        return Response(outcome, status_code=_status(outcome, 200))

    @post(
        "/{batch_id:int}/identity-confirmations",
        operation_id="confirmImportIdentity",
        summary="Confirm that a held row is the client's although the name or birth date differs",
        status_code=200,
        responses=documented(401, 403, 404, 422),
    )
    async def confirm_identity(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        batch_id: FromPath[int],
        data: JSONBody[IdentityConfirmationRequest],
    ) -> ImportOutcome:
        """A row whose name or date of birth differs from the client's record (its
        ``identity`` lists what differs) holds the whole file back until a clinician
        confirms it, with a reason; the confirmation is kept on the import and audited.
        Answers the preview as it now stands (``unconfirmed`` counts the rows still
        held); 422 for a missing reason, or a row that needs no confirmation."""
        return await imports.confirm_identity(
            principal,
            batch_id,
            data.location,
            data.reason,
            origin_of(request),
        )


ROUTES = [ImportsAPI]
