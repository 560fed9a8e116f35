"""The demo's first full synchronization (`sync_worker(initial_full_sync=True)`) runs under the same
leases as an admin's full sync: held under "<worker>/full", renewed, fenced, released; and a process
that finds them held elsewhere (a second demo process on the same store) runs none of its own."""

from __future__ import annotations

import asyncio

import pytest

from gateway.simulators import SimulatorOptions
from gateway.store import jobs, leases
from gateway.store.types import utcnow
from gateway.sync.full import FullSync, mapping_lease_names
from gateway.sync.leases import hold_leases
from gateway.sync.worker import first_full_sync, sync_worker
from tests.sync.world import World, build_world, world_settings

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])

OPTIONS = SimulatorOptions(customers=20, items=20)


async def _every_lease(w: World) -> list[str]:
    plan = await FullSync(w.engine).plan()
    return await mapping_lease_names(w.sessions, [name for layer in plan for name in layer])


async def test_the_first_full_sync_holds_every_lease_it_runs_under(database_url: str) -> None:
    w = await build_world(database_url, OPTIONS)
    settings = world_settings(database_url, OPTIONS, worker_id="demo-1", scheduler_poll_seconds=0.05)
    try:
        names = await _every_lease(w)
        assert len(names) == 12
        async with sync_worker(
            settings, sessions=w.sessions, erp=w.erp, crm=w.crm, initial_full_sync=True
        ) as s:
            async with asyncio.timeout(180):
                while True:  # once the full sync has started, before the schedule runs anything
                    async with w.sessions() as session:
                        started = await jobs.list_jobs(session, type="full", limit=1)
                        rows = await leases.list_leases(session, names=names)
                    if started and s.stats.started == 0:
                        break
                    await asyncio.sleep(0.02)
            # Every lease of the run taken at once by the full sync's own holder (generation 1).
            assert {(lease.name, lease.holder, lease.generation) for lease in rows} == {
                (name, "demo-1/full", 1) for name in names
            }
            async with asyncio.timeout(180):
                while s.stats.started < 1:  # noqa: ASYNC110  (the schedule starts after the full sync)
                    await asyncio.sleep(0.05)
        async with w.sessions() as session:
            full = await jobs.list_jobs(session, type="full", limit=1000)
        # Every direction's full job ran to its end: none lost its lease, none left running.
        assert {(j.mapping, j.direction) for j in full} == {tuple(n.rsplit(":", 1)) for n in names}
        assert all(j.status in ("success", "error") and j.message is None for j in full)
    finally:
        await w.close()


async def test_a_process_finding_the_leases_held_runs_no_full_sync_of_its_own(database_url: str) -> None:
    w = await build_world(database_url, OPTIONS)
    try:
        names = await _every_lease(w)
        # Another demo process on the same store holds them: it runs the first full sync.
        async with hold_leases(w.sessions, names=names, holder="demo-1/full", ttl=60) as other:
            assert other is not None
            assert await first_full_sync(w.engine, holder="demo-2/full", ttl=60) is None
        async with w.sessions() as session:
            assert await jobs.list_jobs(session, limit=10) == []
            rows = await leases.list_leases(session, names=names)
        assert all(lease.generation == 1 and lease.holder == "demo-1/full" for lease in rows)
        assert all(leases.is_free(lease, now=utcnow()) for lease in rows)  # all handed back
    finally:
        await w.close()
