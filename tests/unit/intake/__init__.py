"""The CSV and HL7 parsers and the words of an import's preview."""
