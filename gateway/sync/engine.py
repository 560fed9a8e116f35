"""The sync engine: one run of one mapping in one direction (incremental) or of a whole mapping
(full), reconciling the mirror's records pair by pair and writing the differences back in batches.

Creates are idempotent: CRM records get a deterministic id (uuid5 of the ERP id) through upsert;
ERP records are created only after a committed intent and a lookup by the number chosen for them.
Every transaction that commits sync state ends with `await fence.check(session)`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from gateway.domain import Side
from gateway.errors import NotFound, StaleLease
from gateway.store import couplings as couplings_store
from gateway.store import jobs, mirror, sync_state
from gateway.store.engine import StoreSession
from gateway.store.sync_tables import MirrorRecord
from gateway.store.tables import (
    Coupling,
    CouplingState,
    ErrorAction,
    JobStatus,
    JobType,
)
from gateway.store.types import utcnow
from gateway.sync import catalog, derived, orders
from gateway.sync.creates import CreatesPart
from gateway.sync.erp_polls import erp_poll_due, record_polled
from gateway.sync.fencing import Fence, NoFence
from gateway.sync.matching import MatchResult, match_records
from gateway.sync.mirroring import ReadResult
from gateway.sync.model import DeletionPolicy, TableMapping
from gateway.sync.orphans import record_lost_lease
from gateway.sync.pairs import PairsPart
from gateway.sync.pricing_mirror import ERP_PRICING, notified_tables, pricing_tables
from gateway.sync.reconcile import creatable
from gateway.sync.retries import fingerprint
from gateway.sync.runstate import (
    COUNTERS,
    SALES_ORDER,
    Pair,
    RunState,
    RunSummary,
    crm_id_for,
    describe,
    erp_number_for,
    live,
)
from gateway.sync.values import LookupTable

log = logging.getLogger(__name__)


class SyncEngine(PairsPart, CreatesPart):
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
        try:
            source = Side.ERP if direction == "erp_to_crm" else Side.CRM
            read = await self.reader.changes(
                mapping=table, side=source, fence=fence, generation=uuid.uuid4().hex
            )
            await self._reconcile_changes(run, source, read)
        except StaleLease as exc:
            await self._lost(run, exc)
            raise
        except Exception as exc:
            return await self._finish(run, failure=exc)
        return await self._finish(run)

    async def full(
        self,
        *,
        mapping: str,
        fence: Fence | None = None,
        read_cache: dict[tuple[Side, str], ReadResult] | None = None,
    ) -> RunSummary:
        """Full synchronization of one mapping: read both sides completely, couple by match, create
        what is missing where the direction allows, bring every coupled pair up to date.

        `read_cache` (shared by the mappings of one full run) skips entity sets already read in it.
        """
        fence = fence or NoFence()
        if mapping == ERP_PRICING:
            return await self._mirror_pricing(full=True, fence=fence, read_cache=read_cache)
        table = await self._mapping(mapping)
        run = await self._start(table, table.directions(), JobType.FULL, fence)
        if table.name == SALES_ORDER:
            return await self._orders(run, full=True, read_cache=read_cache)
        try:
            for side in (Side.ERP, Side.CRM):
                await self._read_fully(table, side, fence, read_cache)
            dependencies = await self._dependencies(table)
            await self._reconcile_all(run)
            self.retries.tried(table, dependencies)  # every record was just tried
        except StaleLease as exc:
            await self._lost(run, exc)
            raise
        except Exception as exc:
            return await self._finish(run, failure=exc)
        return await self._finish(run)

    async def _orders(
        self, run: RunState, *, full: bool, read_cache: dict[tuple[Side, str], ReadResult] | None = None
    ) -> RunSummary:
        try:
            await orders.sync_orders(self, run, full=full, read_cache=read_cache)
        except StaleLease as exc:
            await self._lost(run, exc)
            raise
        except Exception as exc:
            return await self._finish(run, failure=exc)
        return await self._finish(run)

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
        self, *, full: bool, fence: Fence, read_cache: dict[tuple[Side, str], ReadResult] | None = None
    ) -> RunSummary:
        """Mirror the ERP-only pricing data the API's quotes need (no CRM side, no couplings)."""
        tables = pricing_tables()
        job_type = JobType.FULL if full else JobType.SYNC
        async with self.sessions.begin() as session:
            job = await jobs.create_job(
                session, mapping=ERP_PRICING, direction="erp_to_crm", type=job_type, status=JobStatus.RUNNING
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
        try:
            if full:
                reads = [await self._read_fully(table, Side.ERP, fence, read_cache) for table in tables]
            else:
                reads = await self._poll_pricing(tables, fence)
            for read in reads:
                # A full read returns every row: count those new to the mirror. A poll returns what
                # changed in BC since the set's watermark, even if PRICE LIST LINE (say) mirrored it.
                modified = len(read.changed if full else read.records)
                run.count("modified", modified)
                run.count("deleted", len(read.deleted))
                run.count("done", modified + len(read.deleted))
        except StaleLease as exc:
            await self._lost(run, exc)
            raise
        except Exception as exc:
            summary = await self._finish(run, failure=exc)
        else:
            summary = await self._finish(run)
        summary.mapping = ERP_PRICING
        return summary

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

    async def mapping(self, name: str) -> TableMapping:
        return await self._mapping(name)

    async def _mapping(self, name: str) -> TableMapping:
        async with self.sessions() as session:
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
    ) -> RunState:
        """The run's job rows and state; its lookups now, or (`lazy`) once it has work (_need_lookups)."""
        lookups = LookupTable() if lazy else await self._lookups(table)
        async with self.sessions.begin() as session:
            ids = {}
            for direction in directions:
                job = await jobs.create_job(
                    session, mapping=table.name, direction=direction, type=job_type, status=JobStatus.RUNNING
                )
                ids[direction] = job.id
            await fence.check(session)
        async with self.sessions() as session:
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

    async def _finish(self, run: RunState, *, failure: BaseException | None = None) -> RunSummary:
        message = None
        if failure is not None:
            log.warning("sync run of %s failed: %s", run.mapping.name, failure, exc_info=failure)
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
        if self._local_currency is None:
            self._local_currency = (await self.erp.company()).currency_code
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
            async with self.sessions() as session:
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
        async with self.sessions() as session:
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

    # ------------------------------------------------------------------------------ reconciling

    async def _all_couplings(self, session: StoreSession, mapping: str) -> list[Coupling]:
        return await sync_state.mapping_couplings(session, mapping=mapping)

    async def _reconcile_all(self, run: RunState) -> None:
        table = run.mapping
        async with self.sessions() as session:
            erp_records = await mirror.load_records(
                session, side=Side.ERP, entity_set=table.erp_entity, include_deleted=True
            )
            price_lists = (
                await derived.customer_price_lists(session) if derived.needs_derivation(table) else None
            )
            crm_records = await mirror.load_records(
                session, side=Side.CRM, entity_set=table.crm_entity, include_deleted=True
            )
            couplings = await self._all_couplings(session, table.name)
        if price_lists is not None:
            derived.derive(erp_records, price_lists)  # outside the session: never flushed to the mirror
        total = (
            len(couplings)
            + sum(1 for r in erp_records.values() if not r.deleted)
            + sum(1 for r in crm_records.values() if not r.deleted)
        )
        async with self.sessions.begin() as session:
            for job_id in run.jobs.values():
                await jobs.update_job(session, job_id=job_id, total=total)
        await self._reconcile(
            run,
            erp_records,
            crm_records,
            couplings,
            erp_scope=None,
            crm_scope=None,
            create_erp=True,
            create_crm=True,
        )

    async def _reconcile_changes(self, run: RunState, source: Side, read: ReadResult) -> None:
        table = run.mapping
        async with self.sessions() as session:
            retry_erp, retry_crm = await sync_state.failed_record_ids(session, mapping=table.name)
        # Failed records are retried when they change, or when what they depend on changed (see
        # gateway.sync.retries); an idle run with nothing to retry loads nothing, not even the
        # couplings its lookups go through.
        dependencies = await self._dependencies(table) if retry_erp or retry_crm else ""
        retrying = bool(retry_erp or retry_crm) and self.retries.due(table, dependencies)
        if not retrying:
            retry_erp, retry_crm = set(), set()
        if not (read.records or read.deleted or retrying):
            return
        await self._need_lookups(run)
        # Everything this mapping-direction read, not only what was new to the mirror: another
        # mapping reading the same entity set may have mirrored the change first. Our own writes
        # coming back are in scope too and reconcile as unchanged.
        changed = read.records | read.deleted
        erp_scope = set(retry_erp) | (changed if source is Side.ERP else set())
        crm_scope = set(retry_crm) | (changed if source is Side.CRM else set())
        # Only what this run can touch, so its memory follows the changes, not the mapping's size:
        # the couplings of the records in scope, their records on both sides, and the uncoupled
        # records (match and create candidates). Coupled records out of scope are never loaded.
        async with self.sessions() as session:
            couplings = await sync_state.couplings_touching(
                session, mapping=table.name, erp_ids=erp_scope, crm_ids=crm_scope
            )
            records: dict[Side, dict[str, MirrorRecord]] = {}
            for side, entity, scope, partners in (
                (Side.ERP, table.erp_entity, erp_scope, {c.erp_id for c in couplings}),
                (Side.CRM, table.crm_entity, crm_scope, {c.crm_id for c in couplings}),
            ):
                free = await sync_state.uncoupled_records(
                    session, mapping=table.name, side=side, entity_set=entity
                )
                wanted = (scope | partners) - free.keys()
                records[side] = free | await mirror.load_records(
                    session, side=side, entity_set=entity, ids=wanted, include_deleted=True
                )
            price_lists = (
                await derived.customer_price_lists(session) if derived.needs_derivation(table) else None
            )
        erp_records, crm_records = records[Side.ERP], records[Side.CRM]
        if price_lists is not None:
            derived.derive(erp_records, price_lists)  # outside the session: never flushed to the mirror
        async with self.sessions.begin() as session:
            for job_id in run.jobs.values():
                await jobs.update_job(session, job_id=job_id, total=len(erp_scope) + len(crm_scope))
        create = not table.sync_only_coupled
        await self._reconcile(
            run,
            erp_records,
            crm_records,
            couplings,
            erp_scope=erp_scope,
            crm_scope=crm_scope,
            create_erp=create,
            create_crm=create,
        )
        if retrying:
            self.retries.tried(table, dependencies)

    async def _reconcile(
        self,
        run: RunState,
        erp_records: dict[str, MirrorRecord],
        crm_records: dict[str, MirrorRecord],
        couplings: list[Coupling],
        *,
        erp_scope: set[str] | None,
        crm_scope: set[str] | None,
        create_erp: bool,
        create_crm: bool,
    ) -> None:
        table = run.mapping
        coupled_erp = {c.erp_id for c in couplings}
        coupled_crm = {c.crm_id for c in couplings}
        pairs = [
            Pair(c, live(erp_records.get(c.erp_id)), live(crm_records.get(c.crm_id)))
            for c in couplings
            if erp_scope is None or c.erp_id in erp_scope or c.crm_id in (crm_scope or ())
        ]
        for start in range(0, len(pairs), self.chunk_size):
            await self._sync_pairs(run, pairs[start : start + self.chunk_size])
        # Uncoupled records: those in scope on the side that changed, against all on the other side.
        free_erp = {
            i: r.values
            for i, r in erp_records.items()
            if not r.deleted and i not in coupled_erp and table.passes_filter(Side.ERP, r.values)
        }
        free_crm = {
            i: r.values
            for i, r in crm_records.items()
            if not r.deleted and i not in coupled_crm and table.passes_filter(Side.CRM, r.values)
        }
        if erp_scope is not None and table.sync_only_coupled:
            return
        new_pairs: list[tuple[str, str]] = []
        # A CRM record we created for an ERP record whose coupling was lost in a crash: couple it back.
        for erp_id in list(free_erp):
            crm_id = crm_id_for(table.name, erp_id)
            if crm_id in free_crm:
                new_pairs.append((erp_id, crm_id))
                del free_erp[erp_id]
                del free_crm[crm_id]
        scoped_erp = free_erp if erp_scope is None else {i: v for i, v in free_erp.items() if i in erp_scope}
        scoped_crm = free_crm if crm_scope is None else {i: v for i, v in free_crm.items() if i in crm_scope}
        result = match_records(table, erp=scoped_erp, crm=free_crm, lookups=run.lookups)
        # Records changed on the CRM side look for partners among all uncoupled ERP records too.
        if crm_scope is not None and scoped_crm:
            matched_crm = {c for _, c in result.pairs}
            rest_erp = {i: v for i, v in free_erp.items() if i not in scoped_erp}
            reverse = match_records(
                table,
                erp=rest_erp,
                crm={i: v for i, v in scoped_crm.items() if i not in matched_crm},
                lookups=run.lookups,
            )
            result.pairs += reverse.pairs
            result.ambiguous += [a for a in reverse.ambiguous]
            reverse_crm = {c for _, c in reverse.pairs} | {c for _, _, cs in reverse.ambiguous for c in cs}
            result.unmatched_crm = [c for c in scoped_crm if c not in matched_crm and c not in reverse_crm]
        else:
            result.unmatched_crm = [c for c in result.unmatched_crm if c in scoped_crm]
        await self._report_ambiguous(run, result, erp_records, crm_records)
        new_pairs += result.pairs
        # Creates are planned now (ERP ones with their intents committed) and sent last: meanwhile
        # they fill the room in the last batch of the run's other writes to the same side (the new
        # pairs' updates, the ERP creates' follow-ups), see PairsPart._send.
        if create_crm and creatable(table, Side.ERP) and table.direction.allows(Side.ERP):
            run.crm_filler = self._plan_crm_creates(run, [erp_records[i] for i in result.unmatched_erp])
        if create_erp and table.direction.allows(Side.CRM):
            ids = result.unmatched_crm
            for start in range(0, len(ids), self.chunk_size):
                chunk = [crm_records[i] for i in ids[start : start + self.chunk_size]]
                run.erp_filler += await self._plan_erp_creates(run, chunk)
        await self._couple_new(run, new_pairs, erp_records, crm_records)
        posts, run.erp_filler = run.erp_filler, []
        await self._post_in_erp(run, posts)  # their follow-ups may still take CRM creates along
        if create_crm and creatable(table, Side.ERP) and table.direction.allows(Side.ERP):
            rest, run.crm_filler = run.crm_filler, []
            await self._send_crm_creates(run, rest)  # in slices of chunk_size writes

    async def _report_ambiguous(
        self,
        run: RunState,
        result: MatchResult,
        erp_records: dict[str, MirrorRecord],
        crm_records: dict[str, MirrorRecord],
    ) -> None:
        table = run.mapping
        for side, record_id, candidates in result.ambiguous:
            record = erp_records[record_id] if side is Side.ERP else crm_records[record_id]
            others = crm_records if side is Side.ERP else erp_records
            names = [f"{c} ({describe(table, others[c])})" for c in candidates]
            reason = f"{len(candidates)} records match {describe(table, record)}; couple one by hand"
            self._fail(
                run,
                reason=reason,
                erp_id=record_id if side is Side.ERP else None,
                crm_id=record_id if side is Side.CRM else None,
                erp_key=record.key if side is Side.ERP else None,
                crm_key=record.key if side is Side.CRM else None,
                cause=[reason, "candidates: " + "; ".join(names)],
                actions=(ErrorAction.IGNORE,),
            )
        if result.ambiguous:
            async with self.sessions.begin() as session:
                await self._flush(session, run)
                await run.fence.check(session)

    async def _couple_new(
        self,
        run: RunState,
        new_pairs: list[tuple[str, str]],
        erp_records: dict[str, MirrorRecord],
        crm_records: dict[str, MirrorRecord],
    ) -> None:
        if not new_pairs:
            return
        table = run.mapping
        created: list[Pair] = []
        async with self.sessions.begin() as session:
            for erp_id, crm_id in new_pairs:
                erp, crm = erp_records[erp_id], crm_records[crm_id]
                coupling = await couplings_store.create_coupling(
                    session,
                    mapping=table.name,
                    erp_id=erp_id,
                    crm_id=crm_id,
                    erp_key=table.key_of(Side.ERP, erp.values),
                    crm_key=table.key_of(Side.CRM, crm.values),
                )
                created.append(Pair(coupling, erp, crm))
            run.count("coupled", len(created))
            await self._flush(session, run)
            await run.fence.check(session)
        for start in range(0, len(created), self.chunk_size):
            await self._sync_pairs(run, created[start : start + self.chunk_size])

    # ------------------------------------------------------------------------------ admin actions

    async def act_on_pair(self, *, mapping: str, coupling_id: int, action: ErrorAction) -> RunSummary:
        """Retry, force from one side or restore one coupled pair now (admin actions on an error)."""
        table = await self._mapping(mapping)
        run = await self._start(table, [table.directions()[0]], JobType.SYNC, NoFence())
        async with self.sessions() as session:
            coupling = await couplings_store.get_coupling(session, coupling_id=coupling_id)
            erp = live(
                (
                    await mirror.load_records(
                        session,
                        side=Side.ERP,
                        entity_set=table.erp_entity,
                        ids=[coupling.erp_id],
                        include_deleted=True,
                    )
                ).get(coupling.erp_id)
            )
            crm = live(
                (
                    await mirror.load_records(
                        session,
                        side=Side.CRM,
                        entity_set=table.crm_entity,
                        ids=[coupling.crm_id],
                        include_deleted=True,
                    )
                ).get(coupling.crm_id)
            )
        pair = Pair(coupling, erp, crm)
        try:
            if action is ErrorAction.RESTORE:
                await self._deleted(run, [pair], policy=DeletionPolicy.RESTORE)
            else:
                force = {ErrorAction.FORCE_ERP: Side.ERP, ErrorAction.FORCE_CRM: Side.CRM}.get(action)
                coupling.state = CouplingState.COUPLED.value
                await self._sync_pairs(run, [pair], force=force)
        except StaleLease as exc:
            await self._lost(run, exc)
            raise
        except Exception as exc:
            return await self._finish(run, failure=exc)
        return await self._finish(run)

    async def match(
        self,
        *,
        mapping: str,
        fields: Sequence[tuple[str, str]] | None = None,
        case_sensitive: bool | None = None,
        dry_run: bool = True,
        create_if_no_match: bool = False,
    ) -> dict[str, Any]:
        """Match-based coupling of the uncoupled records in the mirror. A dry run writes nothing."""
        table = await self._mapping(mapping)
        async with self.sessions() as session:
            empty = [
                side
                for side, entity in ((Side.ERP, table.erp_entity), (Side.CRM, table.crm_entity))
                if await mirror.count_records(session, side=side, entity_set=entity) == 0
            ]
        for side in empty:  # nothing read yet: read it (upstream reads only; nothing is written there)
            await self.reader.full_read(
                mapping=table, side=side, fence=NoFence(), generation=uuid.uuid4().hex
            )
        lookups = await self._lookups(table)
        async with self.sessions() as session:
            erp_records = await mirror.load_records(session, side=Side.ERP, entity_set=table.erp_entity)
            crm_records = await mirror.load_records(session, side=Side.CRM, entity_set=table.crm_entity)
            couplings = await self._all_couplings(session, table.name)
        coupled_erp = {c.erp_id for c in couplings}
        coupled_crm = {c.crm_id for c in couplings}
        free_erp = {
            i: r.values
            for i, r in erp_records.items()
            if i not in coupled_erp and table.passes_filter(Side.ERP, r.values)
        }
        free_crm = {
            i: r.values
            for i, r in crm_records.items()
            if i not in coupled_crm and table.passes_filter(Side.CRM, r.values)
        }
        groups = [list(fields)] if fields else None
        result = match_records(
            table, erp=free_erp, crm=free_crm, lookups=lookups, groups=groups, case_sensitive=case_sensitive
        )
        report = {
            "mapping": table.name,
            "dryRun": dry_run,
            "pairs": [
                {
                    "erpId": e,
                    "erpKey": erp_records[e].key,
                    "crmId": c,
                    "crmKey": crm_records[c].key,
                    "erpName": describe(table, erp_records[e]),
                    "crmName": describe(table, crm_records[c]),
                }
                for e, c in result.pairs
            ],
            "ambiguous": [
                {
                    "side": s.value,
                    "id": i,
                    "name": describe(table, (erp_records if s is Side.ERP else crm_records)[i]),
                    "candidates": [
                        {
                            "id": c,
                            "name": describe(table, (crm_records if s is Side.ERP else erp_records)[c]),
                        }
                        for c in cs
                    ],
                }
                for s, i, cs in result.ambiguous
            ],
            "noMatch": {"erp": result.unmatched_erp, "crm": result.unmatched_crm},
        }
        if dry_run:
            return report
        run = await self._start(table, [table.directions()[0]], JobType.COUPLING, NoFence())
        await self._couple_new(run, result.pairs, erp_records, crm_records)
        if create_if_no_match:
            if table.direction.allows(Side.ERP):
                await self._create_in_crm(run, [erp_records[i] for i in result.unmatched_erp])
            if table.direction.allows(Side.CRM):
                await self._create_in_erp(run, [crm_records[i] for i in result.unmatched_crm])
        summary = await self._finish(run)
        report["jobIds"] = summary.job_ids
        return report


__all__ = ["RunSummary", "SyncEngine", "crm_id_for", "erp_number_for"]
