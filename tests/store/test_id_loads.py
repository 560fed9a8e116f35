"""Loads by long id lists (gateway.store.planner): ONE statement per load on PostgreSQL, chunks of
500 ids on SQLite, the same rows on both; and on PostgreSQL tables without statistics, under the
generic plans asyncpg's prepared statements end up with, the plan looks the ids up by key instead
of reading the whole entity set (the O(ids x set size) first incremental round at full size)."""

from __future__ import annotations

import math
import uuid
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.domain import Side, UpstreamRecord
from gateway.store import intents, mirror, planner
from gateway.store.couplings import NewCoupling, couplings_by_ids, create_couplings
from gateway.store.engine import count_queries
from gateway.store.read_model import READ_MODEL_TABLES
from gateway.store.sync_state import couplings_touching

N = 1_200  # ids per load: more than one SQLite chunk of 500
SET = "widgets"  # an entity set the read model does not project: only the mirror is written


def guid() -> str:
    return str(uuid.uuid4())


def _per_load(engine: AsyncEngine, ids: int) -> int:
    return 1 if engine.dialect.name == "postgresql" else math.ceil(ids / 500)


async def _mirror(sessions: async_sessionmaker[AsyncSession], ids: list[str]) -> None:
    """The same ids on both sides of one entity set, told apart by their values."""
    async with sessions.begin() as session:
        for side in (Side.ERP, Side.CRM):
            records = [UpstreamRecord(SET, i, {"side": side.value, "n": n}) for n, i in enumerate(ids)]
            await mirror.upsert_records(session, side=side, entity_set=SET, records=records)


