"""Watermarks of incremental sync: per mapping and direction, the highest modified-on already
processed (capped by the signpost taken at run start) or the Dataverse delta link."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.store.sync_tables import SyncWatermark
from gateway.store.types import utcnow


async def get_watermark(session: AsyncSession, *, mapping: str, direction: str) -> SyncWatermark | None:
    return await session.get(SyncWatermark, (mapping, direction))


async def set_watermark(
    session: AsyncSession,
    *,
    mapping: str,
    direction: str,
    watermark: datetime | None = None,
    signpost: datetime | None = None,
    delta_link: str | None = None,
) -> SyncWatermark:
    """Advance (never rewind) the modified-on watermark; replace the delta link when one is given."""
    row = await session.get(SyncWatermark, (mapping, direction))
    if row is None:
        row = SyncWatermark(mapping=mapping, direction=direction)
    if watermark is not None and (row.watermark is None or watermark > row.watermark):
        row.watermark = watermark
    if signpost is not None:
        row.signpost = signpost
    if delta_link is not None:
        row.delta_link = delta_link
    row.updated_at = utcnow()
    session.add(row)
    await session.flush()
    return row


async def clear_watermarks(session: AsyncSession, *, mapping: str) -> None:
    await session.exec(delete(SyncWatermark).where(col(SyncWatermark.mapping) == mapping))


async def set_polled(session: AsyncSession, *, mapping: str, direction: str, at: datetime) -> None:
    """Remember when a poll that runs only when due (see gateway.sync.orders) last started."""
    row = await session.get(SyncWatermark, (mapping, direction))
    if row is None:
        row = SyncWatermark(mapping=mapping, direction=direction)
    row.polled_at = at
    row.updated_at = utcnow()
    session.add(row)
    await session.flush()
