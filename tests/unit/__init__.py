"""Pure: rules, parsers, the consent gate, settings; no database, no server."""