async def test_mirror_loads_and_deletions_by_ids(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ids = [guid() for _ in range(1_500)]
    await _mirror(sessions, ids)
    gone = ids[:100]
    async with sessions.begin() as session:
        with count_queries(engine) as counter:
            marked = await mirror.mark_deleted(session, side=Side.CRM, entity_set=SET, ids=[*gone, guid()])
    assert sorted(marked) == sorted(gone)
    assert counter.count == 2 * _per_load(engine, 101)  # the live ones, then their update

    unknown = [guid() for _ in range(50)]
    wanted = [i.upper() for i in ids[:1_150]] + unknown  # ids are matched in their normalized form
    assert len(wanted) == N
    async with sessions() as session:
        with count_queries(engine) as counter:
            live = await mirror.load_records(session, side=Side.CRM, entity_set=SET, ids=wanted)
        assert counter.count == _per_load(engine, N)
        assert sorted(live) == sorted(ids[100:1_150])
        assert all(row.values["side"] == "crm" and row.side == "crm" for row in live.values())
        every = await mirror.load_records(
            session, side=Side.CRM, entity_set=SET, ids=wanted, include_deleted=True
        )
        assert sorted(every) == sorted(ids[:1_150])
        erp = await mirror.load_records(session, side=Side.ERP, entity_set=SET, ids=gone)
        assert sorted(erp) == sorted(gone)  # the other side's rows are untouched
        with count_queries(engine) as counter:
            assert await mirror.load_records(session, side=Side.CRM, entity_set=SET, ids=[]) == {}
        assert counter.count == 0


async def test_coupling_and_intent_loads_by_ids(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    pairs = [(guid(), guid()) for _ in range(N)]
    async with sessions.begin() as session:
        with count_queries(engine) as counter:
            created = await create_couplings(
                session, mapping="CUSTOMER", new=[NewCoupling(erp_id=e, crm_id=c) for e, c in pairs]
            )
        selects = [s for s in counter.statements if s.lstrip().upper().startswith("SELECT")]
        assert len(selects) == _per_load(engine, N)  # the new couplings' ids
        assert all(c.id is not None for c in created)
        await create_couplings(
            session, mapping="OTHER", new=[NewCoupling(erp_id=e, crm_id=c) for e, c in pairs]
        )

    erp_ids = [e for e, _ in pairs[:700]] + [guid()]
    crm_ids = [c for _, c in pairs[500:]] + [guid()]
    async with sessions() as session:
        with count_queries(engine) as counter:
            touching = await couplings_touching(session, mapping="CUSTOMER", erp_ids=erp_ids, crm_ids=crm_ids)
        assert counter.count == _per_load(engine, 701) + _per_load(engine, 701)
        assert sorted((c.erp_id, c.crm_id) for c in touching) == sorted(pairs)
        assert {c.mapping for c in touching} == {"CUSTOMER"}
        by_crm = await couplings_by_ids(session, mapping="OTHER", side=Side.CRM, ids=crm_ids)
        assert {c: coupling.erp_id for c, coupling in by_crm.items()} == {c: e for e, c in pairs[500:]}

    async with sessions.begin() as session:
        for _, crm_id in pairs[:600]:
            await intents.record_intent(session, mapping="CUSTOMER", crm_id=crm_id, erp_number=crm_id[:8])
    wanted = [c for _, c in pairs]
    async with sessions.begin() as session:
        with count_queries(engine) as counter:
            found = await intents.intents_for(session, mapping="CUSTOMER", crm_ids=wanted)
            await intents.drop_intents(session, mapping="CUSTOMER", crm_ids=wanted)
        assert counter.count == 2 * _per_load(engine, N)
        assert sorted(found) == sorted(c for _, c in pairs[:600])
        assert await intents.intents_for(session, mapping="CUSTOMER", crm_ids=wanted) == {}


def _literal(value: Any) -> str:
    """A test's own guids and names as SQL literals, for EXECUTE (it takes no bound parameters)."""
    if isinstance(value, list | tuple):
        return f"ARRAY[{', '.join(_literal(v) for v in value)}]::varchar[]"
    assert isinstance(value, str) and "'" not in value
    return f"'{value}'"


async def _generic_plan(engine: AsyncEngine, statement: str, parameters: Any) -> str:
    """The plan PostgreSQL uses for `statement` once a prepared statement has gone generic, as it
    does after five executions through asyncpg's statement cache."""
    async with engine.connect() as connection:
        await connection.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
        await connection.exec_driver_sql(f"PREPARE load_by_ids AS {statement}")
        values = ", ".join(_literal(v) for v in parameters)
        rows = await connection.exec_driver_sql(f"EXPLAIN EXECUTE load_by_ids({values})")
        plan = "\n".join(str(row[0]) for row in rows)
        await connection.exec_driver_sql("DEALLOCATE load_by_ids")
        return plan


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
async def test_postgresql_generic_plans_on_unanalysed_tables_look_ids_up_by_key(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ids = [guid() for _ in range(3_000)]
    await _mirror(sessions, ids)
    async with sessions.begin() as session:
        await create_couplings(
            session, mapping="CUSTOMER", new=[NewCoupling(erp_id=i, crm_id=guid()) for i in ids]
        )
    async with sessions() as session:
        analysed = await session.exec(  # type: ignore[call-overload]
            text(
                "SELECT count(*) FROM pg_stat_user_tables WHERE relname IN ('sync_mirror', 'coupling') "
                "AND (last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL)"
            )
        )
        assert analysed.scalar_one() == 0  # the case of the regression: no statistics yet

    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        seen.append((statement, parameters))

    wanted = ids[1_000:2_200]
    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        async with sessions() as session:
            rows = await mirror.load_records(session, side=Side.CRM, entity_set=SET, ids=wanted)
            couplings = await couplings_touching(session, mapping="CUSTOMER", erp_ids=wanted, crm_ids=[])
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    assert len(rows) == len(couplings) == N
    mirror_load = next(s for s in seen if "FROM sync_mirror" in s[0])
    coupling_load = next(s for s in seen if "FROM coupling" in s[0])

    plan = await _generic_plan(engine, *mirror_load)
    assert "Index Scan using sync_mirror_pkey" in plan, plan
    assert "Seq Scan on sync_mirror" not in plan, plan
    _ids_by_key_or_hash(plan, "id")
    # On a table this small a hash of the ids beside one pass over the table (O(ids + table)) is a
    # fair choice too; what must never be is a pass over the set per id (the id in a filter).
    _ids_by_key_or_hash(await _generic_plan(engine, *coupling_load), "erp_id")


def _ids_by_key_or_hash(plan: str, column: str) -> None:
    """The id column is matched in an index or hash condition, never row by row in a filter."""
    matched = [line for line in plan.splitlines() if f"{column})::text" in line]
    assert matched, plan
    assert all(line.strip().startswith(("Index Cond:", "Hash Cond:")) for line in matched), plan


async def test_statistics_after_bulk_writes(sessions: async_sessionmaker[AsyncSession]) -> None:
    """The sync's tables and the read model the API reads (without statistics a page of customers
    with its relations took 780 ms instead of 20 at 20,000 customers on PostgreSQL)."""
    await _mirror(sessions, [guid() for _ in range(50)])
    ran = await planner.refresh_statistics(sessions)
    async with sessions() as session:
        if ran:
            analysed = await session.exec(  # type: ignore[call-overload]
                text("SELECT relname FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL")
            )
            read_model = {table.__tablename__ for table in READ_MODEL_TABLES}
            assert set(analysed.scalars()) >= {"coupling", "job_error", "sync_mirror", *read_model}
            assert "rm_customer" in read_model and "rm_price_line" in read_model
        else:  # SQLite: left without statistics on purpose (see planner.refresh_statistics)
            tables = await session.exec(  # type: ignore[call-overload]
                text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
            )
            assert tables.scalar_one() == 0
    assert ran is (sessions.kw["bind"].dialect.name == "postgresql")
