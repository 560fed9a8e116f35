"""The job errors an admin reviews and the actions on them: retry, force a side, restore, uncouple,
ignore; retries of records never coupled run their mapping, once per mapping."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from gateway.errors import InvalidInput, NotFound
from gateway.services.sync_dicts import error_to_dict, summary_to_dict
from gateway.services.sync_runs import SyncRunsPart
from gateway.store import couplings as couplings_store
from gateway.store import job_errors
from gateway.store.tables import Coupling, ErrorAction, ErrorStatus, JobError


class ErrorActionsPart(SyncRunsPart):
    """Lists job errors and applies an admin's action to them (see module docstring)."""

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
            await self._known_filter(session, mapping)
            rows = await job_errors.list_job_errors(
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
        async with self.sessions() as session:
            opened_before = await job_errors.last_job_error_id(session)
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
                    error = await job_errors.get_job_error(session, error_id=result["error"])
                    result["status"] = error.status
                    result["openErrors"] = await _still_open(session, error, opened_before=opened_before)
        return results

    async def _apply(self, error_id: int, chosen: ErrorAction) -> tuple[dict[str, Any], str | None]:
        """Act on one error; returns its result and the mapping that must run for it, if any."""
        async with self.sessions() as session:
            error = await job_errors.get_job_error(session, error_id=error_id)
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
                await job_errors.set_job_error_status(session, error_id=error_id, status=ErrorStatus.IGNORED)
        elif chosen is ErrorAction.UNCOUPLE:
            if coupling is None:
                raise InvalidInput("this error has no coupling to remove", field="action")
            async with self.sessions.begin() as session:
                await couplings_store.delete_coupling(session, coupling_id=coupling.id or 0)
                await job_errors.set_job_error_status(session, error_id=error_id, status=ErrorStatus.RESOLVED)
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


async def _still_open(session: Any, error: JobError, *, opened_before: int) -> list[dict[str, Any]]:
    """The record's open errors in the error's mapping after the action, by either side's id; `new`
    marks those opened since the action began (ids above `opened_before`): the record failed again.
    A retry whose record fails again resolves the error it retried (superseded) and opens a new one:
    "resolved" alone would read as fixed."""
    found: dict[int, JobError] = {}
    coupling = await _coupling_of(session, error)  # a new error may name the other side only
    sides = (error.erp_id, error.crm_id, *((coupling.erp_id, coupling.crm_id) if coupling else ()))
    for record in dict.fromkeys(r for r in sides if r):
        rows = await job_errors.list_job_errors(
            session, mapping=error.mapping, record_id=record, status=ErrorStatus.OPEN
        )
        found.update((e.id or 0, e) for e in rows if e.id != error.id)
    return [{"id": key, "reason": e.reason, "new": key > opened_before} for key, e in sorted(found.items())]


async def _coupling_of(session: Any, error: JobError) -> Coupling | None:
    if error.erp_id:
        found = await couplings_store.find_coupling(session, mapping=error.mapping, erp_id=error.erp_id)
        if found is not None:
            return found
    if error.crm_id:
        return await couplings_store.find_coupling(session, mapping=error.mapping, crm_id=error.crm_id)
    return None
