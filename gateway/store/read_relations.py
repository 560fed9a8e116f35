"""The relations of one page of customers (salespeople, currencies, default price lists) in one
statement: the lookups `read_catalog.records_by` and `price_lists_for_groups` would run one by one,
as the branches of a UNION ALL, each with its own keys; the answers are the same, keyed the same.

Every branch gives every column of every branch (NULL, typed, where it has none), so one row shape
carries salespeople, currencies and price lists; `u_part` says which lookup a row answers.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import cast, literal_column, null, select, union_all
from sqlalchemy.sql import Select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.store import read_catalog
from gateway.store import read_queries as q
from gateway.store.read_catalog import Kind, LookupColumn

GROUP = "group"
"""The column of the price-list lookup by customer price group (`price_lists_for_groups`)."""


@dataclass(frozen=True, slots=True)
class Lookup:
    kind: Kind
    column: LookupColumn | Literal["group"]
    values: tuple[str, ...]


def _key(index: int) -> str:
    return f"keys_{index}"


@functools.lru_cache(maxsize=32)
def _statement(shapes: tuple[tuple[Kind, str], ...]) -> Select[Any]:
    branches = []
    for index, (kind, column) in enumerate(shapes):
        if column == GROUP:
            statement = read_catalog.group_lists_statement(_key(index))
        else:
            statement = read_catalog.lookup_statement(kind, column, _key(index))
        branches.append(statement.subquery(f"r{index}"))
    types: dict[str, Any] = {}
    for branch in branches:
        for c in branch.c:
            types.setdefault(c.key, c.type)
    # The first branch's column types decide how every row's values are read (Decimal, bool, UTC
    # datetimes on SQLite), and PostgreSQL matches each column's type across the branches, so a
    # column a branch lacks is a NULL cast to the type the others give it.
    return union_all(
        *(
            select(
                literal_column(str(index)).label("u_part"),
                *(
                    (branch.c[name] if name in branch.c else cast(null(), type_)).label(name)
                    for name, type_ in types.items()
                ),
            )
            for index, branch in enumerate(branches)
        )
    )  # type: ignore[return-value]


async def lookup_many(session: AsyncSession, lookups: Sequence[Lookup]) -> list[dict[str, Any]]:
    """The answer of each lookup, in order, as `records_by` (default filters) or, for `GROUP`,
    `price_lists_for_groups` gives it; one statement per 500 keys of the longest lookup."""
    wanted = [
        list(lk.values) if lk.column in ("number", GROUP) else [read_catalog.normalized(v) for v in lk.values]
        for lk in lookups
    ]
    chunked = [q.chunks(values) for values in wanted]
    asked = [i for i, chunks in enumerate(chunked) if chunks]
    rows: dict[int, list[Any]] = defaultdict(list)
    if asked:
        statement = _statement(tuple((lookups[i].kind, lookups[i].column) for i in asked))
        for turn in range(max(len(chunked[i]) for i in asked)):
            params = {
                _key(n): chunked[i][turn] if turn < len(chunked[i]) else [] for n, i in enumerate(asked)
            }
            for row in await q.fetch(session, statement, params):
                rows[asked[row.u_part]].append(row)
    answers: list[dict[str, Any]] = []
    for index, lookup in enumerate(lookups):
        if lookup.column == GROUP:
            answers.append(read_catalog.lists_by_group(rows[index]))
        else:
            answers.append(read_catalog.keyed(lookup.kind, lookup.column, rows[index]))  # type: ignore[arg-type]
    return answers
