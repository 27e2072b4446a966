"""A report's PDF leaving (the download and its file name, the same from the API, the
pages and an officer's link) and arriving (a PDF uploaded to be verified)."""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Response
from litestar.datastructures import UploadFile

from compliance.core.validation import FieldError, InvalidInput
from compliance.reporting.service import ReportView
from compliance.web.common.downloads import file_download

MAX_VERIFY_BYTES = 30 * 1024 * 1024


def pdf_name(kind: str, public_id: str, version: int) -> str:
    """What a report's PDF is called when saved, wherever it is downloaded from."""
    return f"{kind}-{public_id}-v{version}.pdf"


def pdf_download(view: ReportView, content: bytes) -> Response[bytes]:
    name = pdf_name(view.kind, view.public_id, view.version)
    return file_download(content, "application/pdf", name)


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
