"""Our own HL7 v2 reader for lab results (ORU^R01): ``message`` reads the HL7 syntax and
names the line of every error, ``results`` reads drug tests out of the messages and
``observations`` the OBX values. No third-party HL7 library: see ``message``."""

from compliance.intake.hl7.results import SUPPORTED_VERSIONS, parse_hl7_results

__all__ = ["SUPPORTED_VERSIONS", "parse_hl7_results"]
