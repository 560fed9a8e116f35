"""Jobs left behind by a run that stopped without finishing (its worker was killed, or the run was
cancelled): whoever takes a mapping-direction's lease marks that lease's unfinished jobs abandoned.

Every job of a mapping-direction runs under its lease (scheduler, admin runs, full syncs), and a new
grant fences out every older generation, so once a lease is taken no earlier run can commit again:
its jobs still queued or running will never finish, and saying so is the taker's job.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from gateway.store import jobs
from gateway.store.engine import SessionFactory, StoreSession
from gateway.store.leases import LeaseGrant, acquire, get_lease
from gateway.store.tables import JobStatus, JobType, SyncJob

NEXT_STEP = {
    JobType.SYNC.value: "the next run resumes from the last committed page",
    JobType.FULL.value: (
        "what it committed stays (pages read, couplings, records created); start the full "
        "synchronization again to finish it: it creates no duplicates"
    ),
}
NEXT_STEP_DEFAULT = "what it committed stays; run it again for the rest"
LOST_NEXT_STEP = {
    JobType.SYNC.value: "the next run resumes from the last committed page",
    JobType.FULL.value: "start the full sync again; it resumes from committed pages",
}

log = logging.getLogger(__name__)


def split_lease_name(name: str) -> tuple[str, str]:
    """("CUSTOMER", "erp_to_crm") from "CUSTOMER:erp_to_crm" (mapping names may hold colons)."""
    mapping, _, direction = name.rpartition(":")
    return mapping, direction


def abandon_message(job: SyncJob, *, previous: str | None, taker: str, now: datetime) -> str:
    """Who stopped (`previous`, the lease's holder before `taker`), who took over and when, and what
    the admin may do next."""
    stamp = now.isoformat(timespec="seconds")
    lease = f"{job.mapping}:{job.direction}"
    if previous is None:
        what = f"the process running this job stopped before finishing it; {taker} took {lease} at {stamp}"
    elif previous == taker:
        what = (
            f"worker {taker} stopped during this run (restarted, or its lease lapsed); "
            f"it took {lease} again at {stamp}"
        )
    else:
        what = f"worker {previous} stopped during this run; {taker} took {lease} over at {stamp}"
    return f"{what}; {NEXT_STEP.get(job.type, NEXT_STEP_DEFAULT)}"


async def abandon_unfinished(
    session: StoreSession, *, name: str, previous: str | None, taker: str, now: datetime
) -> list[SyncJob]:
    """Mark the unfinished jobs of lease `name` abandoned; call it right after acquiring the lease."""
    mapping, direction = split_lease_name(name)
    abandoned = []
    for job in await jobs.unfinished_jobs(session, mapping=mapping, direction=direction):
        message = abandon_message(job, previous=previous, taker=taker, now=now)
        abandoned.append(
            await jobs.finish_job(session, job_id=job.id, status=JobStatus.ABANDONED, message=message)
        )
    return abandoned


async def record_lost_lease(
    sessions: SessionFactory, *, job_ids: Iterable[str], job_type: str, cause: BaseException
) -> None:
    """A run found its lease lost (expired, or taken over) and stops: its own jobs still queued or
    running end as errors saying so. Not fenced (the rows are the run's own; the fence would refuse
    every write now), and a job the taker already marked abandoned keeps that explanation."""
    next_step = LOST_NEXT_STEP.get(job_type, NEXT_STEP_DEFAULT)
    ids = list(job_ids)
    try:
        async with sessions.begin() as session:
            for job_id in ids:
                job = await jobs.get_job(session, job_id=job_id)
                if job.status not in jobs.UNFINISHED:
                    continue
                message = f"this run lost its lease and stopped: {cause}; {next_step}"
                await jobs.finish_job(session, job_id=job_id, status=JobStatus.ERROR, message=message)
    except Exception:  # the store is unreachable: the next taker marks them abandoned
        log.exception("could not record the lost lease on jobs %s", ", ".join(ids))


async def take_lease(
    session: StoreSession,
    *,
    name: str,
    holder: str,
    ttl: float,
    now: datetime,
    only_if_due: bool = False,
) -> LeaseGrant | None:
    """`acquire` the lease and, when granted, abandon the jobs an earlier holder left unfinished
    (in the same transaction: the lease and the jobs' status change together)."""
    before = await get_lease(session, name=name)
    previous = before.holder if before is not None else None  # read now: acquire refreshes the row
    grant = await acquire(session, name=name, holder=holder, ttl=ttl, now=now, only_if_due=only_if_due)
    if grant is not None:
        await abandon_unfinished(session, name=name, previous=previous, taker=holder, now=now)
    return grant


__all__ = [
    "abandon_message",
    "abandon_unfinished",
    "record_lost_lease",
    "split_lease_name",
    "take_lease",
]
