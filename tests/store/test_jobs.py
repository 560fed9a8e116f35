"""Sync jobs and their record errors: lifecycle, atomic counters, filters, error status changes."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.errors import InvalidInput, NotFound
from gateway.store.job_errors import (
    add_job_error,
    count_job_errors,
    get_job_error,
    list_job_errors,
    set_job_error_status,
)
from gateway.store.jobs import (
    add_job_counts,
    create_job,
    finish_job,
    get_job,
    latest_job,
    list_jobs,
    start_job,
    update_job,
)
from gateway.store.tables import Direction, ErrorAction, ErrorStatus, JobStatus, JobType


async def test_job_lifecycle(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as session:
        job = await create_job(session, mapping="CUSTOMER", direction=Direction.ERP_TO_CRM, type=JobType.FULL)
    assert job.status == "queued" and job.started_at is None and job.finished_at is None
    assert job.inserted == job.failed == job.done == job.total == 0
    uuid.UUID(job.id)

    async with sessions.begin() as session:
        running = await start_job(session, job_id=job.id, total=120)
        assert running.status == "running" and running.started_at is not None
        await add_job_counts(session, job_id=job.id, inserted=3, unchanged=5, done=8)
        await add_job_counts(session, job_id=job.id, modified=2, failed=1, skipped=1, done=4)
        await add_job_counts(session, job_id=job.id)  # nothing to add: no statement, no error
        # The object loaded in this session shows the database's counts.
        assert (running.inserted, running.modified, running.failed, running.done) == (3, 2, 1, 12)
        await update_job(session, job_id=job.id, message="page 2 of 3")

    async with sessions.begin() as session:
        finished = await finish_job(session, job_id=job.id, status=JobStatus.SUCCESS, message="done")
    async with sessions() as session:
        stored = await get_job(session, job_id=job.id)
    assert stored.status == "success" and stored.message == "done" and stored.total == 120
    assert (stored.inserted, stored.modified, stored.unchanged, stored.skipped, stored.failed) == (
        3,
        2,
        5,
        1,
        1,
    )
    assert stored.done == 12 and stored.coupled == stored.uncoupled == stored.deleted == 0
    assert stored.started_at is not None and stored.finished_at is not None
    assert stored.started_at <= stored.finished_at and stored.finished_at == finished.finished_at
    assert stored.finished_at.tzinfo is not None


async def test_counters_from_concurrent_sessions_all_count(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        job = await create_job(
            session, mapping="ITEM-PRODUCT", direction="crm_to_erp", type="sync", status="running"
        )
    assert job.started_at is not None

    async def batch() -> None:
        for _ in range(10):
            async with sessions.begin() as session:
                await add_job_counts(session, job_id=job.id, modified=1, done=2)

    await asyncio.gather(*(batch() for _ in range(5)))
    async with sessions() as session:
        stored = await get_job(session, job_id=job.id)
    assert (stored.modified, stored.done) == (50, 100)


async def test_job_validation(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        with pytest.raises(InvalidInput) as caught:
            await create_job(session, mapping="CUSTOMER", direction="sideways", type="sync")
        assert caught.value.field == "direction"
        with pytest.raises(InvalidInput):
            await create_job(session, mapping="CUSTOMER", direction="erp_to_crm", type="nightly")
        with pytest.raises(InvalidInput):
            await create_job(session, mapping="", direction="erp_to_crm", type="sync")
        job = await create_job(session, mapping="CUSTOMER", direction="erp_to_crm", type="sync")
        with pytest.raises(InvalidInput):
            await finish_job(session, job_id=job.id, status="running")
        with pytest.raises(InvalidInput):
            await add_job_counts(session, job_id=job.id, failed=-1)
        for call in (
            get_job(session, job_id="missing"),
            start_job(session, job_id="missing"),
            add_job_counts(session, job_id="missing", done=1),
            finish_job(session, job_id="missing", status="error"),
            update_job(session, job_id="missing", message="x"),
        ):
            with pytest.raises(NotFound):
                await call


async def test_list_jobs_filters_newest_first(sessions: async_sessionmaker[AsyncSession]) -> None:
    made: list[str] = []
    async with sessions.begin() as session:
        for mapping, direction, type_ in [
            ("CURRENCY", "erp_to_crm", "full"),
            ("CUSTOMER", "erp_to_crm", "sync"),
            ("CUSTOMER", "crm_to_erp", "sync"),
            ("CUSTOMER", "erp_to_crm", "coupling"),
            ("CUSTOMER", "erp_to_crm", "sync"),
        ]:
            made.append((await create_job(session, mapping=mapping, direction=direction, type=type_)).id)
        await finish_job(session, job_id=made[1], status="error", message="boom")
    async with sessions() as session:
        assert [j.id for j in await list_jobs(session)] == made[::-1]
        assert [j.id for j in await list_jobs(session, mapping="CUSTOMER", type="sync")] == [
            made[4],
            made[2],
            made[1],
        ]
        assert [j.id for j in await list_jobs(session, status="error")] == [made[1]]
        assert [j.id for j in await list_jobs(session, direction="crm_to_erp")] == [made[2]]
        assert [j.id for j in await list_jobs(session, limit=2)] == [made[4], made[3]]
        latest = await latest_job(session, mapping="CUSTOMER", direction=Direction.ERP_TO_CRM)
        assert latest is not None and latest.id == made[4]
        assert await latest_job(session, mapping="ITEM-PRODUCT", direction="erp_to_crm") is None
        with pytest.raises(InvalidInput):
            await list_jobs(session, status="sleeping")


async def test_job_errors(sessions: async_sessionmaker[AsyncSession]) -> None:
    erp, crm = str(uuid.uuid4()), str(uuid.uuid4())
    async with sessions.begin() as session:
        job = await create_job(session, mapping="CUSTOMER", direction="erp_to_crm", type="sync")
        other = await create_job(session, mapping="ITEM-PRODUCT", direction="erp_to_crm", type="sync")
        first = await add_job_error(
            session,
            job_id=job.id,
            mapping="CUSTOMER",
            erp_id=erp.upper(),
            crm_id=crm,
            erp_key="10000",
            crm_key="10000",
            field="salespersonCode",
            reason="salesperson PS is not coupled",
            cause=["MissingDependency: salespersonCode", "SALESPEOPLE has no coupling for PS"],
            actions=[ErrorAction.RETRY, "force-erp", "retry"],
        )
        await add_job_error(session, job_id=job.id, mapping="CUSTOMER", crm_id=str(uuid.uuid4()), reason="x")
        third = await add_job_error(session, job_id=other.id, mapping="ITEM-PRODUCT", erp_id=erp, reason="y")

    async with sessions() as session:
        stored = await get_job_error(session, error_id=first.id or 0)
        assert stored.erp_id == erp and stored.crm_id == crm and stored.field == "salespersonCode"
        assert stored.cause == ["MissingDependency: salespersonCode", "SALESPEOPLE has no coupling for PS"]
        assert stored.actions == ["retry", "force-erp"]
        assert stored.status == "open" and stored.resolved_at is None and stored.created_at.tzinfo is not None

        assert [e.id for e in await list_job_errors(session, job_id=job.id)] == [first.id, first.id + 1]  # type: ignore[operator]
        assert [e.id for e in await list_job_errors(session, record_id=erp)] == [first.id, third.id]
        assert [e.id for e in await list_job_errors(session, record_id=crm)] == [first.id]
        assert [e.id for e in await list_job_errors(session, mapping="ITEM-PRODUCT")] == [third.id]
        assert [e.id for e in await list_job_errors(session, after_id=first.id, limit=1)] == [first.id + 1]  # type: ignore[operator]
        assert await count_job_errors(session) == 3
        assert await count_job_errors(session, job_id=job.id, status="open") == 2

    async with sessions.begin() as session:
        resolved = await set_job_error_status(session, error_id=first.id or 0, status=ErrorStatus.RESOLVED)
        assert resolved.resolved_at is not None
        await set_job_error_status(session, error_id=third.id or 0, status="ignored")
    async with sessions() as session:
        assert [e.id for e in await list_job_errors(session, status="open")] == [first.id + 1]  # type: ignore[operator]
        assert await count_job_errors(session, mapping="CUSTOMER", status="resolved") == 1
    async with sessions.begin() as session:
        reopened = await set_job_error_status(session, error_id=first.id or 0, status="open")
        assert reopened.resolved_at is None and reopened.status == "open"


async def test_job_error_validation(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        job = await create_job(session, mapping="CUSTOMER", direction="erp_to_crm", type="sync")
        with pytest.raises(NotFound):
            await add_job_error(session, job_id="missing", mapping="CUSTOMER", reason="x")
        with pytest.raises(InvalidInput):
            await add_job_error(session, job_id=job.id, mapping="CUSTOMER", reason="x", actions=["shrug"])
        with pytest.raises(InvalidInput):
            await add_job_error(session, job_id=job.id, mapping="CUSTOMER", reason="x", cause="one string")
        with pytest.raises(InvalidInput):
            await add_job_error(session, job_id=job.id, mapping="CUSTOMER", reason="")
        with pytest.raises(NotFound):
            await get_job_error(session, error_id=999)
        with pytest.raises(NotFound):
            await set_job_error_status(session, error_id=999, status="resolved")
        with pytest.raises(InvalidInput):
            await set_job_error_status(session, error_id=999, status="fixed")
        await session.commit()
        assert await count_job_errors(session) == 0


async def test_deleting_a_job_deletes_its_errors(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as session:
        job = await create_job(session, mapping="CUSTOMER", direction="erp_to_crm", type="sync")
        await add_job_error(session, job_id=job.id, mapping="CUSTOMER", reason="x")
    async with sessions.begin() as session:
        await session.exec(text("DELETE FROM sync_job"))  # type: ignore[call-overload]
    async with sessions() as session:
        assert await count_job_errors(session) == 0
