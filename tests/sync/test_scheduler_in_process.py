"""The scheduler inside the web app (demo, or GATEWAY_SCHEDULER_IN_PROCESS=true): it starts with the
app's lifespan, a first start in demo runs a full synchronization first, and shutdown hands leases back."""

from __future__ import annotations

import asyncio

from gateway.config import load_settings
from gateway.simulators import SimulatorOptions
from gateway.store.engine import create_engine, session_factory
from gateway.store.jobs import list_jobs
from gateway.store.leases import is_free, list_leases
from gateway.store.types import utcnow
from gateway.sync.scheduler import Scheduler
from tests.gateway_harness import running_gateway

OPTIONS = SimulatorOptions(customers=20, items=20)


async def _jobs_and_leases(database_url: str) -> tuple[list[tuple[str, str]], list[bool]]:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            jobs = [(j.mapping, j.type) for j in await list_jobs(session, limit=1000)]
            free = [is_free(lease, now=utcnow()) for lease in await list_leases(session)]
        return jobs, free
    finally:
        await engine.dispose()


def test_only_demo_runs_the_scheduler_in_process_by_default() -> None:
    assert load_settings(demo=True).runs_scheduler_in_process()
    assert not load_settings(demo=False).runs_scheduler_in_process()
    assert load_settings(scheduler_in_process=True).runs_scheduler_in_process()
    assert not load_settings(demo=True, scheduler_in_process=False).runs_scheduler_in_process()
    assert load_settings(worker_id="w-7").resolved_worker_id() == "w-7"
    assert load_settings().resolved_worker_id().endswith(f"-{__import__('os').getpid()}")


async def test_the_app_runs_the_schedule_and_stops_it_with_its_lifespan(database_url: str) -> None:
    async with running_gateway(
        database_url, options=OPTIONS, scheduler_in_process=True, scheduler_poll_seconds=0.05
    ) as gateway:
        scheduler = gateway.app.state.scheduler
        assert isinstance(scheduler, Scheduler)
        async with asyncio.timeout(120):
            while scheduler.stats.started < 3:  # noqa: ASYNC110  (the app's lifespan runs it)
                await asyncio.sleep(0.05)
    assert scheduler.running == []
    jobs, free = await _jobs_and_leases(database_url)
    assert jobs and free and all(free)


async def test_a_demo_first_start_runs_a_full_synchronization_first(database_url: str) -> None:
    async with running_gateway(
        database_url, options=OPTIONS, demo=True, scheduler_poll_seconds=0.05
    ) as gateway:
        scheduler = gateway.app.state.scheduler
        async with asyncio.timeout(180):
            while scheduler.stats.started < 1:  # noqa: ASYNC110  (starts once the full sync is done)
                await asyncio.sleep(0.05)
        jobs, _ = await _jobs_and_leases(database_url)
    types = {job_type for _, job_type in jobs}
    assert "full" in types
