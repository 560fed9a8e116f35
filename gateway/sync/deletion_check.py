"""Deletion checks: ERP deletions that no `deleted` notice announced, found by reading a set's ids.

Business Central has no change feed for deletions: a deleted record simply stops being listed, and an
incremental read by `lastModifiedDateTime` never sees it. A `deleted` webhook notice feeds the deletion
policy at once (gateway.store.deletion_hints), but deletions are missed when BC sends a `collection`
notice instead (it lists nothing), while no subscription delivered (down, expired, recreated), or when
no subscriptions are configured at all. A deletion check of one ERP entity set reads the set's ids only
(`$select=id`, the largest page size: ⌈N/page⌉ GETs), compares them with the ERP ids of the couplings
of every enabled mapping reading the set towards the CRM, and leaves a deletion hint for each coupled
id BC no longer lists; the mapping's erp_to_crm run is asked for at once, confirms the hints with BC
(a filtered read not listing them) and applies its deletion policy (restore, uncouple, propagate,
manual), as for a notice.

A check is a schedule entry of its own, `ERP DELETIONS <set>` in direction erp_to_crm, run by the
scheduler under its lease like any mapping-direction (one runner per set across workers, writes fenced)
and recorded as a `deletion_check` job of that name. It reads the set when:
- asked since its last check (gateway.sync.deletion_requests.request_check): after a `collection`
  notice for the set, and after the subscription manager created or recreated the set's
  subscription (notices may have been lost while it had none);
- no BC subscription checked lately covers the set (none configured, or it failed): every
  GATEWAY_DELETION_CHECK_SECONDS (the entry's interval);
- it never ran.
Otherwise (a subscription covers the set and nobody asked) its round ends without a request, as does
one finding no coupled record to check. A read that fails midway ends the job as an error and hints
nothing: a record missing only because its page never came is not deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from gateway.errors import StaleLease
from gateway.store import deletion_hints, erp_watch
from gateway.store import jobs as jobs_store
from gateway.store.couplings import normalize_id
from gateway.store.engine import SessionFactory, StoreSession
from gateway.store.leases import get_lease, request_run
from gateway.store.tables import JobStatus, JobType, SyncJob
from gateway.store.types import utcnow
from gateway.sync import catalog
from gateway.sync.deletion_requests import DIRECTION, check_name, checked_set, checked_sets
from gateway.sync.erp_polls import SUBSCRIPTION_TRUSTED
from gateway.sync.fencing import Fence, NoFence
from gateway.sync.mirroring import erp_api
from gateway.sync.model import TableMapping
from gateway.sync.orphans import record_lost_lease
from gateway.sync.runstate import RunSummary
from gateway.sync.scheduler import Runner, lease_name
from gateway.upstream.erp import ErpConnector

log = logging.getLogger(__name__)


class DeletionCheck:
    """Runs the deletion check of one ERP entity set (see the module docstring)."""

    def __init__(self, *, sessions: SessionFactory, erp: ErpConnector) -> None:
        self.sessions = sessions
        self.erp = erp

    async def run(self, *, entity_set: str, fence: Fence | None = None) -> RunSummary | None:
        """Check `entity_set` if a check is due (None when not: no request, no job row)."""
        fence = fence or NoFence()
        name = check_name(entity_set)
        async with self.sessions() as session:
            mappings = checked_sets(await catalog.load_mappings(session)).get(entity_set, [])
            reason = await self._reason(session, entity_set) if mappings else None
        if reason is None:
            return None
        started = utcnow()
        async with self.sessions.begin() as session:
            expected = await self._expected(session, mappings, entity_set, started)
            if not any(expected.values()):
                return None  # nothing coupled that could have been deleted: no read
            job = await jobs_store.create_job(
                session,
                mapping=name,
                direction=DIRECTION,
                type=JobType.DELETION_CHECK,
                status=JobStatus.RUNNING,
            )
            await fence.check(session)
        try:
            listed, pages = await self._listed_ids(mappings[0], entity_set)
            async with self.sessions.begin() as session:
                # Couplings made before the read began only: one made meanwhile may be newer than the
                # page that would have listed its record.
                expected = await self._expected(session, mappings, entity_set, started)
                finished = await self._record(session, job, expected, listed, pages, reason)
                await fence.check(session)
        except StaleLease as exc:
            await record_lost_lease(self.sessions, job_ids=[job.id], job_type=job.type, cause=exc)
            raise
        except Exception as exc:  # the read failed midway (or the store): nothing is treated as deleted
            message = f"reading the ids of {entity_set} failed: {exc}; nothing was treated as deleted"
            async with self.sessions.begin() as session:
                finished = await jobs_store.finish_job(
                    session, job_id=job.id, status=JobStatus.ERROR, message=message
                )
                await fence.check(session)
            log.warning("deletion check of %s: %s", entity_set, message)
        return _summary(finished)

    async def _reason(self, session: StoreSession, entity_set: str) -> str | None:
        """Why the set is read now, or None when no check is due."""
        name = check_name(entity_set)
        last = await jobs_store.latest_job(session, mapping=name, direction=DIRECTION)
        lease = await get_lease(session, name=lease_name(name, DIRECTION))
        requested = lease.requested_at if lease is not None else None
        if requested is not None and (last is None or requested >= last.created_at):
            return "asked for (a collection notice, or the set's subscription was created or recreated)"
        watch = await erp_watch.get_watch(session, entity_set=entity_set)
        if watch is None or watch.verified_at is None or utcnow() - watch.verified_at > SUBSCRIPTION_TRUSTED:
            return "no BC subscription covers the set"
        return "first check of the set" if last is None else None

    @staticmethod
    async def _expected(
        session: StoreSession, mappings: Sequence[TableMapping], entity_set: str, before: datetime
    ) -> dict[str, set[str]]:
        return {
            m.name: await deletion_hints.checkable_erp_ids(
                session, mapping=m.name, entity_set=entity_set, coupled_before=before
            )
            for m in mappings
        }

    async def _listed_ids(self, mapping: TableMapping, entity_set: str) -> tuple[set[str], int]:
        """Every id BC lists in the set now (raises if any page fails: the read is all or nothing)."""
        listed: set[str] = set()
        pages = 0
        async for page in self.erp.pages(entity_set, api=erp_api(mapping), select=["id"]):
            pages += 1
            listed.update(normalize_id(record.id) for record in page)
        return listed, pages

    @staticmethod
    async def _record(
        session: StoreSession,
        job: SyncJob,
        expected: dict[str, set[str]],
        listed: set[str],
        pages: int,
        reason: str,
    ) -> SyncJob:
        """Hint the coupled ids BC no longer lists and ask for their mappings' runs; count them."""
        gone = {mapping: sorted(ids - listed) for mapping, ids in expected.items()}
        checked = sum(len(ids) for ids in expected.values())
        missing = sum(len(ids) for ids in gone.values())
        for mapping, ids in gone.items():
            if ids:
                await deletion_hints.add_hints(session, mapping=mapping, erp_ids=ids)
                await request_run(session, name=lease_name(mapping, DIRECTION), now=utcnow())
        await jobs_store.update_job(session, job_id=job.id, total=checked)
        await jobs_store.add_job_counts(
            session, job_id=job.id, deleted=missing, unchanged=checked - missing, done=checked
        )
        found = "; ".join(f"{m}: {len(ids)}" for m, ids in gone.items() if ids) or "none"
        message = (
            f"{reason}: {len(listed)} ids listed in {pages} page(s), {checked} coupled records checked, "
            f"{missing} no longer in BC ({found}); their mappings' erp_to_crm runs confirm each and "
            "apply the deletion policy"
        )
        return await jobs_store.finish_job(session, job_id=job.id, status=JobStatus.SUCCESS, message=message)


def _summary(job: SyncJob) -> RunSummary:
    counts = {c: getattr(job, c) for c in ("deleted", "unchanged", "done", "total")}
    return RunSummary(
        mapping=job.mapping,
        direction=job.direction,
        type=job.type,
        job_ids=[job.id],
        status=job.status,
        counts=counts,
        message=job.message,
    )


class WithDeletionChecks:
    """The scheduler's runner: deletion-check entries go to `checks`, every other one to `runner`."""

    def __init__(self, runner: Runner, checks: DeletionCheck) -> None:
        self.runner = runner
        self.checks = checks

    async def run(self, *, mapping: str, direction: str, job_type: str = "sync", fence: Fence) -> object:
        entity_set = checked_set(mapping)
        if entity_set is None:
            return await self.runner.run(mapping=mapping, direction=direction, job_type=job_type, fence=fence)
        return await self.checks.run(entity_set=entity_set, fence=fence)


__all__ = ["DeletionCheck", "WithDeletionChecks"]
