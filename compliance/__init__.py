"""Court and EAP compliance reporting for Intensive Outpatient Programs."""

from pathlib import Path

__version__ = "0.1.0"

# The checkout's root: templates/, reports/ and var/ live beside the package.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
