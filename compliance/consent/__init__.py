"""Consents (42 CFR Part 2) and the one gate every disclosure asks (gate.decide)."""
