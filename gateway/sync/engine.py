"""The sync engine: one run of one mapping in one direction (incremental) or of a whole mapping
(full), reconciling the mirror's records pair by pair and writing the differences back in batches.

Creates are idempotent: CRM records get a deterministic id (uuid5 of the ERP id) through upsert;
ERP records are created only after a committed intent and a lookup by the number chosen for them.
Every transaction that commits sync state ends with `await fence.check(session)`.
The parts: runs (jobs, lookups), reconciling (scope, match, couple), pairs, creates, admin_actions.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from gateway.domain import Side
from gateway.errors import NotFound
from gateway.store import jobs, watermarks
from gateway.store.tables import (
    JobStatus,
    JobType,
)
from gateway.store.types import utcnow
from gateway.sync import orders
from gateway.sync.admin_actions import AdminActionsPart
from gateway.sync.creates import CreatesPart
from gateway.sync.erp_polls import erp_poll_due, record_polled
from gateway.sync.fencing import Fence, NoFence
from gateway.sync.mirroring import ReadResult
from gateway.sync.model import TableMapping
from gateway.sync.pairs import PairsPart
from gateway.sync.pricing_mirror import ERP_PRICING, company_table, notified_tables, pricing_tables
from gateway.sync.reconciling import ReconcilingPart
from gateway.sync.runs import RunsPart
from gateway.sync.runstate import (
    SALES_ORDER,
    RunState,
    RunSummary,
    crm_id_for,
    erp_number_for,
)
from gateway.sync.values import LookupTable


class SyncEngine(AdminActionsPart, ReconcilingPart, RunsPart, PairsPart, CreatesPart):
    """Runs mappings between one ERP and one CRM over one store (see module docstring)."""

    # ------------------------------------------------------------------------------ entry points

    async def run(
        self, *, mapping: str, direction: str, job_type: str = "sync", fence: Fence | None = None
    ) -> RunSummary:
        """One run of `mapping` in `direction` ("erp_to_crm"/"crm_to_erp"); `job_type` "full" reads
        and reconciles everything (both directions), "sync" only what changed since the last run."""
        fence = fence or NoFence()
        if job_type == JobType.FULL.value:
            return await self.full(mapping=mapping, fence=fence)
        if mapping == ERP_PRICING:
            return await self._mirror_pricing(full=False, fence=fence)
        table = await self._mapping(mapping)
        if direction not in table.directions():
            raise NotFound(f"{mapping} does not run {direction}")
        orders_run = table.name == SALES_ORDER
        run = await self._start(table, [direction], JobType(job_type), fence, lazy=not orders_run)
        if orders_run:
            return await self._orders(run, full=False)

        async def read_and_reconcile() -> None:
            source = Side.ERP if direction == "erp_to_crm" else Side.CRM
            read = await self.reader.changes(
                mapping=table, side=source, fence=fence, generation=uuid.uuid4().hex
            )
            await self._reconcile_changes(run, source, read)

        return await self._run_to_end(run, read_and_reconcile)

    async def full(
        self,
        *,
        mapping: str,
        fence: Fence | None = None,
        read_cache: dict[tuple[Side, str], ReadResult] | None = None,
        queued: Mapping[str, str] | None = None,
    ) -> RunSummary:
        """Full synchronization of one mapping: read both sides completely, couple by match, create
        what is missing where the direction allows, bring every coupled pair up to date.

        `read_cache` (shared by the mappings of one full run) skips entity sets already read in it;
        `queued`: the run's job ids by direction, queued ahead by gateway.sync.full (else new rows).
        """
        fence = fence or NoFence()
        if mapping == ERP_PRICING:
            return await self._mirror_pricing(full=True, fence=fence, read_cache=read_cache, queued=queued)
        table = await self._mapping(mapping)
        run = await self._start(table, table.directions(), JobType.FULL, fence, queued=queued)
        if table.name == SALES_ORDER:
            return await self._orders(run, full=True, read_cache=read_cache)

        async def read_and_reconcile_all() -> None:
            for side in (Side.ERP, Side.CRM):
                await self._read_fully(table, side, fence, read_cache)
            dependencies = await self._dependencies(table)
            await self._reconcile_all(run)
            self.retries.tried(table, dependencies)  # every record was just tried
            self.retries.settle(table, transient=run.transient, retried=True)

        return await self._run_to_end(run, read_and_reconcile_all)

    async def _orders(
        self, run: RunState, *, full: bool, read_cache: dict[tuple[Side, str], ReadResult] | None = None
    ) -> RunSummary:
        return await self._run_to_end(
            run, lambda: orders.sync_orders(self, run, full=full, read_cache=read_cache)
        )

    async def _read_fully(
        self,
        table: TableMapping,
        side: Side,
        fence: Fence,
        read_cache: dict[tuple[Side, str], ReadResult] | None,
    ) -> ReadResult:
        entity = table.erp_entity if side is Side.ERP else table.crm_entity
        cached = read_cache.get((side, entity)) if read_cache is not None else None
        if cached is not None:
            await self.reader.adopt(mapping=table, side=side, read=cached, fence=fence)
            return cached
        read = await self.reader.full_read(mapping=table, side=side, fence=fence, generation=uuid.uuid4().hex)
        if read_cache is not None:
            read_cache[(side, entity)] = read
        return read

    async def _mirror_pricing(
        self,
        *,
        full: bool,
        fence: Fence,
        read_cache: dict[tuple[Side, str], ReadResult] | None = None,
        queued: Mapping[str, str] | None = None,
    ) -> RunSummary:
        """Mirror the ERP-only pricing data the API's quotes need (no CRM side, no couplings),
        with BC's company information (the local currency) on full runs or while never read."""
        tables = pricing_tables()
        if full or not await self._company_read():
            tables.append(company_table())
        job_type = JobType.FULL if full else JobType.SYNC
        async with self.sessions.begin() as session:
            if queued is not None and "erp_to_crm" in queued:
                job = await jobs.start_job(session, job_id=queued["erp_to_crm"])
            else:
                job = await jobs.create_job(
                    session,
                    mapping=ERP_PRICING,
                    direction="erp_to_crm",
                    type=job_type,
                    status=JobStatus.RUNNING,
                )
            await fence.check(session)
        run = RunState(
            mapping=tables[0],
            fence=fence,
            jobs={"erp_to_crm": job.id},
            lookups=LookupTable(),
            primary="erp_to_crm",
            job_type=job_type.value,
        )

        async def read_and_count() -> None:
            if full:
                reads = [await self._read_fully(table, Side.ERP, fence, read_cache) for table in tables]
            else:
                reads = await self._poll_pricing(tables, fence)
            # The job's total is every row the run read (a full run: all rows of the sets); the
            # finish raises done to it, as reconciling's totals. Without it the review said "N/0".
            async with self.sessions.begin() as session:
                total = sum(len(read.records) + len(read.deleted) for read in reads)
                await jobs.update_job(session, job_id=job.id, total=total)
            for read in reads:
                # A full read returns every row: count those new to the mirror. A poll returns what
                # changed in BC since the set's watermark, even if PRICE LIST LINE (say) mirrored it.
                modified = len(read.changed if full else read.records)
                run.count("modified", modified)
                run.count("deleted", len(read.deleted))
                run.count("done", modified + len(read.deleted))

        summary = await self._run_to_end(run, read_and_count)
        summary.mapping = ERP_PRICING
        return summary

    async def _company_read(self) -> bool:
        """Whether the store holds BC's company information (its watermark says it was read); once
        it does, a process never asks again."""
        if not self._company_known:
            async with self.reads() as session:
                mark = await watermarks.get_watermark(
                    session, mapping=company_table().name, direction="erp_to_crm"
                )
            self._company_known = mark is not None and mark.watermark is not None
        return self._company_known

    async def _poll_pricing(self, tables: list[TableMapping], fence: Fence) -> list[ReadResult]:
        """The pricing sets' changes, their first pages in one `$batch` per BC API: the integration
        API's every run, the standard API's (notified_tables) only when due (gateway.sync.erp_polls:
        every run unless BC subscriptions cover them). Idle with subscriptions, that is one request."""
        gated = {t.name for t in notified_tables()}
        due = [
            t
            for t in tables
            if t.name not in gated
            or await erp_poll_due(self.sessions, mapping=t.name, entity_set=t.erp_entity)
        ]
        started = utcnow()
        reads = await self.reader.erp_changes(mappings=due, fence=fence, generation=uuid.uuid4().hex)
        await record_polled(
            self.sessions, mappings=[t.name for t in due if t.name in gated], at=started, fence=fence
        )
        return reads


__all__ = ["RunSummary", "SyncEngine", "crm_id_for", "erp_number_for"]
