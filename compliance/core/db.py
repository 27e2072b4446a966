"""The database engine, chosen by ``DATABASE_URL``, and the migration runner.

This is the one module that knows which engine is in use. SQLite gets WAL, a busy
timeout, foreign keys (Piccolo turns them on per connection) and IMMEDIATE write
transactions; PostgreSQL gets a connection pool opened and closed in the app's lifespan.
Everything above this module calls ``transaction()`` and the Piccolo tables, the same
on both engines.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sqlite3
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote

import aiosqlite
from piccolo.apps.migrations.tables import Migration
from piccolo.columns import Serial
from piccolo.columns.defaults.base import Default
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine, PostgresTransaction
from piccolo.engine.sqlite import (
    SQLiteEngine,
    SQLiteTransaction,
    TransactionType,
    dict_factory,
)
from piccolo.query.methods.select import Select
from piccolo.querystring import QueryString
from piccolo.table import Table

from compliance.core.settings import DatabaseTarget
from compliance.core.versioned_cache import VersionedCache
from compliance.tables import ALL_TABLES

APP_NAME = "compliance"
SQLITE_BUSY_TIMEOUT_S = 15.0
CONNECT_TIMEOUT_S = 5.0
IDLE_CONNECTIONS = 4  # per engine and event loop: enough for reads beside one writer
_READ_ONLY = re.compile(r"\s*(SELECT|PRAGMA|EXPLAIN)\b", re.IGNORECASE)
_WRITE = re.compile(r'\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.IGNORECASE)
# Writes that change nothing a view computed from the records shows: a link's own use
# and the disclosure it records, the audit event beside every change, the counter.
UNCOUNTED_TABLES = frozenset(
    {"secure_link", "disclosure", "audit_event", "record_version", "participant_version"}
)
_BUMP = 'UPDATE "record_version" SET "version" = "version" + 1, "shared" = "shared" + 1'
_BUMP_ALL = 'UPDATE "record_version" SET "version" = "version" + 1'
_BUMP_PARTICIPANT = (
    'INSERT INTO "participant_version" ("participant", "version") VALUES ({:d}, 1) '
    'ON CONFLICT ("participant") DO UPDATE SET "version" = "participant_version"."version" + 1'
)


_SEEN: list[list[str]] = []


def _seen(query: str) -> None:
    for seen in _SEEN:
        seen.append(query)


@contextlib.contextmanager
def statements_seen() -> Iterator[list[str]]:
    """Every statement this process sends to the database while the block runs, in
    order, whichever task sends it (a job taken by the app's own worker included): for
    tests that count what making a report reads."""
    seen: list[str] = []
    _SEEN.append(seen)
    try:
        yield seen
    finally:
        _SEEN.remove(seen)


def _bumps(participants: set[int]) -> list[str]:
    """The counts a committed change adds: every view's, and either the shared count or
    the named participants' own (``transaction(touching=...)``)."""
    if not participants:
        return [_BUMP]
    return [_BUMP_ALL, *(_BUMP_PARTICIPANT.format(p) for p in sorted(participants))]


class DatabaseUnavailable(Exception):
    """The database cannot be reached or is not usable; ``str()`` is one line."""


AfterCommit = Callable[[], Awaitable[None]]
_log = logging.getLogger(__name__)


async def _run_after_commit(callbacks: list[AfterCommit]) -> None:
    """The change is committed whatever a callback does: a failure is logged, not raised."""
    while callbacks:
        try:
            await callbacks.pop(0)()
        except Exception as exc:
            _log.error("after-commit step failed: %s: %s", exc.__class__.__name__, exc)


def counted_write(query: str) -> bool:
    """Whether this statement changes the records (see ``records_version``)."""
    match = _WRITE.match(query)
    return match is not None and match.group(1).lower() not in UNCOUNTED_TABLES


class _AfterCommit:
    """Runs ``after_commit`` callbacks once the outermost transaction has committed
    (never on rollback): the audit trail writes its head outside the database only
    then. And counts the change: a transaction that wrote to the records adds one to
    ``record_version`` in the same commit. Mixed into each engine's transaction class."""

    __slots__ = ()
    _parent: Any
    _committed: bool
    connection: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.after_commit: list[AfterCommit] = []
        self.changes_records = False
        self.counts_changes = True  # off while migrating: the counter may not exist yet
        self.participants: set[int] = set()  # all it changes is theirs (``transaction``)

    async def commit(self) -> None:
        if self.changes_records and self.counts_changes:
            for bump in _bumps(self.participants):
                await self.connection.execute(bump)
        await super().commit()  # type: ignore[misc]

    async def __aexit__(self, *exc_info: Any) -> bool:
        result = await super().__aexit__(*exc_info)  # type: ignore[misc]
        if self._parent is None and self._committed:
            await _run_after_commit(self.after_commit)
        return result


async def _acquire(lock: asyncio.Lock) -> None:
    """Wait for this process's writer lock as long as SQLite's busy handler would have
    waited for its write lock, then fail the same way (never wait forever)."""
    try:
        async with asyncio.timeout(SQLITE_BUSY_TIMEOUT_S):
            await lock.acquire()
    except TimeoutError:
        raise sqlite3.OperationalError(
            f"database is locked (no turn at the writer lock in {SQLITE_BUSY_TIMEOUT_S:g} s)"
        ) from None


class _WriterLocked:
    """Holds the engine's in-process writer lock from just before BEGIN IMMEDIATE until
    the transaction has ended, so this process's writers queue in Python instead of
    sleeping in SQLite's busy handler (1, 2, 5 ... 100 ms back-off, the officer page's
    p99). A commit may run a WAL checkpoint, which takes SQLite's write lock too, so the
    lock covers it.

    Only outermost write transactions take it: a nested one joins its parent, which
    holds it already, and a DEFERRED (read) one takes no write lock in SQLite either.
    It is released before ``_AfterCommit`` runs its callbacks, so a callback may open a
    transaction of its own. Other processes still meet the busy timeout.

    The connection goes back to the engine's idle pool when the transaction ends
    (Piccolo's transaction would close it: a thread and a file opened per transaction,
    and the last close checkpoints and truncates the WAL).
    """

    __slots__ = ()
    engine: Any
    connection: Any
    context: Any
    transaction_type: TransactionType
    _parent: Any
    _committed: bool
    _rolled_back: bool

    def _writes(self) -> bool:
        return self._parent is None and self.transaction_type != TransactionType.deferred

    def _release_writer(self) -> None:
        if getattr(self, "_holds_writer", False):
            self._holds_writer = False
            self.engine.writer_lock().release()

    async def begin(self) -> None:
        if not self._writes():
            return await super().begin()  # type: ignore[misc]
        try:
            await _acquire(self.engine.writer_lock())
            self._holds_writer = True
            if self.transaction_type == TransactionType.immediate:
                await self.connection._execute(_begin_immediate, self.connection._conn)
            else:
                await super().begin()  # type: ignore[misc]
        except BaseException:
            self._release_writer()
            await self.engine.put_connection(self.connection)  # Piccolo would leave it
            raise

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        """Piccolo's ending, with the connection pooled instead of closed."""
        if self._parent:
            return exc is None
        try:
            if exc is not None:
                if not self._rolled_back:
                    await self.rollback()  # type: ignore[attr-defined]
            elif not self._committed and not self._rolled_back:
                await self.commit()  # type: ignore[attr-defined]
        finally:
            try:
                await self.engine.put_connection(self.connection)
            finally:
                self.engine.current_transaction.reset(self.context)
                self._release_writer()
        return exc is None


class HookedSQLiteTransaction(_AfterCommit, _WriterLocked, SQLiteTransaction):
    __slots__ = (
        "_holds_writer",
        "after_commit",
        "changes_records",
        "counts_changes",
        "participants",
    )


class HookedPostgresTransaction(_AfterCommit, PostgresTransaction):
    __slots__ = ("after_commit", "changes_records", "counts_changes", "participants")


def _note_write(engine: Any, query: str) -> None:
    """Inside a transaction: remember that it changed the records."""
    if counted_write(query):
        current = engine.current_transaction.get()
        if current is not None:
            current.changes_records = True


BUSY_POLL_S = 0.0005


def _begin_immediate(connection: sqlite3.Connection) -> None:
    """On the connection's own thread: BEGIN IMMEDIATE, tried again every half
    millisecond while another process writes, for up to the busy timeout. SQLite's own
    busy handler backs off to sleeps of 50 and 100 ms: a page waiting on a batch's
    write would sleep on long after the lock was free (issue 18, p99 during a batch)."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    connection.execute("PRAGMA busy_timeout = 0")
    try:
        while True:
            try:
                connection.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(BUSY_POLL_S)
    finally:
        connection.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")


Script = list[tuple[str, list[Any]]]


class _WriteGroup:
    """One event loop's writes waiting for the next group commit (``run_together``)."""

    __slots__ = ("committer", "pending")

    def __init__(self) -> None:
        self.pending: list[tuple[Script, asyncio.Future[None]]] = []
        self.committer: asyncio.Task[None] | None = None


def _run_group(connection: sqlite3.Connection, scripts: list[Script]) -> list[Exception | None]:
    """On the connection's own thread: one IMMEDIATE transaction holding each script in
    a savepoint of its own; a script that fails is rolled back alone and its error
    returned in its place. Anything else (the commit itself) fails them all."""
    _begin_immediate(connection)
    outcomes: list[Exception | None] = []
    counted = False
    try:
        for script in scripts:
            connection.execute("SAVEPOINT one_write")
            try:
                for sql, args in script:
                    connection.execute(sql, args)
            except sqlite3.Error as exc:
                connection.execute("ROLLBACK TO one_write")
                connection.execute("RELEASE one_write")
                outcomes.append(exc)
                continue
            connection.execute("RELEASE one_write")
            outcomes.append(None)
            counted = counted or any(counted_write(sql) for sql, _ in script)
        if counted:
            connection.execute(_BUMP)
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    return outcomes


class ImmediateSQLiteEngine(SQLiteEngine):
    """SQLite engine whose transactions take the write lock up front (BEGIN IMMEDIATE).

    A deferred transaction that reads and then writes can fail with "database is
    locked" when another writer got there first; IMMEDIATE waits on the busy timeout
    instead.
    """

    async def check_version(self) -> None:
        """Piccolo logs the version at construction; ``check_reachable`` covers this."""

    def _idle(self, start: bool = False) -> list[aiosqlite.Connection] | None:
        """This event loop's idle connections, or None where nothing keeps them: only
        a loop with a known end pools (the app between ``open_pool`` and
        ``close_pool``). A command or a worker's job that runs its own short loop
        closes each connection as Piccolo does, so the last close checkpoints the WAL
        into the file (a copy of the file then holds everything) and no idle thread
        outlives its loop. A connection is reused only by the loop it was made for."""
        loop = asyncio.get_running_loop()
        pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[Any]]
        pools = self.__dict__.setdefault("_idle_pools", weakref.WeakKeyDictionary())
        if start:
            pools.setdefault(loop, [])
        return pools.get(loop)

    def keep_idle(self) -> None:
        """From now on this event loop keeps up to ``IDLE_CONNECTIONS`` idle."""
        self._idle(start=True)

    async def get_connection(self) -> aiosqlite.Connection:
        """An idle connection, or a new one (foreign keys on, rows as dicts)."""
        idle = self._idle() or []
        while idle:
            connection = idle.pop()
            if connection._connection is not None:
                connection.row_factory = dict_factory
                return connection
        connection = aiosqlite.connect(**self.connection_kwargs)
        connection._thread.daemon = True  # an idle one must not hold the process open
        await connection
        connection.row_factory = dict_factory
        await connection.execute("PRAGMA foreign_keys = 1")
        return connection

    async def put_connection(self, connection: aiosqlite.Connection) -> None:
        """Back to the idle pool when it ended its transaction cleanly, else closed."""
        idle = self._idle()
        if (
            idle is None
            or connection._connection is None
            or connection.in_transaction
            or len(idle) >= IDLE_CONNECTIONS
        ):
            await connection.close()
            return
        idle.append(connection)

    async def ping_fresh(self, query: str) -> None:
        """``query`` on a connection of its own, closed after (``ping``)."""
        async with aiosqlite.connect(**self.connection_kwargs) as connection:
            await connection.execute_fetchall(query)

    async def close_idle(self, keep_on: bool = False) -> None:
        """Close this loop's idle connections and, unless ``keep_on``, stop keeping
        them (the app's shutdown; after a failed health check the pool stays on and
        the next request opens the file afresh)."""
        idle = self._idle()
        pools = self.__dict__.get("_idle_pools")
        if pools is not None and not keep_on:
            pools.pop(asyncio.get_running_loop(), None)
        while idle:
            await idle.pop().close()

    def writer_lock(self) -> asyncio.Lock:
        """This engine's writer lock for the running event loop (an ``asyncio.Lock`` is
        bound to one loop; the CLI and the tests run several loops in one process)."""
        return self._per_loop("_writer_locks", asyncio.Lock)

    def _per_loop(self, name: str, make: Callable[[], Any]) -> Any:
        """The running event loop's own ``make()`` kept under ``name``, gone with the
        loop (asyncio objects are bound to one loop)."""
        loop = asyncio.get_running_loop()
        kept: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any]
        kept = self.__dict__.setdefault(name, weakref.WeakKeyDictionary())
        if loop not in kept:
            kept[loop] = make()
        return kept[loop]

    async def _run_in_new_connection(
        self,
        query: str,
        args: list[Any] | None = None,
        query_type: str = "generic",
        table: type[Table] | None = None,
    ) -> Any:
        """A single statement outside ``transaction()`` (Piccolo's implicit transaction):
        anything but a plain read (an insert, update, delete, DDL) queues on the writer
        lock like a transaction does. Piccolo tags only inserts, so this reads the SQL."""
        if _READ_ONLY.match(query):
            return await self._pooled(query, args or [])
        if counted_write(query):  # in a transaction of its own, so the count goes with it
            async with self.transaction() as transaction:
                return await self._run_in_existing_connection(transaction.connection, query, args)
        lock = self.writer_lock()
        await _acquire(lock)
        try:
            return await self._pooled(query, args or [])
        finally:
            lock.release()

    async def run_compiled(self, query: str, args: list[Any]) -> list[dict[str, Any]]:
        """``run_querystring`` for SQL compiled already (``Prepared``)."""
        current = self.current_transaction.get()
        if current is not None:
            return await self._run_in_existing_connection(current.connection, query, args)
        return await self._run_in_new_connection(query, args)

    async def run_together(self, statements: list[tuple[str, list[Any]]]) -> None:
        """Writes in one IMMEDIATE transaction, all or none, committed before this
        returns. Inside a transaction: joins it.

        Otherwise a group commit: writes that arrive while others are being committed
        wait and are then committed together, each inside a savepoint of its own (one
        failing rolls back only itself), in one trip to the connection's thread and one
        sync to disk. With ``synchronous=FULL`` that sync is most of a write's cost, and
        eight officers' views then share one instead of queueing for eight."""
        current = self.current_transaction.get()
        if current is not None:
            for sql, args in statements:
                await self._run_in_existing_connection(current.connection, sql, args)
            return
        for sql, _ in statements:
            _seen(sql)
        loop = asyncio.get_running_loop()
        group: _WriteGroup = self._per_loop("_write_groups", _WriteGroup)
        done: asyncio.Future[None] = loop.create_future()
        group.pending.append((statements, done))
        if group.committer is None or group.committer.done():
            group.committer = loop.create_task(self._commit_groups(group))
        # Shielded: a view that stops waiting leaves its write to be committed (recorded
        # even if never shown), and never cancels the others' commit.
        await asyncio.shield(done)

    async def _commit_groups(self, group: _WriteGroup) -> None:
        """Commit what is pending, then what arrived meanwhile, until nothing is."""
        while group.pending:
            taken, group.pending = group.pending, []
            try:
                lock = self.writer_lock()
                await _acquire(lock)
                try:
                    connection = await self.get_connection()
                    try:
                        outcomes = await connection._execute(
                            _run_group, connection._conn, [s for s, _ in taken]
                        )
                    finally:
                        await self.put_connection(connection)
                finally:
                    lock.release()
            except BaseException as exc:
                for _, done in taken:
                    if not done.done():
                        done.set_exception(exc)
                        done.exception()  # retrieved: its waiter raises it
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            for (_, done), outcome in zip(taken, outcomes, strict=True):
                if done.done():
                    continue
                if outcome is None:
                    done.set_result(None)
                else:
                    done.set_exception(outcome)
                    done.exception()

    async def _pooled(self, query: str, args: list[Any]) -> list[dict[str, Any]]:
        """One statement on an idle connection, autocommitted (isolation_level None)."""
        _seen(query)
        connection = await self.get_connection()
        try:
            return list(await connection.execute_fetchall(query, args))
        finally:
            await self.put_connection(connection)

    async def _run_in_existing_connection(
        self,
        connection: Any,
        query: str,
        args: list[Any] | None = None,
        query_type: str = "generic",
        table: type[Table] | None = None,
    ) -> Any:
        """One thread hop per statement: Piccolo's sends a PRAGMA before each one and
        fetches through a cursor (three more); foreign keys are on from the connection's
        opening, and SQLite here has RETURNING (3.35+)."""
        _seen(query)
        _note_write(self, query)
        return list(await connection.execute_fetchall(query, args or []))

    async def serialize(self, _name: str) -> None:
        """Inside a transaction: IMMEDIATE already holds the only write lock."""

    async def insert_many(self, sql: str, rows: list[tuple]) -> None:
        """Inside a transaction: one prepared statement run for every row.

        Piccolo's adapters (registered with sqlite3) convert Decimal, UUID, dates and lists.
        """
        transaction = self.current_transaction.get()
        assert transaction is not None, "insert_many needs a transaction"
        _seen(sql)
        _note_write(self, sql)
        await transaction.connection.executemany(sql.replace("{}", "?"), rows)

    async def fetch_tuples(self, sql: str, args: list[Any]) -> list[Sequence[Any]]:
        _seen(sql)
        transaction = self.current_transaction.get()
        if transaction is not None:
            async with transaction.connection.execute(sql, args) as cursor:
                cursor.row_factory = None
                return await cursor.fetchall()
        connection = await self.get_connection()
        try:
            connection.row_factory = None
            return list(await connection.execute_fetchall(sql, args))
        finally:
            await self.put_connection(connection)

    def transaction(
        self,
        transaction_type: TransactionType = TransactionType.immediate,
        allow_nested: bool = True,
    ) -> SQLiteTransaction:
        return HookedSQLiteTransaction(
            engine=self, transaction_type=transaction_type, allow_nested=allow_nested
        )

    def read_transaction(self) -> SQLiteTransaction:
        """DEFERRED: a snapshot that takes no write lock (WAL readers never block)."""
        return self.transaction(transaction_type=TransactionType.deferred, allow_nested=True)


