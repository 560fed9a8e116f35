"""Migrations: they build the schema the models describe, and running them again changes nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import gateway.store.leases  # registers the lease table
import gateway.store.read_model  # registers the read-model tables
import gateway.store.tables  # noqa: F401  (registers the tables)
from gateway.store.engine import count_queries, create_engine
from gateway.store.migrate import (
    MIGRATIONS_DIR,
    current_revision,
    current_revision_engine,
    head_revision,
    upgrade,
    upgrade_engine,
)

CORE_TABLES = {"coupling", "sync_job", "job_error", "api_key"}


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, SQLModel.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_head_is_shipped_in_the_package() -> None:
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "versions" / "0001_core.py").is_file()
    # revisions are numbered 0001, 0002, …: the head is the highest number shipped
    shipped = sorted(p.name.split("_", 1)[0] for p in (MIGRATIONS_DIR / "versions").glob("[0-9]*.py"))
    assert head_revision() == shipped[-1]


async def test_upgrade_builds_exactly_the_model_schema(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    try:
        assert await current_revision_engine(engine) is None
        await upgrade_engine(engine)
        assert await current_revision_engine(engine) == head_revision()
        async with engine.connect() as connection:
            assert await connection.run_sync(_tables) >= CORE_TABLES
            assert await connection.run_sync(_diff) == []
    finally:
        await engine.dispose()


async def test_upgrade_twice_is_a_no_op(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    try:
        await upgrade_engine(engine)
        with count_queries(engine) as counter:
            await upgrade_engine(engine)
        ddl = [s for s in counter.statements if s.lstrip().upper().startswith(("CREATE", "ALTER", "DROP"))]
        assert ddl == []
        assert await current_revision_engine(engine) == head_revision()
    finally:
        await engine.dispose()


async def test_model_drift_is_detected(empty_database_url: str) -> None:
    """The no-diff check above can fail: a schema missing one index shows up as a difference."""
    engine = create_engine(empty_database_url)
    try:
        await upgrade_engine(engine)
        async with engine.begin() as connection:
            await connection.exec_driver_sql("DROP INDEX ix_coupling_mapping_state")
        async with engine.connect() as connection:
            diff = await connection.run_sync(_diff)
        assert [entry[0] for entry in diff] == ["add_index"]
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_sync_entry_points_for_the_cli(empty_database_url: str) -> None:
    """`upgrade`/`current_revision` run their own event loop, as the CLI calls them."""

    def run() -> tuple[str | None, str | None]:
        before = current_revision(empty_database_url)
        upgrade(empty_database_url)
        upgrade(empty_database_url)
        return before, current_revision(empty_database_url)

    assert await asyncio.to_thread(run) == (None, head_revision())


async def test_upgrade_creates_the_directory_of_a_file_database(tmp_path: Any) -> None:
    path = tmp_path / "nested" / "dir" / "gateway.db"
    url = f"sqlite+aiosqlite:///{path}"
    await asyncio.to_thread(upgrade, url)
    assert path.is_file()
    assert await asyncio.to_thread(current_revision, url) == head_revision()
