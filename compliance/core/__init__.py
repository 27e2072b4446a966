"""The ground floor: settings, the database engine and its transactions, the
vocabulary, validation, local time, caches and worker processes. Imports nothing above it."""
