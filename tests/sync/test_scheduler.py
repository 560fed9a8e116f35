"""The scheduler over real leases on SQLite and PostgreSQL: intervals, one runner per mapping-direction
across workers, takeover of a dead worker's lease, renewal, lost leases, wakes and graceful stop.

Workers are separate engines on one database, as separate processes would be; an injected clock moves
lease time, and assertions are about counts and generations, never about how long anything took.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.errors import StaleLease
from gateway.store import jobs
from gateway.store.engine import create_engine, session_factory
from gateway.store.leases import get_lease, is_free
from gateway.store.types import utcnow
from gateway.sync.fencing import Fence, LeaseFence
from gateway.sync.scheduler import Scheduled, Scheduler, request_sync

Sessions = async_sessionmaker[AsyncSession]
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CUSTOMER = Scheduled("CUSTOMER", "erp_to_crm", 30)
ITEMS = Scheduled("ITEM-PRODUCT", "crm_to_erp", None)


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[Sessions]:
    """Sessions on a fresh migrated database (SQLite, and PostgreSQL; see tests/store/conftest.py)."""
    engine = create_engine(database_url)
    yield session_factory(engine)
    await engine.dispose()


@dataclass
class FakeClock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Call:
    mapping: str
    direction: str
    job_type: str
    fence: Fence


@dataclass
class Runner:
    """Records runs; commits through the fence like the sync engine; can be held open by a test."""

    sessions: Sessions
    calls: list[Call] = field(default_factory=list)
    hold: asyncio.Event | None = None
    fail: bool = False
    commits: int = 0
    refused: int = 0
    active: dict[str, int] = field(default_factory=dict)
    peak: dict[str, int] = field(default_factory=dict)
    started: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, *, mapping: str, direction: str, job_type: str = "sync", fence: Fence) -> object:
        key = f"{mapping}:{direction}"
        self.calls.append(Call(mapping, direction, job_type, fence))
        self.active[key] = self.active.get(key, 0) + 1
        self.peak[key] = max(self.peak.get(key, 0), self.active[key])
        self.started.set()
        try:
            if self.hold is not None:
                await self.hold.wait()
            else:
                await asyncio.sleep(0)
            if self.fail:
                raise RuntimeError("upstream said no")
            try:
                async with self.sessions.begin() as session:
                    await fence.check(session)
                self.commits += 1
            except StaleLease:
                self.refused += 1
                raise
            return None
        finally:
            self.active[key] -= 1


def scheduler(
    sessions: Sessions, runner: Runner, worker: str, clock: Callable[[], datetime], **kwargs: object
) -> Scheduler:
    defaults: dict[str, object] = {"interval_default": 60, "lease_ttl": 15}
    defaults.update(kwargs)
    return Scheduler(
        sessions=sessions,
        runner=runner,
        worker_id=worker,
        schedule=lambda: [CUSTOMER, ITEMS],
        clock=clock,
        **defaults,  # type: ignore[arg-type]
    )


@pytest.fixture
async def second_sessions(database_url: str) -> AsyncIterator[Sessions]:
    """A second engine on the same database: another worker process's view."""
    engine = create_engine(database_url)
    yield session_factory(engine)
    await engine.dispose()


async def test_each_due_mapping_runs_once_then_waits_for_its_interval(sessions: Sessions) -> None:
    clock = FakeClock()
    runner = Runner(sessions)
    s = scheduler(sessions, runner, "w1", clock)
    assert sorted(await s.tick()) == ["CUSTOMER:erp_to_crm", "ITEM-PRODUCT:crm_to_erp"]
    await s.drain()
    assert runner.commits == 2 and s.stats.succeeded == 2
    assert {(c.mapping, c.direction, c.job_type) for c in runner.calls} == {
        ("CUSTOMER", "erp_to_crm", "sync"),
        ("ITEM-PRODUCT", "crm_to_erp", "sync"),
    }
    clock.advance(29)
    assert await s.tick() == []
    clock.advance(1)
    assert await s.tick() == ["CUSTOMER:erp_to_crm"]  # its own 30 s interval
    await s.drain()
    clock.advance(30)
    assert sorted(await s.tick()) == ["CUSTOMER:erp_to_crm", "ITEM-PRODUCT:crm_to_erp"]  # default 60 s
    await s.drain()
    assert s.stats.by_lease == {"CUSTOMER:erp_to_crm": 3, "ITEM-PRODUCT:crm_to_erp": 2}


