"""Full synchronization of every enabled mapping in dependency order: independent mappings of one
layer run concurrently (bounded), and entity sets read once are not read again in the same run."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from gateway.domain import Side
from gateway.errors import NotFound
from gateway.store import jobs, planner
from gateway.store.engine import SessionFactory, writers_serialize
from gateway.store.tables import JobStatus, JobType
from gateway.sync import catalog
from gateway.sync.engine import RunSummary, SyncEngine
from gateway.sync.fencing import Fence, NoFence
from gateway.sync.mirroring import ReadResult
from gateway.sync.model import TableMapping
from gateway.sync.plan import layers
from gateway.sync.pricing_mirror import ERP_PRICING
from gateway.sync.scheduler import lease_name

log = logging.getLogger(__name__)


async def mapping_lease_names(sessions: SessionFactory, mapping_names: Sequence[str]) -> list[str]:
    """The leases a run of these mappings takes, one per direction ("CUSTOMER:erp_to_crm"), the
    same the schedulers' runs take; NotFound for a name that is no mapping."""
    async with sessions() as session:
        every = {m.name: m for m in await catalog.load_mappings(session)}
    names = []
    for name in mapping_names:
        if name != ERP_PRICING and name not in every:
            raise NotFound(f"no mapping named {name!r}")
        directions = ["erp_to_crm"] if name == ERP_PRICING else every[name].directions()
        names += [lease_name(name, d) for d in directions]
    return names


class FullSync:
    """Runs a full synchronization; `concurrency` bounds the mappings of one layer run at once."""

    def __init__(self, engine: SyncEngine, *, concurrency: int = 2) -> None:
        self.engine = engine
        # SQLite has one writer: two mappings' page transactions would queue on each other's lock
        # until one gave up at the busy timeout (seen at 20,000 customers), so run them one by one.
        self.concurrency = 1 if writers_serialize(engine.sessions) else max(1, concurrency)

    async def plan(self, *, mappings: Sequence[str] | None = None) -> list[list[str]]:
        async with self.engine.reads() as session:
            every = await catalog.load_mappings(session)
        runnable = list(every)
        wanted = None if mappings is None else [m for m in mappings if m != ERP_PRICING]
        plan = layers(runnable, only=wanted)
        if mappings is None or ERP_PRICING in mappings:
            # The pricing data first: later mappings find its sets already read (price lists, units).
            plan.insert(0, [ERP_PRICING])
        return plan

    async def run(
        self, *, mappings: Sequence[str] | None = None, fence_for: Callable[[str], Fence] | None = None
    ) -> list[RunSummary]:
        read_cache: dict[tuple[Side, str], ReadResult] = {}
        summaries: list[RunSummary] = []
        gate = asyncio.Semaphore(self.concurrency)
        plan = await self.plan(mappings=mappings)
        async with self.engine.reads() as session:
            every = {m.name: m for m in await catalog.load_mappings(session)}
        order = [name for layer in plan for name in layer]
        # Every job the run may start is queued now, the possible second runs included: a review
        # polled between two jobs (a waiter in another process) shows the run in process, never done.
        first = await self._queue(order, every)
        maybe_again = await self._queue(_rerun(order, every, _possible_creates(order, every)), every)
        queued = [*first.values(), *maybe_again.values()]

        async def one(name: str, ids: dict[str, dict[str, str]]) -> RunSummary:
            async with gate:
                fence = fence_for(name) if fence_for is not None else NoFence()
                return await self.engine.full(
                    mapping=name, fence=fence, read_cache=read_cache, queued=ids.get(name)
                )

        try:
            for layer in plan:
                summaries += await asyncio.gather(*(one(name, first) for name in layer))
            # Records a later mapping created (an item made from a CRM product) are sources of earlier
            # mappings (its unit group): run those again, and what depends on them, from the mirror.
            again = _rerun(order, every, _creates(order, every, summaries))
            await self._drop([maybe_again[n] for n in maybe_again if n not in again])
            # The dropped jobs' rows are gone: only the second runs still to come may be left queued.
            queued = [*first.values(), *(maybe_again[n] for n in maybe_again if n in again)]
            for layer in plan:
                if any(n in again for n in layer):
                    summaries += await asyncio.gather(*(one(n, maybe_again) for n in layer if n in again))
            await self._refresh_statistics()
        finally:
            await self._abandon(queued)
        return summaries

    async def _refresh_statistics(self) -> None:
        """Once per run, not per page: the next incremental runs load these rows by id, and on
        tables without statistics PostgreSQL's plans for that may read whole entity sets. Only an
        optimization: a failure is logged, the run's outcome stands."""
        try:
            await planner.refresh_statistics(self.engine.sessions)
        except Exception:
            log.exception("could not refresh the store's statistics after a full synchronization")

    async def _queue(self, names: Sequence[str], every: dict[str, TableMapping]) -> dict[str, dict[str, str]]:
        planned = [
            (name, direction)
            for name in names
            for direction in (every[name].directions() if name in every else ["erp_to_crm"])
        ]
        async with self.engine.sessions.begin() as session:
            ids = await jobs.create_queued_jobs(session, planned=planned, type=JobType.FULL)
        queued: dict[str, dict[str, str]] = {}
        for (name, direction), job_id in ids.items():
            queued.setdefault(name, {})[direction] = job_id
        return queued

    async def _drop(self, unneeded: list[dict[str, str]]) -> None:
        """The possible second runs that turned out not needed never happened: their rows go."""
        async with self.engine.sessions.begin() as session:
            await jobs.drop_queued_jobs(session, job_ids=[i for ids in unneeded for i in ids.values()])

    async def _abandon(self, queued: list[dict[str, str]]) -> None:
        """Jobs still queued when the run ends (it failed or was cancelled before them) end as
        cancelled, not in process for ever."""
        try:
            async with self.engine.sessions.begin() as session:
                for ids in queued:
                    for job_id in ids.values():
                        job = await jobs.get_job(session, job_id=job_id)
                        if job.status == JobStatus.QUEUED.value:
                            await jobs.finish_job(
                                session, job_id=job_id, status=JobStatus.CANCELLED, message=_STOPPED
                            )
        except Exception:  # the store is unreachable: the next lease taker marks them abandoned
            log.exception("could not end the queued jobs of a stopped full synchronization")


