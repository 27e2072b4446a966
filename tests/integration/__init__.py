"""Services and the API through the real app, on SQLite and again on PostgreSQL."""
