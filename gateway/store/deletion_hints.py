"""ERP deletions a BC webhook announced (or a deletion check found: gateway.sync.deletion_check), per
mapping, until that mapping's next erp_to_crm run has checked them (see `SyncDeletionHint`).
Functions flush but never commit: the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.domain import Side
from gateway.store.couplings import normalize_id
from gateway.store.sync_tables import MirrorRecord, SyncDeletionHint
from gateway.store.tables import Coupling
from gateway.store.types import utcnow

# Far more than one notification carries (BC sends a `collection` notice above 1,000 changes).
MAX_PER_RUN = 1_000


async def add_hints(session: AsyncSession, *, mapping: str, erp_ids: Sequence[str]) -> None:
    """Remember these ids (a repeated notice is one hint)."""
    ids = list(dict.fromkeys(normalize_id(i) for i in erp_ids if i))
    if not ids:
        return
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    now = utcnow()
    statement = insert(SyncDeletionHint).on_conflict_do_nothing(index_elements=["mapping", "erp_id"])
    await session.exec(statement, params=[{"mapping": mapping, "erp_id": i, "noticed_at": now} for i in ids])


async def hinted_ids(session: AsyncSession, *, mapping: str) -> list[str]:
    """The oldest `MAX_PER_RUN` hints of the mapping."""
    statement = (
        select(SyncDeletionHint.erp_id)
        .where(col(SyncDeletionHint.mapping) == mapping)
        .order_by(col(SyncDeletionHint.noticed_at))
        .limit(MAX_PER_RUN)
    )
    return list((await session.exec(statement)).all())


async def drop_hints(session: AsyncSession, *, mapping: str, erp_ids: Sequence[str]) -> None:
    if erp_ids:
        await session.exec(
            delete(SyncDeletionHint).where(
                col(SyncDeletionHint.mapping) == mapping, col(SyncDeletionHint.erp_id).in_(list(erp_ids))
            )
        )


async def checkable_erp_ids(
    session: AsyncSession, *, mapping: str, entity_set: str, coupled_before: datetime
) -> set[str]:
    """The ERP ids of `mapping`'s couplings made before `coupled_before` whose ERP record is not
    known deleted yet (its mirror row is not marked deleted and no hint waits for it): the records a
    deletion check expects to find in `entity_set`."""
    coupled = await session.exec(
        select(Coupling.erp_id).where(
            col(Coupling.mapping) == mapping, col(Coupling.created_at) < coupled_before
        )
    )
    known_deleted = await session.exec(
        select(MirrorRecord.id).where(
            col(MirrorRecord.side) == Side.ERP.value,
            col(MirrorRecord.entity_set) == entity_set,
            col(MirrorRecord.deleted).is_(True),
        )
    )
    hinted = await session.exec(
        select(SyncDeletionHint.erp_id).where(col(SyncDeletionHint.mapping) == mapping)
    )
    known = {normalize_id(i) for i in known_deleted.all()} | set(hinted.all())
    return {normalize_id(i) for i in coupled.all()} - known
