"""What sync runs record on their couplings in bulk, one executemany UPDATE by primary key each:
the pairs found in step (`settle_couplings`) and the pairs left in error or conflict
(`set_coupling_states`). A run handles up to 1,000 pairs per commit; `update_coupling` one by one
cost a SELECT and an UPDATE each.

Functions flush but never commit: the caller owns the transaction (`async with sessions.begin() as s:`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.store.tables import Coupling, CouplingState, SyncResult
from gateway.store.types import utcnow


@dataclass(frozen=True, slots=True)
class AgreedCoupling:
    """One pair found in step by a sync run (`settle_couplings`): what both sides now agree on."""

    coupling_id: int
    last_synced: Mapping[str, Any]
    erp_modified_at: datetime | None
    crm_modified_at: datetime | None
    erp_etag: str | None = None
    """The ERP record's ETag in the agreed state (after our write when we wrote it)."""
    crm_etag: str | None = None
    settled_under: str | None = None
    """The fingerprint of the mapping the pair was compared under (gateway.sync.model.fingerprint)."""


async def settle_couplings(session: AsyncSession, agreed: Sequence[AgreedCoupling]) -> None:
    """Mark many pairs coupled and in step (last_synced, both last results "success", the sides'
    modified times and ETags), as `update_coupling` would one by one, in one executemany UPDATE by primary
    key: a sync run settles up to 1,000 pairs per commit, and a SELECT and an UPDATE each held
    SQLite's write lock for seconds under load."""
    if not agreed:
        return
    now = utcnow()
    rows = [
        {
            "id": a.coupling_id,
            "last_synced": dict(a.last_synced),
            "state": CouplingState.COUPLED.value,
            "erp_last_result": SyncResult.SUCCESS.value,
            "crm_last_result": SyncResult.SUCCESS.value,
            "erp_modified_at": a.erp_modified_at,
            "crm_modified_at": a.crm_modified_at,
            "erp_etag": a.erp_etag,
            "crm_etag": a.crm_etag,
            "settled_under": a.settled_under,
            "updated_at": now,
        }
        for a in agreed
    ]
    await session.exec(update(Coupling), params=rows)  # ORM bulk UPDATE by primary key


async def set_coupling_states(session: AsyncSession, states: Mapping[int, CouplingState | str]) -> None:
    """Set the state of many couplings by id (bumping `updated_at`), as `update_coupling(state=...)`
    would one by one: a run marks each pair that failed or conflicted."""
    if not states:
        return
    now = utcnow()
    rows = [
        {"id": coupling_id, "state": CouplingState(state).value, "updated_at": now}
        for coupling_id, state in states.items()
    ]
    await session.exec(update(Coupling), params=rows)  # ORM bulk UPDATE by primary key
