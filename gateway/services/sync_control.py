"""The admin's use cases of synchronization (issue §8): mappings, full sync in the background with
its review lines, runs now, jobs, errors and their actions, couplings and match-based coupling.

Everything returns plain JSON-ready dicts; the web layer only routes and checks the admin role.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from gateway.domain import Side
from gateway.errors import Busy, InvalidInput, NotFound
from gateway.store import couplings as couplings_store
from gateway.store import deletion_hints, erp_watch, mirror
from gateway.store import jobs as jobs_store
from gateway.store.engine import SessionFactory, read_sessions_of
from gateway.store.tables import Coupling, ErrorAction, ErrorStatus, JobError, JobType, SyncJob
from gateway.store.types import utcnow
from gateway.sync import catalog
from gateway.sync.deletion_requests import request_check
from gateway.sync.engine import RunSummary, SyncEngine
from gateway.sync.full import FullSync, mapping_lease_names
from gateway.sync.leases import HeldLeases, hold_leases
from gateway.sync.model import mapping_to_dict
from gateway.sync.scheduler import lease_name

log = logging.getLogger(__name__)

_STATUS = {
    "queued": "in process",
    "running": "in process",
    "success": "success",
    "error": "error",
    "cancelled": "error",
    "abandoned": "error",
}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def job_to_dict(job: SyncJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "mapping": job.mapping,
        "direction": job.direction,
        "type": job.type,
        "status": job.status,
        "createdAt": _iso(job.created_at),
        "startedAt": _iso(job.started_at),
        "finishedAt": _iso(job.finished_at),
        "counts": {name: getattr(job, name) for name in jobs_store.COUNTERS},
        "total": job.total,
        "message": job.message,
    }


def error_to_dict(error: JobError) -> dict[str, Any]:
    return {
        "id": error.id,
        "jobId": error.job_id,
        "mapping": error.mapping,
        "erpId": error.erp_id,
        "crmId": error.crm_id,
        "erpKey": error.erp_key,
        "crmKey": error.crm_key,
        "field": error.field,
        "reason": error.reason,
        "cause": list(error.cause),
        "actions": list(error.actions),
        "status": error.status,
        "createdAt": _iso(error.created_at),
        "resolvedAt": _iso(error.resolved_at),
    }


def coupling_to_dict(coupling: Coupling) -> dict[str, Any]:
    return {
        "id": coupling.id,
        "mapping": coupling.mapping,
        "erpId": coupling.erp_id,
        "crmId": coupling.crm_id,
        "erpKey": coupling.erp_key,
        "crmKey": coupling.crm_key,
        "state": coupling.state,
        "skipped": coupling.skipped,
        "lastSynced": coupling.last_synced,
        "erpModifiedAt": _iso(coupling.erp_modified_at),
        "crmModifiedAt": _iso(coupling.crm_modified_at),
        "updatedAt": _iso(coupling.updated_at),
    }


def summary_to_dict(summary: RunSummary) -> dict[str, Any]:
    data = asdict(summary)
    return {
        "mapping": data["mapping"],
        "direction": data["direction"],
        "type": data["type"],
        "jobIds": data["job_ids"],
        "status": data["status"],
        "counts": data["counts"],
        "message": data["message"],
    }


class SyncControl:
    """Admin operations over one store and one engine; owns the background full-sync task."""

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
        self._full: asyncio.Task[list[RunSummary]] | None = None
        self._full_mappings: list[str] = []

    async def aclose(self) -> None:
        if self._full is not None and not self._full.done():
            self._full.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._full

    # ------------------------------------------------------------------------------ mappings

    async def ensure_defaults(self) -> list[str]:
        return await catalog.ensure_default_mappings(self.sessions)

    async def list_mappings(self) -> list[dict[str, Any]]:
        async with self.reads() as session:
            return [mapping_to_dict(m) for m in await catalog.load_mappings(session)]

    async def get_mapping(self, name: str) -> dict[str, Any]:
        async with self.reads() as session:
            return mapping_to_dict(await catalog.get_mapping(session, name))

    async def patch_mapping(self, name: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        return mapping_to_dict(await catalog.update_mapping(self.sessions, name, changes))

    async def note_erp_deletions(self, *, mapping: str, erp_ids: Sequence[str]) -> None:
        """BC said these ERP records of `mapping`'s entity set were deleted: its next erp_to_crm run
        confirms each with BC and applies the deletion policy (gateway.store.deletion_hints)."""
        async with self.sessions.begin() as session:
            await deletion_hints.add_hints(session, mapping=mapping, erp_ids=erp_ids)

    async def erp_notified(
        self, entity_sets: Sequence[str], *, collections: Sequence[str] = ()
    ) -> list[tuple[str, str, str, str]]:
        """BC notified changes in these ERP entity sets: remember when (a run that polls a set only
        when due sees it, gateway.sync.erp_polls) and return, for each run that reads one of them
        towards the CRM (catalog.erp_readers), its (mapping, direction) for the caller to wake, the
        set, and the name its reads of the set go by (deletion hints are kept under it). Sets in
        `collections` came as a `collection` notice (too many changes to list, deletions unnamed):
        their deletion check is asked for (gateway.sync.deletion_check)."""
        wanted = set(entity_sets)
        async with self.sessions.begin() as session:
            await erp_watch.record_notified(session, entity_sets=wanted, at=utcnow())
            await request_check(session, entity_sets=collections)
            mappings = await catalog.load_mappings(session)
        return [
            (r.run, r.direction, r.table.erp_entity, r.table.name)
            for r in catalog.erp_readers(mappings)
            if r.table.erp_entity in wanted
        ]

    async def reset_mappings(self) -> list[dict[str, Any]]:
        return [mapping_to_dict(m) for m in await catalog.reset_mappings(self.sessions)]

    # ------------------------------------------------------------------------------ full sync

    async def start_full_sync(self, *, mappings: Sequence[str] | None = None) -> dict[str, Any]:
        """Start a full synchronization in the background (one at a time); returns the review.
        The names are checked first: an unknown mapping is a 400 whether or not one is running."""
        runner = FullSync(self.engine, concurrency=self.concurrency)
        plan = await runner.plan(mappings=mappings)  # validates the names before anything starts
        if self._full is not None and not self._full.done():
            raise Busy("a full synchronization is already running", retry_after=5.0)
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
            rows = await jobs_store.list_jobs(session, mapping=mapping, type=type, status=status, limit=limit)
            return [job_to_dict(j) for j in rows]

    async def get_job(self, job_id: str) -> dict[str, Any]:
        async with self.reads() as session:
            job = job_to_dict(await jobs_store.get_job(session, job_id=job_id))
            errors = await jobs_store.list_job_errors(session, job_id=job_id, limit=1000)
            job["errors"] = [error_to_dict(e) for e in errors]
            return job

    # ------------------------------------------------------------------------------ errors

    async def list_errors(
        self,
        *,
        mapping: str | None = None,
        job_id: str | None = None,
        record_id: str | None = None,
        status: str | None = "open",
        after_id: int | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        async with self.reads() as session:
            rows = await jobs_store.list_job_errors(
                session,
                mapping=mapping,
                job_id=job_id,
                record_id=record_id,
                status=status,
                after_id=after_id,
                limit=limit,
            )
            return [error_to_dict(e) for e in rows]

    async def error_action(self, error_id: int, action: str) -> dict[str, Any]:
        """Apply one of the error's actions: retry, force-erp, force-crm, restore, uncouple, ignore."""
        return (await self.error_actions([error_id], action, report_problems=False))[0]

    async def error_actions(
        self, error_ids: Sequence[int], action: str, *, report_problems: bool = True
    ) -> list[dict[str, Any]]:
        """Apply `action` to each error. Retries of records that were never coupled (a failed create
        or match) need a run of their mapping, which retries its open errors first: one run per
        mapping however many of its errors are retried."""
        try:
            chosen = ErrorAction(action)
        except ValueError:
            raise InvalidInput(f"unknown action {action!r}", field="action") from None
        results: list[dict[str, Any]] = []
        runs_needed: dict[str, list[dict[str, Any]]] = {}
        for error_id in error_ids:
            try:
                result, mapping_to_run = await self._apply(error_id, chosen)
            except (InvalidInput, NotFound) as exc:
                if not report_problems:
                    raise
                results.append({"error": error_id, "action": action, "problem": str(exc)})
                continue
            results.append(result)
            if mapping_to_run is not None:
                runs_needed.setdefault(mapping_to_run, []).append(result)
        for mapping, waiting in runs_needed.items():
            run = await self.run_mapping(mapping)
            for result in waiting:
                result["run"] = run
        async with self.sessions() as session:
            for result in results:
                if "problem" not in result:
                    result["status"] = (
                        await jobs_store.get_job_error(session, error_id=result["error"])
                    ).status
        return results

    async def _apply(self, error_id: int, chosen: ErrorAction) -> tuple[dict[str, Any], str | None]:
        """Act on one error; returns its result and the mapping that must run for it, if any."""
        async with self.sessions() as session:
            error = await jobs_store.get_job_error(session, error_id=error_id)
            coupling = await _coupling_of(session, error)
        if error.status != ErrorStatus.OPEN.value and chosen is not ErrorAction.RETRY:
            raise InvalidInput(f"error {error_id} is {error.status}", field="id")
        if chosen.value not in error.actions:  # e.g. a retry of an ambiguous match would recreate it
            offered = ", ".join(error.actions) or "none"
            raise InvalidInput(
                f"error {error_id} does not offer {chosen.value}; its actions: {offered}", field="action"
            )
        result: dict[str, Any] = {"error": error_id, "action": chosen.value}
        if chosen is ErrorAction.IGNORE:
            async with self.sessions.begin() as session:
                await jobs_store.set_job_error_status(session, error_id=error_id, status=ErrorStatus.IGNORED)
        elif chosen is ErrorAction.UNCOUPLE:
            if coupling is None:
                raise InvalidInput("this error has no coupling to remove", field="action")
            async with self.sessions.begin() as session:
                await couplings_store.delete_coupling(session, coupling_id=coupling.id or 0)
                await jobs_store.set_job_error_status(session, error_id=error_id, status=ErrorStatus.RESOLVED)
        elif coupling is not None:
            async with contextlib.AsyncExitStack() as leases:
                await self._hold(leases, await self._lease_names([error.mapping]))
                summary = await self.engine.act_on_pair(
                    mapping=error.mapping, coupling_id=coupling.id or 0, action=chosen
                )
            result["run"] = summary_to_dict(summary)
        elif chosen is ErrorAction.RETRY:
            return result, error.mapping
        else:
            raise InvalidInput(f"{chosen.value} needs a coupled record", field="action")
        return result, None

    # ------------------------------------------------------------------------------ couplings

    async def list_couplings(self, **filters: Any) -> list[dict[str, Any]]:
        async with self.reads() as session:
            return [coupling_to_dict(c) for c in await couplings_store.list_couplings(session, **filters)]

    async def create_coupling(
        self,
        *,
        mapping: str,
        erp_id: str | None = None,
        crm_id: str | None = None,
        erp_key: str | None = None,
        crm_key: str | None = None,
        synchronize: bool = True,
    ) -> dict[str, Any]:
        """Couple two records named by id or key on either side (from the mirror), then sync them."""
        table = await self.engine.mapping(mapping)
        async with self.sessions.begin() as session:
            erp = await _find(session, Side.ERP, table.erp_entity, erp_id, erp_key)
            crm = await _find(session, Side.CRM, table.crm_entity, crm_id, crm_key)
            coupling = await couplings_store.create_coupling(
                session,
                mapping=mapping,
                erp_id=erp.id,
                crm_id=crm.id,
                erp_key=table.key_of(Side.ERP, erp.values),
                crm_key=table.key_of(Side.CRM, crm.values),
            )
        result = coupling_to_dict(coupling)
        if synchronize:
            summary = await self.engine.act_on_pair(
                mapping=mapping, coupling_id=coupling.id or 0, action=ErrorAction.RETRY
            )
            result["run"] = summary_to_dict(summary)
        return result

    async def delete_coupling(self, coupling_id: int) -> bool:
        async with self.sessions.begin() as session:
            return await couplings_store.delete_coupling(session, coupling_id=coupling_id)

    async def uncouple_mapping(self, mapping: str) -> int:
        async with self.sessions.begin() as session:
            return await couplings_store.delete_couplings(session, mapping=mapping)

    async def match(
        self,
        *,
        mapping: str,
        fields: Sequence[Any] | None = None,
        case_sensitive: bool | None = None,
        create_if_no_match: bool = False,
        dry_run: bool = True,
    ) -> dict[str, Any]:
        """`fields`: [{"erpField", "crmField"}] or [[erp, crm]] pairs, one priority group."""
        pairs = None
        if fields:
            pairs = [
                (str(f["erpField"]), str(f["crmField"])) if isinstance(f, Mapping) else (str(f[0]), str(f[1]))
                for f in fields
            ]
        async with contextlib.AsyncExitStack() as leases:
            if not dry_run:  # it writes couplings and records: never beside a run of the mapping
                await self._hold(leases, await self._lease_names([mapping]))
            return await self.engine.match(
                mapping=mapping,
                fields=pairs,
                case_sensitive=case_sensitive,
                dry_run=dry_run,
                create_if_no_match=create_if_no_match,
            )


async def _coupling_of(session: Any, error: JobError) -> Coupling | None:
    if error.erp_id:
        found = await couplings_store.find_coupling(session, mapping=error.mapping, erp_id=error.erp_id)
        if found is not None:
            return found
    if error.crm_id:
        return await couplings_store.find_coupling(session, mapping=error.mapping, crm_id=error.crm_id)
    return None


async def _find(session: Any, side: Side, entity_set: str, record_id: str | None, key: str | None) -> Any:
    if (record_id is None) == (key is None):
        given = "both" if record_id is not None else "neither"
        raise InvalidInput(
            f"give the {side.value.upper()} record's id ({side.value}Id) or its key ({side.value}Key),"
            f" one of them, not {given}",
            field=f"{side.value}Id",
        )
    records = await mirror.load_records(
        session, side=side, entity_set=entity_set, ids=[record_id] if record_id else None
    )
    if key is not None:
        records = {i: r for i, r in records.items() if r.key == key}
    if len(records) != 1:
        raise NotFound(
            f"no single {side.value.upper()} {entity_set} record {record_id or key!r} (run a full sync?)"
        )
    return next(iter(records.values()))


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("full synchronization failed", exc_info=task.exception())
