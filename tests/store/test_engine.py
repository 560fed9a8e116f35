"""The engine: SQLite pragmas, URL checks, concurrent writers, and the statement counter."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlalchemy.pool import QueuePool
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.errors import ConfigurationError
from gateway.store.engine import (
    SQLITE_BUSY_TIMEOUT_MS,
    count_connections,
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


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_sqlite_read_sessions_give_their_connection_back_before_the_task_yields(
    engine: AsyncEngine,
) -> None:
    """SQLAlchemy's `AsyncSession.__aexit__` closes in a task of its own, so the caller yields to the
    loop while its session still holds a connection: 40 concurrent reads held 40 connections and
    the pool opened 39 more (bench/api.py at 50 clients: 30-45 per 300 requests, the slowest
    requests those that waited for one). A SQLite read runs on the loop's thread, and so does its
    close: one connection serves them all."""
    reads = read_session_factory(engine)
    async with reads() as session:  # the pool's first connection, opened before counting
        await session.exec(select(SyncJob))  # type: ignore[call-overload]

    async def read() -> int:
        async with reads() as session:
            rows = (await session.exec(select(SyncJob))).all()  # type: ignore[call-overload]
        await asyncio.sleep(0)  # then the task yields, as a request does between its reads
        return len(rows)

    with count_connections(engine) as pool:
        assert await asyncio.gather(*(read() for _ in range(40))) == [0] * 40
    assert (pool.most_held, pool.created, pool.held) == (1, 0, 0)


async def test_read_sessions_held_across_awaits_all_go_back_to_the_pool(engine: AsyncEngine) -> None:
    """More read sessions at once than the pool keeps (20 on SQLite, 10 on PostgreSQL): the extra
    connections close when their sessions do (through SQLAlchemy's cancellation-proof close, which
    may wait for the driver), and none stays checked out."""
    reads = read_session_factory(engine)
    all_in = asyncio.Event()
    inside = 0

    async def read() -> int:
        nonlocal inside
        async with reads() as session:
            rows = (await session.exec(select(SyncJob))).all()  # type: ignore[call-overload]
            inside += 1
            if inside == 25:
                all_in.set()
            await all_in.wait()  # every session holds its connection across this await
        return len(rows)

    with count_connections(engine) as counted:
        assert await asyncio.gather(*(read() for _ in range(25))) == [0] * 25
    pool = engine.sync_engine.pool
    assert isinstance(pool, QueuePool)
    assert counted.most_held == 25 and counted.held == pool.checkedout() == 0
    assert pool.checkedin() == pool.size() < 25  # the pool kept what it keeps, closed the rest
    assert counted.created >= 25 - pool.size()
