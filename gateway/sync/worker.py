"""A sync worker: the sync engine over both connectors, run by the lease scheduler. `gateway worker`
runs one as its own process; `gateway run` runs one inside the web app when the scheduler is in-process.

The schedule is the mapping catalog: every enabled mapping in each of its directions, on its interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from gateway.config import Settings
from gateway.store.engine import SessionFactory
from gateway.store.jobs import list_jobs
from gateway.sync import catalog
from gateway.sync.engine import SyncEngine
from gateway.sync.full import FullSync
from gateway.sync.scheduler import Runner, Scheduled, Scheduler, ScheduleSource
from gateway.upstream.crm import CrmConnector
from gateway.upstream.erp import ErpConnector

log = logging.getLogger(__name__)


def catalog_schedule(sessions: SessionFactory) -> ScheduleSource:
    """The enabled mappings of the store, one entry per direction, with each mapping's interval."""

    async def scheduled() -> list[Scheduled]:
        async with sessions() as session:
            mappings = await catalog.load_mappings(session)
        return [
            Scheduled(m.name, direction, float(m.interval_seconds))
            for m in mappings
            if m.enabled
            for direction in m.directions()
        ]

    return scheduled


def build_scheduler(
    settings: Settings,
    *,
    sessions: SessionFactory,
    runner: Runner,
    schedule: ScheduleSource | None = None,
) -> Scheduler:
    return Scheduler(
        sessions=sessions,
        runner=runner,
        worker_id=settings.resolved_worker_id(),
        schedule=schedule or catalog_schedule(sessions),
        interval_default=settings.sync_interval_seconds,
        lease_ttl=settings.lease_ttl_seconds,
        poll_seconds=settings.scheduler_poll_seconds,
    )


async def ensure_mappings(sessions: SessionFactory) -> None:
    """Create the default mappings on first start (workers starting together on one PostgreSQL
    each create only what is missing; see `catalog.ensure_default_mappings`)."""
    created = await catalog.ensure_default_mappings(sessions)
    if created:
        log.info("created the default mappings %s", ", ".join(created))


async def _never_synced(sessions: SessionFactory) -> bool:
    async with sessions() as session:
        return not await list_jobs(session, limit=1)


@asynccontextmanager
async def sync_worker(
    settings: Settings,
    *,
    sessions: SessionFactory,
    erp: ErpConnector,
    crm: CrmConnector,
    initial_full_sync: bool = False,
) -> AsyncIterator[Scheduler]:
    """Serve the scheduler in a background task while the block runs; stop it gracefully on exit.

    With `initial_full_sync`, a store that has never run a job first gets a full synchronization
    (demo: the API shows unified data at once), then the schedule starts.
    """
    await ensure_mappings(sessions)
    engine = SyncEngine(sessions=sessions, erp=erp, crm=crm)
    scheduler = build_scheduler(settings, sessions=sessions, runner=engine)

    async def serve() -> None:
        if initial_full_sync and await _never_synced(sessions):
            log.info("first start: running a full synchronization")
            try:
                await FullSync(engine).run()
            except Exception:  # the job rows say what failed; the schedule still starts
                log.exception("initial full synchronization failed")
        await scheduler.serve()

    task = asyncio.create_task(serve(), name=f"scheduler {scheduler.worker_id}")
    try:
        yield scheduler
    finally:
        scheduler.stop()
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=scheduler.stop_grace_seconds + 5)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        except Exception:  # the scheduler died; nothing left to stop but its runs
            log.exception("the scheduler of %s failed", scheduler.worker_id)
        await scheduler.aclose()


__all__ = ["build_scheduler", "catalog_schedule", "ensure_mappings", "sync_worker"]