class PooledPostgresEngine(PostgresEngine):
    """PostgreSQL engine that does not connect while being constructed.

    Piccolo's base engine queries the server version synchronously in ``__init__``;
    we check reachability explicitly (and with a timeout) instead.
    """

    async def check_version(self) -> None:
        pass

    def transaction(self, allow_nested: bool = True) -> PostgresTransaction:
        return HookedPostgresTransaction(engine=self, allow_nested=allow_nested)

    def read_transaction(self) -> Any:
        return self.transaction(allow_nested=True)

    async def run_querystring(self, querystring: QueryString, in_pool: bool = True) -> Any:
        """Piccolo's, with writes to the records counted (see ``records_version``): in
        the transaction that makes them, or in one of their own."""
        query, args = querystring.compile_string(engine_type=self.engine_type)
        return await self._run_compiled(query, args, in_pool)

    async def run_compiled(self, query: str, args: list[Any]) -> list[dict[str, Any]]:
        """``run_querystring`` for SQL compiled already (``Prepared``), rows as dicts."""
        return [dict(row) for row in await self._run_compiled(query, args, True)]

    async def run_together(self, statements: list[tuple[str, list[Any]]]) -> None:
        """Writes in one transaction (joins the caller's, if any)."""
        async with self.transaction():
            for sql, args in statements:
                await self._run_compiled(sql, args, True)

    async def _run_compiled(self, query: str, args: list[Any], in_pool: bool) -> Any:
        current = self.current_transaction.get()
        if current is None and counted_write(query):
            async with self.transaction():
                return await self._run_compiled(query, args, in_pool)
        _seen(query)
        if current is not None:
            _note_write(self, query)
            return await current.connection.fetch(query, *args)
        if in_pool and self.pool:
            return await self._run_in_pool(query, args)
        return await self._run_in_new_connection(query, args)

    async def insert_many(self, sql: str, rows: list[tuple]) -> None:
        """Inside a transaction: asyncpg pipelines one prepared statement over every row."""
        transaction = self.current_transaction.get()
        assert transaction is not None, "insert_many needs a transaction"
        _seen(sql)
        _note_write(self, sql)
        count = iter(range(1, sql.count("{}") + 1))
        numbered = re.sub(r"\{\}", lambda _: f"${next(count)}", sql)
        await transaction.connection.executemany(numbered, rows)

    async def fetch_tuples(self, sql: str, args: list[Any]) -> list[Sequence[Any]]:
        _seen(sql)
        transaction = self.current_transaction.get()
        if transaction is not None:
            return await transaction.connection.fetch(sql, *args)
        if self.pool:
            async with self.pool.acquire() as connection:
                return await connection.fetch(sql, *args)
        connection = await self.get_new_connection()
        try:
            return await connection.fetch(sql, *args)
        finally:
            await connection.close()

    async def serialize(self, name: str) -> None:
        """Inside a transaction: wait for every other transaction serialising on ``name``.

        A transaction-scoped advisory lock, released at commit or rollback; it gives
        PostgreSQL the one-writer-at-a-time guarantee SQLite's IMMEDIATE gives.
        """
        await self.run_querystring(QueryString("SELECT pg_advisory_xact_lock(hashtext({}))", name))


