"""`gateway worker`: the composition root runs the real sync engine over both simulators under the
lease scheduler; two workers on one database split the mapping-directions between them."""

from __future__ import annotations

import asyncio
import os

import pytest
from click.testing import CliRunner

from gateway.cli import main
from gateway.cli_worker import run_worker
from gateway.simulators import SimulatorOptions, create_crm_simulator, create_erp_simulator
from gateway.store.engine import create_engine, read_session_factory, session_factory
from gateway.store.jobs import list_jobs
from gateway.store.leases import is_free, list_leases
from gateway.store.types import utcnow
from gateway.sync.scheduler import Scheduler
from gateway.sync.worker import catalog_schedule
from gateway.upstream.transport import in_process_transport
from tests.gateway_harness import harness_settings


@pytest.fixture
def sim_options() -> SimulatorOptions:
    return SimulatorOptions(customers=30, items=20)


async def _scheduled(database_url: str) -> set[str]:
    engine = create_engine(database_url)
    try:
        # What `gateway worker` schedules: the mappings' directions, ERP PRICING and the ERP sets'
        # deletion checks (gateway.sync.deletion_check).
        entries = await catalog_schedule(session_factory(engine), deletion_check_seconds=3600)()
        return {e.lease for e in entries}
    finally:
        await engine.dispose()


async def _state(database_url: str) -> tuple[list[str], dict[str, tuple[str | None, int, bool]]]:
    engine = create_engine(database_url)
    try:
        async with read_session_factory(engine)() as session:  # no write lock: the worker keeps writing
            jobs = [f"{j.mapping}:{j.direction}" for j in await list_jobs(session, limit=1000)]
            leases = {
                lease.name: (lease.holder, lease.generation, is_free(lease, now=utcnow()))
                for lease in await list_leases(session)
            }
        return jobs, leases
    finally:
        await engine.dispose()


async def test_one_worker_runs_every_enabled_mapping_direction_once(
    database_url: str, sim_options: SimulatorOptions
) -> None:
    settings = harness_settings(database_url, sim_options, worker_id="worker-a")
    erp_sim, crm_sim = create_erp_simulator(sim_options), create_crm_simulator(sim_options)
    scheduler: Scheduler = await run_worker(
        settings,
        once=True,
        erp_transport=in_process_transport(erp_sim),
        crm_transport=in_process_transport(crm_sim),
    )
    scheduled = await _scheduled(database_url)
    assert len(scheduled) >= 9  # every default mapping, bidirectional ones twice
    assert "ERP PRICING:erp_to_crm" in scheduled  # the quotes' pricing mirror follows BC between full syncs
    assert scheduler.stats.started == len(scheduled) and scheduler.stats.lost == 0
    jobs, leases = await _state(database_url)
    assert set(leases) == scheduled
    assert all(holder == "worker-a" and free for holder, _, free in leases.values())
    assert {generation for _, generation, _ in leases.values()} == {1}
    assert set(jobs) <= scheduled and jobs  # every run that got as far as a job row left one
    assert "ERP PRICING:erp_to_crm" in jobs


async def test_two_workers_split_the_schedule_without_running_anything_twice(
    database_url: str, sim_options: SimulatorOptions
) -> None:
    erp_sim, crm_sim = create_erp_simulator(sim_options), create_crm_simulator(sim_options)

    async def worker(name: str) -> Scheduler:
        settings = harness_settings(database_url, sim_options, worker_id=name)
        result: Scheduler = await run_worker(
            settings,
            once=True,
            erp_transport=in_process_transport(erp_sim),
            crm_transport=in_process_transport(crm_sim),
        )
        return result

    a, b = await asyncio.gather(worker("a"), worker("b"))
    scheduled = await _scheduled(database_url)
    by_a, by_b = set(a.stats.by_lease), set(b.stats.by_lease)
    assert not by_a & by_b  # nothing ran twice
    assert by_a | by_b == scheduled
    _, leases = await _state(database_url)
    assert all(generation == 1 for _, generation, _ in leases.values())


async def test_a_serving_worker_stops_gracefully_and_hands_back_its_leases(
    database_url: str, sim_options: SimulatorOptions
) -> None:
    settings = harness_settings(database_url, sim_options, worker_id="serving", scheduler_poll_seconds=0.05)
    erp_sim, crm_sim = create_erp_simulator(sim_options), create_crm_simulator(sim_options)
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_worker(
            settings,
            stop=stop,
            erp_transport=in_process_transport(erp_sim),
            crm_transport=in_process_transport(crm_sim),
        )
    )
    scheduled: set[str] = set()
    async with asyncio.timeout(120):
        while True:  # until the worker has created the mappings and taken every mapping-direction once
            scheduled = await _scheduled(database_url)
            _, leases = await _state(database_url)
            if scheduled and set(leases) == scheduled:
                break
            await asyncio.sleep(0.05)
    stop.set()
    scheduler: Scheduler = await task
    assert scheduler.running == [] and scheduler.stats.started >= len(scheduled)
    _, leases = await _state(database_url)
    assert all(free for _, _, free in leases.values()), {n: v for n, v in leases.items() if not v[2]}


def test_the_command_names_a_missing_upstream_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("GATEWAY_"):
            monkeypatch.delenv(name)
    result = CliRunner().invoke(main, ["worker", "--once"])
    assert result.exit_code == 2
    assert "GATEWAY_ERP_BASE_URL" in result.output
    help_text = CliRunner().invoke(main, ["worker", "--help"]).output
    assert "lease" in help_text and "--once" in help_text
