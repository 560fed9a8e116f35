"""The mirror: the last known state of every upstream record the syncer reads, one generic row per
record (side, entity set, id), written page by page with one bulk upsert per page.

After each page the read model's projection hook runs in the same transaction, when it exists.
Functions flush but never commit: the caller owns the transaction.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import func, update
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm.util import identity_key
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.domain import Side, UpstreamRecord
from gateway.store.couplings import normalize_id
from gateway.store.paced import all_rows, all_scalars
from gateway.store.planner import id_criteria
from gateway.store.sync_tables import MirrorRecord
from gateway.store.types import utcnow

# Rows per executemany call of the page upsert.
_CHUNK = 500


def _projection() -> Any:
    """The read model's hook module, if it has landed (it is written in parallel)."""
    for name in ("gateway.store.read_projection", "gateway.store.read_model"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if hasattr(module, "project_records"):
            return module
    return None


def _insert(session: AsyncSession) -> Any:
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    table = SQLModel.metadata.tables[MirrorRecord.__tablename__]
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


async def load_records(
    session: AsyncSession,
    *,
    side: Side,
    entity_set: str,
    ids: Iterable[str] | None = None,
    include_deleted: bool = False,
) -> dict[str, MirrorRecord]:
    """Mirror rows of one entity set by id (one statement on PostgreSQL, see gateway.store.planner);
    every row when `ids` is None."""
    live = [] if include_deleted else [col(MirrorRecord.deleted).is_(False)]
    if ids is None:
        statement = select(MirrorRecord).where(
            col(MirrorRecord.side) == Side(side).value, col(MirrorRecord.entity_set) == entity_set, *live
        )
        return {row.id: row for row in await all_scalars(session, statement)}
    wanted = list(dict.fromkeys(normalize_id(i) for i in ids))
    found: dict[str, MirrorRecord] = {}
    for criterion in _by_ids(session, side, entity_set, wanted):
        for row in await all_scalars(session, select(MirrorRecord).where(criterion, *live)):
            found[row.id] = row
    return found


def _by_ids(session: AsyncSession, side: Side, entity_set: str, ids: Sequence[str]) -> list[Any]:
    scope = [(col(MirrorRecord.side), Side(side).value), (col(MirrorRecord.entity_set), entity_set)]
    return id_criteria(session, col(MirrorRecord.id), ids, scope=scope)


class _Mirrored(NamedTuple):
    """What a page upsert needs of a row already mirrored (no ORM object: a page is up to 2,000)."""

    values: dict[str, Any]
    key: str | None
    generation: str | None
    deleted: bool


async def _mirrored(
    session: AsyncSession, side: Side, entity_set: str, ids: list[str]
) -> dict[str, _Mirrored]:
    """The rows of these ids already in the mirror (deleted ones too), as plain tuples."""
    columns = (
        col(MirrorRecord.id),
        col(MirrorRecord.values),
        col(MirrorRecord.key),
        col(MirrorRecord.generation),
        col(MirrorRecord.deleted),
    )
    found: dict[str, _Mirrored] = {}
    for criterion in _by_ids(session, side, entity_set, ids):
        for row in await all_rows(session, sa_select(*columns).where(criterion)):
            row_id, values, key, generation, deleted = tuple(row)
            found[row_id] = _Mirrored(values, key, generation, bool(deleted))
    return found


def _forget(session: AsyncSession, side: Side, entity_set: str, ids: Iterable[str]) -> None:
    """Expunge the ORM objects of these rows this session holds, if any (they would show stale values)."""
    for row_id in ids:
        held = session.identity_map.get(identity_key(MirrorRecord, (side.value, entity_set, row_id)))
        if held is not None:
            session.expunge(held)


async def upsert_records(
    session: AsyncSession,
    *,
    side: Side,
    entity_set: str,
    records: Sequence[UpstreamRecord],
    keys: Mapping[str, str | None] | None = None,
    generation: str | None = None,
) -> list[str]:
    """Write a page of records; returns the ids whose values are new or changed (etag or values)."""
    if not records:
        return []
    side = Side(side)
    unique: dict[str, UpstreamRecord] = {}
    for record in records:
        if record.id:
            unique[normalize_id(record.id)] = record
    existing = await _mirrored(session, side, entity_set, list(unique))
    now = utcnow()
    rows = []
    changed: list[str] = []
    for record_id, record in unique.items():
        values = dict(record.values)
        before = existing.get(record_id)
        if before is None or before.deleted or before.values != values:
            changed.append(record_id)
        rows.append(
            {
                "side": side.value,
                "entity_set": entity_set,
                "id": record_id,
                "key": (keys or {}).get(record_id, before.key if before else None),
                "values": values,
                "etag": record.etag,
                "modified_at": record.modified_at,
                "deleted": False,
                "generation": generation
                if generation is not None
                else (before.generation if before else None),
                "mirrored_at": now,
            }
        )
    statement = _insert(session)
    statement = statement.on_conflict_do_update(
        index_elements=["side", "entity_set", "id"],
        set_={
            c: statement.excluded[c]
            for c in ("key", "values", "etag", "modified_at", "deleted", "generation", "mirrored_at")
        },
    )
    for start in range(0, len(rows), _CHUNK):
        await session.exec(statement, params=rows[start : start + _CHUNK])
        await asyncio.sleep(0)  # binding a chunk's parameters is CPU: let the lease renewal run
    # Objects of these rows loaded earlier in this session would show stale values: forget them.
    _forget(session, side, entity_set, existing)
    projection = _projection()
    if projection is not None:
        await projection.project_records(
            session, side=side, entity_set=entity_set, records=list(unique.values())
        )
    return changed


async def mark_deleted(
    session: AsyncSession, *, side: Side, entity_set: str, ids: Sequence[str]
) -> list[str]:
    """Record deletions seen upstream; returns the ids that were live in the mirror."""
    if not ids:
        return []
    live = await load_records(session, side=side, entity_set=entity_set, ids=ids)
    gone = list(live)
    for criterion in _by_ids(session, side, entity_set, gone):
        await session.exec(
            update(MirrorRecord)
            .where(criterion)
            .values(deleted=True, mirrored_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    for row in live.values():
        session.expunge(row)
    projection = _projection()
    if projection is not None and gone:
        await projection.remove_records(session, side=Side(side), entity_set=entity_set, ids=gone)
    return gone


async def unseen_ids(session: AsyncSession, *, side: Side, entity_set: str, generation: str) -> list[str]:
    """Live rows a full read tagged `generation` did not see: deleted upstream since."""
    statement = select(MirrorRecord.id).where(
        col(MirrorRecord.side) == Side(side).value,
        col(MirrorRecord.entity_set) == entity_set,
        col(MirrorRecord.deleted).is_(False),
        or_none_other(generation),
    )
    return list((await session.exec(statement)).all())


def or_none_other(generation: str) -> Any:
    column = col(MirrorRecord.generation)
    return (column.is_(None)) | (column != generation)


async def count_records(session: AsyncSession, *, side: Side, entity_set: str) -> int:
    statement = (
        select(func.count())
        .select_from(MirrorRecord)
        .where(
            col(MirrorRecord.side) == Side(side).value,
            col(MirrorRecord.entity_set) == entity_set,
            col(MirrorRecord.deleted).is_(False),
        )
    )
    return int((await session.exec(statement)).one())
