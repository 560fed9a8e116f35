"""A mapping's couplings come back in id order, whatever order the database keeps its rows in: a run
works through them in chunks, and its chunks must not change because some rows were updated
(PostgreSQL writes an updated row as a new tuple after the others; a plain scan then returns it last)."""

from __future__ import annotations

import uuid

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.store import sync_state
from gateway.store.couplings import NewCoupling, create_couplings
from gateway.store.engine import count_queries
from gateway.store.paced import ROWS_PER_TURN
from gateway.store.tables import Coupling

COUPLINGS = 2 * ROWS_PER_TURN + 50  # several partitions of the paced load


async def test_couplings_come_back_in_id_order_after_updates(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    pairs = [(str(uuid.uuid4()), str(uuid.uuid4())) for _ in range(COUPLINGS)]
    async with sessions.begin() as session:
        created = await create_couplings(
            session,
            mapping="CUSTOMER",
            new=[NewCoupling(erp_id=e, crm_id=c, erp_key=f"K{i}") for i, (e, c) in enumerate(pairs)],
        )
        await create_couplings(
            session, mapping="ITEM", new=[NewCoupling(erp_id=pairs[0][0], crm_id=pairs[0][1])]
        )
    ids = sorted(c.id for c in created if c.id is not None)
    assert len(ids) == COUPLINGS
    # Update the first half (every other row): on PostgreSQL their new versions follow the rest.
    updated = ids[: COUPLINGS // 2 : 2]
    async with sessions.begin() as session:
        await session.exec(  # type: ignore[call-overload]
            update(Coupling).where(col(Coupling.id).in_(updated)).values(erp_key="UPDATED")
        )
    async with sessions() as session:
        with count_queries(engine) as counter:
            every = await sync_state.mapping_couplings(session, mapping="CUSTOMER")
        assert counter.count == 1  # still one statement, streamed in partitions
        assert [c.id for c in every] == ids
        assert sum(c.erp_key == "UPDATED" for c in every) == len(updated)

        erp_ids = [pairs[i][0] for i in range(0, COUPLINGS, 3)]
        crm_ids = [pairs[i][1] for i in range(1, COUPLINGS, 3)]
        touching = await sync_state.couplings_touching(
            session, mapping="CUSTOMER", erp_ids=reversed(erp_ids), crm_ids=crm_ids
        )
    expected = [c.id for c in every if c.erp_id in set(erp_ids) or c.crm_id in set(crm_ids)]
    assert [c.id for c in touching] == expected == sorted(expected)
    assert len(expected) == len(erp_ids) + len(crm_ids)
