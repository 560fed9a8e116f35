"""The JSON-ready dicts the admin's sync use cases return: jobs, job errors, couplings, run summaries."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from gateway.store import jobs as jobs_store
from gateway.store.tables import Coupling, JobError, SyncJob
from gateway.sync.engine import RunSummary


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
