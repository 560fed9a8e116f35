"""The crash test's worker process: a full synchronization composed the way `gateway worker` composes
its engine (settings from GATEWAY_* variables, migrated store, shared throttle, connectors over HTTP),
under the leases of every mapping-direction it runs, as an admin's full sync.

Run as `python -m tests.sync.crash_worker`; exits 0 when the full sync finished without a failed run.

With CRASH_KILL_AT="gets:N" or "batches:N" it SIGKILLs its own process on the simulators' answer to
its Nth GET or `$batch` (counted as `/_sim/stats` counts them): the request was served, a write in it
landed, and the worker dies before it acts on the answer. The same point a poller of `/_sim/stats`
would reach, without the poller's HTTP round trips every few milliseconds competing for the CPUs.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from contextlib import AsyncExitStack

import httpx

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

KILL_AT = "CRASH_KILL_AT"


class KillingTransport(httpx.AsyncBaseTransport):
    """The network transport, counting answered GETs and `$batch` requests across both connectors;
    on the answer that brings `counter` to `at` the process SIGKILLs itself (no cleanup runs)."""

    def __init__(self, counts: dict[str, int], counter: str, at: int) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.counts, self.counter, self.at = counts, counter, at

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method == "GET":
            self.counts["gets"] += 1
        if request.url.path.endswith("/$batch"):
            self.counts["batches"] += 1
        if self.counts[self.counter] >= self.at:
            os.kill(os.getpid(), signal.SIGKILL)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def _transports() -> tuple[httpx.AsyncBaseTransport | None, httpx.AsyncBaseTransport | None]:
    """One killing transport per connector sharing one count, or none without CRASH_KILL_AT."""
    point = os.environ.get(KILL_AT)
    if not point:
        return None, None
    counter, at = point.split(":")
    if counter not in ("gets", "batches"):
        raise ValueError(f"{KILL_AT}={point}: the worker counts only gets and batches")
    counts = {"gets": 0, "batches": 0}
    return KillingTransport(counts, counter, int(at)), KillingTransport(counts, counter, int(at))


async def run_full_sync() -> list[str]:
    """One full synchronization of every enabled mapping; returns the messages of failed runs."""
    settings = load_settings()
    settings.require_upstreams()
    async with AsyncExitStack() as stack:
        engine = create_engine(settings.database_url)
        stack.push_async_callback(engine.dispose)
        throttle = build_throttle(settings)
        stack.push_async_callback(throttle.aclose)
        erp_transport, crm_transport = _transports()
        erp = build_erp_connector(settings, throttle=throttle, transport=erp_transport)
        stack.push_async_callback(erp.aclose)
        crm = build_crm_connector(settings, throttle=throttle, transport=crm_transport)
        stack.push_async_callback(crm.aclose)
        sessions = session_factory(engine)
        await ensure_mappings(sessions)
        full = FullSync(SyncEngine(sessions=sessions, erp=erp, crm=crm))
        # The leases of every mapping-direction, as an admin's full sync takes them; the worker id is
        # stable across restarts, so a restarted worker takes them back at once (no TTL to wait out)
        # and marks the jobs its killed predecessor left running abandoned.
        names = await _lease_names(sessions, [m for layer in await full.plan() for m in layer])
        holder, ttl = settings.resolved_worker_id(), settings.lease_ttl_seconds  # as `gateway worker`
        async with hold_leases(sessions, names=names, holder=holder, ttl=ttl) as held:
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
