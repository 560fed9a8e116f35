"""Loading many ORM rows without holding the event loop for the whole result.

SQLAlchemy's asyncio layer fetches a result and then builds every ORM object in one synchronous
greenlet: loading a mapping's 20,000 mirror rows (values parsed from JSON, a SQLModel instance each)
held the loop for about 1 s of CPU, several seconds on a loaded machine, during which the task
renewing the run's leases could not run (the 20,000-customer full sync lost all 12 leases at load
average 13). Here the rows come in partitions from a streamed result, with a turn of the loop
between partitions; the statement and the rows it returns are the same.
"""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

from sqlalchemy import Row, Select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

T = TypeVar("T")

ROWS_PER_TURN = 200
"""Rows built between two turns of the loop: a few milliseconds of CPU."""


async def all_scalars(
    session: AsyncSession, statement: SelectOfScalar[T], *, per_turn: int = ROWS_PER_TURN
) -> list[T]:
    """Every row of `statement`, as `(await session.exec(statement)).all()` returns them."""
    result = await session.stream_scalars(statement.execution_options(yield_per=per_turn))
    rows: list[T] = []
    async for part in result.partitions():
        rows.extend(part)
        await asyncio.sleep(0)  # the other tasks (lease renewal, probes, requests) get their turn
    return rows


async def all_rows(
    session: AsyncSession, statement: Select[Any], *, per_turn: int = ROWS_PER_TURN
) -> list[Row[Any]]:
    """Every row of a Core `statement` (columns, no ORM objects), a partition per turn of the loop."""
    result = await session.stream(statement.execution_options(yield_per=per_turn))
    rows: list[Row[Any]] = []
    async for part in result.partitions():
        rows.extend(part)
        await asyncio.sleep(0)
    return rows


__all__ = ["ROWS_PER_TURN", "all_rows", "all_scalars"]
