"""The database engine, chosen by ``DATABASE_URL``, and the migration runner.

This is the one module that knows which engine is in use. SQLite gets WAL, a busy
timeout, foreign keys (Piccolo turns them on per connection) and IMMEDIATE write
transactions; PostgreSQL gets a connection pool opened and closed in the app's lifespan.
Everything above this module calls ``transaction()`` and the Piccolo tables, the same
on both engines.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import weakref
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import aiosqlite
from piccolo.apps.migrations.tables import Migration
from piccolo.columns import Serial
from piccolo.columns.defaults.base import Default
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine, PostgresTransaction
from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction, TransactionType
from piccolo.query.methods.select import Select
from piccolo.querystring import QueryString
from piccolo.table import Table

from compliance.settings import DatabaseTarget
from compliance.tables import ALL_TABLES

APP_NAME = "compliance"
SQLITE_BUSY_TIMEOUT_S = 15.0
CONNECT_TIMEOUT_S = 5.0
_READ_ONLY = re.compile(r"\s*(SELECT|PRAGMA|EXPLAIN)\b", re.IGNORECASE)


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


class _AfterCommit:
    """Runs ``after_commit`` callbacks once the outermost transaction has committed
    (never on rollback): the audit trail writes its head outside the database only
    then. Mixed into each engine's transaction class below."""

    __slots__ = ()
    _parent: Any
    _committed: bool

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.after_commit: list[AfterCommit] = []

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
    the connection is closed, so this process's writers queue in Python instead of
    sleeping in SQLite's busy handler (1, 2, 5 ... 100 ms back-off, the officer page's
    p99). Opening the connection happens outside it; closing does not, because closing
    the last connection checkpoints the WAL, which takes SQLite's write lock too.

    Only outermost write transactions take it: a nested one joins its parent, which
    holds it already, and a DEFERRED (read) one takes no write lock in SQLite either.
    It is released before ``_AfterCommit`` runs its callbacks, so a callback may open a
    transaction of its own. Other processes still meet the busy timeout.
    """

    __slots__ = ()
    engine: Any
    connection: Any
    transaction_type: TransactionType
    _parent: Any

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
            await super().begin()  # type: ignore[misc]
        except BaseException:
            self._release_writer()
            await self.connection.close()  # Piccolo's __aenter__ would leave it open
            raise

    async def __aexit__(self, *exc_info: Any) -> bool:
        try:
            return await super().__aexit__(*exc_info)  # type: ignore[misc]
        finally:
            self._release_writer()


class HookedSQLiteTransaction(_AfterCommit, _WriterLocked, SQLiteTransaction):
    __slots__ = ("_holds_writer", "after_commit")


class HookedPostgresTransaction(_AfterCommit, PostgresTransaction):
    __slots__ = ("after_commit",)


class ImmediateSQLiteEngine(SQLiteEngine):
    """SQLite engine whose transactions take the write lock up front (BEGIN IMMEDIATE).

    A deferred transaction that reads and then writes can fail with "database is
    locked" when another writer got there first; IMMEDIATE waits on the busy timeout
    instead.
    """

    async def check_version(self) -> None:
        """Piccolo logs the version at construction; ``check_reachable`` covers this."""

    def writer_lock(self) -> asyncio.Lock:
        """This engine's writer lock for the running event loop (an ``asyncio.Lock`` is
        bound to one loop; the CLI and the tests run several loops in one process)."""
        loop = asyncio.get_running_loop()
        locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]
        locks = self.__dict__.setdefault("_writer_locks", weakref.WeakKeyDictionary())
        if loop not in locks:
            locks[loop] = asyncio.Lock()
        return locks[loop]

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
            return await super()._run_in_new_connection(query, args, query_type, table)
        lock = self.writer_lock()
        await _acquire(lock)
        try:
            return await super()._run_in_new_connection(query, args, query_type, table)
        finally:
            lock.release()

    async def serialize(self, _name: str) -> None:
        """Inside a transaction: IMMEDIATE already holds the only write lock."""

    async def insert_many(self, sql: str, rows: list[tuple]) -> None:
        """Inside a transaction: one prepared statement run for every row.

        Piccolo's adapters (registered with sqlite3) convert Decimal, UUID, dates and lists.
        """
        transaction = self.current_transaction.get()
        assert transaction is not None, "insert_many needs a transaction"
        await transaction.connection.executemany(sql.replace("{}", "?"), rows)

    async def fetch_tuples(self, sql: str, args: list[Any]) -> list[Sequence[Any]]:
        transaction = self.current_transaction.get()
        if transaction is not None:
            async with transaction.connection.execute(sql, args) as cursor:
                cursor.row_factory = None
                return await cursor.fetchall()
        async with aiosqlite.connect(**self.connection_kwargs) as connection:
            return await connection.execute_fetchall(sql, args)

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

    async def insert_many(self, sql: str, rows: list[tuple]) -> None:
        """Inside a transaction: asyncpg pipelines one prepared statement over every row."""
        transaction = self.current_transaction.get()
        assert transaction is not None, "insert_many needs a transaction"
        count = iter(range(1, sql.count("{}") + 1))
        numbered = re.sub(r"\{\}", lambda _: f"${next(count)}", sql)
        await transaction.connection.executemany(numbered, rows)

    async def fetch_tuples(self, sql: str, args: list[Any]) -> list[Sequence[Any]]:
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
        with sqlite3.connect(target.sqlite_path, timeout=SQLITE_BUSY_TIMEOUT_S) as conn:
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


def transaction() -> Any:
    """A write transaction on the bound engine (IMMEDIATE on SQLite)."""
    return current_engine().transaction()


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
    if isinstance(engine, PostgresEngine):
        await engine.start_connection_pool(min_size=1, max_size=pool_size)


async def close_pool(engine: Engine) -> None:
    if isinstance(engine, PostgresEngine):
        await engine.close_connection_pool()


async def ping(engine: Engine) -> None:
    """Raise ``DatabaseUnavailable`` unless the database answers and holds our schema."""
    try:
        await asyncio.wait_for(
            engine.run_ddl('SELECT COUNT(*) AS n FROM "program"'), timeout=CONNECT_TIMEOUT_S
        )
    except TimeoutError:
        raise DatabaseUnavailable("the database did not answer in time") from None
    except Exception as exc:
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


class CopyFailed(Exception):
    """A backup or restore of the database could not be made; the message says why."""


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """The DSN without its password, and the password in PGPASSWORD, so it never shows
    in the process list."""
    parts = urlsplit(url)
    env = dict(os.environ)
    if parts.password:
        env["PGPASSWORD"] = unquote(parts.password)
        host = parts.hostname or ""
        user = f"{parts.username}@" if parts.username else ""
        port = f":{parts.port}" if parts.port else ""
        parts = parts._replace(netloc=f"{user}{host}{port}")
    scheme = "postgresql" if parts.scheme.startswith("postgres") else parts.scheme
    return urlunsplit(parts._replace(scheme=scheme)), env


def _run_tool(name: str, args: list[str], env: dict[str, str]) -> str:
    """Run a PostgreSQL client tool; its output, or CopyFailed with its last error line."""
    tool = shutil.which(name)
    if tool is None:
        raise CopyFailed(f"{name} is not installed (Debian package postgresql-client)")
    done = subprocess.run(  # noqa: S603  (our own arguments, no shell)
        [tool, *args], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise CopyFailed(f"{name}: {(done.stderr.strip().splitlines() or ['failed'])[-1]}")
    return done.stdout


def snapshot_to(target: DatabaseTarget, folder: Path) -> str:
    """Copy the whole database as it was at one moment, while the service keeps running;
    return the copy's file name inside ``folder``.

    SQLite: the online backup API, in one step so the copy is one snapshot (in WAL mode
    writers go on meanwhile), then an integrity check of the copy. PostgreSQL: pg_dump,
    which reads in one snapshot transaction.
    """
    if target.engine == "sqlite":
        assert target.sqlite_path is not None
        name = "database.sqlite3"
        source = sqlite3.connect(
            f"file:{quote(str(target.sqlite_path))}?mode=ro",
            uri=True,
            timeout=SQLITE_BUSY_TIMEOUT_S,
        )
        copy = sqlite3.connect(folder / name)
        try:
            source.backup(copy)
            verdict = copy.execute("PRAGMA integrity_check").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise CopyFailed(f"SQLite backup failed: {exc}") from None
        finally:
            copy.close()
            source.close()
        if verdict != "ok":
            raise CopyFailed(f"the copy failed SQLite's integrity check: {verdict}")
        return name
    name = "database.pgdump"
    dsn, env = _libpq(target.url)
    _run_tool("pg_dump", ["--format=custom", f"--file={folder / name}", f"--dbname={dsn}"], env)
    return name


def restore_from(copy: Path, target: DatabaseTarget) -> None:
    """Load a copy made by ``snapshot_to`` into an empty database (never over one in use)."""
    if target.engine == "sqlite":
        assert target.sqlite_path is not None
        if copy.suffix != ".sqlite3":
            raise CopyFailed("this backup holds a PostgreSQL dump; DATABASE_URL names SQLite")
        if target.sqlite_path.exists() and target.sqlite_path.stat().st_size > 0:
            raise CopyFailed(f"{target.sqlite_path} already exists; restore into a new file")
        target.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        source = sqlite3.connect(f"file:{quote(str(copy))}?mode=ro", uri=True)
        into = sqlite3.connect(target.sqlite_path)
        try:
            source.backup(into)
        finally:
            into.close()
            source.close()
        return
    if copy.suffix != ".pgdump":
        raise CopyFailed("this backup holds a SQLite file; DATABASE_URL names PostgreSQL")
    dsn, env = _libpq(target.url)
    tables = _run_tool(
        "psql", ["-tAc", "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", dsn], env
    )
    if tables.strip() != "0":
        raise CopyFailed(f"{target.display} is not empty; restore into a new database")
    _run_tool(
        "pg_restore",
        [
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            f"--dbname={dsn}",
            str(copy),
        ],
        env,
    )


def _point_piccolo_at(engine: Engine) -> None:
    """Piccolo's migration runner finds its engine through ``piccolo_conf.DB``."""
    os.environ["PICCOLO_CONF"] = "compliance.piccolo_conf"
    from compliance import piccolo_conf

    piccolo_conf.DB = engine
    bind(engine)


