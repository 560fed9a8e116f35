"""Admin runs hold their leases like scheduler runs: renewed while they run (a full sync longer
than the lease TTL completes under its first generation), and a run whose lease is taken from it
ends its jobs as errors that say so, never left running."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from gateway.errors import StaleLease
from gateway.services.sync_control import SyncControl
from gateway.simulators import SimulatorOptions
from gateway.store import leases
from gateway.store.types import utcnow
from tests.sync.world import World, build_world

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])

LATENCY_MS = 300  # every simulator request: a run of a few requests outlasts the 1 s TTL below
TTL = 1.0


@pytest.fixture
async def control(database_url: str) -> AsyncIterator[tuple[World, SyncControl]]:
    w = await build_world(database_url, SimulatorOptions(customers=20, items=20))
    c = SyncControl(sessions=w.sessions, engine=w.engine, lease_ttl=TTL)
    for side in ("erp", "crm"):
        await w.sim(side, "POST", "/_sim/latency", {"ms": LATENCY_MS})
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
