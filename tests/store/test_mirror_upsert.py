"""A page upsert tells new and changed rows from unchanged ones by reading what the mirror holds of
the page's ids as plain columns (a Core select of id, values, key, generation, deleted), building no
ORM object per row: the first incremental round after a full sync upserted 5,888 accounts read back
and built an object for each only to compare its values. An object of such a row that the session
already held is forgotten, so a later load in the same session sees the new values."""

from __future__ import annotations

import uuid

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.domain import Side, UpstreamRecord
from gateway.store import mirror
from gateway.store.engine import count_queries
from gateway.store.sync_tables import MirrorRecord

SET = "widgets"  # an entity set the read model does not project: only the mirror is written


def _record(record_id: str, n: int, etag: str = 'W/"1"') -> UpstreamRecord:
    return UpstreamRecord(SET, record_id, {"n": n}, etag, None)


async def test_an_upsert_tells_changed_rows_without_building_objects(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ids = [str(uuid.uuid4()) for _ in range(600)]  # more than one SQLite chunk of 500 ids
    async with sessions.begin() as session:
        await mirror.upsert_records(
            session, side=Side.CRM, entity_set=SET, records=[_record(i, n) for n, i in enumerate(ids)]
        )
        await mirror.mark_deleted(session, side=Side.CRM, entity_set=SET, ids=ids[:1])
    built = 0

    def count(_target: MirrorRecord, _context: object) -> None:
        nonlocal built
        built += 1

    new = str(uuid.uuid4())
    page = [
        _record(ids[0], 0),  # deleted in the mirror: back, so changed
        _record(ids[1], 99),  # new values
        *(_record(i, n, etag='W/"2"') for n, i in enumerate(ids[2:], 2)),  # same values, new ETag
        _record(new, 7),  # not mirrored yet
    ]
    event.listen(MirrorRecord, "load", count)
    try:
        async with sessions.begin() as session:
            with count_queries(engine) as counter:
                changed = await mirror.upsert_records(session, side=Side.CRM, entity_set=SET, records=page)
    finally:
        event.remove(MirrorRecord, "load", count)
    assert sorted(changed) == sorted([ids[0], ids[1], new])
    assert built == 0
    reads = [s for s in counter.statements if s.lstrip().upper().startswith("SELECT")]
    assert len(reads) == (1 if engine.dialect.name == "postgresql" else 2), reads  # 601 ids
    async with sessions() as session:
        rows = await mirror.load_records(session, side=Side.CRM, entity_set=SET, ids=[ids[0], ids[5]])
    assert not rows[ids[0]].deleted and rows[ids[5]].etag == 'W/"2"'


async def test_an_object_the_session_holds_is_forgotten(sessions: async_sessionmaker[AsyncSession]) -> None:
    record_id = str(uuid.uuid4())
    async with sessions.begin() as session:
        await mirror.upsert_records(session, side=Side.ERP, entity_set=SET, records=[_record(record_id, 1)])
    async with sessions.begin() as session:
        held = (await mirror.load_records(session, side=Side.ERP, entity_set=SET, ids=[record_id]))[record_id]
        await mirror.upsert_records(session, side=Side.ERP, entity_set=SET, records=[_record(record_id, 2)])
        again = (await mirror.load_records(session, side=Side.ERP, entity_set=SET, ids=[record_id]))[
            record_id
        ]
    assert held.values == {"n": 1}  # the object held before is left as it was, and no longer the row's
    assert again is not held and again.values == {"n": 2}
