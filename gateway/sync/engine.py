"""The sync engine: one run of one mapping in one direction (incremental) or of a whole mapping
(full), reconciling the mirror's records pair by pair and writing the differences back in batches.

Creates are idempotent: CRM records get a deterministic id (uuid5 of the ERP id) through upsert;
ERP records are created only after a committed intent and a lookup by the number chosen for them.
Every transaction that commits sync state ends with `await fence.check(session)`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.domain import BatchResult, Side, UpstreamRecord
from gateway.errors import GatewayError, MissingDependency, NotFound, RecordError, StaleLease, UpstreamError
from gateway.store import couplings as couplings_store
from gateway.store import intents, jobs, mirror, sync_state
from gateway.store.engine import SessionFactory, StoreSession
from gateway.store.sync_tables import MirrorRecord
from gateway.store.tables import (
    Coupling,
    CouplingState,
    ErrorAction,
    JobStatus,
    JobType,
)
from gateway.sync import catalog, derived, orders
from gateway.sync.fencing import Fence, NoFence
from gateway.sync.matching import MatchResult, match_records
from gateway.sync.mirroring import MirrorReader, ReadResult, erp_api
from gateway.sync.model import DeletionPolicy, MappingDirection, TableMapping
from gateway.sync.pricing_mirror import ERP_PRICING, pricing_tables
from gateway.sync.reconcile import Outcome, creatable, reconcile, snapshot
from gateway.sync.values import LookupTable, crm_payload, map_record
from gateway.upstream.crm import CrmConnector, primary_key
from gateway.upstream.erp import ErpConnector
from gateway.upstream.odata import in_filter
from gateway.upstream.writes import Write

log = logging.getLogger(__name__)

SALES_ORDER = "SALES ORDER"
CRM_ID_NAMESPACE = uuid.UUID("5b1f3f6e-9d0c-4c52-8a51-6a0f4c1e7d21")
"""uuid5 namespace of the ids CRM records created from ERP records get (stable across releases)."""
COUNTERS = (
    "inserted",
    "modified",
    "deleted",
    "unchanged",
    "skipped",
    "failed",
    "coupled",
    "uncoupled",
    "done",
)


def crm_id_for(mapping: str, erp_id: str) -> str:
    """The id a CRM record created from ERP record `erp_id` gets: the same on every attempt."""
    return str(uuid.uuid5(CRM_ID_NAMESPACE, f"{mapping}|{couplings_store.normalize_id(erp_id)}"))


def erp_number_for(mapping: TableMapping, crm_id: str, crm_values: Mapping[str, Any]) -> str:
    """The number an ERP record created from a CRM record gets: the CRM key when it has one."""
    if mapping.crm_key_fields:
        own = crm_values.get(mapping.crm_key_fields[0])
        if isinstance(own, str) and own.strip():
            return own.strip()[:20]
    digest = uuid.uuid5(CRM_ID_NAMESPACE, f"{mapping.name}|{crm_id}").hex[:8].upper()
    return f"{mapping.erp_number_prefix or 'X'}{digest}"[:20]


@dataclass
class RunSummary:
    """What a run did: its job rows and their counters (summed over directions)."""

    mapping: str
    direction: str
    type: str
    job_ids: list[str]
    status: str
    counts: dict[str, int]
    message: str | None = None
    created_on: list[str] = field(default_factory=list)
    """The sides ("erp", "crm") this run created records on."""


@dataclass
class _Pair:
    coupling: Coupling
    erp: MirrorRecord | None
    crm: MirrorRecord | None


@dataclass
class _Run:
    mapping: TableMapping
    fence: Fence
    jobs: dict[str, str]
    lookups: LookupTable
    primary: str
    job_type: str = JobType.SYNC.value
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    resolved: set[tuple[str | None, str | None]] = field(default_factory=set)
    open_ids: set[str] = field(default_factory=set)
    """Records with open errors when the run started: only these need resolving on success."""

    def count(self, name: str, amount: int = 1, *, direction: str | None = None) -> None:
        job = self.jobs.get(direction or self.primary) or self.jobs[self.primary]
        bucket = self.counts.setdefault(job, {})
        bucket[name] = bucket.get(name, 0) + amount


def _job_direction(target: Side) -> str:
    return "erp_to_crm" if target is Side.CRM else "crm_to_erp"


class SyncEngine:
    """Runs mappings between one ERP and one CRM over one store (see module docstring)."""

    def __init__(
        self, *, sessions: SessionFactory, erp: ErpConnector, crm: CrmConnector, chunk_size: int = 1000
    ) -> None:
        self.sessions = sessions
        self.erp = erp
        self.crm = crm
        self.chunk_size = chunk_size
        self.reader = MirrorReader(sessions=sessions, erp=erp, crm=crm)
        self._local_currency: str | None = None

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
        run = await self._start(table, [direction], JobType(job_type), fence)
        if table.name == SALES_ORDER:
            return await self._orders(run, full=False)
        try:
            source = Side.ERP if direction == "erp_to_crm" else Side.CRM
            read = await self.reader.changes(
                mapping=table, side=source, fence=fence, generation=uuid.uuid4().hex
            )
            await self._reconcile_changes(run, source, read)
        except StaleLease:
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
            await self._reconcile_all(run)
        except StaleLease:
            raise
        except Exception as exc:
            return await self._finish(run, failure=exc)
        return await self._finish(run)

    async def _orders(
        self, run: _Run, *, full: bool, read_cache: dict[tuple[Side, str], ReadResult] | None = None
    ) -> RunSummary:
        try:
            await orders.sync_orders(self, run, full=full, read_cache=read_cache)
        except StaleLease:
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
        run = _Run(
            mapping=tables[0],
            fence=fence,
            jobs={"erp_to_crm": job.id},
            lookups=LookupTable(),
            primary="erp_to_crm",
            job_type=job_type.value,
        )
        try:
            for table in tables:
                if full:
                    read = await self._read_fully(table, Side.ERP, fence, read_cache)
                else:
                    read = await self.reader.changes(
                        mapping=table, side=Side.ERP, fence=fence, generation=uuid.uuid4().hex
                    )
                run.count("modified", len(read.changed))
                run.count("deleted", len(read.deleted))
                run.count("done", len(read.changed) + len(read.deleted))
        except StaleLease:
            raise
        except Exception as exc:
            summary = await self._finish(run, failure=exc)
        else:
            summary = await self._finish(run)
        summary.mapping = ERP_PRICING
        return summary

    async def mapping(self, name: str) -> TableMapping:
        return await self._mapping(name)

    async def _mapping(self, name: str) -> TableMapping:
        async with self.sessions() as session:
            table = await catalog.get_mapping(session, name)
        return table

    # ------------------------------------------------------------------------------ jobs

    async def _start(
        self, table: TableMapping, directions: list[str], job_type: JobType, fence: Fence
    ) -> _Run:
        lookups = await self._lookups(table)
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
        run = _Run(
            mapping=table,
            fence=fence,
            jobs=ids,
            lookups=lookups,
            primary=directions[0],
            job_type=job_type.value,
        )
        run.open_ids = open_erp | open_crm
        return run

    async def _finish(self, run: _Run, *, failure: BaseException | None = None) -> RunSummary:
        message = None
        if failure is not None:
            log.warning("sync run of %s failed: %s", run.mapping.name, failure, exc_info=failure)
            message = f"{type(failure).__name__}: {failure}"
        async with self.sessions.begin() as session:
            await self._flush(session, run)
            failed = False
            for job_id in run.jobs.values():
                job = await jobs.get_job(session, job_id=job_id)
                failed = failed or job.failed > 0
                if failure is None and job.done < job.total:
                    # A run that went through has seen every record it counted at the start (some
                    # only as part of a pair or an ambiguity): the review line shows it complete.
                    await jobs.add_job_counts(session, job_id=job_id, done=job.total - job.done)
            status = JobStatus.ERROR if failure is not None or failed else JobStatus.SUCCESS
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

    async def _flush(self, session: StoreSession, run: _Run) -> None:
        """Counters and errors gathered since the last commit, written in the caller's transaction."""
        for job_id, bucket in run.counts.items():
            await jobs.add_job_counts(session, job_id=job_id, **bucket)
        run.counts.clear()
        for erp_id, crm_id in run.resolved:
            if erp_id not in run.open_ids and crm_id not in run.open_ids:
                continue
            await sync_state.resolve_record_errors(
                session, mapping=run.mapping.name, erp_id=erp_id, crm_id=crm_id
            )
        run.resolved.clear()
        for error in run.errors:
            await sync_state.resolve_record_errors(
                session, mapping=run.mapping.name, erp_id=error.get("erp_id"), crm_id=error.get("crm_id")
            )
            await jobs.add_job_error(
                session,
                job_id=run.jobs[error.pop("direction", run.primary)],
                mapping=run.mapping.name,
                **error,
            )
        run.errors.clear()

    def _fail(
        self,
        run: _Run,
        *,
        reason: str,
        erp_id: str | None = None,
        crm_id: str | None = None,
        erp_key: str | None = None,
        crm_key: str | None = None,
        field: str | None = None,
        cause: Sequence[str] = (),
        actions: Iterable[ErrorAction] = (ErrorAction.RETRY, ErrorAction.IGNORE),
        direction: str | None = None,
        counter: str = "failed",
    ) -> None:
        direction = direction if direction in run.jobs else run.primary
        run.count(counter, direction=direction)
        run.errors.append(
            {
                "reason": reason,
                "erp_id": erp_id,
                "crm_id": crm_id,
                "erp_key": erp_key,
                "crm_key": crm_key,
                "field": field,
                "cause": list(cause) or [reason],
                "actions": [a.value for a in actions],
                "direction": direction,
            }
        )

    # ------------------------------------------------------------------------------ lookups

    async def local_currency(self) -> str:
        if self._local_currency is None:
            self._local_currency = (await self.erp.company()).currency_code
        return self._local_currency

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

    async def _reconcile_all(self, run: _Run) -> None:
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

    async def _reconcile_changes(self, run: _Run, source: Side, read: ReadResult) -> None:
        table = run.mapping
        async with self.sessions() as session:
            couplings = await self._all_couplings(session, table.name)
            retry_erp, retry_crm = await sync_state.failed_record_ids(session, mapping=table.name)
            erp_records = await mirror.load_records(
                session, side=Side.ERP, entity_set=table.erp_entity, include_deleted=True
            )
            price_lists = (
                await derived.customer_price_lists(session) if derived.needs_derivation(table) else None
            )
            crm_records = await mirror.load_records(
                session, side=Side.CRM, entity_set=table.crm_entity, include_deleted=True
            )
        if price_lists is not None:
            derived.derive(erp_records, price_lists)  # outside the session: never flushed to the mirror
        changed = read.changed | read.deleted
        erp_scope = set(retry_erp) | (changed if source is Side.ERP else set())
        crm_scope = set(retry_crm) | (changed if source is Side.CRM else set())
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

    async def _reconcile(
        self,
        run: _Run,
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
            _Pair(c, _live(erp_records.get(c.erp_id)), _live(crm_records.get(c.crm_id)))
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
        await self._couple_new(run, new_pairs, erp_records, crm_records)
        if create_crm and creatable(table, Side.ERP) and table.direction.allows(Side.ERP):
            ids = result.unmatched_erp
            for start in range(0, len(ids), self.chunk_size):
                await self._create_in_crm(run, [erp_records[i] for i in ids[start : start + self.chunk_size]])
        if create_erp and table.direction.allows(Side.CRM):
            ids = result.unmatched_crm
            for start in range(0, len(ids), self.chunk_size):
                await self._create_in_erp(run, [crm_records[i] for i in ids[start : start + self.chunk_size]])

    async def _report_ambiguous(
        self,
        run: _Run,
        result: MatchResult,
        erp_records: dict[str, MirrorRecord],
        crm_records: dict[str, MirrorRecord],
    ) -> None:
        table = run.mapping
        for side, record_id, candidates in result.ambiguous:
            record = erp_records[record_id] if side is Side.ERP else crm_records[record_id]
            others = crm_records if side is Side.ERP else erp_records
            names = [f"{c} ({_describe(table, others[c])})" for c in candidates]
            reason = f"{len(candidates)} records match {_describe(table, record)}; couple one by hand"
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
        run: _Run,
        new_pairs: list[tuple[str, str]],
        erp_records: dict[str, MirrorRecord],
        crm_records: dict[str, MirrorRecord],
    ) -> None:
        if not new_pairs:
            return
        table = run.mapping
        created: list[_Pair] = []
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
                created.append(_Pair(coupling, erp, crm))
            run.count("coupled", len(created))
            await self._flush(session, run)
            await run.fence.check(session)
        for start in range(0, len(created), self.chunk_size):
            await self._sync_pairs(run, created[start : start + self.chunk_size])

    # ------------------------------------------------------------------------------ coupled pairs

    async def _sync_pairs(self, run: _Run, pairs: list[_Pair], *, force: Side | None = None) -> None:
        table = run.mapping
        updates: list[tuple[_Pair, Outcome]] = []
        deletions: list[_Pair] = []
        settled: list[tuple[_Pair, dict[str, Any], dict[str, Any]]] = []
        for pair in pairs:
            coupling = pair.coupling
            if coupling.skipped or (coupling.state == CouplingState.ORPHANED.value and force is None):
                run.count("skipped")
                continue
            if pair.erp is None or pair.crm is None:
                deletions.append(pair)
                continue
            try:
                outcome = reconcile(
                    table,
                    erp=pair.erp.values,
                    crm=pair.crm.values,
                    last_synced=coupling.last_synced,
                    lookups=run.lookups,
                    erp_modified=pair.erp.modified_at,
                    crm_modified=pair.crm.modified_at,
                    force=force,
                )
            except RecordError as exc:
                self._record_failure(run, pair, exc)
                continue
            if outcome.skipped:
                self._conflict(run, pair, outcome)
            elif outcome.unchanged:
                run.count("unchanged")
                settled.append((pair, dict(pair.erp.values), dict(pair.crm.values)))
            else:
                updates.append((pair, outcome))
        written = await self._write_updates(run, updates)
        settled += written
        async with self.sessions.begin() as session:
            for pair, erp_values, crm_values in settled:
                agreed = snapshot(table, erp=erp_values, crm=crm_values)
                if agreed != pair.coupling.last_synced or pair.coupling.state != CouplingState.COUPLED.value:
                    await couplings_store.update_coupling(
                        session,
                        coupling_id=pair.coupling.id or 0,
                        last_synced=agreed,
                        state=CouplingState.COUPLED,
                        erp_last_result="success",
                        crm_last_result="success",
                        erp_modified_at=pair.erp.modified_at if pair.erp else None,
                        crm_modified_at=pair.crm.modified_at if pair.crm else None,
                    )
                    pair.coupling.last_synced = agreed
                    pair.coupling.state = CouplingState.COUPLED.value
                run.resolved.add((pair.coupling.erp_id, pair.coupling.crm_id))
            for pair in pairs:
                if pair.coupling.state in (CouplingState.ERROR.value, CouplingState.CONFLICT.value):
                    await couplings_store.update_coupling(
                        session, coupling_id=pair.coupling.id or 0, state=pair.coupling.state
                    )
            run.count("done", len(pairs))
            await self._flush(session, run)
            await run.fence.check(session)
        if deletions:
            await self._deleted(run, deletions)

    def _record_failure(self, run: _Run, pair: _Pair, exc: GatewayError) -> None:
        pair.coupling.state = CouplingState.ERROR.value
        field = exc.field if isinstance(exc, MissingDependency) else None
        self._fail(
            run,
            reason=str(exc),
            erp_id=pair.coupling.erp_id,
            crm_id=pair.coupling.crm_id,
            erp_key=pair.coupling.erp_key,
            crm_key=pair.coupling.crm_key,
            field=field,
            cause=_chain(exc),
            actions=(
                ErrorAction.RETRY,
                ErrorAction.FORCE_ERP,
                ErrorAction.FORCE_CRM,
                ErrorAction.UNCOUPLE,
                ErrorAction.IGNORE,
            ),
        )

    def _conflict(self, run: _Run, pair: _Pair, outcome: Outcome) -> None:
        pair.coupling.state = CouplingState.CONFLICT.value
        details = [f"{c.field}: ERP {c.erp_value!r} vs CRM {c.crm_value!r}" for c in outcome.conflicts]
        self._fail(
            run,
            reason=f"both sides changed {', '.join(c.field for c in outcome.conflicts)} since the last sync",
            erp_id=pair.coupling.erp_id,
            crm_id=pair.coupling.crm_id,
            erp_key=pair.coupling.erp_key,
            crm_key=pair.coupling.crm_key,
            field=outcome.conflicts[0].field,
            cause=details,
            actions=(ErrorAction.FORCE_ERP, ErrorAction.FORCE_CRM, ErrorAction.IGNORE),
            counter="skipped",
        )

    async def _write_updates(
        self, run: _Run, updates: list[tuple[_Pair, Outcome]]
    ) -> list[tuple[_Pair, dict[str, Any], dict[str, Any]]]:
        """Send every update in batches; 412s are re-read and re-applied one by one."""
        table = run.mapping
        erp_writes: list[tuple[_Pair, Write]] = []
        crm_writes: list[tuple[_Pair, Write]] = []
        for pair, outcome in updates:
            assert pair.erp is not None and pair.crm is not None
            if outcome.erp_changes:
                erp_writes.append(
                    (
                        pair,
                        Write.update(
                            table.erp_entity, pair.erp.id, outcome.erp_changes, etag=pair.erp.etag or "*"
                        ),
                    )
                )
            if outcome.crm_changes:
                crm_writes.append(
                    (
                        pair,
                        Write.update(
                            table.crm_entity,
                            uuid.UUID(pair.crm.id),
                            crm_payload(table, outcome.crm_changes),
                            etag=pair.crm.etag or "*",
                        ),
                    )
                )
        erp_results = await self._send(run, Side.ERP, [w for _, w in erp_writes])
        crm_results = await self._send(run, Side.CRM, [w for _, w in crm_writes])
        stale: set[int] = set()
        failed: set[int] = set()
        erp_after: dict[int, UpstreamRecord] = {}
        crm_after: dict[int, UpstreamRecord] = {}
        for side, writes, results, after in (
            (Side.ERP, erp_writes, erp_results, erp_after),
            (Side.CRM, crm_writes, crm_results, crm_after),
        ):
            for (pair, write), result in zip(writes, results, strict=True):
                key = id(pair)
                if isinstance(result, BaseException):
                    failed.add(key)
                    self._record_failure(run, pair, _as_record_error(result))
                elif result.status == 412:
                    stale.add(key)
                elif result.status >= 300:
                    failed.add(key)
                    self._record_failure(run, pair, RecordError(_batch_message(side, result)))
                else:
                    after[key] = _record_from(side, table, write, result, pair)
        written: list[tuple[_Pair, dict[str, Any], dict[str, Any]]] = []
        records_to_mirror: dict[Side, list[UpstreamRecord]] = {Side.ERP: [], Side.CRM: []}
        for pair, _outcome in updates:
            key = id(pair)
            if key in failed or key in stale:
                continue
            assert pair.erp is not None and pair.crm is not None
            erp_record = erp_after.get(key)
            crm_record = crm_after.get(key)
            if erp_record is not None:
                records_to_mirror[Side.ERP].append(erp_record)
                run.count("modified", direction="crm_to_erp")
            if crm_record is not None:
                records_to_mirror[Side.CRM].append(crm_record)
                run.count("modified", direction="erp_to_crm")
            erp_values = dict(erp_record.values) if erp_record else dict(pair.erp.values)
            crm_values = dict(crm_record.values) if crm_record else dict(pair.crm.values)
            written.append((pair, erp_values, crm_values))
        await self._mirror(run, records_to_mirror)
        for pair, _ in updates:
            if id(pair) in stale:
                retried = await self._retry_stale(run, pair)
                if retried is not None:
                    written.append(retried)
        return written

    async def _retry_stale(
        self, run: _Run, pair: _Pair
    ) -> tuple[_Pair, dict[str, Any], dict[str, Any]] | None:
        """A 412: someone wrote in between. Read both records again and apply the policy once more."""
        table = run.mapping
        try:
            erp = await self.reader.refetch(
                mapping=table, side=Side.ERP, record_id=pair.coupling.erp_id, fence=run.fence
            )
            crm = await self.reader.refetch(
                mapping=table, side=Side.CRM, record_id=pair.coupling.crm_id, fence=run.fence
            )
            outcome = reconcile(
                table,
                erp=erp.values,
                crm=crm.values,
                last_synced=pair.coupling.last_synced,
                lookups=run.lookups,
                erp_modified=erp.modified_at,
                crm_modified=crm.modified_at,
            )
            if outcome.skipped:
                self._conflict(run, pair, outcome)
                return None
            if outcome.erp_changes:
                erp = await self.erp.update(
                    table.erp_entity,
                    erp.id,
                    outcome.erp_changes,
                    etag=erp.etag or "*",
                    api=erp_api(table),
                )
                run.count("modified", direction="crm_to_erp")
            if outcome.crm_changes:
                crm = await self.crm.update(
                    table.crm_entity,
                    uuid.UUID(crm.id),
                    crm_payload(table, outcome.crm_changes),
                    etag=crm.etag or "*",
                )
                run.count("modified", direction="erp_to_crm")
            if outcome.unchanged:
                run.count("unchanged")
        except (RecordError, UpstreamError) as exc:
            self._record_failure(run, pair, _as_record_error(exc))
            return None
        await self._mirror(run, {Side.ERP: [erp], Side.CRM: [crm]})
        return pair, dict(erp.values), dict(crm.values)

    async def _send(self, run: _Run, side: Side, writes: list[Write]) -> list[BatchResult | BaseException]:
        """Batches chunked to the service's limit; a batch that fails as a whole fails its records."""
        if not writes:
            return []
        size = 100 if side is Side.ERP else 1000
        results: list[BatchResult | BaseException] = []
        for start in range(0, len(writes), size):
            chunk = writes[start : start + size]
            try:
                if side is Side.ERP:
                    answer = await self.erp.batch(chunk, api=erp_api(run.mapping))
                else:
                    answer = await self.crm.batch(chunk)
            except UpstreamError as exc:
                results.extend([exc] * len(chunk))
                continue
            by_index = {r.index - start if r.index >= start else r.index: r for r in answer}
            for offset in range(len(chunk)):
                found = by_index.get(offset)
                results.append(
                    found if found is not None else RecordError("the batch answered nothing for this write")
                )
        return results

    async def _mirror(self, run: _Run, records: Mapping[Side, list[UpstreamRecord]]) -> None:
        table = run.mapping
        async with self.sessions.begin() as session:
            for side, items in records.items():
                if items:
                    entity = table.erp_entity if side is Side.ERP else table.crm_entity
                    await mirror.upsert_records(
                        session,
                        side=side,
                        entity_set=entity,
                        records=items,
                        keys={
                            couplings_store.normalize_id(r.id): table.key_of(side, r.values) for r in items
                        },
                    )
            await run.fence.check(session)

    # ------------------------------------------------------------------------------ creates

    async def _create_in_crm(self, run: _Run, records: list[MirrorRecord]) -> None:
        """Upsert by a deterministic id: repeating it after a crash updates, never duplicates."""
        table = run.mapping
        writes: list[tuple[MirrorRecord, str, Write]] = []
        for record in records:
            try:
                values = map_record(table, source=Side.ERP, values=record.values, lookups=run.lookups)
            except RecordError as exc:
                self._fail(
                    run,
                    reason=str(exc),
                    erp_id=record.id,
                    erp_key=record.key,
                    field=getattr(exc, "field", None),
                    cause=_chain(exc),
                    direction="erp_to_crm",
                )
                continue
            crm_id = crm_id_for(table.name, record.id)
            writes.append(
                (
                    record,
                    crm_id,
                    Write.upsert(table.crm_entity, uuid.UUID(crm_id), crm_payload(table, values)),
                )
            )
        results = await self._send(run, Side.CRM, [w for _, _, w in writes])
        created: list[tuple[MirrorRecord, UpstreamRecord]] = []
        for (record, crm_id, write), result in zip(writes, results, strict=True):
            if isinstance(result, BaseException) or result.status >= 300:
                reason = (
                    str(result) if isinstance(result, BaseException) else _batch_message(Side.CRM, result)
                )
                self._fail(run, reason=reason, erp_id=record.id, erp_key=record.key, direction="erp_to_crm")
                continue
            created.append((record, _record_from(Side.CRM, table, write, result, None, record_id=crm_id)))
        async with self.sessions.begin() as session:
            if created:
                await mirror.upsert_records(
                    session,
                    side=Side.CRM,
                    entity_set=table.crm_entity,
                    records=[c for _, c in created],
                    keys={
                        couplings_store.normalize_id(c.id): table.key_of(Side.CRM, c.values)
                        for _, c in created
                    },
                )
            for record, crm in created:
                await couplings_store.create_coupling(
                    session,
                    mapping=table.name,
                    erp_id=record.id,
                    crm_id=crm.id,
                    erp_key=record.key,
                    crm_key=table.key_of(Side.CRM, crm.values),
                    last_synced=snapshot(table, erp=record.values, crm=crm.values),
                    erp_modified_at=record.modified_at,
                    crm_modified_at=crm.modified_at,
                )
                run.resolved.add((record.id, None))
            run.count("inserted", len(created), direction="erp_to_crm")
            run.count("done", len(records))
            await self._flush(session, run)
            await run.fence.check(session)

    async def _create_in_erp(
        self, run: _Run, records: list[MirrorRecord], *, numbers: Mapping[str, str] | None = None
    ) -> None:
        """Record an intent (committed), look up numbers of intents a crash left behind, then POST."""
        table = run.mapping
        if not table.erp_key_fields:
            for record in records:
                self._fail(
                    run,
                    reason=f"{table.name} cannot create ERP records (no key field)",
                    crm_id=record.id,
                    direction="crm_to_erp",
                )
            return
        number_field = table.erp_key_fields[0]
        planned: list[tuple[MirrorRecord, str, dict[str, Any]]] = []
        for record in records:
            try:
                values = map_record(table, source=Side.CRM, values=record.values, lookups=run.lookups)
            except RecordError as exc:
                self._fail(
                    run,
                    reason=str(exc),
                    crm_id=record.id,
                    crm_key=record.key,
                    field=getattr(exc, "field", None),
                    cause=_chain(exc),
                    direction="crm_to_erp",
                )
                continue
            _seed_from_crm(table, values, record.values)
            number = (numbers or {}).get(record.id) or erp_number_for(table, record.id, record.values)
            values[number_field] = number
            planned.append((record, number, values))
        if not planned:
            async with self.sessions.begin() as session:
                await self._flush(session, run)
                await run.fence.check(session)
            return
        async with self.sessions.begin() as session:
            earlier = await intents.intents_for(
                session, mapping=table.name, crm_ids=[r.id for r, _, _ in planned]
            )
            for record, number, _ in planned:
                if record.id not in earlier:
                    await intents.record_intent(
                        session, mapping=table.name, crm_id=record.id, erp_number=number
                    )
            await run.fence.check(session)
        found: dict[str, UpstreamRecord] = {}
        if earlier:
            # These may have been POSTed before a crash: look them up by number instead of posting again.
            numbers_ = [i.erp_number for i in earlier.values()]
            for start in range(0, len(numbers_), 50):
                condition = in_filter(number_field, numbers_[start : start + 50])
                async for page in self.erp.pages(table.erp_entity, api=erp_api(table), filter=condition):
                    for row in page:
                        found[str(row.values.get(number_field))] = row
        to_post: list[tuple[MirrorRecord, str, Write]] = []
        done: list[tuple[MirrorRecord, UpstreamRecord]] = []
        for record, _number, values in planned:
            intent = earlier.get(record.id)
            existing = found.get(intent.erp_number) if intent else None
            if existing is not None:
                done.append((record, existing))
            else:
                if intent is not None:
                    values[number_field] = intent.erp_number
                to_post.append((record, values[number_field], Write.create(table.erp_entity, values)))
        results = await self._send(run, Side.ERP, [w for _, _, w in to_post])
        definitive_failures: list[str] = []
        for (record, _number, write), result in zip(to_post, results, strict=True):
            if isinstance(result, BaseException) or result.status >= 300:
                reason = (
                    str(result) if isinstance(result, BaseException) else _batch_message(Side.ERP, result)
                )
                if not isinstance(result, BaseException) and 400 <= result.status < 500:
                    definitive_failures.append(record.id)
                self._fail(run, reason=reason, crm_id=record.id, crm_key=record.key, direction="crm_to_erp")
                continue
            done.append((record, _record_from(Side.ERP, table, write, result, None)))
        async with self.sessions.begin() as session:
            if done:
                await mirror.upsert_records(
                    session,
                    side=Side.ERP,
                    entity_set=table.erp_entity,
                    records=[e for _, e in done],
                    keys={
                        couplings_store.normalize_id(e.id): table.key_of(Side.ERP, e.values) for _, e in done
                    },
                )
            fresh: list[_Pair] = []
            for record, erp in done:
                coupling = await couplings_store.create_coupling(
                    session,
                    mapping=table.name,
                    erp_id=erp.id,
                    crm_id=record.id,
                    erp_key=table.key_of(Side.ERP, erp.values),
                    crm_key=record.key,
                    last_synced=snapshot(table, erp=erp.values, crm=record.values),
                    erp_modified_at=erp.modified_at,
                    crm_modified_at=record.modified_at,
                )
                fresh.append(_Pair(coupling, _mirror_record(Side.ERP, erp), record))
                run.resolved.add((None, record.id))
            await intents.drop_intents(
                session, mapping=table.name, crm_ids=[r.id for r, _ in done] + definitive_failures
            )
            run.count("inserted", len(done), direction="crm_to_erp")
            run.count("done", len(records))
            await self._flush(session, run)
            await run.fence.check(session)
        if fresh:
            # The new ERP record has values of its own (its number, defaults) that flow back to CRM.
            await self._sync_pairs(run, fresh)

    # ------------------------------------------------------------------------------ deletions

    async def _deleted(self, run: _Run, pairs: list[_Pair], *, policy: DeletionPolicy | None = None) -> None:
        table = run.mapping
        restore_crm: list[tuple[_Pair, MirrorRecord]] = []
        restore_erp: list[MirrorRecord] = []
        restore_numbers: dict[str, str] = {}
        async with self.sessions.begin() as session:
            for pair in pairs:
                chosen = policy or table.deletion_policy
                gone = Side.ERP if pair.erp is None else Side.CRM
                survivor = pair.crm if gone is Side.ERP else pair.erp
                if survivor is None:  # gone on both sides: nothing left to keep in step
                    await couplings_store.delete_coupling(session, coupling_id=pair.coupling.id or 0)
                    run.count("uncoupled")
                    continue
                if chosen is DeletionPolicy.PROPAGATE and not table.direction.allows(gone):
                    chosen = DeletionPolicy.MANUAL
                if chosen is DeletionPolicy.RESTORE and not table.direction.allows(
                    Side.CRM if gone is Side.ERP else Side.ERP
                ):
                    chosen = DeletionPolicy.MANUAL
                if chosen is DeletionPolicy.UNCOUPLE:
                    await couplings_store.delete_coupling(session, coupling_id=pair.coupling.id or 0)
                    run.count("uncoupled")
                elif chosen is DeletionPolicy.PROPAGATE:
                    try:
                        if gone is Side.ERP:
                            await self.crm.delete(table.crm_entity, uuid.UUID(survivor.id))
                        else:
                            await self.erp.delete(
                                table.erp_entity, survivor.id, etag=survivor.etag or "*", api=erp_api(table)
                            )
                    except UpstreamError as exc:
                        if exc.status != 404:
                            self._record_failure(run, pair, _as_record_error(exc))
                            continue
                    await mirror.mark_deleted(
                        session,
                        side=Side.CRM if gone is Side.ERP else Side.ERP,
                        entity_set=survivor.entity_set,
                        ids=[survivor.id],
                    )
                    await couplings_store.delete_coupling(session, coupling_id=pair.coupling.id or 0)
                    run.count("deleted", direction=_job_direction(Side.CRM if gone is Side.ERP else Side.ERP))
                elif chosen is DeletionPolicy.RESTORE:
                    if gone is Side.CRM:
                        restore_crm.append((pair, survivor))
                    else:
                        await couplings_store.delete_coupling(session, coupling_id=pair.coupling.id or 0)
                        restore_erp.append(survivor)
                        if pair.coupling.erp_key:
                            restore_numbers[survivor.id] = pair.coupling.erp_key
                else:
                    if pair.coupling.state != CouplingState.ORPHANED.value:
                        await couplings_store.update_coupling(
                            session, coupling_id=pair.coupling.id or 0, state=CouplingState.ORPHANED
                        )
                        self._fail(
                            run,
                            reason=f"the {gone.value.upper()} record of this coupling was deleted",
                            erp_id=pair.coupling.erp_id,
                            crm_id=pair.coupling.crm_id,
                            erp_key=pair.coupling.erp_key,
                            crm_key=pair.coupling.crm_key,
                            actions=(ErrorAction.RESTORE, ErrorAction.UNCOUPLE, ErrorAction.IGNORE),
                            counter="skipped",
                        )
            await self._flush(session, run)
            await run.fence.check(session)
        if restore_crm:
            await self._restore_crm(run, restore_crm)
        if restore_erp:
            await self._create_in_erp(run, restore_erp, numbers=restore_numbers)

    async def _restore_crm(self, run: _Run, items: list[tuple[_Pair, MirrorRecord]]) -> None:
        """Recreate deleted CRM records under their old id (a PATCH upsert) from the ERP values."""
        table = run.mapping
        writes: list[tuple[_Pair, MirrorRecord, Write]] = []
        for pair, erp in items:
            try:
                values = map_record(table, source=Side.ERP, values=erp.values, lookups=run.lookups)
            except RecordError as exc:
                self._record_failure(run, pair, exc)
                continue
            writes.append(
                (
                    pair,
                    erp,
                    Write.upsert(
                        table.crm_entity, uuid.UUID(pair.coupling.crm_id), crm_payload(table, values)
                    ),
                )
            )
        results = await self._send(run, Side.CRM, [w for _, _, w in writes])
        async with self.sessions.begin() as session:
            for (pair, erp, write), result in zip(writes, results, strict=True):
                if isinstance(result, BaseException) or result.status >= 300:
                    self._record_failure(
                        run,
                        pair,
                        _as_record_error(result)
                        if isinstance(result, BaseException)
                        else RecordError(_batch_message(Side.CRM, result)),
                    )
                    continue
                crm = _record_from(Side.CRM, table, write, result, None, record_id=pair.coupling.crm_id)
                await mirror.upsert_records(
                    session, side=Side.CRM, entity_set=table.crm_entity, records=[crm]
                )
                await couplings_store.update_coupling(
                    session,
                    coupling_id=pair.coupling.id or 0,
                    state=CouplingState.COUPLED,
                    last_synced=snapshot(table, erp=erp.values, crm=crm.values),
                )
                run.count("inserted", direction="erp_to_crm")
            await self._flush(session, run)
            await run.fence.check(session)

    # ------------------------------------------------------------------------------ admin actions

    async def act_on_pair(self, *, mapping: str, coupling_id: int, action: ErrorAction) -> RunSummary:
        """Retry, force from one side or restore one coupled pair now (admin actions on an error)."""
        table = await self._mapping(mapping)
        run = await self._start(table, [table.directions()[0]], JobType.SYNC, NoFence())
        async with self.sessions() as session:
            coupling = await couplings_store.get_coupling(session, coupling_id=coupling_id)
            erp = _live(
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
            crm = _live(
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
        pair = _Pair(coupling, erp, crm)
        try:
            if action is ErrorAction.RESTORE:
                await self._deleted(run, [pair], policy=DeletionPolicy.RESTORE)
            else:
                force = {ErrorAction.FORCE_ERP: Side.ERP, ErrorAction.FORCE_CRM: Side.CRM}.get(action)
                coupling.state = CouplingState.COUPLED.value
                await self._sync_pairs(run, [pair], force=force)
        except StaleLease:
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
                    "erpName": _describe(table, erp_records[e]),
                    "crmName": _describe(table, crm_records[c]),
                }
                for e, c in result.pairs
            ],
            "ambiguous": [
                {
                    "side": s.value,
                    "id": i,
                    "name": _describe(table, (erp_records if s is Side.ERP else crm_records)[i]),
                    "candidates": [
                        {
                            "id": c,
                            "name": _describe(table, (crm_records if s is Side.ERP else erp_records)[c]),
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


# ---------------------------------------------------------------------------------- helpers


READ_ONLY_ERP = frozenset({"inventory", "balanceDue", "number", "code"})
"""ERP fields a create must not send (BC computes them, or the engine chooses them)."""


def _seed_from_crm(table: TableMapping, values: dict[str, Any], crm: Mapping[str, Any]) -> None:
    """A record created in the ERP from CRM also starts with the CRM's values of one-way ERP → CRM
    fields, where they copy plainly; otherwise the first update would blank them in CRM."""
    for fm in table.fields:
        if (
            fm.enabled
            and fm.direction is MappingDirection.ERP_TO_CRM
            and fm.erp_field
            and fm.crm_field
            and "+" not in fm.erp_field
            and fm.lookup is None
            and fm.value_map is None
            and fm.erp_field not in READ_ONLY_ERP
        ):
            value = crm.get(fm.crm_field)
            if value is not None:
                values.setdefault(fm.erp_field, value)


def _mirror_record(side: Side, record: UpstreamRecord) -> MirrorRecord:
    return MirrorRecord(
        side=side.value,
        entity_set=record.entity_set,
        id=couplings_store.normalize_id(record.id),
        values=dict(record.values),
        etag=record.etag,
        modified_at=record.modified_at,
    )


def _live(record: MirrorRecord | None) -> MirrorRecord | None:
    return None if record is None or record.deleted else record


def _describe(table: TableMapping, record: MirrorRecord) -> str:
    values = record.values
    for name in ("displayName", "name", "fullname", "code", "number"):
        if values.get(name):
            label = str(values[name])
            return f"{record.key} {label}" if record.key and record.key != label else label
    return record.key or record.id


def _chain(exc: BaseException) -> list[str]:
    chain: list[str] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 10:
        chain.append(str(current) or type(current).__name__)
        current = current.__cause__
    return chain


def _as_record_error(exc: BaseException) -> GatewayError:
    if isinstance(exc, GatewayError):
        return exc
    error = RecordError(str(exc))
    error.__cause__ = exc
    return error


def _batch_message(side: Side, result: BatchResult) -> str:
    detail = result.error_message or result.error_code or "no detail"
    return f"{side.value.upper()} refused the write with {result.status}: {detail}"


def _record_from(
    side: Side,
    table: TableMapping,
    write: Write,
    result: BatchResult,
    pair: _Pair | None,
    *,
    record_id: str | None = None,
) -> UpstreamRecord:
    """The record as written: the service's representation when it sent one, else ours merged in."""
    entity = table.erp_entity if side is Side.ERP else table.crm_entity
    body = dict(result.body or {})
    if body:
        key = "id" if side is Side.ERP else primary_key(entity)
        from gateway.upstream.records import to_record

        return to_record(
            body,
            entity_set=entity,
            key=key,
            modified="lastModifiedDateTime" if side is Side.ERP else "modifiedon",
            service=side.value,
        )
    before = (pair.erp if side is Side.ERP else pair.crm) if pair else None
    values = dict(before.values) if before else {}
    values.update(write.values or {})
    return UpstreamRecord(entity, record_id or (before.id if before else ""), values, result.etag, None)


__all__ = ["RunSummary", "SyncEngine", "crm_id_for", "erp_number_for"]
