"""A full synchronization gives the event loop a turn at least every few hundred rows it builds.

The task that renews a run's leases (every 5 s for a 15 s TTL) shares the loop with the run: a run
that builds a whole mapping's mirror rows in one synchronous step held the loop for seconds on a
loaded machine, and the 20,000-customer full sync lost all its leases. Counted, not timed: a probe
task takes one step per loop iteration, and SQLAlchemy's `load` and `init` events count the ORM
objects built (loaded from rows, or constructed as new couplings) between two of its steps; the
longest stretch must stay within the partition size.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event

from gateway.simulators import SimulatorOptions
from gateway.store.paced import ROWS_PER_TURN
from gateway.store.sync_tables import MirrorRecord
from gateway.store.tables import Coupling
from gateway.sync.full import FullSync
from tests.sync.world import World, build_world

CUSTOMERS = 1_500  # several partitions of mirror rows per side


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    w = await build_world(database_url, SimulatorOptions(customers=CUSTOMERS, items=20))
    yield w
    await w.close()


class LoadsPerTurn:
    """The most ORM objects (mirror rows, couplings) built within one iteration of the loop."""

    def __init__(self) -> None:
        self.loaded = 0
        self.turns = 0
        self.most = 0

    def count(self, target: Any, *args: Any) -> None:
        self.loaded += 1

    async def probe(self) -> None:
        seen = self.loaded
        while True:
            await asyncio.sleep(0)  # one step per iteration of the loop
            self.turns += 1
            self.most = max(self.most, self.loaded - seen)
            seen = self.loaded


async def test_a_full_sync_builds_its_rows_a_partition_per_turn_of_the_loop(world: World) -> None:
    meter = LoadsPerTurn()
    for model in (MirrorRecord, Coupling):
        event.listen(model, "load", meter.count)
        event.listen(model, "init", meter.count)
    probe = asyncio.create_task(meter.probe())
    try:
        await FullSync(world.engine).run(mappings=["SALESPEOPLE", "CURRENCY", "CUSTOMER"])
    finally:
        probe.cancel()
        for model in (MirrorRecord, Coupling):
            event.remove(model, "load", meter.count)
            event.remove(model, "init", meter.count)
    assert meter.loaded >= CUSTOMERS  # the ERP customers were loaded at least once
    # Two mappings run at once (FullSync's concurrency): each may build one partition per turn.
    assert meter.most <= 2 * ROWS_PER_TURN, (meter.most, meter.turns)


async def test_the_first_incremental_run_after_it_too(world: World) -> None:
    """The round after a full sync reads every record back (all in scope): its couplings, loaded by
    the ids in scope, come a partition per turn as well."""
    await FullSync(world.engine).run(mappings=["SALESPEOPLE", "CURRENCY", "CUSTOMER"])
    meter = LoadsPerTurn()
    for model in (MirrorRecord, Coupling):
        event.listen(model, "load", meter.count)
        event.listen(model, "init", meter.count)
    probe = asyncio.create_task(meter.probe())
    try:
        summary = await world.engine.run(mapping="CUSTOMER", direction="crm_to_erp")
    finally:
        probe.cancel()
        for model in (MirrorRecord, Coupling):
            event.remove(model, "load", meter.count)
            event.remove(model, "init", meter.count)
    assert summary.counts["unchanged"] >= ROWS_PER_TURN * 2  # many pairs in scope, none written
    assert meter.most <= ROWS_PER_TURN, (meter.most, meter.turns)
