"""Where uploaded files are kept, under the app's var directory: each place named once
here for the API and the pages that both read and write it."""

from __future__ import annotations

from pathlib import Path

from compliance.core.settings import Settings


def import_uploads(settings: Settings) -> Path:
    """Where uploaded files wait between an import's preview and its commit."""
    return settings.var_dir / "imports"


def consent_documents(settings: Settings) -> Path:
    """Where signed consent documents are kept."""
    return settings.var_dir / "documents"