async def pending_migrations(engine: Engine) -> list[str]:
    from piccolo.apps.migrations.commands.base import BaseMigrationManager

    _point_piccolo_at(engine)
    manager = BaseMigrationManager()
    app_config = manager.get_app_config(APP_NAME)
    modules = manager.get_migration_modules(app_config.resolved_migrations_folder_path)
    known = set(manager.get_migration_ids(modules))
    if not await Migration.table_exists():
        return sorted(known)
    ran = set(await Migration.get_migrations_which_ran(app_name=APP_NAME))
    return sorted(known - ran)


async def migrate(engine: Engine) -> list[str]:
    """Apply every pending migration in one transaction: all of them or none.

    Piccolo wraps each migration in its own transaction and records it afterwards;
    the outer transaction here makes the whole run, records included, atomic, so a
    failure leaves the database exactly as it was.
    """
    from piccolo.apps.migrations.commands.forwards import ForwardsMigrationManager

    if not await pending_migrations(engine):
        return []
    async with engine.transaction():
        await engine.serialize("compliance.migrate")
        todo = await pending_migrations(engine)  # again, now that we hold the lock
        if not todo:
            return []
        if not await Migration.table_exists():
            await Migration.create_table()
        manager = ForwardsMigrationManager(app_name=APP_NAME, migration_id="all")
        stdout = sys.stdout
        try:
            sys.stdout = _Quiet()
            result = await manager.run_migrations(manager.get_app_config(APP_NAME))
        finally:
            sys.stdout = stdout
        if not result.success:
            raise DatabaseUnavailable(f"migration failed: {result.message}")
    return todo


class _Quiet:
    """Swallows Piccolo's emoji progress lines; we print our own summary."""

    def write(self, _text: str) -> int:
        return len(_text)

    def flush(self) -> None:
        pass
