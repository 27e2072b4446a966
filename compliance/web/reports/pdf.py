"""A report's PDF leaving (the download: its name and headers, the same from the API
and the pages) and arriving (a PDF uploaded to be verified)."""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Response
from litestar.datastructures import UploadFile

from compliance.core.validation import FieldError, InvalidInput
from compliance.reporting.service import ReportView
from compliance.web.common.downloads import attachment

MAX_VERIFY_BYTES = 30 * 1024 * 1024
PDF_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def pdf_download(view: ReportView, content: bytes) -> Response[bytes]:
    name = f"{view.kind}-{view.public_id}-v{view.version}.pdf"
    return Response(
        content,
        media_type="application/pdf",
        headers={**PDF_HEADERS, "Content-Disposition": attachment(name)},
    )


@dataclass
class VerifyUpload:
    file: UploadFile


async def read_upload(upload: UploadFile) -> bytes:
    content = await upload.read(MAX_VERIFY_BYTES + 1)
    if len(content) > MAX_VERIFY_BYTES:
        raise InvalidInput([FieldError("file", "larger than any report we issue")])
    if not content:
        raise InvalidInput([FieldError("file", "the upload is empty")])
    return content
