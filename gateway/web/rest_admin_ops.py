"""The OpenAPI operations of the admin endpoints (`/api/v1/admin/…`, issue 3 §8) and their query
parameters, which the routes also validate against."""

from __future__ import annotations

from typing import Any

from gateway.web import rest_admin_spec as s
from gateway.web.openapi import Operation, Param

ADMIN = "/api/v1/admin"
WEBHOOK_PATH = f"{ADMIN}/webhooks/bc"
TAG = "admin"

MAPPING_NAME = Param("name", "path", {"type": "string"}, "the mapping's name, e.g. CUSTOMER")
ID = Param("id", "path", {"type": "integer", "minimum": 1}, "the record's id")
FIRST = Param("first", "query", s.FIRST, f"page size (default 100, at most {s.MAX_PAGE})")
AFTER = Param("after", "query", s.AFTER, "the endCursor of the previous page")

JOB_PARAMS = (
    Param("mapping", "query", s.NAME, "only this mapping's jobs"),
    Param("type", "query", {"enum": s.JOB_TYPES}, "only jobs of this type"),
    Param("status", "query", {"enum": s.JOB_STATUSES}, "only jobs in this status"),
    Param("direction", "query", {"enum": s.DIRECTIONS}, "only jobs of this direction"),
    Param("first", "query", s.FIRST, "how many of the newest jobs (default 50)"),
)
ERROR_PARAMS = (
    Param("mapping", "query", s.NAME, "only this mapping's errors"),
    Param("job", "query", s.NAME, "only errors of this job"),
    Param("record", "query", s.NAME, "only errors of this record (its id on either side)"),
    Param(
        "status", "query", {"enum": [*s.ERROR_STATUSES, "all"]}, "open (default), resolved, ignored or all"
    ),
    FIRST,
    AFTER,
)
COUPLING_PARAMS = (
    Param("mapping", "query", s.NAME, "only this mapping's couplings"),
    Param("state", "query", {"enum": s.COUPLING_STATES}, "only couplings in this state"),
    Param("record", "query", s.NAME, "the record's id on either side"),
    Param("number", "query", s.NAME, "the record's number (key) on either side"),
    FIRST,
    AFTER,
)


def _op(
    method: str,
    path: str,
    operation_id: str,
    summary: str,
    response: Any,
    *,
    body: Any = None,
    parameters: tuple[Param, ...] = (),
    errors: tuple[int, ...] = (400, 403),
    status: int = 200,
) -> Operation:
    return Operation(
        method=method,
        path=f"{ADMIN}{path}",
        operation_id=operation_id,
        summary=summary,
        tag=TAG,
        response=s.schema_fn(response) if response is not None else None,
        request_body=body,
        parameters=parameters,
        errors=errors,
        status=status,
    )


