"""Creating records on the other side (CRM by deterministic id through upsert; ERP after a committed
intent and a lookup by number) and applying the deletion policies of coupled records."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from gateway.domain import BatchResult, Side, UpstreamRecord
from gateway.errors import RecordError, UpstreamError
from gateway.store import couplings as couplings_store
from gateway.store import intents, mirror
from gateway.store.couplings import NewCoupling
from gateway.store.sync_tables import MirrorRecord
from gateway.store.tables import (
    CouplingState,
    ErrorAction,
)
from gateway.sync.core import RECORDS_PER_TURN, EngineCore
from gateway.sync.mirroring import erp_api
from gateway.sync.model import DeletionPolicy
from gateway.sync.reconcile import reconcile, snapshot
from gateway.sync.runstate import (
    Pair,
    RunState,
    as_record_error,
    batch_message,
    crm_id_for,
    erp_number_for,
    error_chain,
    is_transient,
    job_direction,
    mirror_record,
    record_from,
    seed_from_crm,
)
from gateway.sync.values import crm_payload, map_record
from gateway.upstream.odata import in_filter
from gateway.upstream.writes import Write


class CreatesPart(EngineCore):
    async def _create_in_crm(self, run: RunState, records: list[MirrorRecord]) -> None:
        """Upsert by a deterministic id: repeating it after a crash updates, never duplicates.

        Every record is mapped first, then the writes go in slices of `chunk_size`, each sent and
        committed before the next: records that cannot be mapped leave no gap in a batch."""
        await self._send_crm_creates(run, await self._plan_crm_creates(run, records))

    async def _send_crm_creates(self, run: RunState, writes: list[tuple[MirrorRecord, str, Write]]) -> None:
        for start in range(0, max(1, len(writes)), self.chunk_size):
            await self._upsert_in_crm(run, writes[start : start + self.chunk_size])

    async def _plan_crm_creates(
        self, run: RunState, records: list[MirrorRecord]
    ) -> list[tuple[MirrorRecord, str, Write]]:
        """The upserts creating `records` in the CRM; those that cannot be mapped fail here."""
        table = run.mapping
        writes: list[tuple[MirrorRecord, str, Write]] = []
        for n, record in enumerate(records, 1):
            if n % RECORDS_PER_TURN == 0:
                # Mapping thousands of records is seconds of CPU on a loaded machine: the task
                # renewing the run's leases must get its turns meanwhile.
                await asyncio.sleep(0)
            try:
                values = map_record(table, source=Side.ERP, values=record.values, lookups=run.lookups)
            except RecordError as exc:
                self._fail(
                    run,
                    reason=str(exc),
                    erp_id=record.id,
                    erp_key=record.key,
                    field=getattr(exc, "field", None),
                    cause=error_chain(exc),
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
        run.count("done", len(records) - len(writes))  # the failed ones
        return writes

    async def _upsert_in_crm(self, run: RunState, writes: list[tuple[MirrorRecord, str, Write]]) -> None:
        results = await self._send(run, Side.CRM, [w for _, _, w in writes])
        await self._created_in_crm(run, writes, results)

    async def _created_in_crm(
        self,
        run: RunState,
        writes: list[tuple[MirrorRecord, str, Write]],
        results: list[BatchResult | BaseException],
    ) -> None:
        """Mirror and couple the records those upserts created (one transaction)."""
        table = run.mapping
        created: list[tuple[MirrorRecord, UpstreamRecord]] = []
        for (record, crm_id, write), result in zip(writes, results, strict=True):
            if isinstance(result, BaseException) or result.status >= 300:
                self._create_failed(run, Side.CRM, record, result)
                continue
            created.append((record, record_from(Side.CRM, table, write, result, None, record_id=crm_id)))
        # The versions each new pair is in step at, when comparing it would write nothing (outside
        # the transaction: a chunk's comparisons are CPU).
        in_step: list[bool] = []
        for n, (record, crm) in enumerate(created, 1):
            if n % RECORDS_PER_TURN == 0:
                await asyncio.sleep(0)
            in_step.append(self._in_step(run, record.values, crm))
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
            await couplings_store.create_couplings(
                session,
                mapping=table.name,
                new=[
                    NewCoupling(
                        erp_id=record.id,
                        crm_id=crm.id,
                        erp_key=record.key,
                        crm_key=table.key_of(Side.CRM, crm.values),
                        last_synced=snapshot(table, erp=record.values, crm=crm.values),
                        erp_modified_at=record.modified_at,
                        crm_modified_at=crm.modified_at,
                        erp_etag=record.etag if step else None,
                        crm_etag=crm.etag if step else None,
                        settled_under=run.settled_under if step else None,
                    )
                    for (record, crm), step in zip(created, in_step, strict=True)
                ],
            )
            run.resolved.update((record.id, None) for record, _ in created)
            run.count("inserted", len(created), direction="erp_to_crm")
            run.count("done", len(writes))
            await self._flush(session, run)
            await run.fence.check(session)

    def _in_step(self, run: RunState, erp_values: Mapping[str, Any], crm: UpstreamRecord) -> bool:
        """Whether a CRM record just created from these ERP values agrees with them: comparing the
        pair would write nothing (a CRM-generated value flowing back to the ERP would be written)."""
        table = run.mapping
        try:
            return reconcile(
                table,
                erp=erp_values,
                crm=crm.values,
                last_synced=snapshot(table, erp=erp_values, crm=crm.values),
                lookups=run.lookups,
            ).unchanged
        except RecordError:
            return False

    async def _create_in_erp(
        self, run: RunState, records: list[MirrorRecord], *, numbers: Mapping[str, str] | None = None
    ) -> None:
        """Record an intent (committed), look up numbers of intents a crash left behind, then POST."""
        await self._post_in_erp(run, await self._plan_erp_creates(run, records, numbers=numbers))

    async def _post_in_erp(self, run: RunState, to_post: list[tuple[MirrorRecord, str, Write]]) -> None:
        """Send planned ERP creates (their intents are committed) in slices of `chunk_size`."""
        for start in range(0, len(to_post), self.chunk_size):
            part = to_post[start : start + self.chunk_size]
            await self._created_in_erp(run, part, await self._send(run, Side.ERP, [w for _, _, w in part]))

    async def _plan_erp_creates(
        self, run: RunState, records: list[MirrorRecord], *, numbers: Mapping[str, str] | None = None
    ) -> list[tuple[MirrorRecord, str, Write]]:
        """Map `records` (those that cannot be mapped fail here), commit an intent for each, and
        couple at once those an interrupted run had already created (found by their intent's
        number); returns the POSTs still to send."""
        table = run.mapping
        if not table.erp_key_fields:
            for record in records:
                self._fail(
                    run,
                    reason=f"{table.name} cannot create ERP records (no key field)",
                    crm_id=record.id,
                    direction="crm_to_erp",
                )
            return []
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
                    cause=error_chain(exc),
                    direction="crm_to_erp",
                )
                continue
            seed_from_crm(table, values, record.values)
            number = (numbers or {}).get(record.id) or erp_number_for(table, record.id, record.values)
            values[number_field] = number
            planned.append((record, number, values))
        run.count("done", len(records) - len(planned))  # the failed ones
        if not planned:
            async with self.sessions.begin() as session:
                await self._flush(session, run)
                await run.fence.check(session)
            return []
        async with self.sessions.begin() as session:
            earlier = await intents.intents_for(
                session, mapping=table.name, crm_ids=[r.id for r, _, _ in planned]
            )
            for record, number, _ in planned:
                if record.id not in earlier:
                    await intents.record_intent(
                        session, mapping=table.name, crm_id=record.id, erp_number=number
                    )
            await self._flush(session, run)
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
        if done:
            await self._created_in_erp(run, [], [], found=done)
        return to_post

    async def _created_in_erp(
        self,
        run: RunState,
        posted: list[tuple[MirrorRecord, str, Write]],
        results: list[BatchResult | BaseException],
        *,
        found: Sequence[tuple[MirrorRecord, UpstreamRecord]] = (),
    ) -> None:
        """Mirror and couple the ERP records those POSTs created (and those `found` already there),
        drop their intents, then bring the new pairs up to date (the ERP's own values flow back)."""
        table = run.mapping
        done = list(found)
        definitive_failures: list[str] = []
        for (record, _number, write), result in zip(posted, results, strict=True):
            if isinstance(result, BaseException) or result.status >= 300:
                if not isinstance(result, BaseException) and 400 <= result.status < 500:
                    definitive_failures.append(record.id)
                self._create_failed(run, Side.ERP, record, result)
                continue
            done.append((record, record_from(Side.ERP, table, write, result, None)))
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
            couplings = await couplings_store.create_couplings(
                session,
                mapping=table.name,
                new=[
                    NewCoupling(
                        erp_id=erp.id,
                        crm_id=record.id,
                        erp_key=table.key_of(Side.ERP, erp.values),
                        crm_key=record.key,
                        last_synced=snapshot(table, erp=erp.values, crm=record.values),
                        erp_modified_at=erp.modified_at,
                        crm_modified_at=record.modified_at,
                        # No ETags yet: the new pairs are brought up to date below, and settle.
                    )
                    for record, erp in done
                ],
            )
            fresh = [
                Pair(coupling, mirror_record(Side.ERP, erp), record)
                for coupling, (record, erp) in zip(couplings, done, strict=True)
            ]
            run.resolved.update((None, record.id) for record, _ in done)
            await intents.drop_intents(
                session, mapping=table.name, crm_ids=[r.id for r, _ in done] + definitive_failures
            )
            run.count("inserted", len(done), direction="crm_to_erp")
            run.count("done", len(posted) + len(found))
            await self._flush(session, run)
            await run.fence.check(session)
        if fresh:
            # The new ERP record has values of its own (its number, defaults) that flow back to CRM.
            await self._sync_pairs(run, fresh)

    # ------------------------------------------------------------------------------ deletions

    async def _deleted(
        self, run: RunState, pairs: list[Pair], *, policy: DeletionPolicy | None = None
    ) -> None:
        table = run.mapping
        restore_crm: list[tuple[Pair, MirrorRecord]] = []
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
                            self._record_failure(run, pair, as_record_error(exc))
                            continue
                    await mirror.mark_deleted(
                        session,
                        side=Side.CRM if gone is Side.ERP else Side.ERP,
                        entity_set=survivor.entity_set,
                        ids=[survivor.id],
                    )
                    await couplings_store.delete_coupling(session, coupling_id=pair.coupling.id or 0)
                    run.count("deleted", direction=job_direction(Side.CRM if gone is Side.ERP else Side.ERP))
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

    def _create_failed(
        self, run: RunState, target: Side, record: MirrorRecord, result: BaseException | BatchResult
    ) -> None:
        """Creating `record` (of the other side) on `target` failed: an error on the record."""
        reason = str(result) if isinstance(result, BaseException) else batch_message(target, result)
        ids = (record.id, record.key)
        erp_id, erp_key = ids if target is Side.CRM else (None, None)
        crm_id, crm_key = ids if target is Side.ERP else (None, None)
        self._fail(
            run,
            reason=reason,
            erp_id=erp_id,
            erp_key=erp_key,
            crm_id=crm_id,
            crm_key=crm_key,
            direction=job_direction(target),
            transient=is_transient(result),
        )

    async def _restore_crm(self, run: RunState, items: list[tuple[Pair, MirrorRecord]]) -> None:
        """Recreate deleted CRM records under their old id (a PATCH upsert) from the ERP values."""
        table = run.mapping
        writes: list[tuple[Pair, MirrorRecord, Write]] = []
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
                        as_record_error(result)
                        if isinstance(result, BaseException)
                        else RecordError(batch_message(Side.CRM, result)),
                        transient=is_transient(result),
                    )
                    continue
                crm = record_from(Side.CRM, table, write, result, None, record_id=pair.coupling.crm_id)
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
