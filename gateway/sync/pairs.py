"""Coupled pairs: reconcile each, write the differences to both sides in batches (If-Match), re-read
and re-apply the policy on a 412, and record what was agreed on the coupling."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping

from gateway.domain import BatchResult, Side, UpstreamRecord
from gateway.errors import GatewayError, MissingDependency, RecordError, StaleLease, UpstreamError
from gateway.store import couplings as couplings_store
from gateway.store import job_errors, mirror
from gateway.store.coupling_outcomes import AgreedCoupling, set_coupling_states, settle_couplings
from gateway.store.tables import (
    CouplingState,
    ErrorAction,
)
from gateway.sync.core import RECORDS_PER_TURN, EngineCore
from gateway.sync.mirroring import erp_api
from gateway.sync.reconcile import Outcome, reconcile, snapshot
from gateway.sync.runstate import (
    Agreed,
    HeldWrites,
    Pair,
    RunState,
    as_record_error,
    batch_message,
    error_chain,
    is_transient,
    record_from,
)
from gateway.sync.values import crm_payload
from gateway.upstream.writes import Write

log = logging.getLogger(__name__)


class PairsPart(EngineCore):
    async def _sync_pairs(self, run: RunState, pairs: list[Pair], *, force: Side | None = None) -> None:
        table = run.mapping
        updates: list[tuple[Pair, Outcome]] = []
        deletions: list[Pair] = []
        settled: list[Agreed] = []
        for n, pair in enumerate(pairs, 1):
            if n % RECORDS_PER_TURN == 0:
                await asyncio.sleep(0)  # 1,000 pairs were 0.5 s of CPU: let leases renew
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
                settled.append(
                    Agreed(pair, dict(pair.erp.values), dict(pair.crm.values), pair.erp.etag, pair.crm.etag)
                )
            else:
                updates.append((pair, outcome))
        written, completed = await self._write_updates(run, updates)
        await self._settle(run, settled + written, touched=[*pairs, *completed], done=len(pairs))
        if deletions:
            await self._deleted(run, deletions)

    async def _settle(
        self,
        run: RunState,
        settled: list[Agreed],
        *,
        touched: list[Pair],
        done: int,
    ) -> None:
        """Record what each settled pair agreed on, and the state of pairs that failed or conflict."""
        table = run.mapping
        async with self.sessions.begin() as session:
            moved: list[AgreedCoupling] = []
            for item in settled:
                pair, coupling = item.pair, item.pair.coupling
                agreed = snapshot(table, erp=item.erp_values, crm=item.crm_values)
                if (
                    agreed != coupling.last_synced
                    or coupling.state != CouplingState.COUPLED.value
                    or (item.erp_etag, item.crm_etag, run.settled_under)
                    != (coupling.erp_etag, coupling.crm_etag, coupling.settled_under)
                ):
                    moved.append(
                        AgreedCoupling(
                            coupling_id=coupling.id or 0,
                            last_synced=agreed,
                            erp_modified_at=pair.erp.modified_at if pair.erp else None,
                            crm_modified_at=pair.crm.modified_at if pair.crm else None,
                            erp_etag=item.erp_etag,
                            crm_etag=item.crm_etag,
                            settled_under=run.settled_under,
                        )
                    )
                    coupling.last_synced = agreed
                    coupling.state = CouplingState.COUPLED.value
                    coupling.erp_etag, coupling.crm_etag = item.erp_etag, item.crm_etag
                    coupling.settled_under = run.settled_under
                run.resolved.add((coupling.erp_id, coupling.crm_id))
            await settle_couplings(session, moved)  # one UPDATE for them all
            await set_coupling_states(  # and one for those that failed or conflicted
                session,
                {
                    pair.coupling.id or 0: pair.coupling.state
                    for pair in touched
                    if pair.coupling.state in (CouplingState.ERROR.value, CouplingState.CONFLICT.value)
                },
            )
            if done:
                run.count("done", done)
            await self._flush(session, run)
            await run.fence.check(session)

    async def _release_held(self, run: RunState, *, sides: tuple[Side, ...] = (Side.ERP, Side.CRM)) -> None:
        """Send the updates `run` holds for `sides` (creates still planned fill the last batch's
        room, see _send) and settle the pairs that completes."""
        if run.held is None:
            return
        written, completed = await self._send_held(run, run.held, final=True, sides=sides)
        if completed:
            await self._settle(run, written, touched=completed, done=0)

    async def _end_held(self, run: RunState, failure: Exception) -> None:
        """`run` failed while it held pair updates. Its page reads are committed (the watermark has
        moved past these records), so updates never sent would be lost until the record changed
        again: send them when the run still owns its leases, and leave an open error on every pair
        still unsent (none once they are sent), so that the next run of the mapping-direction,
        whoever holds it, retries those records within seconds (gateway.sync.retries)."""
        held = run.held
        if held is None or not held.pairs:
            return
        if not isinstance(failure, StaleLease):
            # Only the updates: creates still planned stay for the next run (ERP ones behind their
            # committed intents), as they would have without the hold.
            run.crm_filler, run.erp_filler = [], []
            try:
                await self._release_held(run)
            except Exception:  # the run's own failure is the one raised
                log.warning("could not send a failed %s run's held updates", run.mapping.name, exc_info=True)
        if not held.pairs:
            return
        start = len(run.errors)
        unsent_error = RecordError(
            f"the run ended ({type(failure).__name__}) before this record's update was sent"
        )
        for pair in held.pairs:
            self._record_failure(run, pair, unsent_error, transient=True)
        unsent, run.errors[start:] = run.errors[start:], []
        held.pairs.clear()
        try:
            # No fence: an open error only asks the next holder to look at the record again.
            async with self.sessions.begin() as session:
                await job_errors.add_job_errors(session, mapping=run.mapping.name, records=unsent)
        except Exception:
            log.warning("could not record %s's unsent updates", run.mapping.name, exc_info=True)
        self.retries.settle(run.mapping, transient=True, retried=False)

    def _record_failure(
        self, run: RunState, pair: Pair, exc: GatewayError, *, transient: bool | None = None
    ) -> None:
        """`transient`: None to tell from `exc` (see is_transient)."""
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
            cause=error_chain(exc),
            actions=(
                ErrorAction.RETRY,
                ErrorAction.FORCE_ERP,
                ErrorAction.FORCE_CRM,
                ErrorAction.UNCOUPLE,
                ErrorAction.IGNORE,
            ),
            transient=is_transient(exc) if transient is None else transient,
        )

    def _conflict(self, run: RunState, pair: Pair, outcome: Outcome) -> None:
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
        self, run: RunState, updates: list[tuple[Pair, Outcome]]
    ) -> tuple[list[Agreed], list[Pair]]:
        """Queue every update's writes and send them in batches: all at once, or, while the run holds
        writes, only those that fill whole batches (the rest wait for the next chunk's or the end of
        the run). Returns the pairs written and every pair whose writes were all answered."""
        table = run.mapping
        held = run.held if run.held is not None else HeldWrites()
        for n, (pair, outcome) in enumerate(updates, 1):
            if n % RECORDS_PER_TURN == 0:
                await asyncio.sleep(0)  # 1,000 updates' payloads held the loop 2.6 s at load 8
            assert pair.erp is not None and pair.crm is not None
            if outcome.erp_changes:
                held.writes[Side.ERP].append(
                    (
                        pair,
                        Write.update(
                            table.erp_entity, pair.erp.id, outcome.erp_changes, etag=pair.erp.etag or "*"
                        ),
                    )
                )
            if outcome.crm_changes:
                held.writes[Side.CRM].append(
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
            held.pairs.append(pair)
        return await self._send_held(run, held, final=run.held is None)

    async def _send_held(
        self, run: RunState, held: HeldWrites, *, final: bool, sides: tuple[Side, ...] = (Side.ERP, Side.CRM)
    ) -> tuple[list[Agreed], list[Pair]]:
        """Send `held`'s writes of `sides` (whole batches only unless `final`), then process the pairs
        none of whose writes still wait."""
        for side in sides:
            queue = held.writes[side]
            size = self._batch_size(side)
            count = len(queue) if final else len(queue) - len(queue) % size
            if not count:
                continue
            sent, held.writes[side] = queue[:count], queue[count:]
            in_flight = {id(pair) for pair, _ in sent} - held.sending
            held.sending |= in_flight
            try:
                results = await self._send(run, side, [w for _, w in sent])
            finally:
                held.sending -= in_flight
            for (pair, write), result in zip(sent, results, strict=True):
                held.answers[side][id(pair)] = (write, result)
        waiting = held.waiting()
        completed = [p for p in held.pairs if id(p) not in waiting]
        if not completed:
            return [], []
        held.pairs = [p for p in held.pairs if id(p) in waiting]
        answers = {
            side: {id(p): answered.pop(id(p)) for p in completed if id(p) in answered}
            for side, answered in held.answers.items()
        }
        return await self._answered(run, completed, answers), completed

    async def _answered(
        self,
        run: RunState,
        pairs: list[Pair],
        answers: dict[Side, dict[int, tuple[Write, BatchResult | BaseException]]],
    ) -> list[Agreed]:
        """The pairs whose writes were all answered: failures recorded, the written records mirrored,
        412s re-read and re-applied one by one."""
        table = run.mapping
        stale: set[int] = set()
        failed: set[int] = set()
        after: dict[Side, dict[int, UpstreamRecord]] = {Side.ERP: {}, Side.CRM: {}}
        for side, answered in answers.items():
            for pair in pairs:
                key = id(pair)
                if key not in answered:
                    continue
                write, result = answered[key]
                if isinstance(result, BaseException):
                    failed.add(key)
                    self._record_failure(run, pair, as_record_error(result))
                elif result.status == 412:
                    stale.add(key)
                elif result.status >= 300:
                    failed.add(key)
                    self._record_failure(
                        run, pair, RecordError(batch_message(side, result)), transient=is_transient(result)
                    )
                else:
                    after[side][key] = record_from(side, table, write, result, pair)
        written: list[Agreed] = []
        records_to_mirror: dict[Side, list[UpstreamRecord]] = {Side.ERP: [], Side.CRM: []}
        for pair in pairs:
            key = id(pair)
            if key in failed or key in stale:
                continue
            assert pair.erp is not None and pair.crm is not None
            erp_record = after[Side.ERP].get(key)
            crm_record = after[Side.CRM].get(key)
            if erp_record is not None:
                records_to_mirror[Side.ERP].append(erp_record)
                run.count("modified", direction="crm_to_erp")
            if crm_record is not None:
                records_to_mirror[Side.CRM].append(crm_record)
                run.count("modified", direction="erp_to_crm")
            erp, crm = erp_record or pair.erp, crm_record or pair.crm
            written.append(Agreed(pair, dict(erp.values), dict(crm.values), erp.etag, crm.etag))
        await self._mirror(run, records_to_mirror)
        for pair in pairs:
            if id(pair) in stale:
                retried = await self._retry_stale(run, pair)
                if retried is not None:
                    written.append(retried)
        return written

    def _batch_size(self, side: Side) -> int:
        return self.erp.batch_size if side is Side.ERP else self.crm.batch_size

    async def _retry_stale(self, run: RunState, pair: Pair) -> Agreed | None:
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
            self._record_failure(run, pair, as_record_error(exc))
            return None
        await self._mirror(run, {Side.ERP: [erp], Side.CRM: [crm]})
        return Agreed(pair, dict(erp.values), dict(crm.values), erp.etag, crm.etag)

    async def _send(
        self, run: RunState, side: Side, writes: list[Write]
    ) -> list[BatchResult | BaseException]:
        """Batches chunked to the service's limit; a batch that fails as a whole fails its records.

        Creates planned for later in the run (`run.crm_filler`, `run.erp_filler`) take the room left
        in the last batch; they are mirrored and coupled here, and only `writes`' results are
        returned."""
        if not writes:
            return []
        size = self._batch_size(side)
        waiting = run.crm_filler if side is Side.CRM else run.erp_filler
        room = -len(writes) % size
        filler, waiting[:room] = waiting[:room], []
        writes = [*writes, *(w for _, _, w in filler)]
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
        if filler:
            own = len(writes) - len(filler)
            if side is Side.CRM:
                await self._created_in_crm(run, filler, results[own:])
            else:
                await self._created_in_erp(run, filler, results[own:])
            return results[:own]
        return results

    async def _mirror(self, run: RunState, records: Mapping[Side, list[UpstreamRecord]]) -> None:
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
