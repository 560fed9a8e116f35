"""The admin's use cases of synchronization (issue §8): mappings, full sync in the background with
its review lines, runs now, jobs, errors and their actions, couplings and match-based coupling.

Everything returns plain JSON-ready dicts; the web layer only routes and checks the admin role.
The parts: sync_runs (leases, runs now, jobs), sync_full_review, sync_error_actions, sync_couplings
and sync_dicts (the dicts' shapes); this module holds the mapping edits and BC's change notices.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gateway.services.sync_couplings import CouplingsPart
from gateway.services.sync_error_actions import ErrorActionsPart
from gateway.services.sync_full_review import FullSyncPart
from gateway.store import deletion_hints, erp_watch
from gateway.store.types import utcnow
from gateway.sync import catalog
from gateway.sync.deletion_requests import request_check
from gateway.sync.model import mapping_to_dict


class SyncControl(FullSyncPart, ErrorActionsPart, CouplingsPart):
    """Admin operations over one store and one engine; owns the background full-sync task."""

    # ------------------------------------------------------------------------------ mappings

    async def ensure_defaults(self) -> list[str]:
        return await catalog.ensure_default_mappings(self.sessions)

    async def list_mappings(self) -> list[dict[str, Any]]:
        async with self.reads() as session:
            return [mapping_to_dict(m) for m in await catalog.load_mappings(session)]

    async def get_mapping(self, name: str) -> dict[str, Any]:
        async with self.reads() as session:
            return mapping_to_dict(await catalog.get_mapping(session, name))

    async def patch_mapping(self, name: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        return mapping_to_dict(await catalog.update_mapping(self.sessions, name, changes))

    async def note_erp_deletions(self, *, mapping: str, erp_ids: Sequence[str]) -> None:
        """BC said these ERP records of `mapping`'s entity set were deleted: its next erp_to_crm run
        confirms each with BC and applies the deletion policy (gateway.store.deletion_hints)."""
        async with self.sessions.begin() as session:
            await deletion_hints.add_hints(session, mapping=mapping, erp_ids=erp_ids)

    async def erp_notified(
        self, entity_sets: Sequence[str], *, collections: Sequence[str] = ()
    ) -> list[tuple[str, str, str, str]]:
        """BC notified changes in these ERP entity sets: remember when (a run that polls a set only
        when due sees it, gateway.sync.erp_polls) and return, for each run that reads one of them
        towards the CRM (catalog.erp_readers), its (mapping, direction) for the caller to wake, the
        set, and the name its reads of the set go by (deletion hints are kept under it). Sets in
        `collections` came as a `collection` notice (too many changes to list, deletions unnamed):
        their deletion check is asked for (gateway.sync.deletion_check)."""
        wanted = set(entity_sets)
        async with self.sessions.begin() as session:
            await erp_watch.record_notified(session, entity_sets=wanted, at=utcnow())
            await request_check(session, entity_sets=collections)
            mappings = await catalog.load_mappings(session)
        return [
            (r.run, r.direction, r.table.erp_entity, r.table.name)
            for r in catalog.erp_readers(mappings)
            if r.table.erp_entity in wanted
        ]

    async def reset_mappings(self) -> list[dict[str, Any]]:
        return [mapping_to_dict(m) for m in await catalog.reset_mappings(self.sessions)]
