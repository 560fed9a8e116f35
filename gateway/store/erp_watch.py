"""BC webhook coverage per ERP entity set (see `SyncErpWatch`): the subscription manager records
which subscriptions it saw in place, the receiver when BC notified a change. Functions flush but
never commit: the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.store.sync_tables import SyncErpWatch


async def _row(session: AsyncSession, entity_set: str) -> SyncErpWatch:
    row = await session.get(SyncErpWatch, entity_set)
    return row if row is not None else SyncErpWatch(entity_set=entity_set)


async def record_verified(
    session: AsyncSession, *, verified: Iterable[str], lost: Iterable[str], at: datetime
) -> None:
    """`verified` sets have our subscription in place as of `at`; `lost` ones have none we know of,
    as have sets recorded before and named in neither (no enabled mapping wants them any more)."""
    ok, gone = set(verified), set(lost)
    known = (await session.exec(select(SyncErpWatch).where(col(SyncErpWatch.verified_at).is_not(None)))).all()
    gone |= {row.entity_set for row in known} - ok
    for entity_set in ok | gone:
        row = await _row(session, entity_set)
        row.verified_at = at if entity_set in ok else None
        session.add(row)
    await session.flush()


async def record_notified(session: AsyncSession, *, entity_sets: Iterable[str], at: datetime) -> None:
    for entity_set in set(entity_sets):
        row = await _row(session, entity_set)
        row.notified_at = at
        session.add(row)
    await session.flush()


async def get_watch(session: AsyncSession, *, entity_set: str) -> SyncErpWatch | None:
    return await session.get(SyncErpWatch, entity_set)
