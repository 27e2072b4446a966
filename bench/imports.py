"""Import rates: a 50,000-row drug-test CSV and a 5,000-message HL7 batch, preview and
commit, on a fresh SQLite database each run (median of the runs). Quick mode
(BENCH_QUICK=1): a 25th of the size, one run."""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from bench.figures import Figure, sized
from compliance import audit
from compliance.core import db
from compliance.core.settings import load_settings, parse_database_url
from compliance.core.vocabulary import ImportKind
from compliance.intake import imports
from compliance.records.analytes import DEFAULT_ANALYTES
from compliance.staff.accounts import load_principal
from compliance.tables import Program
from tests.support.lab_files import make_drug_test_csv
from tests.support.staff import lab_file_program

BIN = Path(sys.executable).parent
PARTICIPANTS = 400
RUNS = sized(3, 1)
SPECIMENS = sized(5000, 200)  # CSV specimens of 10 rows each, and HL7 messages


def make_hl7_batch(messages: int = 5000) -> bytes:
    """A lab's batch file: FHS/BHS, MLLP-framed messages of 10 analyte OBX and 2 validity."""
    codes = [a.local_code for a in DEFAULT_ANALYTES][:10]
    start = datetime(2025, 1, 6, 7, 0)
    out = ["FHS|^~\\&|LAB|ACME|IOP|CLINIC|20250915120000", "BHS|^~\\&|LAB|ACME|IOP|CLINIC"]
    for n in range(messages):
        at = (start + timedelta(days=n // 20, minutes=30 * (n % 20))).strftime("%Y%m%d%H%M")
        seg = [
            f"\x0bMSH|^~\\&|LAB|ACME TOX|IOP|CLINIC|{at}||ORU^R01|M{n}|P|2.5.1",
            # The name lab_file_program gives the client, so every identity check passes.
            f"PID|1||C-{1000 + n % PARTICIPANTS}^^^IOP^MR||{n % PARTICIPANTS}^P",
            f"OBR|1|P{n}|H{n:07d}|DOA^Panel^L|||{at}|||||||||||CCF{n}",
        ]
        for i, code in enumerate(codes, start=1):
            positive = code == "COC" and n % 7 == 0
            value, flag = ("POSITIVE", "A") if positive else ("NEGATIVE", "N")
            seg.append(
                f"OBX|{i}|ST|{code}^{code} screen^L||{value}|ng/mL|50|{flag}|||F|||{at}|||EIA^EIA^L"
            )
        seg.append("OBX|11|NM|CREA^Creatinine^L||96.2|mg/dL|20-400||||F")
        seg.append("OBX|12|NM|SG^Specific gravity^L||1.018||1.003-1.035||||F\x1c")
        out.append("\r".join(seg))
    out += [f"BTS|{messages}", "FTS|1"]
    return "\r".join(out).encode()


async def _prepare(url: str) -> None:
    engine = db.create_engine(parse_database_url(url))
    db.bind(engine)
    await lab_file_program("bench@example.org", "bench password 123", PARTICIPANTS)


async def _run(url: str, kind: ImportKind, content: bytes) -> tuple[float, float, int]:
    db.bind(db.create_engine(parse_database_url(url)))
    program = await Program.select().first()
    principal = await load_principal(1)
    assert principal is not None
    t0 = time.perf_counter()
    outcome = await imports.preview(principal, program["id"], kind, "bench", content, "bench")
    t1 = time.perf_counter()
    assert not outcome.errors, outcome.errors[:3]
    done = await imports.commit(principal, outcome.batch_id, "bench")
    t2 = time.perf_counter()
    assert done.status == "committed", done.errors[:3]
    return t1 - t0, t2 - t1, done.created


def measure() -> list[Figure]:
    """Preview and commit seconds for each file; goals in bench/goals.py."""
    csv_content = make_drug_test_csv(specimens=SPECIMENS)
    hl7_content = make_hl7_batch(SPECIMENS)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "template.sqlite3"
        env = {
            "DATABASE_URL": f"sqlite:///{template}",
            "VAR_DIR": f"{tmp}/var",
            "REPORTS_DIR": f"{tmp}/reports",
        }
        subprocess.run(
            [str(BIN / "compliance"), "migrate"],
            env={**os.environ, **env},
            check=True,
            stdout=subprocess.DEVNULL,
        )
        audit.configure(load_settings(env))  # events need the chain's key and head file
        asyncio.run(_prepare(f"sqlite:///{template}"))
        for key, label, kind, content in [
            (
                "csv",
                f"drug-test CSV, {SPECIMENS * 10:,} rows ({SPECIMENS:,} specimens)",
                ImportKind.drug_test_csv,
                csv_content,
            ),
            ("hl7", f"HL7 batch, {SPECIMENS:,} messages", ImportKind.hl7_oru, hl7_content),
        ]:
            previews, commits = [], []
            for run in range(RUNS):
                copy = Path(tmp) / f"run-{kind.value}-{run}.sqlite3"
                shutil.copyfile(template, copy)
                preview, commit, created = asyncio.run(_run(f"sqlite:///{copy}", kind, content))
                assert created == SPECIMENS, created
                previews.append(preview)
                commits.append(commit)
            for step, times in (("preview", previews), ("commit", commits)):
                rows.append(
                    Figure(
                        f"import.{key}.{step}_s",
                        f"import {label}: {step}",
                        statistics.median(times),
                        "s",
                    )
                )
    return rows
