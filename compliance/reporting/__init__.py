"""Reporting: consent gate, report context, rendering and signing in workers, the
report store and public verification."""
