"""Intake: files and forms in, validated records out. Parsers here are pure (bytes in,
records and errors out); ``imports`` matches them to the database and commits."""
