"""A round trip to the database, for readiness probes."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


async def ping(engine: AsyncEngine) -> tuple[bool, str | None]:
    """`(True, None)` when the database answers `SELECT 1`, else `(False, <error class>)`."""
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:  # any driver failure means "not ready"; the class name says which
        return False, type(exc).__name__
    return True, None
