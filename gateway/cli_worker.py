"""`gateway worker`: the sync scheduler as its own process, and `run_worker`, that process's
composition root (tests run it in-process with simulator transports)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from typing import Any

import click

from gateway.cli_output import friendly_errors, setup_logging
from gateway.config import Settings, load_settings


@click.command()
@click.option("--once", is_flag=True, help="Run every due mapping-direction once, then exit.")
@friendly_errors
def worker(once: bool) -> None:
    """Run the sync scheduler as its own process; any number of workers can share one database
    (each mapping-direction runs under a lease, so exactly one of them runs it at a time)."""
    from gateway.store import migrate

    settings = load_settings()
    # A worker has no demo of its own: pointing it at simulators needs the settings spelt out.
    settings.require_upstreams(
        hint="a worker has no --demo: `gateway run --demo` syncs in its own process; "
        "for a worker against simulators see docs/admin.md, 'Workers beside the demo'"
    )
    setup_logging(settings.log_level)
    migrate.upgrade(settings.database_url)
    scheduler = asyncio.run(run_worker(settings, once=once))
    if once and scheduler.stats.failed + scheduler.stats.lost:
        sys.exit(1)  # cron and scripts see a round whose runs failed (a refused token) or lost a lease


async def run_worker(
    settings: Settings,
    *,
    once: bool = False,
    stop: asyncio.Event | None = None,
    erp_transport: Any = None,
    crm_transport: Any = None,
) -> Any:
    """The worker process's composition root: store, shared throttle, connectors, engine, scheduler.
    Serves until SIGINT/SIGTERM (or `stop` is set); `once` runs one tick and returns the Scheduler."""
    import signal
    from contextlib import AsyncExitStack

    from gateway.store.engine import create_engine, session_factory
    from gateway.sync.deletion_check import DeletionCheck, WithDeletionChecks
    from gateway.sync.engine import SyncEngine
    from gateway.sync.loop_watch import watching_the_loop
    from gateway.sync.worker import build_scheduler, ensure_mappings, sync_worker
    from gateway.upstream.factory import open_upstreams

    async with AsyncExitStack() as stack:
        # First in, last out, as in the app: stalls hold back this worker's lease renewals.
        await stack.enter_async_context(watching_the_loop(settings.loop_watch_seconds))
        engine = create_engine(settings.database_url)
        stack.push_async_callback(engine.dispose)
        erp, crm = open_upstreams(settings, stack, erp_transport=erp_transport, crm_transport=crm_transport)
        sessions = session_factory(engine)
        if once:
            await ensure_mappings(sessions)
            runner = WithDeletionChecks(
                SyncEngine(sessions=sessions, erp=erp, crm=crm), DeletionCheck(sessions=sessions, erp=erp)
            )
            scheduler = build_scheduler(settings, sessions=sessions, runner=runner)
            started = await scheduler.run_once()
            stats = scheduler.stats
            line = f"worker {scheduler.worker_id}: ran {len(started)} mapping-direction(s)"
            if stats.failed:  # the jobs hold each failure's message
                line += f", {stats.failed} failed (see GET /api/v1/admin/jobs?status=error)"
            if stats.lost:  # another worker took the lease over: this one's run did not finish
                line += f", {stats.lost} lost its lease to another worker"
            click.echo(line)
            return scheduler
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # not in the main thread
                loop.add_signal_handler(signum, stop.set)
        async with sync_worker(settings, sessions=sessions, erp=erp, crm=crm) as scheduler:
            logging.getLogger("gateway").info("worker %s started", scheduler.worker_id)
            await stop.wait()
            logging.getLogger("gateway").info("worker %s stopping", scheduler.worker_id)
        return scheduler
