"""Work that may leave the request's process: making and signing reports, delivering the
outbox, violation notices, the audit checkpoint.

Each job is one async function in ``tasks``; ``dispatch`` runs it either in this process
(the embedded default: SQLite, no Redis) or through a SAQ queue in PostgreSQL or Redis,
where any ``compliance worker`` (or the app's own) takes it. The job's code is the same
either way; only the dispatcher differs."""