_STOPPED = "the full synchronization stopped before this mapping ran; start it again"


def _possible_creates(order: list[str], every: dict[str, TableMapping]) -> dict[tuple[Side, str], int]:
    """Where each entity set may get records in a run of `order`: the last position of a mapping
    whose direction creates on that side."""
    created_at: dict[tuple[Side, str], int] = {}
    for position, name in enumerate(order):
        if name in every:
            table = every[name]
            if "crm_to_erp" in table.directions():
                created_at[(Side.ERP, table.erp_entity)] = position
            if "erp_to_crm" in table.directions():
                created_at[(Side.CRM, table.crm_entity)] = position
    return created_at


def _creates(
    order: list[str], every: dict[str, TableMapping], summaries: list[RunSummary]
) -> dict[tuple[Side, str], int]:
    """Where each entity set got records in the run: the last position of a mapping that created some."""
    created_at: dict[tuple[Side, str], int] = {}
    for summary in summaries:
        if summary.mapping not in every:
            continue
        table = every[summary.mapping]
        for side in summary.created_on:
            entity = (Side(side), table.erp_entity if side == "erp" else table.crm_entity)
            created_at[entity] = max(created_at.get(entity, -1), order.index(summary.mapping))
    return created_at


def _rerun(
    order: list[str], every: dict[str, TableMapping], created_at: dict[tuple[Side, str], int]
) -> list[str]:
    """The mappings (in `order`) whose source sets a later mapping created records in, and those
    that depend on them."""
    rerun: list[str] = []
    for position, name in enumerate(order):
        if name not in every:
            continue
        table = every[name]
        later = max(
            created_at.get((Side.ERP, table.erp_entity), -1),
            created_at.get((Side.CRM, table.crm_entity), -1),
        )
        if later > position or any(d in rerun for d in table.dependencies):
            rerun.append(name)
    return rerun
