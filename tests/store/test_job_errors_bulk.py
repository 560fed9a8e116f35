"""A sync run's failed records logged and closed in bulk: the same rows as one by one, in a fixed
number of statements."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.errors import InvalidInput, NotFound
from gateway.store.engine import count_queries
from gateway.store.job_errors import FailedRecord, add_job_error, add_job_errors
from gateway.store.jobs import create_job
from gateway.store.sync_state import resolve_record_errors
from gateway.store.tables import ErrorStatus, JobError

E1, E2, E3 = (str(uuid.UUID(int=n)) for n in (1, 2, 3))
C1, C2, C3 = (str(uuid.UUID(int=n)) for n in (11, 12, 13))

# Already open when the batch comes: errors of records on either side, one with both ids.
OPEN_BEFORE = [(E1, C1), (E2, None), (None, C2), (E3, None), (None, C3)]
# Settled records (only their old errors close), then new failures in order: the record of C1
# fails again by its CRM id alone, E2 twice by its ERP id (each later one closes the earlier), one
# error names no record (it closes nothing), E3 with a CRM partner.
SETTLED = [(None, C3)]
FAILURES = [(E1, C1), (E2, None), (None, C1), (None, C2), (None, None), (E3, C3), (E2, None)]


async def _rows(session: AsyncSession, mapping: str) -> list[tuple[str | None, str | None, str, str]]:
    statement = select(JobError).where(JobError.mapping == mapping).order_by(col(JobError.id))
    return [(e.erp_id, e.crm_id, e.reason, e.status) for e in (await session.exec(statement)).all()]


async def test_bulk_leaves_the_rows_one_by_one_would(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as session:
        jobs = {}
        for mapping in ("ONE-BY-ONE", "BULK"):
            job = await create_job(session, mapping=mapping, direction="erp_to_crm", type="sync")
            jobs[mapping] = job.id
            for n, (erp_id, crm_id) in enumerate(OPEN_BEFORE):
                await add_job_error(
                    session, job_id=job.id, mapping=mapping, erp_id=erp_id, crm_id=crm_id, reason=f"old {n}"
                )
    new = {
        mapping: [
            FailedRecord(job_id=jobs[mapping], reason=f"new {n}", erp_id=e, crm_id=c, actions=["retry"])
            for n, (e, c) in enumerate(FAILURES)
        ]
        for mapping in jobs
    }
    async with sessions.begin() as session:
        # As the engine did before: each settled record closed, then each failure closes its
        # record's open errors and is logged, one at a time.
        for erp_id, crm_id in SETTLED:
            await resolve_record_errors(session, mapping="ONE-BY-ONE", records=[(erp_id, crm_id)])
        for record in new["ONE-BY-ONE"]:
            await resolve_record_errors(
                session, mapping="ONE-BY-ONE", records=[(record.erp_id, record.crm_id)]
            )
            await add_job_error(
                session,
                job_id=record.job_id,
                mapping="ONE-BY-ONE",
                reason=record.reason,
                erp_id=record.erp_id,
                crm_id=record.crm_id,
                actions=record.actions,
            )
        # In bulk: one UPDATE for all the records, one INSERT for all the failures.
        closed = await resolve_record_errors(
            session, mapping="BULK", records=SETTLED + [(r.erp_id, r.crm_id) for r in new["BULK"]]
        )
        still_open = await add_job_errors(session, mapping="BULK", records=new["BULK"])
    async with sessions() as session:
        one_by_one, bulk = await _rows(session, "ONE-BY-ONE"), await _rows(session, "BULK")
        stored = (await session.exec(select(JobError).where(JobError.mapping == "BULK"))).all()
    assert bulk == one_by_one
    assert closed == 5 and still_open == sum(1 for *_, status in bulk if status == "open") == 5
    assert [(e, c, r) for e, c, r, s in bulk if s == "open"] == [
        (None, C1, "new 2"),
        (None, C2, "new 3"),
        (None, None, "new 4"),
        (E3, C3, "new 5"),
        (E2, None, "new 6"),
    ]
    assert all((e.status == "open") == (e.resolved_at is None) for e in stored)
    assert all(e.actions == ["retry"] for e in stored if e.reason.startswith("new"))
    assert all(e.created_at.tzinfo is not None and e.job_id == jobs["BULK"] for e in stored)


async def test_closing_and_logging_many_records_costs_a_statement_per_chunk(
    backend: str, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    records = [(str(uuid.UUID(int=n)), str(uuid.UUID(int=10_000 + n))) for n in range(1200)]
    async with sessions.begin() as session:
        first = await create_job(session, mapping="CUSTOMER", direction="erp_to_crm", type="sync")
        second = await create_job(session, mapping="CUSTOMER", direction="crm_to_erp", type="sync")
        failed = [
            FailedRecord(job_id=(first, second)[n % 2].id, reason="x", erp_id=e, crm_id=c)
            for n, (e, c) in enumerate(records)
        ]
        failed.append(FailedRecord(job_id=first.id, reason="stays", erp_id=str(uuid.UUID(int=99_999))))
        await add_job_errors(session, mapping="CUSTOMER", records=failed)
        # The same ids under another mapping: never closed by CUSTOMER's records.
        await add_job_error(session, job_id=first.id, mapping="ITEM", erp_id=records[0][0], reason="y")
    async with sessions.begin() as session:
        with count_queries(engine) as counter:
            closed = await resolve_record_errors(session, mapping="CUSTOMER", records=records)
        assert closed == 1200
        # An UPDATE per side: ONE on PostgreSQL, per 500 ids on SQLite (1,200 ERP and 1,200 CRM ids).
        assert counter.count == (2 if backend == "postgres" else 6)
        with count_queries(engine) as counter:
            assert await add_job_errors(session, mapping="CUSTOMER", records=failed) == 1201
        # One SELECT per job (two), one INSERT for the 1,201 rows.
        assert [s.split()[0] for s in counter.statements] == ["SELECT", "SELECT", "INSERT"]
    async with sessions() as session:
        statement = select(JobError.mapping, JobError.reason).where(JobError.status == ErrorStatus.OPEN.value)
        still = (await session.exec(statement)).all()
    assert sorted(still) == sorted([("CUSTOMER", "stays")] * 2 + [("ITEM", "y")] + [("CUSTOMER", "x")] * 1200)


async def test_bulk_logging_checks_like_one_by_one(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        job = await create_job(session, mapping="CUSTOMER", direction="erp_to_crm", type="sync")
        assert await add_job_errors(session, mapping="CUSTOMER", records=[]) == 0
        fine = FailedRecord(job_id=job.id, reason="x")
        with pytest.raises(NotFound):
            await add_job_errors(
                session, mapping="CUSTOMER", records=[fine, FailedRecord(job_id="gone", reason="x")]
            )
        with pytest.raises(InvalidInput):
            await add_job_errors(
                session, mapping="CUSTOMER", records=[fine, FailedRecord(job_id=job.id, reason="")]
            )
        with pytest.raises(InvalidInput):
            await add_job_errors(
                session,
                mapping="CUSTOMER",
                records=[FailedRecord(job_id=job.id, reason="x", actions=["shrug"])],
            )
        await session.commit()
        assert not (await session.exec(select(JobError))).all()


async def test_a_later_error_closes_an_earlier_one_of_the_same_record_however_its_id_is_written(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Ids are stored normalized (lowercase, no braces): an upper-case or braced GUID names the same
    record, so its later error closes the earlier one as it does with the stored form."""
    async with sessions.begin() as session:
        job = await create_job(session, mapping="CASE", direction="crm_to_erp", type="sync")
        records = [
            FailedRecord(job_id=job.id, reason="first", crm_id=C1.upper(), actions=["retry"]),
            FailedRecord(job_id=job.id, reason="second", crm_id="{" + C1 + "}", actions=["retry"]),
        ]
        assert await add_job_errors(session, mapping="CASE", records=records) == 1
    async with sessions() as session:
        assert await _rows(session, "CASE") == [
            (None, C1, "first", ErrorStatus.RESOLVED.value),
            (None, C1, "second", ErrorStatus.OPEN.value),
        ]
