"""What labs send, for tests that import it: an HL7 ORU^R01 result, a small CSV of
the demo's clients, and a large generated CSV export."""

from __future__ import annotations

from datetime import datetime, timedelta

from compliance.records.analytes import DEFAULT_ANALYTES


def hl7_result(
    accession: str, thc: str = "POSITIVE", status: str = "F", client: str = "C-1001"
) -> bytes:
    """One specimen of Jane Doe's (C-1001 unless told): THC as given, cocaine negative,
    creatinine 85.3; every result of ``status`` (F final, C corrected)."""
    segments = [
        "MSH|^~\\&|LABSYS|ACME TOX|COMPLIANCE|IOP|20260312143000-0600||ORU^R01|M1|P|2.5.1",
        f"PID|1||{client}^^^IOP^MR||DOE^JANE",
        f"OBR|1|PL-1|{accession}|DOA^Panel^L|||20260310083000-0600",
        f"OBX|1|ST|THC^Cannabinoids screen^L||{thc}|ng/mL|50|{'A' if thc == 'POSITIVE' else 'N'}"
        f"|||{status}|||20260311|||EIA^Immunoassay^L",
        f"OBX|2|ST|COC^Cocaine screen^L||NEGATIVE|ng/mL|150|N|||{status}|||20260311|||EIA^EIA^L",
        f"OBX|3|NM|CREA^Creatinine^L||85.3|mg/dL|20-400||||{status}",
    ]
    return ("\r".join(segments) + "\r").encode()


# The demo's court and EAP clients, tested the morning after the demo's Monday.
LAB_HEADER = (
    b"client_id,accession_id,collected_at,lab_name,analyte,screen_result,"
    b"screen_cutoff_ng_ml,confirmation_result,confirmation_method,level_ng_ml\n"
)
LAB_CSV = (
    LAB_HEADER
    + b"""RB-1001,PT-0001,2026-11-24 08:15,Prairie Tox,THC,positive,50,positive,GC-MS,42
RB-1001,PT-0001,2026-11-24 08:15,Prairie Tox,COC,negative,150,,,
RB-1001,PT-0001,2026-11-24 08:15,Prairie Tox,OXY,negative,100,,,
RB-1002,PT-0002,2026-11-24 09:40,Prairie Tox,THC,negative,50,,,
RB-1002,PT-0002,2026-11-24 09:40,Prairie Tox,COC,positive,150,,,
"""
)


def make_drug_test_csv(
    rows_per_specimen: int = 10,
    specimens: int = 5000,
    start: datetime = datetime(2025, 1, 6, 7, 0),
) -> bytes:
    """A lab's export: ``specimens`` urine specimens of ``rows_per_specimen`` analyte rows
    each (at most 16, the default catalogue), one specimen every 30 minutes from
    ``start`` (naive local time), 20 a day, so 5,000 specimens span 250 days. Every
    seventh specimen has a confirmed cocaine positive; every eleventh is dilute."""
    codes = [a.local_code for a in DEFAULT_ANALYTES]
    if not 1 <= rows_per_specimen <= len(codes):
        raise ValueError(f"rows_per_specimen must be 1..{len(codes)}")
    lines = [
        "client_id,accession_id,collected_at,collection_status,specimen_type,observed,"
        "reason,lab_name,chain_of_custody_id,creatinine_mg_dl,specific_gravity,ph,"
        "analyte,screen_result,screen_cutoff_ng_ml,confirmation_result,"
        "confirmation_method,confirmation_cutoff_ng_ml,level_ng_ml,comment"
    ]
    for n in range(specimens):
        at = (start + timedelta(days=n // 20, minutes=30 * (n % 20))).strftime("%Y-%m-%d %H:%M")
        # A dilute specimen: low creatinine and a specific gravity to match.
        creatinine, gravity = ("14.5", "1.002") if n % 11 == 0 else ("96.25", "1.018")
        specimen = (
            f"C-{1000 + n % 400},A-{n:07d},{at},collected,urine,{'yes' if n % 3 else 'no'},"
            f"random,Quest Diagnostics,CCF-{n:07d},{creatinine},{gravity},6.4"
        )
        for code in codes[:rows_per_specimen]:
            if code == "COC" and n % 7 == 0:
                result = 'positive,150,positive,LC-MS/MS,100,312.5,"Benzoylecgonine, confirmed"'
            else:
                result = "negative,50,,,,,"
            lines.append(f"{specimen},{code},{result}")
    return ("\r\n".join(lines) + "\r\n").encode()
