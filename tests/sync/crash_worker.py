"""The crash test's worker process: a full synchronization composed the way `gateway worker` composes
its engine (settings from GATEWAY_* variables, migrated store, shared throttle, connectors over HTTP).

Run as `python -m tests.sync.crash_worker`; exits 0 when the full sync finished without a failed run.
"""

from __future__ import annotations

import asyncio
import json
import sys
from contextlib import AsyncExitStack

from gateway.config import load_settings
from gateway.store import migrate
from gateway.store.engine import create_engine, session_factory
from gateway.sync.engine import SyncEngine
from gateway.sync.full import FullSync
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
        summaries = await FullSync(SyncEngine(sessions=sessions, erp=erp, crm=crm)).run()
    return [f"{s.mapping}: {s.message}" for s in summaries if s.message is not None]


def main() -> None:
    migrate.upgrade(load_settings().database_url)
    failures = asyncio.run(run_full_sync())
    print(json.dumps({"failures": failures}), flush=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