OPERATIONS = (
    _op("GET", "/mappings", "listMappings", "Every integration table mapping", s.MAPPINGS, errors=(403,)),
    _op(
        "GET",
        "/mappings/{name}",
        "getMapping",
        "One mapping",
        s.MAPPING,
        parameters=(MAPPING_NAME,),
        errors=(403, 404),
    ),
    _op(
        "PATCH",
        "/mappings/{name}",
        "patchMapping",
        "Change a mapping: enabled, direction, conflict and deletion policies, schedule, field mappings",
        s.MAPPING,
        body=s.MAPPING_PATCH,
        parameters=(MAPPING_NAME,),
        errors=(400, 403, 404),
    ),
    _op(
        "POST",
        "/mappings/reset",
        "resetMappings",
        "Restore the default mappings (couplings stay)",
        s.MAPPINGS,
        errors=(403,),
    ),
    _op(
        "POST",
        "/sync/full",
        "startFullSync",
        "Start a full synchronization in the background (every enabled mapping, or the ones named)",
        s.REVIEW,
        body=s.FULL_SYNC_START,
        errors=(400, 403, 409),
        status=202,
    ),
    _op(
        "GET",
        "/sync/full",
        "getFullSync",
        "The review lines: per mapping its dependencies, recommendation and each direction's job",
        s.REVIEW,
        errors=(403,),
    ),
    _op(
        "POST",
        "/mappings/{name}/run",
        "runMapping",
        "Run a mapping's incremental synchronization now, in one direction or in each",
        s.RUNS,
        body=s.RUN_REQUEST,
        parameters=(MAPPING_NAME,),
        errors=(400, 403, 404, 409),
    ),
    _op("GET", "/jobs", "listJobs", "Sync jobs, newest first", s.JOBS, parameters=JOB_PARAMS),
    _op(
        "GET",
        "/jobs/{id}",
        "getJob",
        "One job with its errors",
        s.JOB_DETAIL,
        parameters=(Param("id", "path", {"type": "string"}, "the job's id"),),
        errors=(403, 404),
    ),
    _op(
        "GET",
        "/errors",
        "listErrors",
        "Job errors in id order, a cursor page at a time",
        s.page(s.JOB_ERROR),
        parameters=ERROR_PARAMS,
    ),
    _op(
        "POST",
        "/errors/{id}/{action}",
        "actOnError",
        "Apply an action to one error: retry, force-erp, force-crm, restore, uncouple or ignore",
        s.ERROR_ACTION_RESULT,
        parameters=(ID, Param("action", "path", {"enum": s.ERROR_ACTIONS}, "what to do")),
        errors=(400, 403, 404),
    ),
    _op(
        "POST",
        "/errors/actions",
        "actOnErrors",
        "Apply one action to many errors",
        s.ERROR_ACTION_RESULTS,
        body=s.ERROR_ACTIONS_REQUEST,
    ),
    _op(
        "GET",
        "/couplings",
        "listCouplings",
        "Couplings in id order, a cursor page at a time",
        s.page(s.COUPLING),
        parameters=COUPLING_PARAMS,
    ),
    _op(
        "POST",
        "/couplings",
        "createCoupling",
        "Couple two records named by id or number on either side, then synchronize them",
        s.COUPLING,
        body=s.COUPLING_CREATE,
        errors=(400, 403, 404, 409),
        status=201,
    ),
    _op(
        "DELETE",
        "/couplings/{id}",
        "deleteCoupling",
        "Uncouple one pair",
        None,
        parameters=(ID,),
        errors=(400, 403, 404),
        status=204,
    ),
    _op(
        "POST",
        "/couplings/match",
        "matchCouplings",
        "Match-based coupling of the uncoupled records; a dry run lists pairs, no-matches and ambiguities",
        s.MATCH_REPORT,
        body=s.MATCH_REQUEST,
        errors=(400, 403, 404),
    ),
    _op(
        "POST",
        "/webhooks/bc",
        "receiveBusinessCentralNotification",
        "Business Central webhook: the validationToken handshake, or change notifications that wake the "
        "syncer (authenticated by clientState, not by API key)",
        s.WEBHOOK_RESULT,
        body=s.BC_NOTIFICATIONS,
        parameters=(
            Param(
                "validationToken",
                "query",
                {"type": "string", "minLength": 1, "maxLength": 1024},
                "the subscription handshake: echoed as text/plain",
            ),
        ),
        errors=(400,),
        status=202,
    ),
)


def amend_openapi(document: dict[str, Any]) -> None:
    """What `Operation` cannot say: the webhook needs no API key, may have no body (the handshake),
    and answers the handshake with 200 text/plain; and DELETE's 204 has no content."""
    webhook = document["paths"][WEBHOOK_PATH]["post"]
    webhook["security"] = []
    webhook["requestBody"]["required"] = False
    webhook["responses"]["200"] = {
        "description": "the handshake: the validationToken, echoed",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
    webhook["responses"]["401"]["description"] = "the clientState does not match the subscription's"
    for path, operations in document["paths"].items():
        if path.startswith(ADMIN) and path != WEBHOOK_PATH:
            for operation in operations.values():
                body = operation.get("requestBody")
                if body is not None and operation["operationId"] in OPTIONAL_BODIES:
                    body["required"] = False


OPTIONAL_BODIES = frozenset({"startFullSync", "runMapping"})
