"""Crash test: a full-sync worker process SIGKILLed at page reads, `$batch` writes and coupling commits,
then restarted, ends as an uninterrupted run: no duplicates, couplings once each, every field equal."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from gateway.store import migrate
from tests.sync.crash_world import (
    WORKER_ID,
    KillPoint,
    SimulatorPair,
    Zygote,
    canonical,
    coupling_rows,
    duplicates,
    job_rows,
    run_and_kill,
    run_to_end,
    upstream_snapshot,
)

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("crash")]

CUSTOMERS, ITEMS = 20, 20
# Fractions of the reference run's count of each counter: 7 page-read, 7 batch and 7 commit points.
POINTS = [(counter, n / 8) for counter in ("gets", "batches", "couplings") for n in range(1, 8)]


@dataclass
class Reference:
    """What an uninterrupted full sync on a fresh store leaves behind, and its counters."""

    upstream: dict[tuple[str, str], list[str]]
    couplings: list[tuple[str, str, str]]
    per_mapping: dict[str, int]
    totals: dict[str, int]


@dataclass
class CrashWorld:
    sims: SimulatorPair
    zygote: Zygote
    template: Path
    directory: Path
    cache: dict[str, Reference] = field(default_factory=dict)

    def fresh_store(self, name: str) -> Path:
        store = self.directory / f"{name}.db"
        shutil.copyfile(self.template, store)
        return store

    async def reference(self) -> Reference:
        if "reference" not in self.cache:
            await self.sims.reset()
            store = self.fresh_store("reference")
            await run_to_end(self.zygote, self.sims, store)
            async with _http() as http:
                totals = await self.sims.counters(http)
            rows = await upstream_snapshot(self.sims)
            assert not duplicates(rows), duplicates(rows)
            couplings = await coupling_rows(store)
            totals["couplings"] = len(couplings)
            self.cache["reference"] = Reference(
                upstream=canonical(rows),
                couplings=_comparable(couplings),
                per_mapping=_per_mapping(couplings),
                totals=totals,
            )
        return self.cache["reference"]


def _http() -> Any:
    import httpx

    return httpx.AsyncClient(timeout=5)


def _comparable(couplings: list[tuple[str, str, str, str | None, str]]) -> list[tuple[str, str, str]]:
    # BC assigns the ids of records the sync created there: compare by business key and id kind,
    # and by the CRM id itself where it was not derived (records that existed before the run).
    return sorted(
        (mapping, str(erp_key), crm_id if kind == "existing" else kind)
        for mapping, _erp_id, crm_id, erp_key, kind in couplings
    )


def _per_mapping(couplings: list[tuple[str, str, str, str | None, str]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for mapping, *_ in couplings:
        counts[mapping] = counts.get(mapping, 0) + 1
    return counts


@pytest.fixture(scope="module")
def crash_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CrashWorld]:
    directory = tmp_path_factory.mktemp("crash")
    template = directory / "template.db"
    migrate.upgrade(f"sqlite+aiosqlite:///{template}")  # each run copies a migrated store
    sims = SimulatorPair(customers=CUSTOMERS, items=ITEMS)
    try:
        zygote = Zygote()
        try:
            yield CrashWorld(sims=sims, zygote=zygote, template=template, directory=directory)
        finally:
            zygote.stop()
    finally:
        sims.stop()


@pytest.mark.parametrize(("counter", "fraction"), POINTS, ids=[f"{c}-{f:.2f}" for c, f in POINTS])
async def test_a_worker_killed_mid_full_sync_and_restarted_ends_like_an_uninterrupted_run(
    crash_world: CrashWorld, counter: str, fraction: float
) -> None:
    await crash_world.sims.wait_ready()
    reference = await crash_world.reference()
    point = KillPoint(counter, max(1, round(reference.totals[counter] * fraction)))
    await crash_world.sims.reset()
    store = crash_world.fresh_store(f"{counter}-{point.at}")

    seen = await run_and_kill(crash_world.zygote, crash_world.sims, store, point)
    assert seen[counter] < reference.totals[counter] or counter == "couplings", (point, seen)
    await run_to_end(crash_world.zygote, crash_world.sims, store)  # the restart, on the same store

    rows = await upstream_snapshot(crash_world.sims)
    assert duplicates(rows) == {}, (str(point), seen)
    couplings = await coupling_rows(store)
    for side in (1, 2):  # unique per mapping on each side
        assert len({(c[0], c[side]) for c in couplings}) == len(couplings), (str(point), seen)
    assert _per_mapping(couplings) == reference.per_mapping, (str(point), seen)
    assert _comparable(couplings) == reference.couplings, (str(point), seen)
    actual = canonical(rows)
    for key in reference.upstream:
        assert actual[key] == reference.upstream[key], (str(point), seen, key)
    # The killed run's jobs say what happened to them; none stays "in process" on the review.
    jobs = await job_rows(store)
    assert [j for j in jobs if j[3] in ("queued", "running")] == [], (str(point), seen)
    # (None when the kill fell between two mappings' jobs, e.g. on a lookup read before a job opens.)
    abandoned = [j for j in jobs if j[3] == "abandoned"]
    for mapping, direction, _type, _status, message in abandoned:
        restarted = f"worker {WORKER_ID} stopped during this run (restarted, or its lease lapsed); it took"
        assert message is not None and message.startswith(f"{restarted} {mapping}:{direction} again"), (
            str(point),
            message,
        )
