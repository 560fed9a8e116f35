"""The crash test's worker process: a full synchronization composed the way `gateway worker` composes
its engine (settings from GATEWAY_* variables, migrated store, shared throttle, connectors over HTTP),
under the leases of every mapping-direction it runs, as an admin's full sync.

Run as `python -m tests.sync.crash_worker`; exits 0 when the full sync finished without a failed run.
"""

from __future__ import annotations

import asyncio
import json
import sys
from contextlib import AsyncExitStack

from gateway.config import load_settings
from gateway.store import migrate
from gateway.store.engine import SessionFactory, create_engine, session_factory
from gateway.sync import catalog
from gateway.sync.engine import SyncEngine
from gateway.sync.full import FullSync
from gateway.sync.leases import hold_leases
from gateway.sync.pricing_mirror import ERP_PRICING
from gateway.sync.scheduler import lease_name
from gateway.sync.worker import ensure_mappings
from gateway.upstream.factory import build_crm_connector, build_erp_connector, build_throttle


async def run_full_sync() -> list[str]:
    """One full synchronization of every enabled mapping; returns the messages of failed runs."""
    settings = load_settings()
    settings.require_upstreams()
    async with AsyncExitStack() as stack:
        engine = create_engine(settings.database_url)
        stack.push_async_callback(engine.dispose)
        throttle = build_throttle(settings)
        stack.push_async_callback(throttle.aclose)
        erp = build_erp_connector(settings, throttle=throttle)
        stack.push_async_callback(erp.aclose)
        crm = build_crm_connector(settings, throttle=throttle)
        stack.push_async_callback(crm.aclose)
        sessions = session_factory(engine)
        await ensure_mappings(sessions)
        full = FullSync(SyncEngine(sessions=sessions, erp=erp, crm=crm))
        # The leases of every mapping-direction, as an admin's full sync takes them; the worker id is
        # stable across restarts, so a restarted worker takes them back at once (no TTL to wait out)
        # and marks the jobs its killed predecessor left running abandoned.
        names = await _lease_names(sessions, [m for layer in await full.plan() for m in layer])
        async with hold_leases(sessions, names=names, holder=settings.resolved_worker_id()) as held:
            if held is None:
                raise RuntimeError("the full sync's leases are held by another process")
            summaries = await full.run(fence_for=held.fence_for_mapping)
    return [f"{s.mapping}: {s.message}" for s in summaries if s.message is not None]


async def _lease_names(sessions: SessionFactory, mappings: list[str]) -> list[str]:
    async with sessions() as session:
        every = {m.name: m for m in await catalog.load_mappings(session)}
    return [
        lease_name(name, direction)
        for name in mappings
        for direction in (["erp_to_crm"] if name == ERP_PRICING else every[name].directions())
    ]


def main() -> None:
    migrate.upgrade(load_settings().database_url)
    failures = asyncio.run(run_full_sync())
    print(json.dumps({"failures": failures}), flush=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