@lru_cache(maxsize=1 << 16)
def _timestamptz_out(value: bytes) -> datetime:
    """Cached: a group's members share session times, so a caseload's 400,000 attendance
    rows hold a few hundred distinct moments (datetimes are immutable, safe to share)."""
    moment = datetime.fromisoformat(value.decode())
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _faster_sqlite_converters() -> None:
    """Piccolo's INTEGER and TIMESTAMPTZ converters go through Decimal and a decorator per
    value, which made reading a 400,000-row caseload twice as slow. SQLite returns its
    integers as ints itself (Piccolo's converter is there for floats stored in integer
    columns, which nothing here writes); timestamps parse straight to UTC datetimes."""
    sqlite3.converters.pop("INTEGER", None)
    sqlite3.register_converter("TIMESTAMPTZ", _timestamptz_out)


def create_engine(target: DatabaseTarget, must_exist: bool = False) -> Engine:
    """``must_exist``: never create an empty SQLite file (the app, unlike ``migrate``,
    must find a migrated database, and a missing file is an error, not a new database)."""
    if target.engine == "sqlite":
        assert target.sqlite_path is not None
        _faster_sqlite_converters()
        if must_exist:
            uri = f"file:{quote(str(target.sqlite_path))}?mode=rw"
            engine: Engine = ImmediateSQLiteEngine(
                path=uri, uri=True, timeout=SQLITE_BUSY_TIMEOUT_S
            )
        else:
            engine = ImmediateSQLiteEngine(
                path=str(target.sqlite_path), timeout=SQLITE_BUSY_TIMEOUT_S
            )
    else:
        engine = PooledPostgresEngine(
            config={"dsn": target.url, "timeout": CONNECT_TIMEOUT_S}, extensions=()
        )
    engine.database_url = target.url  # type: ignore[attr-defined]  # for worker processes
    return engine


