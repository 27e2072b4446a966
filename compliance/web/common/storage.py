"""Where files uploaded before issue 20 are still found: signed consent documents were
kept under VAR_DIR/documents, on one instance's disk, before they moved into the
database (``consent.consents``); the download reads such a file there once and keeps it
in the database from then on."""

from __future__ import annotations

from pathlib import Path

from compliance.core.settings import Settings


def consent_documents(settings: Settings) -> Path:
    """Where an older installation kept signed consent documents."""
    return settings.var_dir / "documents"
