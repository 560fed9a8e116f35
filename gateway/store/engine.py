"""The database engine, its sessions, and a statement counter for tests and benchmarks.

One engine per process, built by the composition root from `Settings.database_url`; nothing here is global.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosqlite
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import QueuePool
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.errors import ConfigurationError, StoreUnavailable

SQLITE_BUSY_TIMEOUT_MS = 30_000  # a writer waits this long for the lock before failing
SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")

# Execution option of the read-only engine view behind `read_session_factory`.
READ_ONLY_OPTION = "gateway_read_only"

# Statements the driver or SQLAlchemy emits to open/close transactions: not "queries" for counting.
_TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def _parse(url: str) -> URL:
    try:
        parsed = make_url(url)
    except Exception as exc:  # SQLAlchemy raises ArgumentError with a generic message
        raise ConfigurationError("GATEWAY_DATABASE_URL", f"not a database URL: {exc}") from exc
    if parsed.drivername not in SUPPORTED_DRIVERS:
        raise ConfigurationError(
            "GATEWAY_DATABASE_URL",
            f"driver {parsed.drivername!r} is not one of {', '.join(SUPPORTED_DRIVERS)}",
        )
    return parsed


@asynccontextmanager
async def connect(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection of `engine`; failing to open one (server down, unknown database or role, bad
    host) is StoreUnavailable naming the URL without its password, not a driver traceback."""
    try:
        connection = await engine.connect()
    except (OSError, DBAPIError) as exc:
        orig = exc.orig if isinstance(exc, DBAPIError) else None
        reason = str(orig if orig is not None else exc) or type(exc).__name__
        where = engine.url.render_as_string(hide_password=True)
        raise StoreUnavailable(
            f"cannot connect to the store (GATEWAY_DATABASE_URL) at {where}: {reason}"
        ) from None
    try:
        yield connection
    finally:
        await connection.close()


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def _sqlite_file(parsed: URL) -> Path | None:
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """Build the process's engine for a `sqlite+aiosqlite://` or `postgresql+asyncpg://` URL.

    SQLite gets WAL, a busy timeout, foreign keys and `BEGIN IMMEDIATE` transactions (so two writers
    queue on the lock instead of failing with "database is locked" when a read turns into a write).
    """
    parsed = _parse(url)
    if parsed.drivername.startswith("sqlite"):
        return _create_sqlite_engine(parsed, echo=echo)
    return create_async_engine(
        parsed,
        echo=echo,
        pool_size=10,
        max_overflow=20,
        pool_timeout=30,
        # Connections die behind load balancers and on server restarts; check before handing one out.
        pool_pre_ping=True,
        pool_recycle=1800,
    )


def _create_sqlite_engine(parsed: URL, *, echo: bool) -> AsyncEngine:
    path = _sqlite_file(parsed)
    if path is None:
        # Every pooled connection would see its own empty in-memory database: tables "vanish" at random.
        raise ConfigurationError(
            "GATEWAY_DATABASE_URL",
            "in-memory SQLite (and file: URIs) is not supported; use a file path, e.g. sqlite+aiosqlite:///./var/gateway.db",
        )
    path.parent.mkdir(parents=True, exist_ok=True)

    async def connect() -> aiosqlite.Connection:
        connection = _LoopThreadReads(
            functools.partial(
                sqlite3.connect,
                str(path),
                timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
                # Read transactions use the connection from the event loop's thread, the rest from
                # aiosqlite's worker thread; never both at once (one session holds it at a time).
                check_same_thread=False,
            ),
            iter_chunk_size=64,
        )
        connection._thread.daemon = True  # as SQLAlchemy's aiosqlite dialect does
        return await connection

    # Headroom over SQLAlchemy's default 5: an overflow connection costs a thread and four PRAGMAs.
    # Read sessions now give their connection back before the request yields (_ReadSession), so API
    # reads hold about one at a time (tests/store: 40 concurrent reads, 1 held); the in-process sync
    # runs and admin actions share the rest.
    engine = create_async_engine(parsed, echo=echo, async_creator=connect, pool_size=20, max_overflow=20)
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            # WAL makes NORMAL durable against application crashes; only power loss can lose a commit.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        driver = connection.connection.dbapi_connection._connection
        read_only = bool(connection.get_execution_options().get(READ_ONLY_OPTION))
        if isinstance(driver, _LoopThreadReads):
            driver.on_loop_thread = read_only
        if read_only:
            # A read-only transaction never writes, so it needs no lock: in WAL it reads a snapshot
            # while a writer (e.g. a long sync page) holds the write lock.
            connection.exec_driver_sql("BEGIN")
            return
        # IMMEDIATE takes the write lock up front, so busy_timeout applies; a deferred transaction
        # that reads and then writes fails at once with SQLITE_BUSY when another writer got in between.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class _LoopThreadReads(aiosqlite.Connection):
    """An aiosqlite connection whose read-only transactions run on the event loop's thread.

    aiosqlite hands every call (cursor, execute, fetch, close, rollback: about nine for one small
    read) to its worker thread and back, each hop a GIL hand-over: a 2-row lookup cost ~2.5 ms of
    CPU and far more wall time under load (bench/profile_read.py). A read in WAL mode takes no lock
    and does not wait, and ours take well under a millisecond, so they run inline. Writes stay on
    the worker thread: they may wait up to the busy timeout for the write lock, which must not
    block the event loop. `_on_begin` sets the mode per transaction. (Overrides aiosqlite 0.22's
    `_execute`, the one funnel of its calls; constraints.txt pins the version.)
    """

    on_loop_thread = False

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self.on_loop_thread:
            return await super()._execute(fn, *args, **kwargs)  # type: ignore[no-untyped-call]
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)


