"""Staff map a lab's unknown code in the program's analyte table; the next import uses it."""

from __future__ import annotations

import httpx

from tests.support.records import enroll
from tests.support.staff import post_form, sign_in, signed_in_world

MESSAGE = (
    b"MSH|^~\\&|LAB|NEWLAB|IOP|X|20260312143000-0600||ORU^R01|M1|P|2.5.1\r"
    b"PID|1||K-1^^^IOP^MR\r"
    b"OBR|1|P1|ACC-1|DOA^Panel^L|||20260310083000-0600\r"
    b"OBX|1|ST|ZZTHC^Cannabinoids^NEWLAB||NEGATIVE|ng/mL|50|N|||F\r"
)


async def test_an_unknown_code_is_mapped_then_imports(client: httpx.AsyncClient) -> None:
    world = await signed_in_world(client, analytes=True)
    await enroll(client, world.program_a, "K-1", "K", "L")

    async def upload() -> httpx.Response:
        return await client.post(
            "/api/imports",
            data={"program_id": str(world.program_a), "kind": "hl7_oru"},
            files={"file": ("r.hl7", MESSAGE)},
        )

    refused = await upload()
    assert refused.status_code == 422 and "ZZTHC" in refused.json()["errors"][0]["reason"]
    page = await client.get(f"/programs/{world.program_a}/analytes")
    assert page.status_code == 200 and "Marijuana metabolite (THC-COOH)" in page.text
    added = await post_form(
        client,
        f"/programs/{world.program_a}/analytes",
        {"analyte_key": "thc", "coding_system": "newlab", "code": "zzthc"},
    )
    assert added.status_code == 303
    twice = await client.post(
        f"/api/programs/{world.program_a}/analytes/codes",
        json={"analyte_key": "thc", "coding_system": "NEWLAB", "code": "ZZTHC"},
    )
    assert twice.status_code == 422 and "already mapped" in twice.text
    listing = (await client.get(f"/api/programs/{world.program_a}/analytes")).json()
    thc = next(a for a in listing if a["key"] == "thc")
    assert any((c["coding_system"], c["code"]) == ("NEWLAB", "ZZTHC") for c in thc["codes"])
    accepted = await upload()
    assert accepted.status_code == 201 and accepted.json()["created"] == 1
    await sign_in(client, world.clinician_b)
    assert (await client.get(f"/api/programs/{world.program_a}/analytes")).status_code == 404
    assert (await client.get(f"/programs/{world.program_a}/analytes")).status_code == 404