async def test_two_workers_never_run_the_same_mapping_direction_at_once(
    sessions: Sessions, second_sessions: Sessions
) -> None:
    clock = FakeClock()
    hold = asyncio.Event()
    runner_a, runner_b = Runner(sessions, hold=hold), Runner(second_sessions, hold=hold)
    a = scheduler(sessions, runner_a, "a", clock)
    b = scheduler(second_sessions, runner_b, "b", clock)
    assert len(await a.tick()) == 2
    for _ in range(3):
        clock.advance(4)
        await a.renew()
        assert await b.tick() == []  # held by a
    hold.set()
    await a.drain()
    assert await b.tick() == []  # released, but not due before the interval
    clock.advance(60)
    assert len(await b.tick()) == 2
    assert await a.tick() == []
    await b.drain()
    assert runner_a.commits == 2 and runner_b.commits == 2
    assert max(runner_a.peak.values()) == max(runner_b.peak.values()) == 1


async def test_a_dead_workers_lease_is_taken_over_after_its_ttl(
    sessions: Sessions, second_sessions: Sessions
) -> None:
    clock = FakeClock()
    stuck = asyncio.Event()
    runner_a, runner_b = Runner(sessions, hold=stuck), Runner(second_sessions)
    a = scheduler(sessions, runner_a, "a", clock, lease_ttl=15)
    b = scheduler(second_sessions, runner_b, "b", clock, lease_ttl=15)
    await a.tick()  # then a "dies": no more renewals
    clock.advance(14.9)
    assert await b.tick() == []
    clock.advance(0.2)  # 15.1 s after a's last renewal: well within the 30 s promise
    assert len(await b.tick()) == 2
    await b.drain()
    assert runner_b.commits == 2
    generations = {c.mapping: c.fence for c in runner_b.calls}
    async with sessions() as session:
        lease = await get_lease(session, name="CUSTOMER:erp_to_crm")
    assert lease is not None and isinstance(generations["CUSTOMER"], LeaseFence)
    assert generations["CUSTOMER"].generation == 2
    # The zombie wakes up and tries to commit: the fence refuses it, its release changes nothing.
    stuck.set()
    await a.drain()
    assert runner_a.refused == 2 and runner_a.commits == 0 and a.stats.lost == 2
    async with sessions() as session:
        lease = await get_lease(session, name="CUSTOMER:erp_to_crm")
    assert lease is not None and lease.holder == "b" and lease.generation == 2


async def test_renewal_keeps_a_long_run_its_lease(sessions: Sessions, second_sessions: Sessions) -> None:
    clock = FakeClock()
    hold = asyncio.Event()
    runner_a = Runner(sessions, hold=hold)
    a = scheduler(sessions, runner_a, "a", clock, lease_ttl=15)
    b = scheduler(second_sessions, Runner(second_sessions), "b", clock, lease_ttl=15)
    await a.tick()
    for _ in range(40):  # 200 s of run time, renewed every 5 s
        clock.advance(5)
        await a.renew()
        assert await b.tick() == []
    hold.set()
    await a.drain()
    assert runner_a.commits == 2 and a.stats.lost == 0


async def test_a_lost_lease_cancels_its_run(sessions: Sessions, second_sessions: Sessions) -> None:
    clock = FakeClock()
    runner_a = Runner(sessions, hold=asyncio.Event())
    runner_b = Runner(second_sessions)
    a = scheduler(sessions, runner_a, "a", clock)
    b = scheduler(second_sessions, runner_b, "b", clock)
    await a.tick()
    await runner_a.started.wait()
    clock.advance(20)  # a missed its renewals (a long GC pause, a network partition)
    assert len(await b.tick()) == 2
    await a.renew()  # finds the leases gone and cancels both runs
    await a.drain()
    assert a.stats.lost == 2 and runner_a.commits == 0 and a.running == []
    await b.drain()
    assert runner_b.commits == 2


async def test_wake_runs_before_the_interval_and_carries_the_job_type(sessions: Sessions) -> None:
    clock = FakeClock()
    runner = Runner(sessions)
    s = scheduler(sessions, runner, "w1", clock)
    await s.tick()
    await s.drain()
    clock.advance(1)
    assert await s.tick() == []
    s.wake("ITEM-PRODUCT", "crm_to_erp", job_type="full")
    assert await s.tick() == ["ITEM-PRODUCT:crm_to_erp"]
    await s.drain()
    assert runner.calls[-1].job_type == "full"
    clock.advance(1)
    assert await s.tick() == []  # the wake was served once


