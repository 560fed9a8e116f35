"""Intents to create ERP records from CRM records: recorded (and committed) before the POST, so a
crash between the write and the coupling is recovered by looking the record up by its number."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.store.sync_tables import SyncIntent


async def intents_for(
    session: AsyncSession, *, mapping: str, crm_ids: Iterable[str]
) -> dict[str, SyncIntent]:
    wanted = list(dict.fromkeys(crm_ids))
    found: dict[str, SyncIntent] = {}
    for start in range(0, len(wanted), 500):
        statement = select(SyncIntent).where(
            col(SyncIntent.mapping) == mapping, col(SyncIntent.crm_id).in_(wanted[start : start + 500])
        )
        for row in (await session.exec(statement)).all():
            found[row.crm_id] = row
    return found


async def record_intent(session: AsyncSession, *, mapping: str, crm_id: str, erp_number: str) -> SyncIntent:
    row = await session.get(SyncIntent, (mapping, crm_id))
    if row is None:
        row = SyncIntent(mapping=mapping, crm_id=crm_id, erp_number=erp_number)
        session.add(row)
        await session.flush()
    return row


async def drop_intents(session: AsyncSession, *, mapping: str, crm_ids: Iterable[str]) -> None:
    ids = list(crm_ids)
    for start in range(0, len(ids), 500):
        await session.exec(
            delete(SyncIntent).where(
                col(SyncIntent.mapping) == mapping, col(SyncIntent.crm_id).in_(ids[start : start + 500])
            )
        )
