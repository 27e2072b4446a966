"""Moved to tests/support/staff.py; kept only because bench/ (not this change's to edit)
still imports it from here. Remove once bench imports tests.support.staff."""

from tests.support.staff import clone_court_client, lab_file_program

__all__ = ["clone_court_client", "lab_file_program"]