class WakeMidTick:
    """The store's sessions, except that the next `begin()` first delivers a wake: a webhook landing
    while a tick awaits the store."""

    def __init__(self, inner: Sessions) -> None:
        self.inner = inner
        self.pending: tuple[Scheduler, str, str] | None = None

    def __call__(self) -> AsyncSession:
        return self.inner()

    def begin(self) -> object:
        if self.pending is not None:
            target, mapping, direction = self.pending
            self.pending = None
            target.wake(mapping, direction)
        return self.inner.begin()


async def test_a_wake_arriving_while_a_tick_awaits_the_store_is_served_by_the_next_tick(
    sessions: Sessions,
) -> None:
    clock = FakeClock()
    runner = Runner(sessions)
    hooked = WakeMidTick(sessions)
    s = scheduler(hooked, runner, "w1", clock)  # type: ignore[arg-type]
    await s.tick()
    await s.drain()
    clock.advance(1)
    hooked.pending = (s, "CUSTOMER", "erp_to_crm")
    assert await s.tick() == []  # it had taken its wakes before this one landed
    assert await s.tick() == ["CUSTOMER:erp_to_crm"]  # kept, not cleared with the served ones
    await s.drain()
    assert s.stats.by_lease["CUSTOMER:erp_to_crm"] == 2


class RenewAfterNextCommit:
    """The store's sessions, except that right after the next transaction commits the scheduler
    renews its leases: a renewal landing between a finished run's release and its forgetting."""

    def __init__(self, inner: Sessions) -> None:
        self.inner = inner
        self.target: Scheduler | None = None

    def __call__(self) -> AsyncSession:
        return self.inner()

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncSession]:
        target, self.target = self.target, None
        async with self.inner.begin() as session:
            yield session
        if target is not None:
            await target.renew()


async def test_a_renewal_during_a_finished_runs_release_does_not_call_it_lost(
    sessions: Sessions, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    hold = asyncio.Event()
    runner = Runner(sessions, hold=hold)
    hooked = RenewAfterNextCommit(sessions)
    s = Scheduler(
        sessions=hooked,  # type: ignore[arg-type]
        runner=runner,
        worker_id="w1",
        schedule=lambda: [CUSTOMER],
        clock=clock,
        lease_ttl=15,
    )
    assert await s.tick() == ["CUSTOMER:erp_to_crm"]
    await runner.started.wait()
    hooked.target = s  # the run's next store transaction is its release
    hold.set()
    await s.drain()
    assert (s.stats.succeeded, s.stats.lost, s.stats.cancelled) == (1, 0, 0)
    assert not [r for r in caplog.records if "lost" in r.getMessage()]


class ReleaseBeforeNextTransaction:
    """The store's sessions, except that the next transaction first waits for `before`: a renewal
    whose clock and snapshot of the runs were taken while a run was going, and whose UPDATE reaches
    the store only after that run finished and released its lease (on SQLite it queues for the write
    lock behind the run's own transactions)."""

    def __init__(self, inner: Sessions) -> None:
        self.inner = inner
        self.before: Callable[[], Awaitable[None]] | None = None

    def __call__(self) -> AsyncSession:
        return self.inner()

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncSession]:
        before, self.before = self.before, None
        if before is not None:
            await before()
        async with self.inner.begin() as session:
            yield session


async def test_a_renewal_that_lands_after_the_release_leaves_the_lease_free_for_the_next_wake(
    sessions: Sessions,
) -> None:
    clock = FakeClock()
    hold = asyncio.Event()
    runner = Runner(sessions, hold=hold)
    hooked = ReleaseBeforeNextTransaction(sessions)
    s = Scheduler(
        sessions=hooked,  # type: ignore[arg-type]
        runner=runner,
        worker_id="w1",
        schedule=lambda: [CUSTOMER],
        clock=clock,
        lease_ttl=15,
    )
    assert await s.tick() == ["CUSTOMER:erp_to_crm"]
    await runner.started.wait()
    clock.advance(5)

    async def finish_and_release() -> None:
        clock.advance(1)  # the release is stamped after the renewal read the clock
        hold.set()
        await s.drain()

    hooked.before = finish_and_release
    await s.renew()  # snapshot and clock from before the release, its UPDATE after it
    assert (s.stats.succeeded, s.stats.lost, s.stats.cancelled) == (1, 0, 0)
    s.wake("CUSTOMER", "erp_to_crm")  # the next change's notification
    clock.advance(1)
    assert await s.tick() == ["CUSTOMER:erp_to_crm"]  # not held by the late renewal for another TTL
    hold.set()
    await s.drain()
    assert s.stats.by_lease["CUSTOMER:erp_to_crm"] == 2


