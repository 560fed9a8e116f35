"""Coupling admin: list, couple two records by hand (then sync them), uncouple, and match-based
coupling of a mapping's uncoupled records (a dry run, or for real under the mapping's leases)."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

from gateway.domain import Side
from gateway.errors import InvalidInput, NotFound
from gateway.services.sync_dicts import coupling_to_dict, summary_to_dict
from gateway.services.sync_runs import SyncRunsPart
from gateway.store import couplings as couplings_store
from gateway.store import mirror
from gateway.store.tables import ErrorAction


class CouplingsPart(SyncRunsPart):
    """Couplings an admin lists, makes, removes or matches (see module docstring)."""

    async def list_couplings(self, **filters: Any) -> list[dict[str, Any]]:
        async with self.reads() as session:
            await self._known_filter(session, filters.get("mapping"))
            return [coupling_to_dict(c) for c in await couplings_store.list_couplings(session, **filters)]

    async def create_coupling(
        self,
        *,
        mapping: str,
        erp_id: str | None = None,
        crm_id: str | None = None,
        erp_key: str | None = None,
        crm_key: str | None = None,
        synchronize: bool = True,
    ) -> dict[str, Any]:
        """Couple two records named by id or key on either side (from the mirror), then sync them."""
        table = await self.engine.mapping(mapping)
        async with self.sessions.begin() as session:
            erp = await _find(session, Side.ERP, table.erp_entity, erp_id, erp_key)
            crm = await _find(session, Side.CRM, table.crm_entity, crm_id, crm_key)
            coupling = await couplings_store.create_coupling(
                session,
                mapping=mapping,
                erp_id=erp.id,
                crm_id=crm.id,
                erp_key=table.key_of(Side.ERP, erp.values),
                crm_key=table.key_of(Side.CRM, crm.values),
            )
        result = coupling_to_dict(coupling)
        if synchronize:
            summary = await self.engine.act_on_pair(
                mapping=mapping, coupling_id=coupling.id or 0, action=ErrorAction.RETRY
            )
            result["run"] = summary_to_dict(summary)
        return result

    async def delete_coupling(self, coupling_id: int) -> bool:
        async with self.sessions.begin() as session:
            return await couplings_store.delete_coupling(session, coupling_id=coupling_id)

    async def uncouple_mapping(self, mapping: str) -> int:
        async with self.sessions.begin() as session:
            return await couplings_store.delete_couplings(session, mapping=mapping)

    async def match(
        self,
        *,
        mapping: str,
        fields: Sequence[Any] | None = None,
        case_sensitive: bool | None = None,
        create_if_no_match: bool = False,
        dry_run: bool = True,
    ) -> dict[str, Any]:
        """`fields`: [{"erpField", "crmField"}] or [[erp, crm]] pairs, one priority group."""
        pairs = None
        if fields:
            pairs = [
                (str(f["erpField"]), str(f["crmField"])) if isinstance(f, Mapping) else (str(f[0]), str(f[1]))
                for f in fields
            ]
        async with contextlib.AsyncExitStack() as leases:
            if not dry_run:  # it writes couplings and records: never beside a run of the mapping
                await self._hold(leases, await self._lease_names([mapping]))
            return await self.engine.match(
                mapping=mapping,
                fields=pairs,
                case_sensitive=case_sensitive,
                dry_run=dry_run,
                create_if_no_match=create_if_no_match,
            )


async def _find(session: Any, side: Side, entity_set: str, record_id: str | None, key: str | None) -> Any:
    if (record_id is None) == (key is None):
        given = "both" if record_id is not None else "neither"
        raise InvalidInput(
            f"give the {side.value.upper()} record's id ({side.value}Id) or its key ({side.value}Key),"
            f" one of them, not {given}",
            field=f"{side.value}Id",
        )
    records = await mirror.load_records(
        session, side=side, entity_set=entity_set, ids=[record_id] if record_id else None
    )
    if key is not None:
        records = {i: r for i, r in records.items() if r.key == key}
    if len(records) != 1:
        raise NotFound(
            f"no single {side.value.upper()} {entity_set} record {record_id or key!r} (run a full sync?)"
        )
    return next(iter(records.values()))
