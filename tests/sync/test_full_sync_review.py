"""The full-sync review never looks finished while a full synchronization still has mappings to run:
the demo data has CRM-only products, so ITEM-PRODUCT creates ERP items and the run goes back over
UNIT GROUP and ITEM-PRODUCT; a waiter polling the review between two jobs must not see "done"."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from gateway.services.sync_control import SyncControl
from gateway.simulators import SimulatorOptions
from gateway.sync.full import FullSync
from tests.sync.world import World, build_world

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])


@pytest.fixture
async def control(database_url: str) -> AsyncIterator[tuple[World, SyncControl]]:
    w = await build_world(database_url, SimulatorOptions(customers=20, items=20))
    c = SyncControl(sessions=w.sessions, engine=w.engine)
    yield w, c
    await c.aclose()
    await w.close()


def _looks_done(status: dict[str, Any]) -> bool:
    """The bench's waiter: no job in process, and every mapping's directions ran."""
    jobs = [job for line in status["lines"] if line["enabled"] for job in line["jobs"].values()]
    return bool(jobs) and all(job["status"] in ("success", "error") for job in jobs)


def _job_ids(status: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {
        (line["mapping"], direction): job["jobId"]
        for line in status["lines"]
        for direction, job in line["jobs"].items()
    }


@pytest.mark.slow
async def test_the_review_is_not_done_before_the_full_sync_with_its_rerun(
    control: tuple[World, SyncControl],
) -> None:
    _, c = control
    # The demo's first full sync runs in the worker, not through SyncControl: the review is all
    # a waiter in another process has.
    task = asyncio.create_task(FullSync(c.engine).run())
    seen_done: list[dict[tuple[str, str], str]] = []  # the job ids of each review that looked done
    polls = 0
    while not task.done():
        status = await c.full_sync_status()
        polls += 1
        if _looks_done(status):
            seen_done.append(_job_ids(status))
        await asyncio.sleep(0.05)  # a waiter polls; back to back it would starve the run of SQLite's lock
    summaries = await task
    ran = [s.mapping for s in summaries]
    assert ran.count("ITEM-PRODUCT") == 2 and ran.count("UNIT GROUP") == 2, ran  # the re-run happened
    assert polls > 10
    final = _job_ids(await c.full_sync_status())
    # A review that looked done was the final one: no job of the run started after it.
    early = [{k: v for k, v in ids.items() if final[k] != v} for ids in seen_done if ids != final]
    assert early == []

    status = await c.full_sync_status()
    lines = {line["mapping"]: line for line in status["lines"]}
    for line in status["lines"]:
        for job in line["jobs"].values():
            assert job["status"] in ("success", "error", "blank"), (line["mapping"], job)
    item = lines["ITEM-PRODUCT"]["jobs"]
    rerun = [s for s in summaries if s.mapping == "ITEM-PRODUCT"][-1]
    for direction, job in item.items():
        assert job["jobId"] in rerun.job_ids, (direction, job)  # the latest is the re-run's
        assert job["status"] == ("error" if rerun.status == "error" else "success")
        assert job["done"] == job["total"] > 0  # it went over every item again
