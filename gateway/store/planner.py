"""What keeps PostgreSQL's planner on the keys when the sync engine loads rows by long id lists:
the id-list criteria every id-load of the store uses, and fresh statistics after a full sync.

Why a special shape on PostgreSQL. The server may run without autovacuum (ours does), so right after
a full sync's bulk writes `sync_mirror` and `coupling` have no statistics. The planner then takes
the equality on the scope columns (`side = :side AND entity_set = :set`) for very selective, and
with the generic plan asyncpg's prepared statements get after five runs it read the whole entity set
through an index on those columns and compared each row with the ids: O(ids x set size). Measured
with 1,200 ids in a set of 20,000 unanalysed rows under `plan_cache_mode = force_generic_plan`:
`id IN (500 params)` 0.66 s per 500, `id = ANY(:ids)` 1.1 s, a join on `unnest(:ids)` beside the
scope equalities 3.0-4.3 s, all through ix_sync_mirror_set_key; the form used here,
`(side, entity_set, id) IN (SELECT :side, :set, unnest(:ids))`, 11-23 ms: with the scope values
coming out of the subquery nothing tempts the planner to filter the table alone first, and the plan
is a nested loop of primary/unique key lookups (generic or custom, with or without statistics; on a
small table a hash of the ids beside one pass over it, also fine). On a small set it still looked
the ids up through ix_sync_mirror_set_key's two leading columns, one pass over the set per id: that
index served no query, and migration 0008 dropped it. One statement per load, whatever the number
of ids.

SQLite keeps chunked IN lists (500 ids a statement, well below its bound-parameter limit); its
planner has no generic plans and uses the key without statistics.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import String, and_, bindparam, func, literal, select, text, tuple_
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.store.engine import SessionFactory
from gateway.store.read_model import READ_MODEL_TABLES

_SQLITE_CHUNK = 500

# The tables a full sync writes in bulk and incremental runs then load by id (mirror rows,
# couplings) or scan per mapping (open errors); and the read model it projects, which every API
# read joins (a page of 50 customers with its relations at 20,000 customers: 780 ms without
# statistics, 20 ms with).
_BULK_WRITTEN = (
    "sync_mirror",
    "coupling",
    "job_error",
    *(str(table.__tablename__) for table in READ_MODEL_TABLES),
)


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


def id_criteria(
    session: AsyncSession,
    column: Any,
    ids: Sequence[str],
    *,
    scope: Sequence[tuple[Any, str]] = (),
) -> list[ColumnElement[bool]]:
    """WHERE criteria for the rows whose `column` is one of `ids`, within `scope` (column, value
    pairs such as the mirror's side and entity set): one criterion per statement to run, ONE on
    PostgreSQL, one per 500 ids on SQLite, none for no ids. Callers run their SELECT, UPDATE or
    DELETE once per criterion."""
    if not ids:
        return []
    if _dialect(session) == "postgresql":
        wanted = bindparam(None, list(ids), type_=ARRAY(String()))
        values = [literal(value, String()) for _, value in scope]
        rows = select(*values, func.unnest(wanted, type_=String()))
        return [tuple_(*(c for c, _ in scope), column).in_(rows)]
    fixed = [c == value for c, value in scope]
    return [
        and_(*fixed, column.in_(list(ids[start : start + _SQLITE_CHUNK])))
        for start in range(0, len(ids), _SQLITE_CHUNK)
    ]


async def refresh_statistics(sessions: SessionFactory) -> bool:
    """ANALYZE the tables a full sync wrote in bulk, on PostgreSQL (True when it ran): without
    statistics (autovacuum off, or not yet round) the planner misjudges every later query on them,
    the sync's id loads and the API's reads of the read model alike.
    SQLite is left alone: its planner does well on these keys without statistics, and
    `sqlite_stat1` would change the plans of every query, not only these."""
    async with sessions.begin() as session:
        if _dialect(session) != "postgresql":
            return False
        connection = await session.connection()
        await connection.execute(text(f"ANALYZE {', '.join(_BULK_WRITTEN)}"))
    return True
