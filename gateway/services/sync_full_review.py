"""Full synchronization in the background, one at a time, and its review lines (issue §8)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from gateway.domain import Side
from gateway.errors import Busy
from gateway.services.sync_dicts import summary_to_dict
from gateway.services.sync_runs import SyncRunsPart
from gateway.store import jobs as jobs_store
from gateway.store import mirror
from gateway.store.tables import JobType
from gateway.sync import catalog
from gateway.sync.engine import RunSummary
from gateway.sync.full import FullSync

log = logging.getLogger(__name__)

_STATUS = {
    "queued": "in process",
    "running": "in process",
    "success": "success",
    "error": "error",
    "cancelled": "error",
    "abandoned": "error",
}


class FullSyncPart(SyncRunsPart):
    """Starts, awaits and reviews the background full-sync task; cancels it on close."""

    async def aclose(self) -> None:
        if self._full is not None and not self._full.done():
            self._full.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._full

    # ------------------------------------------------------------------------------ full sync

    async def start_full_sync(self, *, mappings: Sequence[str] | None = None) -> dict[str, Any]:
        """Start a full synchronization in the background (one at a time); returns the review.
        The names are checked first: an unknown mapping is a 400 whether or not one is running."""
        runner = FullSync(self.engine, concurrency=self.concurrency)
        plan = await runner.plan(mappings=mappings)  # validates the names before anything starts
        if self._full is not None and not self._full.done():
            raise Busy(
                "a full synchronization is already running: GET /api/v1/admin/sync/full "
                "(gateway sync status) shows its progress",
                retry_after=5.0,
            )
        planned = [name for layer in plan for name in layer]
        leases = contextlib.AsyncExitStack()
        held = await self._hold(leases, await self._lease_names(planned))
        self._full_mappings = planned

        async def run() -> list[RunSummary]:
            async with leases:
                return await runner.run(mappings=mappings, fence_for=held.fence_for_mapping)

        self._full = asyncio.create_task(run(), name="full-sync")
        self._full.add_done_callback(_log_failure)
        return await self.full_sync_status()

    async def wait_full_sync(self) -> list[dict[str, Any]]:
        if self._full is None:
            return []
        return [summary_to_dict(s) for s in await self._full]

    async def full_sync_status(self) -> dict[str, Any]:
        """The review lines: one per mapping, with dependencies, recommendation and the status of
        each direction's latest full job (blank, in process, success, error) with done/total."""
        async with self.reads() as session:
            mappings = await catalog.load_mappings(session)
            lines = []
            for mapping in mappings:
                erp_count = await mirror.count_records(session, side=Side.ERP, entity_set=mapping.erp_entity)
                crm_count = await mirror.count_records(session, side=Side.CRM, entity_set=mapping.crm_entity)
                if erp_count == crm_count == 0:
                    recommendation = "no records"
                elif erp_count == 0 or crm_count == 0:
                    recommendation = "full synchronization"
                else:
                    recommendation = "couple records"
                directions = {}
                for direction in mapping.directions():
                    job = await jobs_store.review_job(
                        session, mapping=mapping.name, direction=direction, type=JobType.FULL
                    )
                    directions[direction] = {
                        "status": _STATUS.get(job.status, job.status) if job else "blank",
                        "done": job.done if job else 0,
                        "total": job.total if job else 0,
                        "jobId": job.id if job else None,
                        "counts": {n: getattr(job, n) for n in jobs_store.COUNTERS} if job else None,
                    }
                lines.append(
                    {
                        "mapping": mapping.name,
                        "enabled": mapping.enabled,
                        "direction": mapping.direction.value,
                        "dependencies": list(mapping.dependencies),
                        "recommendation": recommendation,
                        "records": {"erp": erp_count, "crm": crm_count},
                        "jobs": directions,
                        "selected": mapping.name in self._full_mappings,
                    }
                )
        running = self._full is not None and not self._full.done()
        return {"running": running, "lines": lines}


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("full synchronization failed", exc_info=task.exception())
