"""Clearing what a store learned from its upstreams, for the demo: its in-process simulators start
with freshly generated data on every start, so the last run's couplings, mirror, watermarks, jobs
and read model describe records that are gone (the records that run created in them, say)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

# Every table module, so that the metadata names them all.
from gateway.store import leases, read_model, sync_tables, tables  # noqa: F401

KEPT = frozenset({tables.ApiKey.__tablename__})
"""API keys outlive a demo run: `gateway keys create` made some for this store."""


async def ran_synchronization(engine: AsyncEngine) -> bool:
    """Whether the store has run any sync job (it then holds what it learned from its upstreams)."""
    async with engine.connect() as connection:
        jobs = SQLModel.metadata.tables[tables.SyncJob.__tablename__]
        return (await connection.execute(select(jobs.c.id).limit(1))).first() is not None


async def clear_synchronization(engine: AsyncEngine) -> bool:
    """Empty every table but the API keys, when the store has run any sync job; True if it did.
    The default mappings and a first full synchronization come back as on a first start."""
    async with engine.begin() as connection:
        jobs = SQLModel.metadata.tables[tables.SyncJob.__tablename__]
        ran = await connection.execute(select(jobs.c.id).limit(1))
        if ran.first() is None:
            return False
        for table in reversed(SQLModel.metadata.sorted_tables):
            if table.name not in KEPT:
                await connection.execute(table.delete())
    return True
