"""Several leases held together (an admin's full sync): all-or-nothing, renewed while held, released
due at once, and a fence over all of them that refuses a writer once any one has moved on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.errors import StaleLease
from gateway.store.engine import create_engine, session_factory
from gateway.store.leases import acquire, get_lease, is_due, is_free
from gateway.sync.leases import hold_leases

Sessions = async_sessionmaker[AsyncSession]
NAMES = ["CUSTOMER:erp_to_crm", "CUSTOMER:crm_to_erp", "ITEM-PRODUCT:erp_to_crm"]


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[Sessions]:
    engine = create_engine(database_url)
    yield session_factory(engine)
    await engine.dispose()


@dataclass
class FakeClock:
    now: datetime = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def test_all_are_held_then_released_due_at_once(sessions: Sessions) -> None:
    clock = FakeClock()
    async with hold_leases(sessions, names=NAMES, holder="w1/full", clock=clock) as held:
        assert held is not None and set(held.grants) == set(NAMES)
        async with sessions.begin() as s:
            assert await acquire(s, name=NAMES[0], holder="w2", ttl=15, now=clock()) is None
            await held.fence().check(s)
            await held.fence_for_mapping("CUSTOMER").check(s)
        assert len(held.fence_for_mapping("CUSTOMER").fences) == 2  # type: ignore[attr-defined]
    async with sessions() as s:
        for name in NAMES:
            lease = await get_lease(s, name=name)
            assert lease is not None and is_free(lease, now=clock()) and is_due(lease, now=clock())


async def test_one_busy_lease_means_none_are_taken(sessions: Sessions) -> None:
    clock = FakeClock()
    async with sessions.begin() as s:
        assert await acquire(s, name="ITEM-PRODUCT:erp_to_crm", holder="scheduler", ttl=15, now=clock())
    async with hold_leases(sessions, names=NAMES, holder="w1/full", clock=clock) as held:
        assert held is None
    async with sessions() as s:
        for name in ("CUSTOMER:erp_to_crm", "CUSTOMER:crm_to_erp"):
            lease = await get_lease(s, name=name)
            assert lease is not None and is_free(lease, now=clock())  # handed back at once


async def test_the_fence_refuses_once_any_lease_moved_on(sessions: Sessions) -> None:
    clock = FakeClock()
    async with hold_leases(sessions, names=NAMES, holder="w1/full", clock=clock, renew_every=3600) as held:
        assert held is not None
        clock.now += timedelta(seconds=16)  # no renewal came: the leases expired
        async with sessions.begin() as s:
            assert await acquire(s, name="CUSTOMER:crm_to_erp", holder="w2", ttl=15, now=clock())
        async with sessions() as s:
            with pytest.raises(StaleLease, match="generation 2"):
                await held.fence_for_mapping("CUSTOMER").check(s)  # taken over
            with pytest.raises(StaleLease, match="expired"):
                await held.fence_for_mapping("ITEM-PRODUCT").check(s)  # expired, not yet taken


async def test_background_renewal_keeps_them_and_reports_a_loss(sessions: Sessions) -> None:
    clock = FakeClock()
    async with hold_leases(
        sessions, names=NAMES[:1], holder="w1/full", clock=clock, ttl=15, renew_every=0.01
    ) as held:
        assert held is not None
        for _ in range(5):  # each step lies within the TTL of the last renewal, which must have happened
            async with sessions() as s:
                before = await get_lease(s, name=NAMES[0])
            assert before is not None
            clock.now += timedelta(seconds=10)
            async with asyncio.timeout(30):
                while True:
                    async with sessions() as s:
                        lease = await get_lease(s, name=NAMES[0])
                    assert lease is not None
                    if lease.renewed_at == clock.now:
                        break
                    await asyncio.sleep(0.01)
        assert not held.lost.is_set()
        # Now another worker takes it over behind our back (our clock jumped past the TTL).
        async with sessions.begin() as s:
            await acquire(s, name=NAMES[0], holder="w2", ttl=15, now=clock.now + timedelta(seconds=15))
        async with asyncio.timeout(30):
            await held.lost.wait()
