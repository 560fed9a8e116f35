"""Integration table mappings and their field mappings, stored as rows (DOMAIN §4, §5).

The store knows rows and JSON; gateway.sync.catalog turns them into TableMapping values.
Functions flush but never commit: the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.store.sync_tables import SyncFieldMapping, SyncMapping
from gateway.store.types import utcnow


async def mapping_rows(session: AsyncSession) -> list[tuple[SyncMapping, list[SyncFieldMapping]]]:
    """Every mapping with its field mappings, in position order."""
    mappings = (await session.exec(select(SyncMapping).order_by(col(SyncMapping.position)))).all()
    fields = (
        await session.exec(
            select(SyncFieldMapping).order_by(col(SyncFieldMapping.mapping), col(SyncFieldMapping.position))
        )
    ).all()
    by_mapping: dict[str, list[SyncFieldMapping]] = {}
    for row in fields:
        by_mapping.setdefault(row.mapping, []).append(row)
    return [(m, by_mapping.get(m.name, [])) for m in mappings]


async def mapping_names(session: AsyncSession) -> set[str]:
    return set((await session.exec(select(SyncMapping.name))).all())


async def put_mapping(
    session: AsyncSession,
    *,
    name: str,
    position: int,
    definition: Mapping[str, Any],
    fields: Sequence[Mapping[str, Any]],
) -> SyncMapping:
    """Create or replace one mapping and all its field mappings.

    `definition` is the mapping's JSON (erpEntity, crmEntity, direction, … without `fields`);
    each field is a field mapping's JSON (erpField, crmField, direction, …).
    """
    row = await session.get(SyncMapping, name)
    if row is None:
        row = SyncMapping(
            name=name, erp_entity="", crm_entity="", direction="", conflict_policy="", deletion_policy=""
        )
    _fill(row, position=position, definition=definition)
    session.add(row)
    await session.flush()
    await session.exec(delete(SyncFieldMapping).where(col(SyncFieldMapping.mapping) == name))
    _add_fields(session, name=name, fields=fields)
    await session.flush()
    return row


async def insert_mapping_if_missing(
    session: AsyncSession,
    *,
    name: str,
    position: int,
    definition: Mapping[str, Any],
    fields: Sequence[Mapping[str, Any]],
) -> bool:
    """Create a mapping and its field mappings unless a mapping of that name exists: True when this
    call created it. INSERT … ON CONFLICT DO NOTHING decides, so processes creating the defaults at
    once never fail: on PostgreSQL a second inserter waits for the first one's commit, then skips."""
    row = SyncMapping(
        name=name, erp_entity="", crm_entity="", direction="", conflict_policy="", deletion_policy=""
    )
    _fill(row, position=position, definition=definition)
    values = row.model_dump()
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(SyncMapping).values(**values).on_conflict_do_nothing(index_elements=["name"])
    if not (await session.exec(statement)).rowcount:
        return False
    _add_fields(session, name=name, fields=fields)
    await session.flush()
    return True


def _fill(row: SyncMapping, *, position: int, definition: Mapping[str, Any]) -> None:
    row.position = position
    row.erp_entity = str(definition["erpEntity"])
    row.crm_entity = str(definition["crmEntity"])
    row.direction = str(definition["direction"])
    row.enabled = bool(definition.get("enabled", True))
    row.interval_seconds = int(definition.get("intervalSeconds", 30))
    row.conflict_policy = str(definition.get("conflictPolicy", "erp_wins"))
    row.deletion_policy = str(definition.get("deletionPolicy", "manual"))
    row.definition = {k: v for k, v in definition.items() if k != "fields"}
    row.updated_at = utcnow()


def _add_fields(session: AsyncSession, *, name: str, fields: Sequence[Mapping[str, Any]]) -> None:
    for position_, data in enumerate(fields):
        session.add(
            SyncFieldMapping(
                mapping=name,
                position=position_,
                erp_field=data.get("erpField"),
                crm_field=data.get("crmField"),
                direction=str(data.get("direction", "bidirectional")),
                enabled=bool(data.get("enabled", True)),
                definition=dict(data),
            )
        )


async def delete_all_mappings(session: AsyncSession) -> None:
    await session.exec(delete(SyncFieldMapping))
    await session.exec(delete(SyncMapping))
