"""The report store through its interface (put, get, exists, sweep, the listing), as the
folder REPORTS_DIR implements it; what an S3-compatible store would have to pass too."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from compliance.core.settings import load_settings
from compliance.reporting import store

PDF = b"%PDF-1.7\n% a signed report\n"


@pytest.fixture
def reports(tmp_path: Path) -> store.ReportStore:
    return store.DirectoryStore(tmp_path / "reports")


def test_a_pdf_is_kept_by_its_hash_and_never_rewritten(reports: store.ReportStore) -> None:
    digest = store.sha256(PDF)
    assert not reports.exists(digest)
    with pytest.raises(FileNotFoundError):
        reports.get(digest)
    assert reports.put(PDF) == (digest, store.relative_path(digest))
    assert reports.exists(digest) and reports.get(digest) == PDF
    assert reports.put(PDF) == (digest, store.relative_path(digest))  # found, left alone
    assert list(reports.names()) == [store.relative_path(digest)]
    assert reports.hash_of(store.relative_path(digest)) == digest
    assert reports.temporaries() == []


def test_sweep_removes_only_what_crashed_writes_left(
    reports: store.ReportStore, tmp_path: Path
) -> None:
    digest, name = reports.put(PDF)
    folder = (tmp_path / "reports" / name).parent
    old, young = folder / f"{store.TEMPORARY}old", folder / f"{store.TEMPORARY}young"
    old.write_bytes(b"%PDF-1.7 half")
    young.write_bytes(b"%PDF-1.7 being written")
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    assert reports.temporaries() == [f"{digest[:2]}/{old.name}", f"{digest[:2]}/{young.name}"]

    assert reports.sweep() == [f"{digest[:2]}/{old.name}"]  # a younger one may be in flight
    assert reports.temporaries() == [f"{digest[:2]}/{young.name}"]
    assert reports.sweep(older_than=0) == [f"{digest[:2]}/{young.name}"]
    assert list(reports.names()) == [name] and reports.get(digest) == PDF


def test_the_settings_choose_the_store(tmp_path: Path) -> None:
    settings = load_settings({"VAR_DIR": str(tmp_path / "var"), "REPORTS_DIR": str(tmp_path)})
    chosen = store.of(settings)
    assert chosen == store.DirectoryStore(tmp_path)
    digest, name = chosen.put(PDF)
    assert chosen.read(name) == chosen.get(digest) == PDF
    # A backup's copy of the folder is read the same way.
    assert list(store.stored_files(tmp_path)) == [name]
