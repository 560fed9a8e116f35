"""Sync jobs: one run of one mapping in one direction, with counters (the record errors they log
are in gateway.store.job_errors).

Functions flush but never commit: the caller owns the transaction (`async with sessions.begin() as s:`).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from typing import TypeVar

from sqlalchemy import ColumnElement, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.errors import InvalidInput, NotFound
from gateway.store.tables import (
    Direction,
    JobStatus,
    JobType,
    SyncJob,
)
from gateway.store.types import utcnow

MAX_PAGE = 1000
FINISHED = frozenset({JobStatus.SUCCESS, JobStatus.ERROR, JobStatus.CANCELLED, JobStatus.ABANDONED})
UNFINISHED = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)
COUNTERS = (
    "inserted",
    "modified",
    "deleted",
    "unchanged",
    "skipped",
    "failed",
    "coupled",
    "uncoupled",
    "done",
)


class _Unset(enum.Enum):
    UNSET = enum.auto()


UNSET = _Unset.UNSET


E = TypeVar("E", bound=enum.StrEnum)


def _choice(kind: type[E], value: E | str, field: str) -> E:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise InvalidInput(f"{field} must be one of {allowed}, not {value!r}", field=field) from None


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}", field="limit")
    return limit


# --- jobs


async def create_job(
    session: AsyncSession,
    *,
    mapping: str,
    direction: Direction | str,
    type: JobType | str,
    status: JobStatus | str = JobStatus.QUEUED,
    total: int = 0,
    message: str | None = None,
) -> SyncJob:
    if not mapping:
        raise InvalidInput("mapping must not be empty", field="mapping")
    checked_status = _choice(JobStatus, status, "status")
    now = utcnow()
    job = SyncJob(
        mapping=mapping,
        direction=_choice(Direction, direction, "direction").value,
        type=_choice(JobType, type, "type").value,
        status=checked_status.value,
        total=total,
        message=message,
        created_at=now,
        started_at=now if checked_status is JobStatus.RUNNING else None,
    )
    session.add(job)
    await session.flush()
    return job


async def get_job(session: AsyncSession, *, job_id: str) -> SyncJob:
    job = await session.get(SyncJob, job_id)
    if job is None:
        raise NotFound(f"no sync job with id {job_id!r}")
    return job


async def start_job(session: AsyncSession, *, job_id: str, total: int | None = None) -> SyncJob:
    """Mark a queued job running (sets `started_at`); `total` is the number of records, when known."""
    job = await get_job(session, job_id=job_id)
    job.status = JobStatus.RUNNING.value
    job.started_at = utcnow()
    if total is not None:
        job.total = total
    session.add(job)
    await session.flush()
    return job


async def update_job(
    session: AsyncSession,
    *,
    job_id: str,
    status: JobStatus | str | _Unset = UNSET,
    total: int | _Unset = UNSET,
    message: str | _Unset | None = UNSET,
) -> SyncJob:
    job = await get_job(session, job_id=job_id)
    if not isinstance(status, _Unset):
        job.status = _choice(JobStatus, status, "status").value
    if not isinstance(total, _Unset):
        job.total = total
    if not isinstance(message, _Unset):
        job.message = message
    session.add(job)
    await session.flush()
    return job


async def add_job_counts(
    session: AsyncSession,
    *,
    job_id: str,
    inserted: int = 0,
    modified: int = 0,
    deleted: int = 0,
    unchanged: int = 0,
    skipped: int = 0,
    failed: int = 0,
    coupled: int = 0,
    uncoupled: int = 0,
    done: int = 0,
) -> None:
    """Add to the counters in one UPDATE (`x = x + n`), so concurrent batches of one job never lose counts."""
    amounts = {
        "inserted": inserted,
        "modified": modified,
        "deleted": deleted,
        "unchanged": unchanged,
        "skipped": skipped,
        "failed": failed,
        "coupled": coupled,
        "uncoupled": uncoupled,
        "done": done,
    }
    if any(amount < 0 for amount in amounts.values()):
        raise InvalidInput("counters only grow; amounts must not be negative")
    changes = {name: getattr(SyncJob, name) + amount for name, amount in amounts.items() if amount}
    if not changes:
        return
    result = await session.exec(
        update(SyncJob)
        .where(col(SyncJob.id) == job_id)
        .values(changes)
        # The job may be loaded in this session: re-read its row so the object shows the new counts.
        .execution_options(synchronize_session="fetch")
    )
    if not result.rowcount:
        raise NotFound(f"no sync job with id {job_id!r}")


async def finish_job(
    session: AsyncSession, *, job_id: str, status: JobStatus | str, message: str | None = None
) -> SyncJob:
    """End a job as success, error, cancelled or abandoned; sets `finished_at` (and `started_at` if it
    never started)."""
    checked = _choice(JobStatus, status, "status")
    if checked not in FINISHED:
        allowed = ", ".join(sorted(FINISHED))
        raise InvalidInput(f"a finished job's status is one of {allowed}, not {checked}", field="status")
    job = await get_job(session, job_id=job_id)
    now = utcnow()
    job.status = checked.value
    job.finished_at = now
    job.started_at = job.started_at or now
    if message is not None:
        job.message = message
    session.add(job)
    await session.flush()
    return job


async def create_queued_jobs(
    session: AsyncSession, *, planned: Sequence[tuple[str, str]], type: JobType | str
) -> dict[tuple[str, str], str]:
    """Queued jobs for (mapping, direction) pairs a run will start later: the review shows them in
    process from now on. Returns their ids by pair."""
    ids = {}
    for mapping, direction in planned:
        job = await create_job(session, mapping=mapping, direction=direction, type=type)
        ids[(mapping, direction)] = job.id
    return ids


async def drop_queued_jobs(session: AsyncSession, *, job_ids: Iterable[str]) -> int:
    """Delete jobs that were queued and never started (a planned run found it had nothing to do);
    jobs that started are kept. Returns how many went."""
    dropped = 0
    for job_id in job_ids:
        job = await session.get(SyncJob, job_id)
        if job is not None and job.status == JobStatus.QUEUED.value:
            await session.delete(job)
            dropped += 1
    await session.flush()
    return dropped


async def unfinished_jobs(session: AsyncSession, *, mapping: str, direction: str) -> Sequence[SyncJob]:
    """The jobs of one mapping-direction still queued or running, oldest first."""
    statement = (
        select(SyncJob)
        .where(
            col(SyncJob.mapping) == mapping,
            col(SyncJob.direction) == direction,
            col(SyncJob.status).in_(UNFINISHED),
        )
        .order_by(col(SyncJob.created_at), col(SyncJob.id))
    )
    return (await session.exec(statement)).all()


async def list_jobs(
    session: AsyncSession,
    *,
    mapping: str | None = None,
    type: JobType | str | None = None,
    status: JobStatus | str | None = None,
    direction: Direction | str | None = None,
    limit: int = 50,
) -> Sequence[SyncJob]:
    """Jobs, newest first."""
    conditions: list[ColumnElement[bool]] = []
    if mapping is not None:
        conditions.append(col(SyncJob.mapping) == mapping)
    if type is not None:
        conditions.append(col(SyncJob.type) == _choice(JobType, type, "type").value)
    if status is not None:
        conditions.append(col(SyncJob.status) == _choice(JobStatus, status, "status").value)
    if direction is not None:
        conditions.append(col(SyncJob.direction) == _choice(Direction, direction, "direction").value)
    statement = (
        select(SyncJob)
        .where(*conditions)
        .order_by(col(SyncJob.created_at).desc(), col(SyncJob.id).desc())
        .limit(_limit(limit))
    )
    return (await session.exec(statement)).all()


async def latest_job(session: AsyncSession, *, mapping: str, direction: Direction | str) -> SyncJob | None:
    """The most recent job of a mapping in one direction (the status shown on a review line)."""
    jobs = await list_jobs(session, mapping=mapping, direction=direction, limit=1)
    return jobs[0] if jobs else None


async def review_job(
    session: AsyncSession, *, mapping: str, direction: Direction | str, type: JobType | str
) -> SyncJob | None:
    """The job a review line shows for one mapping-direction: the running one, else the next queued
    one (a run planned more jobs), else the latest. Newest alone could be a finished first run while
    its second run waits queued, and the line would look done too early."""
    wanted = _choice(JobType, type, "type").value
    checked = _choice(Direction, direction, "direction").value
    unfinished = [
        j for j in await unfinished_jobs(session, mapping=mapping, direction=checked) if j.type == wanted
    ]
    running = [j for j in unfinished if j.status == JobStatus.RUNNING.value]
    if running:
        return running[-1]
    if unfinished:
        return unfinished[0]
    latest = await list_jobs(session, mapping=mapping, direction=checked, type=wanted, limit=1)
    return latest[0] if latest else None
