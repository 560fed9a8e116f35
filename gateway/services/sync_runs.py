"""The core of the admin's sync control: its store, engine and leases, runs of a mapping now, and the
job listings. The other parts (full-sync review, error actions, coupling admin) build on it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import Sequence
from typing import Any

from gateway.errors import Busy, InvalidInput
from gateway.services.sync_dicts import error_to_dict, job_to_dict, summary_to_dict
from gateway.store import job_errors
from gateway.store import jobs as jobs_store
from gateway.store.engine import SessionFactory, read_sessions_of
from gateway.sync import catalog
from gateway.sync.deletion_requests import checked_set
from gateway.sync.engine import RunSummary, SyncEngine
from gateway.sync.full import mapping_lease_names
from gateway.sync.leases import HeldLeases, hold_leases
from gateway.sync.pricing_mirror import ERP_PRICING
from gateway.sync.scheduler import lease_name


class SyncRunsPart:
    """Admin runs over one store and one engine, under leases of their own (see module docstring)."""

    def __init__(
        self,
        *,
        sessions: SessionFactory,
        engine: SyncEngine,
        concurrency: int = 2,
        holder: str | None = None,
        lease_wait_seconds: float = 20.0,
        lease_ttl: float = 15.0,
    ) -> None:
        self.sessions = sessions
        # Reviews and listings read without the write lock (on SQLite a session of `sessions`
        # takes it): a status polled every 2 s during a full sync must not queue its renewals.
        self.reads = read_sessions_of(sessions)
        self.engine = engine
        self.concurrency = concurrency
        # Admin runs take the same leases as `gateway worker` schedulers, under a holder of their
        # own (a scheduler's id would let it re-take, and so fence out, its own running lease).
        self.holder = holder or f"{socket.gethostname()}-{os.getpid()}/admin"
        self.lease_wait_seconds = lease_wait_seconds
        self.lease_ttl = lease_ttl  # GATEWAY_LEASE_TTL_SECONDS, as the schedulers' runs
        # The background full sync and the mappings it was started for (FullSyncPart).
        self._full: asyncio.Task[list[RunSummary]] | None = None
        self._full_mappings: list[str] = []

    # ------------------------------------------------------------------------------ runs

    async def run_mapping(self, name: str, *, direction: str | None = None) -> list[dict[str, Any]]:
        """An incremental run now, in one direction or in every direction of the mapping."""
        table = await self.engine.mapping(name)
        directions = [direction] if direction else table.directions()
        for d in directions:
            if d not in table.directions():
                raise InvalidInput(f"{name} does not run {d}", field="direction")
        self.engine.retries.forget(name)  # a run asked for retries every failed record
        async with contextlib.AsyncExitStack() as leases:
            held = await self._hold(leases, [lease_name(name, d) for d in directions])
            return [
                summary_to_dict(
                    await self.engine.run(mapping=name, direction=d, fence=held.fence(lease_name(name, d)))
                )
                for d in directions
            ]

    async def _known_filter(self, session: Any, mapping: str | None) -> None:
        """A listing filtered by a name no job, error or coupling carries is a typo (`customer`):
        a 400 naming the mappings, not an empty list that reads as "nothing wrong"."""
        if mapping is None or mapping == ERP_PRICING or checked_set(mapping) is not None:
            return
        names = [m.name for m in await catalog.load_mappings(session)]
        if mapping not in names:
            raise InvalidInput(
                f"unknown mapping {mapping!r}; the mappings are {', '.join(names)}, and {ERP_PRICING}",
                field="mapping",
            )

    async def _lease_names(self, mapping_names: Sequence[str]) -> list[str]:
        return await mapping_lease_names(self.reads, mapping_names)

    async def _hold(self, stack: contextlib.AsyncExitStack, names: Sequence[str]) -> HeldLeases:
        """Take every lease in `names` (waiting up to `lease_wait_seconds` while a scheduled run
        finishes); they stay held, and renewed, until `stack` closes. Busy when they stay taken."""
        deadline = time.monotonic() + self.lease_wait_seconds
        while True:
            attempt = hold_leases(self.sessions, names=names, holder=self.holder, ttl=self.lease_ttl)
            held = await attempt.__aenter__()
            if held is not None:
                stack.push_async_exit(attempt)
                return held
            await attempt.__aexit__(None, None, None)
            if time.monotonic() >= deadline:
                busy = ", ".join(sorted({n.rsplit(":", 1)[0] for n in names}))
                raise Busy(f"{busy}: a run is in progress; try again", retry_after=5.0)
            await asyncio.sleep(0.25)

    async def list_jobs(
        self,
        *,
        mapping: str | None = None,
        type: str | None = None,
        status: str | None = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        async with self.reads() as session:
            await self._known_filter(session, mapping)
            rows = await jobs_store.list_jobs(session, mapping=mapping, type=type, status=status, limit=limit)
            return [job_to_dict(j) for j in rows]

    async def get_job(self, job_id: str) -> dict[str, Any]:
        async with self.reads() as session:
            job = job_to_dict(await jobs_store.get_job(session, job_id=job_id))
            errors = await job_errors.list_job_errors(session, job_id=job_id, limit=1000)
            job["errors"] = [error_to_dict(e) for e in errors]
            return job
