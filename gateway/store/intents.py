"""Intents to create ERP records from CRM records: recorded (and committed) before the POST, so a
crash between the write and the coupling is recovered by looking the record up by its number."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.store.planner import id_criteria
from gateway.store.sync_tables import SyncIntent


async def intents_for(
    session: AsyncSession, *, mapping: str, crm_ids: Iterable[str]
) -> dict[str, SyncIntent]:
    wanted = list(dict.fromkeys(crm_ids))
    found: dict[str, SyncIntent] = {}
    for criterion in _by_ids(session, mapping, wanted):
        for row in (await session.exec(select(SyncIntent).where(criterion))).all():
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
    for criterion in _by_ids(session, mapping, list(crm_ids)):
        await session.exec(delete(SyncIntent).where(criterion))


def _by_ids(session: AsyncSession, mapping: str, crm_ids: Sequence[str]) -> list[Any]:
    """One statement on PostgreSQL, one per 500 ids on SQLite (gateway.store.planner)."""
    return id_criteria(session, col(SyncIntent.crm_id), crm_ids, scope=[(col(SyncIntent.mapping), mapping)])
