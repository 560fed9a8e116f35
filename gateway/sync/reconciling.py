"""Reconciling a run's records (the whole mirror in a full run, what changed in an incremental one):
coupled pairs brought up to date, uncoupled records matched and coupled, the rest created."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from gateway.domain import Side
from gateway.store import couplings as couplings_store
from gateway.store import jobs, mirror, sync_state
from gateway.store.couplings import NewCoupling
from gateway.store.engine import StoreSession
from gateway.store.sync_tables import MirrorRecord
from gateway.store.tables import (
    Coupling,
    ErrorAction,
)
from gateway.sync import derived
from gateway.sync.creates import CreatesPart
from gateway.sync.matching import MatchResult, match_records
from gateway.sync.mirroring import ReadResult
from gateway.sync.pairs import PairsPart
from gateway.sync.reconcile import creatable
from gateway.sync.runs import RunsPart
from gateway.sync.runstate import (
    HeldWrites,
    Pair,
    RunState,
    crm_id_for,
    describe,
    live,
)


class ReconcilingPart(RunsPart, PairsPart, CreatesPart):
    """Reconciles the records in a run's scope (see module docstring)."""

    async def _all_couplings(self, session: StoreSession, mapping: str) -> list[Coupling]:
        return await sync_state.mapping_couplings(session, mapping=mapping)

    async def _reconcile_all(self, run: RunState) -> None:
        table = run.mapping
        async with self.reads() as session:
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
        async with self.reads() as session:
            failed_erp, failed_crm = await sync_state.failed_record_ids(session, mapping=table.name)
        retry_erp, retry_crm = failed_erp, failed_crm
        # Failed records are retried when they change, or when what they depend on changed (see
        # gateway.sync.retries); an idle run with nothing to retry loads nothing, not even the
        # couplings its lookups go through.
        dependencies = await self._dependencies(table) if retry_erp or retry_crm else ""
        retrying = bool(retry_erp or retry_crm) and self.retries.due(table, dependencies)
        if not retrying:
            retry_erp, retry_crm = set(), set()
        if not (read.records or read.deleted or retrying):
            return
        # Everything this mapping-direction read, not only what was new to the mirror: another
        # mapping reading the same entity set may have mirrored the change first. Our own writes
        # coming back are in scope too and reconcile as unchanged.
        changed = read.records | read.deleted
        erp_scope = set(retry_erp) | (changed if source is Side.ERP else set())
        crm_scope = set(retry_crm) | (changed if source is Side.CRM else set())
        total = len(erp_scope) + len(crm_scope)
        # (Records with open errors are never taken for in step, retried in this run or not.)
        settled = await self._settled_pairs(run, source, read, failed_erp=failed_erp, failed_crm=failed_crm)
        erp_scope -= {erp_id for erp_id, _ in settled} if source is Side.ERP else set()
        crm_scope -= {crm_id for _, crm_id in settled} if source is Side.CRM else set()
        async with self.sessions.begin() as session:
            for job_id in run.jobs.values():
                await jobs.update_job(session, job_id=job_id, total=total)
            if settled:
                run.count("unchanged", len(settled))
                run.count("done", len(settled))
                await self._flush(session, run)
        if not (erp_scope or crm_scope):
            return
        await self._need_lookups(run)
        # Only what this run can touch, so its memory follows the changes, not the mapping's size:
        # the couplings of the records in scope, their records on both sides, and the uncoupled
        # records (match and create candidates). Coupled records out of scope are never loaded.
        async with self.reads() as session:
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
                await derived.customer_price_lists(session, customer_ids=records[Side.ERP])
                if derived.needs_derivation(table)
                else None
            )
        erp_records, crm_records = records[Side.ERP], records[Side.CRM]
        if price_lists is not None:
            derived.derive(erp_records, price_lists)  # outside the session: never flushed to the mirror
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
        self.retries.settle(table, transient=run.transient, retried=retrying)

    async def _settled_pairs(
        self,
        run: RunState,
        source: Side,
        read: ReadResult,
        *,
        failed_erp: set[str],
        failed_crm: set[str],
    ) -> list[tuple[str, str]]:
        """The pairs of records this read returned exactly as mirrored (not new to the mirror) that
        are already in step at both records' current versions: each row's ETag is the one the pair
        last settled at (sync_state.settled_pairs). Comparing them would find them unchanged, so they
        are counted so and nothing is loaded for them: the first round after a full sync reads back
        every record the full sync wrote (5,885 pairs at 6,000 customers). A change another mapping
        of the same entity set mirrored first carries a new ETag, so it is compared here still (see
        ReadResult); pairs with failed records (coupling in error, or an open error) stay in scope, and
        so do pairs that settled under another definition of the mapping than the one this run loaded
        (RunState.settled_under: an admin may have changed its fields since, or while a run went)."""
        table = run.mapping
        # The last line below decides: a pair with a failed record on either side is compared. Leaving
        # the read side's failed ids out here only keeps them out of the query.
        failed = failed_erp if source is Side.ERP else failed_crm
        candidates = read.records - read.changed - read.deleted - failed
        if not candidates:
            return []
        async with self.reads() as session:
            settled = await sync_state.settled_pairs(
                session,
                mapping=table.name,
                side=source,
                ids=candidates,
                erp_entity=table.erp_entity,
                crm_entity=table.crm_entity,
                settled_under=run.settled_under,
            )
        return [(e, c) for e, c in settled if e not in failed_erp and c not in failed_crm]

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
        # Pair updates wait for whole batches across the chunks and phases below (PairsPart.
        # _write_updates); the rest leave with the creates or, at the latest, at the end.
        async with self._holding_updates(run):
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
            scoped_erp = (
                free_erp if erp_scope is None else {i: v for i, v in free_erp.items() if i in erp_scope}
            )
            scoped_crm = (
                free_crm if crm_scope is None else {i: v for i, v in free_crm.items() if i in crm_scope}
            )
            result = await match_records(table, erp=scoped_erp, crm=free_crm, lookups=run.lookups)
            # Records changed on the CRM side look for partners among all uncoupled ERP records too.
            if crm_scope is not None and scoped_crm:
                matched_crm = {c for _, c in result.pairs}
                rest_erp = {i: v for i, v in free_erp.items() if i not in scoped_erp}
                reverse = await match_records(
                    table,
                    erp=rest_erp,
                    crm={i: v for i, v in scoped_crm.items() if i not in matched_crm},
                    lookups=run.lookups,
                )
                result.pairs += reverse.pairs
                result.ambiguous += [a for a in reverse.ambiguous]
                reverse_crm = {c for _, c in reverse.pairs} | {
                    c for _, _, cs in reverse.ambiguous for c in cs
                }
                result.unmatched_crm = [
                    c for c in scoped_crm if c not in matched_crm and c not in reverse_crm
                ]
            else:
                result.unmatched_crm = [c for c in result.unmatched_crm if c in scoped_crm]
            await self._report_ambiguous(run, result, erp_records, crm_records)
            new_pairs += result.pairs
            # Creates are planned now (ERP ones with their intents committed) and sent last: meanwhile
            # they fill the room in the last batch of the run's other writes to the same side (the new
            # pairs' updates, the ERP creates' follow-ups), see PairsPart._send.
            if create_crm and creatable(table, Side.ERP) and table.direction.allows(Side.ERP):
                run.crm_filler = await self._plan_crm_creates(
                    run, [erp_records[i] for i in result.unmatched_erp]
                )
            if create_erp and table.direction.allows(Side.CRM):
                ids = result.unmatched_crm
                for start in range(0, len(ids), self.chunk_size):
                    chunk = [crm_records[i] for i in ids[start : start + self.chunk_size]]
                    run.erp_filler += await self._plan_erp_creates(run, chunk)
            await self._couple_new(run, new_pairs, erp_records, crm_records)
            await self._release_held(run, sides=(Side.ERP,))  # the ERP creates fill its last batch
            posts, run.erp_filler = run.erp_filler, []
            await self._post_in_erp(run, posts)  # their follow-ups are held with the other CRM updates
            await self._release_held(run, sides=(Side.CRM,))  # the CRM creates fill its last batch
            if create_crm and creatable(table, Side.ERP) and table.direction.allows(Side.ERP):
                rest, run.crm_filler = run.crm_filler, []
                await self._send_crm_creates(run, rest)  # in slices of chunk_size writes

    @contextlib.asynccontextmanager
    async def _holding_updates(self, run: RunState) -> AsyncIterator[None]:
        """Hold `run`'s pair updates for the block; send what is left when it ends, and when it
        fails, what can still be sent (PairsPart._end_held)."""
        run.held = HeldWrites()
        try:
            yield
            await self._release_held(run)
        except Exception as exc:
            await self._end_held(run, exc)
            raise
        finally:
            run.held = None

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
        # A commit per chunk, its couplings in one INSERT: all of CUSTOMER's 13,000 new pairs in one
        # transaction, one INSERT each, held SQLite's write lock past the lease's TTL.
        for start in range(0, len(new_pairs), self.chunk_size):
            chunk = new_pairs[start : start + self.chunk_size]
            async with self.sessions.begin() as session:
                couplings = await couplings_store.create_couplings(
                    session,
                    mapping=table.name,
                    new=[
                        NewCoupling(
                            erp_id=erp_id,
                            crm_id=crm_id,
                            erp_key=table.key_of(Side.ERP, erp_records[erp_id].values),
                            crm_key=table.key_of(Side.CRM, crm_records[crm_id].values),
                        )
                        for erp_id, crm_id in chunk
                    ],
                )
                run.count("coupled", len(couplings))
                await self._flush(session, run)
                await run.fence.check(session)
            await self._sync_pairs(
                run,
                [
                    Pair(coupling, erp_records[erp_id], crm_records[crm_id])
                    for coupling, (erp_id, crm_id) in zip(couplings, chunk, strict=True)
                ],
            )