def prepare_sqlite(target: DatabaseTarget) -> None:
    """Switch the file to WAL (a persistent property of the file) before first use."""
    if target.sqlite_path is None:
        return
    try:
        # closing(): a connection's own ``with`` only commits; left open, it would
        # close (and tidy the WAL) only when the cycle collector next runs.
        with contextlib.closing(
            sqlite3.connect(target.sqlite_path, timeout=SQLITE_BUSY_TIMEOUT_S)
        ) as conn:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise DatabaseUnavailable(f"cannot open {target.sqlite_path}: {exc}") from None
    if mode.lower() != "wal":
        raise DatabaseUnavailable(f"{target.sqlite_path} refused WAL mode (got {mode})")


def bind(engine: Engine) -> None:
    """Point every table (and Piccolo's migration table) at ``engine``."""
    for table in [*ALL_TABLES, Migration]:
        table._meta.db = engine


def current_engine() -> Engine:
    return ALL_TABLES[0]._meta.db


def current_url() -> str:
    """The bound engine's ``DATABASE_URL``, so worker processes can open the same one."""
    return current_engine().database_url  # type: ignore[attr-defined]


def reading() -> Any:
    """One connection for a run of reads (on SQLite also one snapshot). Without it
    Piccolo's SQLite engine opens a connection (and a thread) per query, which was most
    of an officer page's time. Never write inside it, nor open ``transaction()`` in it
    (that would join it without the write lock): write after it ends."""
    return current_engine().read_transaction()  # type: ignore[attr-defined]


