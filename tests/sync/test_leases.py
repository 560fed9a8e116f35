"""Leases in the store: acquire, renew, release, takeover after expiry with a new generation, the
fence that refuses a stale writer, and wake requests; on SQLite and PostgreSQL, with an injected clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.errors import InvalidInput, StaleLease
from gateway.store.engine import create_engine, session_factory
from gateway.store.jobs import create_job, list_jobs
from gateway.store.leases import (
    acquire,
    check_fence,
    get_lease,
    is_due,
    is_free,
    list_leases,
    release,
    renew,
    request_run,
)
from gateway.store.tables import Direction, JobType
from gateway.sync.fencing import Fence, LeaseFence

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
NAME = "CUSTOMER:erp_to_crm"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[Sessions]:
    """Sessions on a fresh migrated database (SQLite, and PostgreSQL; see tests/store/conftest.py)."""
    engine = create_engine(database_url)
    yield session_factory(engine)
    await engine.dispose()


async def test_first_acquire_creates_generation_one(sessions: Sessions) -> None:
    async with sessions.begin() as s:
        grant = await acquire(s, name=NAME, holder="w1", ttl=15, now=T0)
    assert grant is not None
    assert (grant.name, grant.holder, grant.generation, grant.expires_at) == (NAME, "w1", 1, at(15))
    async with sessions() as s:
        lease = await get_lease(s, name=NAME)
    assert lease is not None and lease.holder == "w1" and lease.generation == 1


async def test_a_held_lease_is_refused_to_others_until_it_expires(sessions: Sessions) -> None:
    async with sessions.begin() as s:
        first = await acquire(s, name=NAME, holder="w1", ttl=15, now=T0)
    async with sessions.begin() as s:
        assert await acquire(s, name=NAME, holder="w2", ttl=15, now=at(14.9)) is None
    async with sessions.begin() as s:
        taken = await acquire(s, name=NAME, holder="w2", ttl=15, now=at(15))
    assert first is not None and taken is not None
    assert taken.holder == "w2" and taken.generation == first.generation + 1


async def test_renew_keeps_the_lease_and_its_generation(sessions: Sessions) -> None:
    async with sessions.begin() as s:
        grant = await acquire(s, name=NAME, holder="w1", ttl=15, now=T0)
    assert grant is not None
    # Renewed every 5 s, the lease outlives many TTLs and nobody else gets it.
    for step in range(1, 10):
        async with sessions.begin() as s:
            expires = await renew(
                s, name=NAME, holder="w1", generation=grant.generation, ttl=15, now=at(5 * step)
            )
        assert expires == at(5 * step + 15)
        async with sessions.begin() as s:
            assert await acquire(s, name=NAME, holder="w2", ttl=15, now=at(5 * step + 1)) is None
    async with sessions() as s:
        await check_fence(s, name=NAME, generation=grant.generation, now=at(50))
        lease = await get_lease(s, name=NAME)
    assert lease is not None and lease.generation == grant.generation and lease.holder == "w1"


async def test_renew_after_expiry_or_takeover_is_refused(sessions: Sessions) -> None:
    async with sessions.begin() as s:
        grant = await acquire(s, name=NAME, holder="w1", ttl=15, now=T0)
    assert grant is not None
    with pytest.raises(StaleLease):
        async with sessions.begin() as s:
            await renew(s, name=NAME, holder="w1", generation=grant.generation, ttl=15, now=at(15))
    async with sessions.begin() as s:
        assert await acquire(s, name=NAME, holder="w2", ttl=15, now=at(16)) is not None
    with pytest.raises(StaleLease):
        async with sessions.begin() as s:
            await renew(s, name=NAME, holder="w1", generation=grant.generation, ttl=15, now=at(17))


async def test_reacquire_by_the_same_holder_fences_its_older_run(sessions: Sessions) -> None:
    async with sessions.begin() as s:
        old = await acquire(s, name=NAME, holder="w1", ttl=15, now=T0)
    async with sessions.begin() as s:
        new = await acquire(s, name=NAME, holder="w1", ttl=15, now=at(1))
    assert old is not None and new is not None and new.generation == old.generation + 1
    async with sessions() as s:
        with pytest.raises(StaleLease):
            await check_fence(s, name=NAME, generation=old.generation, now=at(2))
        await check_fence(s, name=NAME, generation=new.generation, now=at(2))


async def test_a_stale_writer_is_rejected_at_the_fence(sessions: Sessions) -> None:
    """w1 stalls past its TTL, w2 takes over; w1's next commit is refused, w2's goes through."""
    async with sessions.begin() as s:
        stale = await acquire(s, name=NAME, holder="w1", ttl=15, now=T0)
    async with sessions.begin() as s:
        current = await acquire(s, name=NAME, holder="w2", ttl=15, now=at(20))
    assert stale is not None and current is not None
    stale_fence: Fence = LeaseFence(NAME, stale.generation, clock=lambda: at(21))
    current_fence: Fence = LeaseFence(NAME, current.generation, clock=lambda: at(21))

    with pytest.raises(StaleLease, match="generation"):
        async with sessions.begin() as s:
            await create_job(s, mapping="CUSTOMER", direction=Direction.ERP_TO_CRM, type=JobType.SYNC)
            await stale_fence.check(s)
    async with sessions.begin() as s:
        await current_fence.check(s)
    async with sessions() as s:
        # The stale writer's transaction rolled back with the refusal: its row never landed.
        assert await list_jobs(s, mapping="CUSTOMER") == []


async def test_an_expired_lease_fails_the_fence_even_before_a_takeover(sessions: Sessions) -> None:
    async with sessions.begin() as s:
        grant = await acquire(s, name=NAME, holder="w1", ttl=15, now=T0)
    assert grant is not None
    async with sessions() as s:
        await check_fence(s, name=NAME, generation=grant.generation, now=at(14))
        with pytest.raises(StaleLease, match="expired"):
            await check_fence(s, name=NAME, generation=grant.generation, now=at(15))
        with pytest.raises(StaleLease, match="does not exist"):
            await check_fence(s, name="ITEM:erp_to_crm", generation=1, now=at(1))


async def test_release_frees_the_lease_and_schedules_the_next_run(sessions: Sessions) -> None:
    async with sessions.begin() as s:
        grant = await acquire(s, name=NAME, holder="w1", ttl=15, now=T0)
    assert grant is not None
    async with sessions.begin() as s:
        assert await release(
            s, name=NAME, holder="w1", generation=grant.generation, next_due_at=at(32), now=at(2)
        )
    async with sessions.begin() as s:
        # Free, but not due: a scheduler asking only for due leases gets nothing yet.
        assert await acquire(s, name=NAME, holder="w2", ttl=15, now=at(3), only_if_due=True) is None
    async with sessions.begin() as s:
        due = await acquire(s, name=NAME, holder="w2", ttl=15, now=at(32), only_if_due=True)
    assert due is not None and due.generation == grant.generation + 1
    async with sessions.begin() as s:
        # Releasing a lease someone else holds now changes nothing.
        assert not await release(s, name=NAME, holder="w1", generation=grant.generation, now=at(33))
    async with sessions() as s:
        await check_fence(s, name=NAME, generation=due.generation, now=at(33))


async def test_a_renewal_landing_after_the_release_does_not_take_the_lease_back(sessions: Sessions) -> None:
    # The scheduler reads its clock, then queues for the write lock behind the run's own transactions;
    # the run finishes and releases meanwhile. Its renewal, stamped earlier than the release, must not
    # hold the released lease for another TTL (the demo's 15 s propagation outliers).
    async with sessions.begin() as s:
        grant = await acquire(s, name=NAME, holder="w1", ttl=15, now=T0)
    assert grant is not None
    async with sessions.begin() as s:
        assert await release(s, name=NAME, holder="w1", generation=grant.generation, now=at(6))
    async with sessions.begin() as s:
        with pytest.raises(StaleLease):
            await renew(s, name=NAME, holder="w1", generation=grant.generation, ttl=15, now=at(5))
    async with sessions() as s:
        lease = await get_lease(s, name=NAME)
    assert lease is not None and is_free(lease, now=at(6))
    async with sessions.begin() as s:
        assert await acquire(s, name=NAME, holder="w2", ttl=15, now=at(6)) is not None
    async with sessions() as s:
        # A writer still carrying the released generation is told so, not given a 1970 expiry.
        with pytest.raises(StaleLease, match="moved on to generation"):
            await check_fence(s, name=NAME, generation=grant.generation, now=at(7))


async def test_a_released_lease_fails_its_fence(sessions: Sessions) -> None:
    async with sessions.begin() as s:
        grant = await acquire(s, name=NAME, holder="w1", ttl=15, now=T0)
    assert grant is not None
    async with sessions.begin() as s:
        assert await release(s, name=NAME, holder="w1", generation=grant.generation, now=at(2))
    async with sessions() as s:
        with pytest.raises(StaleLease, match="was released"):
            await check_fence(s, name=NAME, generation=grant.generation, now=at(1))


async def test_a_wake_makes_a_free_lease_due_at_once_and_survives_a_running_run(sessions: Sessions) -> None:
    async with sessions.begin() as s:
        await request_run(s, name="ITEM-PRODUCT:crm_to_erp", now=T0)  # creates the row
        grant = await acquire(
            s, name="ITEM-PRODUCT:crm_to_erp", holder="w1", ttl=15, now=at(1), only_if_due=True
        )
    assert grant is not None and grant.generation == 1
    async with sessions.begin() as s:
        await request_run(s, name="ITEM-PRODUCT:crm_to_erp", now=at(2))  # arrives while w1 runs
        await release(
            s, name="ITEM-PRODUCT:crm_to_erp", holder="w1", generation=1, next_due_at=at(300), now=at(3)
        )
    async with sessions() as s:
        (lease,) = await list_leases(s, names=["ITEM-PRODUCT:crm_to_erp"])
    assert is_due(lease, now=at(4))
    async with sessions.begin() as s:
        again = await acquire(
            s, name="ITEM-PRODUCT:crm_to_erp", holder="w2", ttl=15, now=at(4), only_if_due=True
        )
    assert again is not None and again.generation == 2
    async with sessions.begin() as s:
        await release(
            s, name="ITEM-PRODUCT:crm_to_erp", holder="w2", generation=2, next_due_at=at(300), now=at(5)
        )
    async with sessions() as s:
        (lease,) = await list_leases(s, names=["ITEM-PRODUCT:crm_to_erp"])
    assert not is_due(lease, now=at(6))  # the wake was served by w2's run


async def test_bad_arguments_are_refused(sessions: Sessions) -> None:
    async with sessions.begin() as s:
        with pytest.raises(InvalidInput):
            await acquire(s, name=NAME, holder="w1", ttl=0, now=T0)
        with pytest.raises(InvalidInput):
            await acquire(s, name="", holder="w1", ttl=5, now=T0)
        with pytest.raises(InvalidInput):
            await acquire(s, name=NAME, holder="", ttl=5, now=T0)
        with pytest.raises(InvalidInput):
            await acquire(s, name=NAME, holder="w1", ttl=5, now=datetime(2026, 1, 1))


async def test_many_concurrent_acquirers_get_one_grant(database_url: str) -> None:
    """Eight engines (as eight processes would) race for one free lease: exactly one wins each round."""
    engines = [create_engine(database_url) for _ in range(8)]
    try:
        factories = [session_factory(e) for e in engines]
        for round_no in range(3):
            now = at(100 * round_no)

            async def attempt(factory: Sessions, worker: int, now: datetime = now) -> int | None:
                async with factory.begin() as s:
                    grant = await acquire(s, name=NAME, holder=f"w{worker}", ttl=15, now=now)
                return grant.generation if grant else None

            results = await asyncio.gather(*(attempt(f, i) for i, f in enumerate(factories)))
            winners = [g for g in results if g is not None]
            assert winners == [round_no + 1]
    finally:
        for e in engines:
            await e.dispose()


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
async def test_postgres_takeover_waits_for_a_writer_between_check_and_commit(database_url: str) -> None:
    """The fence reads FOR SHARE: a takeover that starts after the check blocks until the writer commits,
    so the writer's commit can never land after a takeover it did not see."""
    engine_a, engine_b = create_engine(database_url), create_engine(database_url)
    try:
        writer_sessions, taker_sessions = session_factory(engine_a), session_factory(engine_b)
        async with writer_sessions.begin() as s:
            grant = await acquire(s, name=NAME, holder="w1", ttl=15, now=T0)
        assert grant is not None
        order: list[str] = []
        async with writer_sessions.begin() as s:
            await check_fence(s, name=NAME, generation=grant.generation, now=at(14))

            async def take_over() -> int | None:
                async with taker_sessions.begin() as t:
                    taken = await acquire(t, name=NAME, holder="w2", ttl=15, now=at(16))
                order.append("takeover")
                return taken.generation if taken else None

            taker = asyncio.create_task(take_over())
            # Wait until the taker's UPDATE is blocked on our row lock (seen from the server, no timing).
            for _ in range(3000):  # up to a minute on a loaded machine; usually a few polls
                # A fresh transaction each time: pg_stat_activity is a snapshot per transaction.
                async with writer_sessions() as probe:
                    waiting = (
                        await probe.exec(
                            text(
                                "SELECT count(*) FROM pg_stat_activity "
                                "WHERE wait_event_type = 'Lock' AND datname = current_database()"
                            )
                        )
                    ).one()[0]
                if waiting or taker.done():
                    break
                await asyncio.sleep(0.02)
            assert not taker.done(), f"the takeover did not wait: {taker.result()}"
            assert waiting == 1
            order.append("writer commit")
        assert await taker == grant.generation + 1
        assert order == ["writer commit", "takeover"]
    finally:
        await engine_a.dispose()
        await engine_b.dispose()
