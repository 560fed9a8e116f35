"""Full synchronization of every enabled mapping in dependency order: independent mappings of one
layer run concurrently (bounded), and entity sets read once are not read again in the same run."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from gateway.domain import Side
from gateway.errors import NotFound
from gateway.store.engine import SessionFactory, writers_serialize
from gateway.sync import catalog
from gateway.sync.engine import RunSummary, SyncEngine
from gateway.sync.fencing import Fence, NoFence
from gateway.sync.mirroring import ReadResult
from gateway.sync.plan import layers
from gateway.sync.pricing_mirror import ERP_PRICING
from gateway.sync.scheduler import lease_name


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

        async def one(name: str) -> RunSummary:
            async with gate:
                fence = fence_for(name) if fence_for is not None else NoFence()
                return await self.engine.full(mapping=name, fence=fence, read_cache=read_cache)

        plan = await self.plan(mappings=mappings)
        for layer in plan:
            summaries += await asyncio.gather(*(one(name) for name in layer))
        # Records a later mapping created (an item made from a CRM product) are sources of earlier
        # mappings (its unit group): run those again, and what depends on them, from the mirror.
        again = await self._affected(plan, summaries)
        for layer in again:
            summaries += await asyncio.gather(*(one(name) for name in layer))
        return summaries

    async def _affected(self, plan: list[list[str]], summaries: list[RunSummary]) -> list[list[str]]:
        async with self.engine.reads() as session:
            every = {m.name: m for m in await catalog.load_mappings(session)}
        order = [name for layer in plan for name in layer]
        created_at: dict[tuple[Side, str], int] = {}
        for summary in summaries:
            if summary.mapping not in every:
                continue
            table = every[summary.mapping]
            for side in summary.created_on:
                entity = (Side(side), table.erp_entity if side == "erp" else table.crm_entity)
                created_at[entity] = max(created_at.get(entity, -1), order.index(summary.mapping))
        rerun: set[str] = set()
        for position, name in enumerate(order):
            if name not in every:
                continue
            table = every[name]
            later = max(
                created_at.get((Side.ERP, table.erp_entity), -1),
                created_at.get((Side.CRM, table.crm_entity), -1),
            )
            if later > position or any(d in rerun for d in table.dependencies):
                rerun.add(name)
        return [[n for n in layer if n in rerun] for layer in plan if any(n in rerun for n in layer)]