async def test_a_wake_from_another_process_reaches_a_free_worker(
    sessions: Sessions, second_sessions: Sessions
) -> None:
    clock = FakeClock()
    hold = asyncio.Event()
    runner = Runner(sessions, hold=hold)
    s = scheduler(sessions, runner, "w1", clock)
    await s.tick()
    await runner.started.wait()
    # A webhook lands in a web process while the run is in progress: the run must be repeated after it.
    clock.advance(0.5)
    await request_sync(second_sessions, mapping="CUSTOMER", direction="erp_to_crm", now=clock())
    hold.set()
    await s.drain()
    clock.advance(1)
    assert await s.tick() == ["CUSTOMER:erp_to_crm"]
    await s.drain()
    assert s.stats.by_lease["CUSTOMER:erp_to_crm"] == 2


async def test_a_failing_run_releases_its_lease_and_the_schedule_goes_on(sessions: Sessions) -> None:
    clock = FakeClock()
    runner = Runner(sessions, fail=True)
    s = scheduler(sessions, runner, "w1", clock)
    await s.tick()
    await s.drain()
    assert s.stats.failed == 2
    async with sessions() as session:
        lease = await get_lease(session, name="CUSTOMER:erp_to_crm")
    assert lease is not None and is_free(lease, now=clock())
    clock.advance(30)
    runner.fail = False
    assert await s.tick() == ["CUSTOMER:erp_to_crm"]
    await s.drain()
    assert runner.commits == 1


async def test_max_runs_leaves_work_for_other_workers(sessions: Sessions, second_sessions: Sessions) -> None:
    clock = FakeClock()
    hold = asyncio.Event()
    a = scheduler(sessions, Runner(sessions, hold=hold), "a", clock, max_runs=1)
    b = scheduler(second_sessions, Runner(second_sessions, hold=hold), "b", clock, max_runs=1)
    assert len(await a.tick()) == 1
    assert len(await b.tick()) == 1
    assert set(a.running) | set(b.running) == {CUSTOMER.lease, ITEMS.lease}
    hold.set()
    await a.drain()
    await b.drain()


async def test_serving_workers_share_the_schedule_without_overlap(
    sessions: Sessions, second_sessions: Sessions, database_url: str
) -> None:
    """Three real serve() loops on the real clock with interval 0: runs pile up as fast as they can,
    and still no mapping-direction ever runs twice at once; every run's commit passes its fence."""
    engine = create_engine(database_url)
    try:
        third_sessions = session_factory(engine)
        pools = [sessions, second_sessions, third_sessions]
        peak: dict[str, int] = {}
        active: dict[str, int] = {}

        enough = asyncio.Event()
        total = 0

        class Shared(Runner):
            async def run(
                self, *, mapping: str, direction: str, job_type: str = "sync", fence: Fence
            ) -> object:
                nonlocal total
                key = f"{mapping}:{direction}"
                active[key] = active.get(key, 0) + 1  # across all workers
                peak[key] = max(peak.get(key, 0), active[key])
                try:
                    await asyncio.sleep(0.005)
                    return await super().run(
                        mapping=mapping, direction=direction, job_type=job_type, fence=fence
                    )
                finally:
                    active[key] -= 1
                    total += 1
                    if total >= 40:
                        enough.set()

        runners = [Shared(p) for p in pools]
        both = [Scheduled("CUSTOMER", "erp_to_crm", 0), Scheduled("ITEM-PRODUCT", "crm_to_erp", 0)]
        workers = [
            Scheduler(
                sessions=p,
                runner=r,
                worker_id=f"w{i}",
                schedule=lambda: both,
                interval_default=0,
                lease_ttl=10,
                poll_seconds=0.005,
            )
            for i, (p, r) in enumerate(zip(pools, runners, strict=True))
        ]
        serving = [asyncio.create_task(w.serve()) for w in workers]
        async with asyncio.timeout(120):
            await enough.wait()
        for w in workers:
            w.stop()
        await asyncio.gather(*serving)
        assert peak == {"CUSTOMER:erp_to_crm": 1, "ITEM-PRODUCT:crm_to_erp": 1}
        assert sum(r.refused for r in runners) == 0
        assert all(w.running == [] for w in workers)
        async with sessions() as session:
            for name in ("CUSTOMER:erp_to_crm", "ITEM-PRODUCT:crm_to_erp"):
                lease = await get_lease(session, name=name)
                assert lease is not None and is_free(lease, now=utcnow())
    finally:
        await engine.dispose()


