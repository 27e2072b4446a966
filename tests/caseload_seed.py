"""Moved to tests/support/caseload_seed.py; kept only because bench/pages.py (not this
change's to edit) still imports it from here. Remove once bench imports
tests.support.caseload_seed."""

from tests.support.caseload_seed import caseload_of, extend_history

__all__ = ["caseload_of", "extend_history"]
