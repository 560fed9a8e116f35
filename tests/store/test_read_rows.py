"""`read_queries.fetch`: rows read by attribute as named tuples of the statement's columns (one
statement per fetch), and SQLAlchemy's rows kept when a label cannot name a tuple field."""

from __future__ import annotations

from sqlalchemy import literal, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.store import read_queries as q
from gateway.store.engine import count_queries


async def test_rows_are_named_tuples_of_the_columns(engine: AsyncEngine, session: AsyncSession) -> None:
    statement = select(
        literal("C1").label("number"), literal(3).label("u_count"), literal(None).label("owner_id")
    )
    with count_queries(engine) as counter:
        rows = await q.fetch(session, statement)
    assert counter.count == 1
    [row] = rows
    assert isinstance(row, tuple) and row._fields == ("number", "u_count", "owner_id")  # type: ignore[attr-defined]
    assert (row.number, row.u_count, row.owner_id) == ("C1", 3, None)
    assert tuple(row) == ("C1", 3, None) and row[0] == "C1"


async def test_labels_a_tuple_cannot_have_keep_sqlalchemys_rows(session: AsyncSession) -> None:
    statement = select(literal(1).label("_hidden"), literal(2).label("shown"))
    [row] = await q.fetch(session, statement)
    assert not isinstance(row, tuple)
    assert row.shown == 2 and row._hidden == 1
    assert await q.fetch(session, select(literal(1).label("x")).where(literal(False))) == []
