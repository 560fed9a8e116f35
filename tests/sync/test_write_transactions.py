"""Write transactions stay short whatever the data's size: on SQLite each one holds the store's only
write lock, and a lease renewal (or any other writer) waits behind it. Counted in commits."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.domain import Side
from gateway.simulators import SimulatorOptions
from gateway.store import mirror
from gateway.sync import mirroring
from tests.sync.world import build_world

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])


class CountingFence:
    """Lets every commit through and counts them (each write transaction checks its fence once)."""

    def __init__(self) -> None:
        self.checks = 0

    async def check(self, session: Any) -> None:
        self.checks += 1


async def test_a_page_is_mirrored_in_slices_each_committed_under_the_fence(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mirroring, "PAGE_SLICE", 8)
    world = await build_world(database_url, SimulatorOptions(customers=30, items=20))
    table = await world.engine.mapping("CUSTOMER")
    fence = CountingFence()
    read = await world.engine.reader.full_read(mapping=table, side=Side.ERP, fence=fence, generation="g1")
    assert read.pages == 1  # the simulator's one page of 30 customers
    assert len(read.records) == len(read.changed) == 30
    # ⌈30 / 8⌉ = 4 transactions for the page (was 1), then the one that ends the full read.
    assert fence.checks == 4 + 1
    async with world.sessions() as session:
        assert await mirror.count_records(session, side=Side.ERP, entity_set=table.erp_entity) == 30
    await world.close()
