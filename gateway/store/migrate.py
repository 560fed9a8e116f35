"""Schema migrations of the coupling store, run in code (`gateway db upgrade`, app start, tests).

The Alembic scripts ship inside the package; no alembic.ini or working directory is involved.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.store.engine import connect, create_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Arbitrary constant: PostgreSQL advisory lock that lets only one process migrate at a time.
_MIGRATION_LOCK_KEY = 0x6761_7465_7761_79  # "gateway"


def alembic_config(database_url: str | None = None) -> Config:
    """An Alembic Config pointing at the packaged scripts (for `alembic` commands run in code)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if database_url is not None:
        # ConfigParser interpolation would choke on '%' in a URL-encoded password.
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest revision shipped with this version of the code."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships at least 0001
        raise RuntimeError("no migrations found in " + str(MIGRATIONS_DIR))
    return head


def _upgrade(connection: Connection, revision: str) -> None:
    if connection.dialect.name == "postgresql":
        # Web and worker processes may both upgrade on start; the second waits, then finds nothing to do.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def upgrade_engine(engine: AsyncEngine, *, revision: str = "head") -> None:
    """Bring the database behind `engine` to `revision`, in one transaction; a no-op when already there."""
    async with connect(engine) as connection:
        await connection.run_sync(_upgrade, revision)
        await connection.commit()


async def current_revision_engine(engine: AsyncEngine) -> str | None:
    async with connect(engine) as connection:
        return await connection.run_sync(_current)


def upgrade(database_url: str, *, revision: str = "head") -> None:
    """Synchronous entry point for the CLI. Inside a running event loop use `upgrade_engine`."""

    async def run() -> None:
        engine = create_engine(database_url)
        try:
            await upgrade_engine(engine, revision=revision)
        finally:
            await engine.dispose()

    asyncio.run(run())


def current_revision(database_url: str) -> str | None:
    """The revision the database is at, or None when it has never been migrated."""

    async def run() -> str | None:
        engine = create_engine(database_url)
        try:
            return await current_revision_engine(engine)
        finally:
            await engine.dispose()

    return asyncio.run(run())
