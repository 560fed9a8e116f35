"""Resumability: a full sync stopped dead after its k-th commit (a stale fence raises exactly where a
crash would lose the rest) and then run again ends in the same state as an uninterrupted run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.errors import StaleLease
from gateway.simulators import SimulatorOptions
from gateway.store.engine import create_engine
from gateway.store.migrate import upgrade_engine
from gateway.sync.full import FullSync
from tests.sync.test_full_sync import _state
from tests.sync.world import World, build_world

OPTIONS = SimulatorOptions(customers=20, items=20)
MAPPINGS = ["SALESPEOPLE", "CURRENCY", "PRICE LIST", "CUSTOMER"]

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])


class _DiesAfter:
    """Lets `commits` transactions through, then refuses every one: the process is gone."""

    def __init__(self, commits: int) -> None:
        self.left = commits

    async def check(self, session: Any) -> None:
        self.left -= 1
        if self.left < 0:
            raise StaleLease("the worker died here")


async def _fresh(path: Path) -> World:
    url = f"sqlite+aiosqlite:///{path}/store.db"
    engine = create_engine(url)
    await upgrade_engine(engine)
    await engine.dispose()
    return await build_world(url, OPTIONS)


async def test_a_full_sync_interrupted_anywhere_ends_like_an_uninterrupted_one(
    database_url: str, tmp_path: Path
) -> None:
    clean = await build_world(database_url, OPTIONS)
    try:
        await FullSync(clean.engine).run(mappings=MAPPINGS)
        expected = await _state(clean)
    finally:
        await clean.close()
    # Points across page reads, coupling commits, creates on both sides and job bookkeeping.
    for point in (3, 9, 14, 22):
        directory = tmp_path / f"stop-{point}"
        directory.mkdir()
        w = await _fresh(directory)
        try:
            fence = _DiesAfter(point)
            with pytest.raises(StaleLease):
                await FullSync(w.engine).run(mappings=MAPPINGS, fence_for=lambda _name: fence)
            await FullSync(w.engine).run(mappings=MAPPINGS)  # the restart
            assert await _state(w) == expected, point
        finally:
            await w.close()
