"""The installed ``compliance`` command, run as an operator would, and the environment
that points it (or ``load_settings``) at a test's own database and folders."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def run_cli(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the installed ``compliance`` command as an operator would."""
    return subprocess.run(
        [str(BIN / "compliance"), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def settings_env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "VAR_DIR": str(tmp_path / "var"),
        "REPORTS_DIR": str(tmp_path / "reports"),
        "SECRET_KEY": "test-secret-key-" + "x" * 40,
        "BASE_URL": "http://testserver",
        "BACKGROUND_JOBS": "0",  # tests run notices and delivery themselves
    }