def transaction(touching: int | None = None) -> Any:
    """A write transaction on the bound engine (IMMEDIATE on SQLite).

    ``touching``: everything this transaction changes is that participant's records (a
    report signed for them), so views of other participants (``participant_version``)
    stay as they are. Honoured only where this is the outermost transaction: inside
    another, the change counts as shared, which is never wrong, only less kept."""
    opened = current_engine().transaction()
    if touching is not None:
        opened.participants = {int(touching)}
    return opened


def after_commit(callback: AfterCommit) -> None:
    """Inside ``transaction()``: run ``callback`` once the outermost transaction commits;
    a rollback drops it. For effects outside the database that must follow the commit."""
    current = current_engine().current_transaction.get()
    hooks = getattr(current, "after_commit", None)
    if hooks is None:
        raise RuntimeError("after_commit needs an open transaction()")
    hooks.append(callback)


async def serialize(name: str) -> None:
    """Call first inside ``transaction()`` where two concurrent runs must not interleave
    (check-then-insert, the audit chain): the second waits for the first to commit."""
    await current_engine().serialize(name)


async def records_version() -> int:
    """The change counter: one more for every committed transaction that changed the
    records (anything but a link's use, its disclosure and the audit trail), on every
    path and in every process, since all writes go through these engines. A view
    computed from the records stays right while this number stays the same. Read it
    first in a read snapshot, then the records (so a cached view is never older than
    the number it is filed under)."""
    found = await current_engine().fetch_tuples(  # type: ignore[attr-defined]
        'SELECT "version" FROM "record_version"', []
    )
    return int(found[0][0])


