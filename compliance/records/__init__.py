"""The records clinicians keep: participants, mandates, attendance, drug tests,
groups, follow-up plans and the analyte table. One write path each; a correction is
a new version (versioning)."""
