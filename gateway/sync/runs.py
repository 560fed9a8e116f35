"""Opening and closing a sync run: its job rows and their final counts, the ending when its lease is
lost, and what its field lookups and retry fingerprint read from the couplings of other mappings."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence

from gateway.domain import Side
from gateway.errors import GatewayError, StaleLease
from gateway.store import jobs, mirror, read_pricing, sync_state
from gateway.store.tables import (
    JobStatus,
    JobType,
)
from gateway.sync import catalog
from gateway.sync.core import EngineCore
from gateway.sync.fencing import Fence
from gateway.sync.model import TableMapping
from gateway.sync.orphans import record_lost_lease
from gateway.sync.retries import fingerprint
from gateway.sync.runstate import (
    COUNTERS,
    RunState,
    RunSummary,
)
from gateway.sync.values import LookupTable

log = logging.getLogger(__name__)


class RunsPart(EngineCore):
    """A run's job rows, lookups and retry dependencies (see module docstring)."""

    async def mapping(self, name: str) -> TableMapping:
        return await self._mapping(name)

    async def _mapping(self, name: str) -> TableMapping:
        async with self.reads() as session:
            table = await catalog.get_mapping(session, name)
        return table

    # ------------------------------------------------------------------------------ jobs

    async def _start(
        self,
        table: TableMapping,
        directions: list[str],
        job_type: JobType,
        fence: Fence,
        *,
        lazy: bool = False,
        queued: Mapping[str, str] | None = None,
    ) -> RunState:
        """The run's job rows and state; its lookups now, or (`lazy`) once it has work (_need_lookups).

        `queued`: job ids by direction a full sync queued for this run ahead: they start (rather than
        new rows being made), so the review never shows the mapping finished between its runs."""
        lookups = LookupTable() if lazy else await self._lookups(table)
        async with self.sessions.begin() as session:
            ids = {}
            for direction in directions:
                if queued is not None and direction in queued:
                    job = await jobs.start_job(session, job_id=queued[direction])
                else:
                    job = await jobs.create_job(
                        session,
                        mapping=table.name,
                        direction=direction,
                        type=job_type,
                        status=JobStatus.RUNNING,
                    )
                ids[direction] = job.id
            await fence.check(session)
        async with self.reads() as session:
            open_erp, open_crm = await sync_state.failed_record_ids(session, mapping=table.name)
        run = RunState(
            mapping=table,
            fence=fence,
            jobs=ids,
            lookups=lookups,
            primary=directions[0],
            job_type=job_type.value,
        )
        run.open_ids = open_erp | open_crm
        run.lookups_loaded = not lazy
        return run

    async def _lost(self, run: RunState, cause: StaleLease) -> None:
        """The run's lease is gone: its jobs end as errors naming it, not left running."""
        await record_lost_lease(
            self.sessions, job_ids=list(run.jobs.values()), job_type=run.job_type, cause=cause
        )

    async def _need_lookups(self, run: RunState) -> None:
        if not run.lookups_loaded:
            run.lookups = await self._lookups(run.mapping)
            run.lookups_loaded = True

    async def _run_to_end(self, run: RunState, body: Callable[[], Awaitable[object]]) -> RunSummary:
        """Do `body`, the run's work, then end the run: the one place every run ends. A lost lease
        marks its jobs as errors naming it and propagates (the holder must stop); any other failure
        is recorded on the jobs and returned in the summary, for the caller's next run to go on."""
        try:
            await body()
        except StaleLease as exc:
            await self._lost(run, exc)
            raise
        except Exception as exc:
            return await self._finish(run, failure=exc)
        return await self._finish(run)

    async def _finish(self, run: RunState, *, failure: BaseException | None = None) -> RunSummary:
        message = None
        if failure is not None:
            # A GatewayError (a refused token, an upstream that does not answer) says it all in
            # one line, repeated for every run of a round; a traceback is for the unexpected.
            expected = isinstance(failure, GatewayError)
            log.warning(
                "sync run of %s failed: %s", run.mapping.name, failure, exc_info=None if expected else failure
            )
            message = f"{type(failure).__name__}: {failure}"
        try:
            return await self._record_finish(run, message=message, failed_run=failure is not None)
        except StaleLease as exc:  # the fence refused the last commit: say so on the jobs
            await self._lost(run, exc)
            raise

    async def _record_finish(self, run: RunState, *, message: str | None, failed_run: bool) -> RunSummary:
        async with self.sessions.begin() as session:
            await self._flush(session, run)
            failed = False
            for job_id in run.jobs.values():
                job = await jobs.get_job(session, job_id=job_id)
                failed = failed or job.failed > 0
                if not failed_run and job.done < job.total:
                    # A run that went through has seen every record it counted at the start (some
                    # only as part of a pair or an ambiguity): the review line shows it complete.
                    await jobs.add_job_counts(session, job_id=job_id, done=job.total - job.done)
            status = JobStatus.ERROR if failed_run or failed else JobStatus.SUCCESS
            totals: dict[str, int] = dict.fromkeys(COUNTERS, 0)
            created_on: list[str] = []
            for direction, job_id in run.jobs.items():
                job = await jobs.finish_job(session, job_id=job_id, status=status, message=message)
                for name in COUNTERS:
                    totals[name] += getattr(job, name)
                if job.inserted:
                    created_on.append("crm" if direction == "erp_to_crm" else "erp")
            await run.fence.check(session)
        return RunSummary(
            mapping=run.mapping.name,
            direction=run.primary if len(run.jobs) == 1 else run.mapping.direction.value,
            type=run.job_type,
            job_ids=list(run.jobs.values()),
            status=status.value,
            counts=totals,
            message=message,
            created_on=created_on,
        )

    # ------------------------------------------------------------------------------ lookups

    async def local_currency(self) -> str:
        """BC's local currency: as ERP PRICING mirrored it (a full sync reads it there first), else
        asked of BC once per engine."""
        if self._local_currency is None:
            async with self.reads() as session:
                stored = await read_pricing.stored_local_currency(session)
            self._local_currency = stored or (await self.erp.company()).currency_code
        return self._local_currency

    async def _dependencies(self, table: TableMapping, *, also: Sequence[str] = ()) -> str:
        """The fingerprint of what a failed record's retry depends on (gateway.sync.retries), from
        aggregates: one query for the couplings of the lookups' mappings (and of `also`), one per
        natural-key fallback set."""
        wanted = {fm.lookup.mapping: fm.lookup for fm in table.fields if fm.lookup is not None and fm.enabled}
        currency = (
            await self.local_currency() if any(lk.empty_is_local_currency for lk in wanted.values()) else ""
        )
        versions: dict[str, object] = {}
        if wanted or also:
            async with self.reads() as session:
                versions.update(await sync_state.coupling_versions(session, mappings=[*wanted, *also]))
                if any(lk.crm_fallback for lk in wanted.values()):
                    mappings = {m.name: m for m in await catalog.load_mappings(session)}
                    for name, lookup in wanted.items():
                        target = mappings.get(name)
                        if lookup.crm_fallback and target is not None:
                            versions[f"{name} {lookup.crm_fallback}"] = await sync_state.mirror_version(
                                session, side=Side.CRM, entity_set=target.crm_entity
                            )
        return fingerprint(table, local_currency=currency, versions=versions)

    async def _lookups(self, table: TableMapping) -> LookupTable:
        """Every coupling of the mappings this mapping's lookups go through: one query per mapping."""
        table_ = LookupTable()
        wanted = {fm.lookup.mapping: fm.lookup for fm in table.fields if fm.lookup is not None and fm.enabled}
        if any(lk.empty_is_local_currency for lk in wanted.values()):
            table_.local_currency = await self.local_currency()
        async with self.reads() as session:
            mappings = {m.name: m for m in await catalog.load_mappings(session)}
            for name, lookup in wanted.items():
                rows = await sync_state.mapping_couplings(session, mapping=name)
                table_.erp_key_to_crm[name] = {r.erp_key: r.crm_id for r in rows if r.erp_key}
                table_.erp_id_to_crm[name] = {r.erp_id: r.crm_id for r in rows}
                table_.crm_to_erp_key[name] = {r.crm_id: r.erp_key for r in rows if r.erp_key}
                table_.crm_to_erp_id[name] = {r.crm_id: r.erp_id for r in rows}
                target = mappings.get(name)
                if lookup.crm_fallback and target is not None:
                    records = await mirror.load_records(session, side=Side.CRM, entity_set=target.crm_entity)
                    natural = {}
                    for record in records.values():
                        value = record.values.get(lookup.crm_fallback)
                        if isinstance(value, str) and value:
                            natural[value.upper()] = record.id
                    table_.crm_natural[name] = natural
                    table_.crm_natural_reverse[name] = {v: k for k, v in natural.items()}
        return table_
