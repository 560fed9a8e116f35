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
from gateway.sync.deletion_check import DeletionCheck, WithDeletionChecks
from gateway.sync.deletion_requests import check_entries
from gateway.sync.engine import RunSummary, SyncEngine
from gateway.sync.full import FullSync, mapping_lease_names
from gateway.sync.leases import hold_leases
from gateway.sync.model import MappingDirection, TableMapping
from gateway.sync.pricing_mirror import ERP_PRICING
from gateway.sync.scheduler import Runner, Scheduled, Scheduler, ScheduleSource
from gateway.sync.subscriptions import SubscriptionManager
from gateway.upstream.crm import CrmConnector
from gateway.upstream.erp import ErpConnector

log = logging.getLogger(__name__)


def catalog_schedule(
    sessions: SessionFactory,
    *,
    crm_poll_seconds: float | None = None,
    deletion_check_seconds: float | None = None,
) -> ScheduleSource:
    """The ERP pricing mirror and the enabled mappings of the store, one entry per direction, with
    each mapping's interval; with `deletion_check_seconds`, the deletion check of every ERP set an
    erp_to_crm run reads (gateway.sync.deletion_check), on that interval.

    `crm_poll_seconds` caps the interval of crm_to_erp directions: Dataverse has no webhooks here, so
    its change-tracking poll is what makes CRM changes travel fast (an idle poll is one request)."""

    def interval(mapping: TableMapping, direction: str) -> float:
        seconds = float(mapping.interval_seconds)
        if crm_poll_seconds is not None and direction == MappingDirection.CRM_TO_ERP.value:
            return min(seconds, crm_poll_seconds)
        return seconds

    async def scheduled() -> list[Scheduled]:
        async with sessions() as session:
            mappings = await catalog.load_mappings(session)
        # The ERP-only pricing mirror first: the API's quotes read it, and no mapping row stands for it
        # (None: the scheduler's default interval, GATEWAY_SYNC_INTERVAL_SECONDS).
        entries = [Scheduled(ERP_PRICING, "erp_to_crm", None)] + [
            Scheduled(m.name, direction, interval(m, direction))
            for m in mappings
            if m.enabled
            for direction in m.directions()
        ]
        if deletion_check_seconds is not None:
            entries += check_entries(mappings, interval_seconds=deletion_check_seconds)
        return entries

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
        schedule=schedule
        or catalog_schedule(
            sessions,
            crm_poll_seconds=settings.crm_poll_seconds,
            deletion_check_seconds=settings.deletion_check_seconds,
        ),
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


def subscription_manager(
    settings: Settings, *, sessions: SessionFactory, erp: ErpConnector, worker_id: str
) -> SubscriptionManager | None:
    """The BC subscription manager, or None (said once in the log) when webhooks are not configured."""
    configured = settings.webhook_subscription()
    if configured is None:
        log.info(
            "no BC webhook subscriptions: GATEWAY_WEBHOOK_URL and GATEWAY_WEBHOOK_CLIENT_STATE must both "
            "be set; ERP changes are found by polling every mapping's interval"
        )
        return None
    url, client_state = configured
    return SubscriptionManager(
        sessions=sessions,
        erp=erp,
        notification_url=url,
        client_state=client_state,
        holder=f"{worker_id}/subscriptions",
    )


async def _never_synced(sessions: SessionFactory) -> bool:
    async with sessions() as session:
        return not await list_jobs(session, limit=1)


async def first_full_sync(engine: SyncEngine, *, holder: str, ttl: float) -> list[RunSummary] | None:
    """A store's first full synchronization, under the leases of every mapping-direction it runs
    (held, renewed and fenced as an admin's full sync: `hold_leases`), so two processes starting on
    one store never both run it: the one that does not get the leases, or finds a job already run
    once it has them, runs none (None). `holder` must not be a scheduler's worker id."""
    runner = FullSync(engine)
    plan = await runner.plan()
    names = await mapping_lease_names(engine.sessions, [name for layer in plan for name in layer])
    async with hold_leases(engine.sessions, names=names, holder=holder, ttl=ttl) as held:
        if held is None or not await _never_synced(engine.sessions):
            log.info("the first full synchronization runs (or ran) elsewhere")
            return None
        log.info("first start: running a full synchronization")
        return await runner.run(fence_for=held.fence_for_mapping)


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
    (demo: the API shows unified data at once), then the schedule starts. With GATEWAY_WEBHOOK_URL
    and GATEWAY_WEBHOOK_CLIENT_STATE set, the BC webhook subscriptions are kept too (one process of
    all that run a worker does it, under its lease).
    """
    await ensure_mappings(sessions)
    engine = SyncEngine(sessions=sessions, erp=erp, crm=crm)
    runner = WithDeletionChecks(engine, DeletionCheck(sessions=sessions, erp=erp))
    scheduler = build_scheduler(settings, sessions=sessions, runner=runner)
    manager = subscription_manager(settings, sessions=sessions, erp=erp, worker_id=scheduler.worker_id)
    keeper = asyncio.create_task(manager.serve(), name="bc subscriptions") if manager else None

    async def serve() -> None:
        if initial_full_sync and await _never_synced(sessions):
            try:
                await first_full_sync(
                    engine, holder=f"{scheduler.worker_id}/full", ttl=settings.lease_ttl_seconds
                )
            except Exception:  # the job rows say what failed; the schedule still starts
                log.exception("initial full synchronization failed")
        await scheduler.serve()

    task = asyncio.create_task(serve(), name=f"scheduler {scheduler.worker_id}")
    try:
        yield scheduler
    finally:
        if keeper is not None:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
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


__all__ = [
    "build_scheduler",
    "catalog_schedule",
    "ensure_mappings",
    "first_full_sync",
    "subscription_manager",
    "sync_worker",
]
