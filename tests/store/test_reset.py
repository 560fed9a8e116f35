"""Clearing a store's synchronization for a demo restart: everything the last run learned goes, the
API keys stay, and a store that never synchronized is left alone."""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.domain import Role
from gateway.store import jobs
from gateway.store.api_keys import create_api_key, list_api_keys
from gateway.store.couplings import create_coupling
from gateway.store.reset import clear_synchronization
from gateway.store.tables import Coupling, SyncJob


async def _count(sessions: async_sessionmaker[AsyncSession], table: type) -> int:
    async with sessions() as session:
        return int((await session.exec(select(func.count()).select_from(table))).one())


async def test_a_synchronized_store_keeps_only_its_keys(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions.begin() as session:
        await create_api_key(session, role=Role.SALES, salesperson_code="EW", name="kept")
        await create_coupling(session, mapping="CUSTOMER", erp_id="e1", crm_id="c1", erp_key="C1")
    assert not await clear_synchronization(engine)  # no job ran: nothing to forget
    assert await _count(sessions, Coupling) == 1

    async with sessions.begin() as session:
        await jobs.create_job(session, mapping="CUSTOMER", direction="erp_to_crm", type="full")
    assert await clear_synchronization(engine)
    assert (await _count(sessions, Coupling), await _count(sessions, SyncJob)) == (0, 0)
    async with sessions() as session:
        assert [k.name for k in await list_api_keys(session)] == ["kept"]
    assert not await clear_synchronization(engine)