# What services hold and type their parameters with, so nothing above the store imports SQLAlchemy.
SessionFactory = async_sessionmaker[AsyncSession]
StoreSession = AsyncSession
"""One session of the store, for type hints above the store (e.g. `Fence.check(session)`)."""


def writers_serialize(sessions: SessionFactory) -> bool:
    """True when the store admits one writer at a time (SQLite): callers then keep long write
    transactions sequential instead of letting them queue past the busy timeout."""
    bind = sessions.kw.get("bind")
    return bind is not None and bind.dialect.name == "sqlite"


def session_factory(engine: AsyncEngine) -> SessionFactory:
    """Sessions for one engine; objects stay readable after commit (no lazy reload in async code)."""
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


def read_sessions_of(sessions: SessionFactory) -> SessionFactory:
    """Read-only sessions (`read_session_factory`) over the engine behind `sessions`. On SQLite a
    session of `sessions` begins IMMEDIATE, taking the write lock even when it only reads: a
    status page polled during a full sync, or a sync run's loads, then held it for seconds while
    the lease renewal waited behind them."""
    bind = sessions.kw.get("bind")
    return read_session_factory(bind) if isinstance(bind, AsyncEngine) else sessions


def read_session_factory(engine: AsyncEngine) -> SessionFactory:
    """Sessions for reads only: on SQLite a plain deferred BEGIN (no write lock, so reads never queue
    behind a writer); on PostgreSQL a REPEATABLE READ, READ ONLY transaction (one snapshot for every
    statement of a request, e.g. a page and its count). Never write through these sessions."""
    options: dict[str, Any] = {READ_ONLY_OPTION: True}
    if not is_sqlite(engine):
        options.update(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    return async_sessionmaker(
        engine.execution_options(**options), class_=_ReadSession, expire_on_commit=False
    )


class _ReadSession(AsyncSession):
    """A read-only session that, on SQLite, gives its connection back to the pool when its block
    ends, before the request's task yields to the event loop.

    SQLAlchemy's `AsyncSession.__aexit__` runs `close()` in a task of its own and awaits it
    (shielded from cancellation): the request's task gives the loop up twice while the session still
    holds its connection. Under load one turn of the loop runs every other request's next step, so
    every request in flight held a connection: 50 clients made the pool (20 + 20 overflow) create
    and drop 30-45 connections per 300 requests, each creation eight hops to aiosqlite's thread
    that waited a whole turn of the loop each, and a request that waited for one took seconds
    while the others took a few hundred milliseconds (the p99 of bench/api.py at 50 clients).

    A SQLite read runs on the loop's thread (`_LoopThreadReads`), so its close (rollback, then
    check-in) has no suspension point unless the pool is full and closes the connection instead
    (aiosqlite then waits for its thread to stop): only then, and on PostgreSQL, whose close talks
    to the server, the close keeps SQLAlchemy's cancellation-proof task.
    """

    async def __aexit__(self, type_: Any, value: Any, traceback: Any) -> None:
        if _closes_in_place(self):
            await self.close()
            return
        await super().__aexit__(type_, value, traceback)


def _closes_in_place(session: AsyncSession) -> bool:
    """True when closing `session` completes without giving the event loop up: a SQLite read
    session whose connection (if it holds one) goes back into a pool that has room for it. Nothing
    else runs between this check and the check-in (no await in between)."""
    if not session.sync_session.in_transaction():
        return True  # no connection held: closing only forgets the session's objects
    bind = session.bind
    if not isinstance(bind, AsyncEngine) or not is_sqlite(bind):
        return False
    pool = bind.sync_engine.pool
    return isinstance(pool, QueuePool) and pool.checkedin() < pool.size()


@dataclass
class QueryCounter:
    """Statements executed while the `count_queries` block was open (transaction control excluded)."""

    statements: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.statements)


@contextmanager
def count_queries(engine: AsyncEngine) -> Iterator[QueryCounter]:
    """Count SQL statements sent through `engine`: `with count_queries(engine) as c: ...; c.count`."""
    counter = QueryCounter()
    sync_engine = engine.sync_engine

    def _before_cursor_execute(
        _conn: Any, _cursor: Any, statement: str, _parameters: Any, _context: Any, _executemany: bool
    ) -> None:
        if statement.lstrip().upper().startswith(_TRANSACTION_CONTROL):
            return
        counter.statements.append(statement)

    event.listen(sync_engine, "before_cursor_execute", _before_cursor_execute)
    try:
        yield counter
    finally:
        event.remove(sync_engine, "before_cursor_execute", _before_cursor_execute)


@dataclass
class ConnectionCounter:
    """What the engine's pool did while the `count_connections` block was open."""

    created: int = 0
    """Connections the pool opened (a SQLite one costs a thread and eight hops to it)."""
    held: int = 0
    """Connections checked out now."""
    most_held: int = 0
    """The most connections checked out at once."""


@contextmanager
def count_connections(engine: AsyncEngine) -> Iterator[ConnectionCounter]:
    """Watch `engine`'s pool: `with count_connections(engine) as c: ...; c.most_held, c.created`."""
    pool = engine.sync_engine.pool
    out = pool.checkedout() if isinstance(pool, QueuePool) else 0
    counter = ConnectionCounter(held=out, most_held=out)

    def _connect(_dbapi_connection: Any, _record: Any) -> None:
        counter.created += 1

    def _checkout(_dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        counter.held += 1
        counter.most_held = max(counter.most_held, counter.held)

    def _checkin(_dbapi_connection: Any, _record: Any) -> None:
        counter.held -= 1

    listeners = (("connect", _connect), ("checkout", _checkout), ("checkin", _checkin))
    for name, listener in listeners:
        event.listen(pool, name, listener)
    try:
        yield counter
    finally:
        for name, listener in listeners:
            event.remove(pool, name, listener)
