"""The engine: SQLite pragmas, URL checks, concurrent writers, and the statement counter."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.errors import ConfigurationError
from gateway.store.engine import (
    SQLITE_BUSY_TIMEOUT_MS,
    count_queries,
    create_engine,
    is_sqlite,
    read_session_factory,
    session_factory,
)
from gateway.store.tables import SyncJob


async def _scalar(engine: AsyncEngine, sql: str) -> object:
    async with engine.connect() as connection:
        return (await connection.execute(text(sql))).scalar_one()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_sqlite_runs_in_wal_with_a_busy_timeout_and_foreign_keys(engine: AsyncEngine) -> None:
    assert str(await _scalar(engine, "PRAGMA journal_mode")).lower() == "wal"
    assert await _scalar(engine, "PRAGMA busy_timeout") == SQLITE_BUSY_TIMEOUT_MS
    assert await _scalar(engine, "PRAGMA foreign_keys") == 1


async def test_foreign_keys_are_enforced(sessions: async_sessionmaker[AsyncSession]) -> None:
    from sqlalchemy.exc import IntegrityError

    from gateway.store.tables import JobError

    async with sessions() as session:
        session.add(JobError(job_id="no-such-job", mapping="CUSTOMER", reason="x"))
        with pytest.raises(IntegrityError):
            await session.commit()


def test_unsupported_urls_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError) as caught:
        create_engine("mysql+aiomysql://localhost/db")
    assert caught.value.setting == "GATEWAY_DATABASE_URL"
    with pytest.raises(ConfigurationError):
        create_engine("not a url")
    for in_memory in ("sqlite+aiosqlite://", "sqlite+aiosqlite:///:memory:"):
        with pytest.raises(ConfigurationError) as caught:
            create_engine(in_memory)
        assert "in-memory" in str(caught.value)


async def test_default_style_relative_url_creates_its_directory(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    engine = create_engine("sqlite+aiosqlite:///./var/gateway.db")
    try:
        assert is_sqlite(engine)
        assert await _scalar(engine, "SELECT 1") == 1
    finally:
        await engine.dispose()
    assert (tmp_path / "var" / "gateway.db").is_file()


async def test_count_queries_counts_statements_not_transaction_control(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    with count_queries(engine) as counter:
        async with sessions() as session:
            session.add(SyncJob(mapping="CUSTOMER", direction="erp_to_crm", type="sync"))
            await session.commit()
            await session.exec(select(SyncJob))
            await session.exec(select(SyncJob).where(SyncJob.mapping == "ITEM"))
    assert counter.count == 3
    assert counter.statements[0].lstrip().upper().startswith("INSERT")
    # After the block the listener is gone.
    async with sessions() as session:
        await session.exec(select(SyncJob))
    assert counter.count == 3


async def test_concurrent_short_writers_do_not_fail(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Many tasks that read then write in short transactions: none gets "database is locked"."""
    writers, rounds = 8, 15

    async def writer(number: int) -> None:
        for round_ in range(rounds):
            async with sessions() as session:
                # Read first, then write: the pattern that fails under deferred SQLite transactions.
                await session.exec(select(SyncJob).where(SyncJob.mapping == f"M{number}"))
                session.add(
                    SyncJob(mapping=f"M{number}", direction="erp_to_crm", type="sync", message=str(round_))
                )
                await session.commit()

    await asyncio.gather(*(writer(n) for n in range(writers)))
    async with sessions() as session:
        rows = (await session.exec(select(SyncJob))).all()
    assert len(rows) == writers * rounds


async def test_writers_serialize_only_on_sqlite(
    sessions: async_sessionmaker[AsyncSession], backend: str
) -> None:
    from gateway.store.engine import writers_serialize

    assert writers_serialize(sessions) is (backend == "sqlite")


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_sqlite_reads_run_on_the_loop_thread_and_writes_on_the_driver_thread(
    engine: AsyncEngine,
) -> None:
    def with_thread_function(dbapi_connection: Any, _record: Any) -> None:
        # evaluated by SQLite itself, so it names the thread the statement really runs on
        dbapi_connection.create_function("gw_thread", 0, threading.get_ident)

    await engine.dispose()  # every connection from here on is new and has the function
    event.listen(engine.sync_engine, "connect", with_thread_function)
    ask = text("SELECT gw_thread()")
    loop_thread = threading.get_ident()
    try:
        for _ in range(3):  # both kinds of transaction, alternating on the same pooled connection
            async with session_factory(engine)() as session:  # a writer: may wait for the lock
                session.add(SyncJob(mapping="CUSTOMER", direction="erp_to_crm", type="sync"))
                write_thread = (await session.exec(ask)).scalar_one()  # type: ignore[call-overload]
                await session.commit()
            async with read_session_factory(engine)() as session:
                read_thread = (await session.exec(ask)).scalar_one()  # type: ignore[call-overload]
                assert len((await session.exec(select(SyncJob))).all()) >= 1
            assert read_thread == loop_thread
            assert write_thread != loop_thread
    finally:
        event.remove(engine.sync_engine, "connect", with_thread_function)
