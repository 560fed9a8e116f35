"""Projection of upstream records into the read model: `project_records` upserts a page of ERP or
CRM records into the typed read-model tables in bulk, `remove_records` deletes them.

Callers (the sync engine) own the transaction: nothing here commits, so a page of upstream writes,
couplings and read-model rows commit together. Entity sets the read model does not keep are ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic_core import PydanticUndefined
from sqlalchemy import Table, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.domain import Side, UpstreamRecord
from gateway.store import read_versions
from gateway.store.couplings import normalize_id
from gateway.store.read_converters import PROJECTIONS, Projection, Row, projected_entity_sets
from gateway.store.read_values import as_datetime
from gateway.store.types import utcnow

# Rows per executemany call: bounds the memory of one call, not the round trips.
_UPSERT_CHUNK = 5_000
_DELETE_CHUNK = 500


# ------------------------------------------------------------------------------------------------
# Bulk upsert


def _table(model: type[SQLModel]) -> Table:
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


def _defaults(model: type[SQLModel]) -> Row:
    """Every column's default, so that all rows of one multi-row INSERT have the same keys."""
    defaults: Row = {}
    for name, info in model.model_fields.items():
        if info.default_factory is not None:
            defaults[name] = None  # only synced_at has one; set per call below
        elif info.default is not PydanticUndefined:
            defaults[name] = info.default
    return defaults


_DEFAULTS: dict[type[SQLModel], Row] = {}


def _rows(spec: Projection, side: Side, records: Sequence[UpstreamRecord]) -> list[Row]:
    defaults = _DEFAULTS.get(spec.model)
    if defaults is None:
        defaults = _DEFAULTS[spec.model] = _defaults(spec.model)
    now = utcnow()
    by_key: dict[str, Row] = {}
    for record in records:
        key = normalize_id(record.id)
        row = dict(defaults)
        row.update(spec.convert(record.values))
        row["id"] = key
        if spec.two_sided:
            row["side"] = side.value
        # Never NULL: the "changed" ordering and its keyset cursors need a value on every row.
        row["modified_at"] = (
            record.modified_at
            or as_datetime(record.values.get("lastModifiedDateTime") or record.values.get("modifiedon"))
            or now
        )
        row["synced_at"] = now
        by_key[key] = row  # a page may repeat a record; the last one wins, as it would upstream
    return list(by_key.values())


def _upsert(session: AsyncSession, table: Table) -> Any:
    keys = [c.name for c in table.primary_key.columns]
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table)
    updates = {c.name: statement.excluded[c.name] for c in table.columns if c.name not in keys}
    return statement.on_conflict_do_update(index_elements=keys, set_=updates)


async def project_records(
    session: AsyncSession, *, side: Side, entity_set: str, records: Sequence[UpstreamRecord]
) -> int:
    """Upsert `records` of `entity_set` on `side` into the read model; returns the rows written.

    One INSERT … ON CONFLICT DO UPDATE sent with the driver's executemany (aiosqlite loops in its
    thread, asyncpg pipelines a prepared statement): one round trip per chunk, compiled once.
    Unknown entity sets write nothing.
    """
    spec = PROJECTIONS.get((Side(side), entity_set))
    if spec is None or not records:
        return 0
    table = _table(spec.model)
    rows = _rows(spec, Side(side), records)
    statement = _upsert(session, table)
    for start in range(0, len(rows), _UPSERT_CHUNK):
        await session.exec(statement, params=rows[start : start + _UPSERT_CHUNK])
    await _bump_version(session, spec)
    return len(rows)


async def _bump_version(session: AsyncSession, spec: Projection) -> None:
    """Tables that processes keep in memory (currencies, exchange rates) tell them they changed."""
    group = read_versions.GROUP_OF.get(spec.model)
    if group is not None:
        await read_versions.bump(session, group)


async def remove_records(session: AsyncSession, *, side: Side, entity_set: str, ids: Sequence[str]) -> int:
    """Delete the read-model rows of records deleted upstream; returns how many existed."""
    spec = PROJECTIONS.get((Side(side), entity_set))
    if spec is None or not ids:
        return 0
    table = _table(spec.model)
    wanted = list(dict.fromkeys(normalize_id(i) for i in ids))
    removed = 0
    for start in range(0, len(wanted), _DELETE_CHUNK):
        chunk = wanted[start : start + _DELETE_CHUNK]
        statement = delete(table).where(table.c.id.in_(chunk))
        if spec.two_sided:
            statement = statement.where(table.c.side == Side(side).value)
        result = await session.exec(statement)
        removed += int(result.rowcount)
    if removed:
        await _bump_version(session, spec)
    return removed


__all__ = ["project_records", "projected_entity_sets", "remove_records"]