async def participant_version(participant_id: int) -> tuple[int, int]:
    """The change counters a view of one participant depends on: the shared one (any
    change not declared as one participant's) and the participant's own. A view of one
    participant filed under this pair stays right while it stays the same; read it
    first, as ``records_version``."""
    found = await current_engine().fetch_tuples(  # type: ignore[attr-defined]
        'SELECT r."shared", COALESCE((SELECT p."version" FROM "participant_version" p '
        f'WHERE p."participant" = {int(participant_id):d}), 0) FROM "record_version" r',
        [],
    )
    return int(found[0][0]), int(found[0][1])


class Param:
    """A named value left open in a ``Prepared`` query."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class Prepared:
    """A Piccolo query built and compiled once per engine kind, run with new values.

    Building a query is most of what Piccolo costs on a small read (a select of one
    row spent more time assembling its SQL than SQLite spent running it); the pages
    served most often build theirs once. ``build`` returns the query with ``Param``
    where a value goes; ``run`` returns rows as dicts, like Piccolo's, and writes
    follow the same rules as any other (writer lock, change counter).
    """

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build
        self._compiled: dict[str, tuple[str, list[Any]]] = {}

    def bind(self, **values: Any) -> tuple[str, list[Any]]:
        """The SQL for the bound engine and the arguments with ``values`` in place."""
        kind = current_engine().engine_type
        if kind not in self._compiled:
            querystring = self._build().querystrings[0]
            sql, args = querystring.compile_string(engine_type=kind)
            self._compiled[kind] = (sql, list(args))
        sql, args = self._compiled[kind]
        return sql, [values[a.name] if isinstance(a, Param) else a for a in args]

    async def run(self, **values: Any) -> list[dict[str, Any]]:
        sql, args = self.bind(**values)
        return await current_engine().run_compiled(sql, args)  # type: ignore[attr-defined]


async def write_together(*statements: tuple[str, list[Any]]) -> None:
    """Bound ``Prepared`` writes (``q.bind(...)``) in one transaction, all or none; on
    SQLite in one trip to the database thread. Nothing to run after commit here: for
    writes that need that (the audit trail), use ``transaction()``."""
    await current_engine().run_together(list(statements))  # type: ignore[attr-defined]


def view_cache(name: str, size: int = 1024) -> VersionedCache[Any]:
    """The bound engine's cache called ``name``, holding up to ``size`` entries:
    entries belong to one database (a test process binds many, each with its own link 1
    and counter 5)."""
    caches = current_engine().__dict__.setdefault("_view_caches", {})
    if name not in caches:
        caches[name] = VersionedCache(size)
    return caches[name]


async def rows(query: Select) -> list[Sequence[Any]]:
    """A select's rows as tuples in its column order, with the values Piccolo would give.

    For the few reads of hundreds of thousands of rows (a whole caseload), where building
    a dict per row was a third of the time.
    """
    engine = current_engine()
    sql, args = query.querystrings[0].compile_string(engine_type=engine.engine_type)
    return await engine.fetch_tuples(sql, list(args))  # type: ignore[attr-defined]


def _default(column: Any) -> Any:
    value = column.get_default_value()
    if isinstance(value, Default):
        return value.python()
    return value() if callable(value) and not isinstance(value, type) else value


async def insert_many(table: type[Table], rows: list[dict[str, Any]]) -> None:
    """Bulk insert for imports: tens of thousands of rows without building a Piccolo
    object and query string per row. Missing columns take the table's defaults.
    Must run inside ``transaction()``."""
    if not rows:
        return
    columns = [c for c in table._meta.columns if not isinstance(c, Serial)]
    names = ", ".join(f'"{c._meta.db_column_name}"' for c in columns)
    marks = ", ".join("{}" for _ in columns)
    sql = f'INSERT INTO "{table._meta.tablename}" ({names}) VALUES ({marks})'
    keys = [c._meta.name for c in columns]
    values = [
        tuple(
            row[k] if k in row else _default(column)
            for k, column in zip(keys, columns, strict=True)
        )
        for row in rows
    ]
    await current_engine().insert_many(sql, values)


async def open_pool(engine: Engine, pool_size: int) -> None:
    """PostgreSQL: a connection pool; SQLite: idle connections kept for this loop."""
    if isinstance(engine, PostgresEngine):
        await engine.start_connection_pool(min_size=1, max_size=pool_size)
    elif isinstance(engine, ImmediateSQLiteEngine):
        engine.keep_idle()


@contextlib.asynccontextmanager
async def pooled(pool_size: int = IDLE_CONNECTIONS) -> AsyncIterator[None]:
    """Connections reused for a stretch of many queries outside the app (a batch from
    the shell): a new SQLite connection is a new thread and a file open, about 1 ms of
    CPU each. Inside the app, whose lifespan already pools, this changes nothing."""
    engine = current_engine()
    if _pooling(engine):
        yield
        return
    await open_pool(engine, pool_size)
    try:
        yield
    finally:
        await close_pool(engine)


def _pooling(engine: Engine) -> bool:
    if isinstance(engine, PostgresEngine):
        return engine.pool is not None
    return isinstance(engine, ImmediateSQLiteEngine) and engine._idle() is not None


async def close_pool(engine: Engine) -> None:
    if isinstance(engine, PostgresEngine):
        await engine.close_connection_pool()
    await close_idle(engine)


async def close_idle(engine: Engine, keep_on: bool = False) -> None:
    """SQLite: close this event loop's idle connections (the last close tidies the WAL);
    PostgreSQL's pool is ``close_pool``'s."""
    if isinstance(engine, ImmediateSQLiteEngine):
        await engine.close_idle(keep_on)


async def ping(engine: Engine) -> None:
    """Raise ``DatabaseUnavailable`` unless the database answers and holds our schema.

    On SQLite through a connection opened now: an idle one would still answer from a
    file deleted or replaced under it. When that fails, the idle ones are closed too,
    so the next request opens the file as it is."""
    query = 'SELECT COUNT(*) AS n FROM "program"'
    try:
        if isinstance(engine, ImmediateSQLiteEngine):
            await asyncio.wait_for(engine.ping_fresh(query), timeout=CONNECT_TIMEOUT_S)
        else:
            await asyncio.wait_for(engine.run_ddl(query), timeout=CONNECT_TIMEOUT_S)
    except TimeoutError:
        await close_idle(engine, keep_on=True)
        raise DatabaseUnavailable("the database did not answer in time") from None
    except Exception as exc:
        await close_idle(engine, keep_on=True)
        raise DatabaseUnavailable(_one_line(exc)) from None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{exc.__class__.__name__}: {text[0]}" if text else exc.__class__.__name__


async def check_reachable(target: DatabaseTarget) -> None:
    """Connect once without needing the schema: used before migrating or serving."""
    engine = create_engine(target)
    try:
        await asyncio.to_thread(prepare_sqlite, target)
        await asyncio.wait_for(engine.run_ddl("SELECT 1"), timeout=CONNECT_TIMEOUT_S * 2)
    except DatabaseUnavailable:
        raise
    except TimeoutError:
        raise DatabaseUnavailable(f"{target.display} did not answer in time") from None
    except Exception as exc:
        raise DatabaseUnavailable(f"cannot reach {target.display}: {_one_line(exc)}") from None