async def test_graceful_stop_lets_the_running_run_finish(sessions: Sessions) -> None:
    hold = asyncio.Event()
    runner = Runner(sessions, hold=hold)
    s = Scheduler(
        sessions=sessions,
        runner=runner,
        worker_id="w1",
        schedule=lambda: [CUSTOMER],
        lease_ttl=10,
        poll_seconds=0.01,
    )
    serving = asyncio.create_task(s.serve())
    await runner.started.wait()
    s.stop()
    await asyncio.sleep(0.05)
    assert not serving.done()  # still waiting for the run
    hold.set()
    await serving
    assert runner.commits == 1 and s.stats.succeeded == 1 and s.stats.cancelled == 0
    async with sessions() as session:
        lease = await get_lease(session, name=CUSTOMER.lease)
    assert lease is not None and is_free(lease, now=utcnow())  # released at once, not left to expire


async def test_stop_grace_cancels_a_run_that_does_not_finish(sessions: Sessions) -> None:
    runner = Runner(sessions, hold=asyncio.Event())
    s = Scheduler(
        sessions=sessions,
        runner=runner,
        worker_id="w1",
        schedule=lambda: [CUSTOMER],
        lease_ttl=10,
        poll_seconds=0.01,
        stop_grace_seconds=0.05,
    )
    serving = asyncio.create_task(s.serve())
    await runner.started.wait()
    s.stop()
    await serving
    assert s.stats.cancelled == 1 and runner.commits == 0 and s.running == []
    async with sessions() as session:
        lease = await get_lease(session, name=CUSTOMER.lease)
    assert lease is not None and is_free(lease, now=utcnow())  # handed back, not left to expire


async def test_taking_over_a_dead_workers_lease_abandons_the_jobs_it_left_running(
    sessions: Sessions, second_sessions: Sessions
) -> None:
    clock = FakeClock()
    stuck = asyncio.Event()
    runner_a, runner_b = Runner(sessions, hold=stuck), Runner(second_sessions)
    a = scheduler(sessions, runner_a, "a", clock, lease_ttl=15)
    b = scheduler(second_sessions, runner_b, "b", clock, lease_ttl=15)
    await a.tick()
    async with sessions.begin() as session:  # the job rows a's runs opened before it was killed
        left = {
            (mapping, direction): (
                await jobs.create_job(
                    session, mapping=mapping, direction=direction, type="sync", status="running"
                )
            ).id
            for mapping, direction in [
                (CUSTOMER.mapping, CUSTOMER.direction),
                (ITEMS.mapping, ITEMS.direction),
            ]
        }
        # Another direction of the mapping, under a lease nobody took over: not ours to judge.
        other = await jobs.create_job(
            session, mapping="CUSTOMER", direction="crm_to_erp", type="full", status="running"
        )
    clock.advance(15.1)
    assert len(await b.tick()) == 2
    await b.drain()
    async with sessions() as session:
        for (mapping, direction), job_id in left.items():
            job = await jobs.get_job(session, job_id=job_id)
            assert job.status == "abandoned" and job.finished_at is not None
            assert job.message == (
                f"worker a stopped during this run; b took {mapping}:{direction} over at "
                f"{clock.now.isoformat(timespec='seconds')}; "
                "the next run resumes from the last committed page"
            )
        assert (await jobs.get_job(session, job_id=other.id)).status == "running"
        assert [j.id for j in await jobs.list_jobs(session, status="abandoned")] != []
    # The zombie wakes and tries to finish: its fence refuses it, the jobs stay abandoned.
    stuck.set()
    await a.drain()
    assert runner_a.refused == 2 and runner_a.commits == 0
