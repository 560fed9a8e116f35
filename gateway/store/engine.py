"""The database engine, its sessions, and a statement counter for tests and benchmarks.

One engine per process, built by the composition root from `Settings.database_url`; nothing here is global.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.errors import ConfigurationError

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
    engine = create_async_engine(parsed, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
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
        if connection.get_execution_options().get(READ_ONLY_OPTION):
            # A read-only transaction never writes, so it needs no lock: in WAL it reads a snapshot
            # while a writer (e.g. a long sync page) holds the write lock.
            connection.exec_driver_sql("BEGIN")
            return
        # IMMEDIATE takes the write lock up front, so busy_timeout applies; a deferred transaction
        # that reads and then writes fails at once with SQLITE_BUSY when another writer got in between.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


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


def read_session_factory(engine: AsyncEngine) -> SessionFactory:
    """Sessions for reads only: on SQLite a plain deferred BEGIN (no write lock, so reads never queue
    behind a writer); on PostgreSQL a REPEATABLE READ, READ ONLY transaction (one snapshot for every
    statement of a request, e.g. a page and its count). Never write through these sessions."""
    options: dict[str, Any] = {READ_ONLY_OPTION: True}
    if not is_sqlite(engine):
        options.update(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    return async_sessionmaker(
        engine.execution_options(**options), class_=AsyncSession, expire_on_commit=False
    )


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
