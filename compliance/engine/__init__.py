"""Judging compliance: the pure rules (records in, weeks and reasons out), the
caseload that feeds them, the program's policy, and the violations they find."""
