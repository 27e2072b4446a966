"""What every download shares: its file name in ``Content-Disposition`` (RFC 6266),
and no copy kept by a browser or a proxy (``file_download``). (A CSV's cells are made
safe for spreadsheets by ``core/csv_text.py``.)

File names carry a client's own id, typed by staff or sent by a lab, so any character
can be in them. A name quoted by hand broke on ``"``; a name with CR LF could split
the header. Here the name gets an ASCII fallback that cannot end its quoted string and
the exact name, UTF-8 and percent-encoded, in ``filename*`` (RFC 6266 section 4.3 and
RFC 8187), which every current browser prefers.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Response


def _printable(name: str) -> str:
    """The name without control characters (no file name needs them; CR LF would end
    the header)."""
    return "".join(c for c in name if c >= " " and c != "\x7f")


def _ascii_fallback(name: str) -> str:
    """For the rare client that ignores ``filename*``: printable ASCII with nothing that
    ends or escapes the quoted string."""
    out = [c if " " <= c < "\x7f" and c not in '"\\%' else "_" for c in name]
    return "".join(out) or "download"


def attachment(name: str) -> str:
    """The ``Content-Disposition`` value for downloading ``name``: the one encoder every
    download uses (a test walks the code for any other)."""
    clean = _printable(name) or "download"
    encoded = quote(clean, safe="")
    return f"attachment; filename=\"{_ascii_fallback(clean)}\"; filename*=UTF-8''{encoded}"


def file_download(content: bytes | str, media_type: str, name: str) -> Response[Any]:
    """A file to save as ``name``, never cached: downloads carry clients' health
    information."""
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": attachment(name), "Cache-Control": "no-store"},
    )
