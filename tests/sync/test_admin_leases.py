"""Admin runs hold their leases like scheduler runs: renewed while they run (a full sync longer
than the lease TTL completes under its first generation), and a run whose lease is taken from it
ends its jobs as errors that say so, never left running."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event

from gateway.errors import StaleLease
from gateway.services.sync_control import SyncControl
from gateway.simulators import SimulatorOptions
from gateway.store import jobs, leases
from gateway.store.types import utcnow
from gateway.sync.full import FullSync
from gateway.sync.leases import hold_leases
from tests.sync.world import World, build_world

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])

# Every simulator request takes LATENCY_MS, so a run of a few requests outlasts the TTL: only
# renewals keep its leases. The TTL is short but not so short that a busy CI machine (a stalled
# event loop for a second) loses a lease the code renewed on time; the logic itself is proven with
# an injected clock below, independent of the machine's speed.
LATENCY_MS = 1000
TTL = 3.0


@pytest.fixture
async def control(
    request: pytest.FixtureRequest, database_url: str
) -> AsyncIterator[tuple[World, SyncControl]]:
    ttl, latency_ms = getattr(request, "param", (TTL, LATENCY_MS))
    w = await build_world(database_url, SimulatorOptions(customers=20, items=20))
    c = SyncControl(sessions=w.sessions, engine=w.engine, lease_ttl=ttl)
    for side in ("erp", "crm"):
        await w.sim(side, "POST", "/_sim/latency", {"ms": latency_ms})
    yield w, c
    await c.aclose()
    await w.close()


async def _lease(w: World, name: str) -> leases.Lease:
    async with w.sessions() as session:
        lease = await leases.get_lease(session, name=name)
    assert lease is not None
    return lease


async def test_a_full_sync_longer_than_the_ttl_is_renewed_and_completes(
    control: tuple[World, SyncControl],
) -> None:
    w, c = control
    await c.start_full_sync(mappings=["CURRENCY", "SALESPEOPLE"])
    summaries = await c.wait_full_sync()  # raised StaleLease when nothing renewed the 1 s leases
    assert [(s["mapping"], s["status"]) for s in summaries] == [
        ("CURRENCY", "success"),
        ("SALESPEOPLE", "success"),
    ]
    for name in ("CURRENCY:erp_to_crm", "SALESPEOPLE:crm_to_erp"):
        lease = await _lease(w, name)
        # Taken once (generation 1) and kept by renewals, which move renewed_at past acquired_at.
        assert lease.generation == 1
        assert lease.renewed_at is not None and lease.acquired_at is not None
        assert lease.renewed_at > lease.acquired_at
    assert await c.list_jobs(status="running") == []


# A TTL no renewal can miss: here the lease is lost only because another worker takes it (the
# latency keeps CUSTOMER's run going long enough to be caught running).
@pytest.mark.parametrize("control", [(15.0, 300)], indirect=True)
async def test_a_run_whose_lease_is_taken_ends_its_jobs_failed_not_running(
    control: tuple[World, SyncControl],
) -> None:
    w, c = control
    await c.start_full_sync(mappings=["CURRENCY", "CUSTOMER"])
    async with asyncio.timeout(120):
        while not await c.list_jobs(mapping="CUSTOMER", status="running"):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    # Another worker takes CUSTOMER:erp_to_crm behind the admin run's back (its clock says expired).
    async with w.sessions.begin() as session:
        grant = await leases.acquire(
            session, name="CUSTOMER:erp_to_crm", holder="worker-2", ttl=15, now=utcnow() + timedelta(hours=1)
        )
    assert grant is not None and grant.generation == 2
    with pytest.raises(StaleLease):
        await c.wait_full_sync()
    assert await c.list_jobs(status="running") == []
    customer = await c.list_jobs(mapping="CUSTOMER", type="full")
    assert {j["direction"] for j in customer} == {"erp_to_crm", "crm_to_erp"}
    for job in customer:
        assert job["status"] == "error" and job["finishedAt"] is not None
        assert job["message"].startswith("this run lost its lease and stopped: lease 'CUSTOMER:erp_to_crm'")
        assert job["message"].endswith("start the full sync again; it resumes from committed pages")
    review = {line["mapping"]: line for line in (await c.full_sync_status())["lines"]}
    assert review["CUSTOMER"]["jobs"]["erp_to_crm"]["status"] == "error"
    assert (await c.list_jobs(mapping="CURRENCY", type="full"))[0]["status"] == "success"


class CommitClock:
    """A clock that moves only when the store commits: once `running`, every commit takes `step`
    seconds of the leases' time, however fast the machine runs the sync."""

    def __init__(self, step: float) -> None:
        self.now = utcnow()
        self.step = timedelta(seconds=step)
        self.running = False
        self.commits = 0

    def __call__(self) -> datetime:
        return self.now

    def committed(self, _connection: object) -> None:
        if self.running:
            self.now += self.step
            self.commits += 1


async def test_a_full_sync_keeps_its_leases_through_its_own_commits_when_renewals_cannot_run(
    database_url: str,
) -> None:
    """On SQLite the renewal task's transaction waits behind the run's own write transactions (the
    admin full sync at 20,000 customers lost 'ERP PRICING:erp_to_crm' so). Here the renewal task
    never runs (renew_every far beyond the run) and every commit takes 7 s of a 15 s TTL: the
    leases expire by the third commit unless each fence check, inside the commit, renews them."""
    w = await build_world(database_url, SimulatorOptions(customers=20, items=20))
    clock = CommitClock(step=7.0)
    event.listen(w.db.sync_engine, "commit", clock.committed)
    names = ["CUSTOMER:erp_to_crm", "CUSTOMER:crm_to_erp"]
    try:
        async with hold_leases(
            w.sessions, names=names, holder="w1/full", ttl=15.0, renew_every=3600.0, clock=clock
        ) as held:
            assert held is not None
            clock.running = True
            summaries = await FullSync(w.engine).run(mappings=["CUSTOMER"], fence_for=held.fence_for_mapping)
            clock.running = False
            assert not held.lost.is_set()
        assert clock.commits > 3  # far more than the TTL allows without renewals
        assert [(s.mapping, s.message) for s in summaries] == [("CUSTOMER", None)]  # ran through
        for name in names:
            lease = await _lease(w, name)
            assert lease.generation == 1 and lease.holder == "w1/full"
            assert lease.renewed_at is not None and lease.acquired_at is not None
            assert lease.renewed_at > lease.acquired_at  # renewed by commits: the task never ran
        async with w.sessions() as session:
            assert await jobs.list_jobs(session, status="running") == []
    finally:
        await w.close()
