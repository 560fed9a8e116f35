"""Admin actions on the sync engine: act on one coupled pair now (retry, force a side, restore), and
match-based coupling of the uncoupled records in the mirror, as a dry run or for real."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from gateway.domain import Side
from gateway.errors import InvalidInput
from gateway.store import couplings as couplings_store
from gateway.store import mirror
from gateway.store.tables import (
    CouplingState,
    ErrorAction,
    JobType,
)
from gateway.sync.fencing import NoFence
from gateway.sync.matching import match_records, unknown_field
from gateway.sync.model import DeletionPolicy
from gateway.sync.reconciling import ReconcilingPart
from gateway.sync.runstate import (
    Pair,
    RunSummary,
    describe,
    live,
)


class AdminActionsPart(ReconcilingPart):
    """Actions an admin starts by hand (see module docstring)."""

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

        async def act() -> None:
            if action is ErrorAction.RESTORE:
                await self._deleted(run, [pair], policy=DeletionPolicy.RESTORE)
            else:
                force = {ErrorAction.FORCE_ERP: Side.ERP, ErrorAction.FORCE_CRM: Side.CRM}.get(action)
                coupling.state = CouplingState.COUPLED.value
                await self._sync_pairs(run, [pair], force=force)

        return await self._run_to_end(run, act)

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
        every_erp = {i: r.values for i, r in erp_records.items()}
        every_crm = {i: r.values for i, r in crm_records.items()}
        if fields and (unknown := unknown_field(table, fields, erp=every_erp, crm=every_crm)) is not None:
            index, side, name = unknown
            raise InvalidInput(
                f"{table.name} {side.value.upper()} records have no field {name!r}",
                field=f"fields.{index}.{side.value}Field",
            )
        groups = [list(fields)] if fields else None
        result = await match_records(
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

        async def couple_and_create() -> None:
            await self._couple_new(run, result.pairs, erp_records, crm_records)
            if create_if_no_match:
                if table.direction.allows(Side.ERP):
                    await self._create_in_crm(run, [erp_records[i] for i in result.unmatched_erp])
                if table.direction.allows(Side.CRM):
                    await self._create_in_erp(run, [crm_records[i] for i in result.unmatched_crm])

        # Ends like every run: a failure halfway is recorded on the coupling job (it used to stay
        # "running" forever) and reported, with what was coupled before it kept.
        summary = await self._run_to_end(run, couple_and_create)
        report.update(jobIds=summary.job_ids, status=summary.status, message=summary.message)
        return report
