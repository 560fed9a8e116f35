"""UTC timestamps: aware values round-trip on both databases, whatever the server's time zone, and sort."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.store.tables import SyncJob


async def test_aware_values_round_trip_as_utc(sessions: async_sessionmaker[AsyncSession]) -> None:
    moments = [
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC),  # the hour Europe skips
        datetime(2026, 3, 29, 3, 15, 0, 999999, tzinfo=timezone(timedelta(hours=2))),
        datetime(2026, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-8))),
    ]
    async with sessions.begin() as session:
        for moment in moments:
            session.add(SyncJob(mapping="T", direction="erp_to_crm", type="sync", created_at=moment))
    async with sessions() as session:
        if session.bind.dialect.name == "postgresql":
            # The connection's own zone must not leak into what the store returns.
            await session.exec(text("SET TIME ZONE 'Asia/Kolkata'"))  # type: ignore[call-overload]
        stored = (await session.exec(select(SyncJob).order_by(col(SyncJob.created_at)))).all()
        later = (
            await session.exec(
                select(SyncJob).where(col(SyncJob.created_at) > datetime(2026, 3, 29, 1, 20, tzinfo=UTC))
            )
        ).all()
    assert [job.created_at for job in stored] == sorted(moments)
    assert all(job.created_at.tzinfo is UTC for job in stored)
    assert len(later) == 2
