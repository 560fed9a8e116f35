"""REST for admins under `/api/v1/admin/` (issue 3 §8): mappings, full sync and its review, runs,
jobs, errors and their actions, couplings and match-based coupling, over `SyncControl`.

The admin role is checked in one place, `admin_only`, which wraps every route of this module."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gateway.errors import DuplicateCoupling, InvalidInput, NotFound, PermissionDenied
from gateway.services.container import Services
from gateway.services.sync_control import SyncControl
from gateway.web import rest_admin_spec as spec
from gateway.web.auth import principal_of
from gateway.web.problems import problem
from gateway.web.rest_admin_input import path_int, read_body, read_query
from gateway.web.rest_admin_ops import ADMIN, COUPLING_PARAMS, ERROR_PARAMS, JOB_PARAMS

Endpoint = Callable[[Request], Awaitable[Response]]


def admin_only(endpoint: Endpoint) -> Endpoint:
    """Only admin keys pass; other roles get a 403 problem (no key at all is already a 401)."""

    @wraps(endpoint)
    async def guarded(request: Request) -> Response:
        if not principal_of(request).is_admin:
            raise PermissionDenied("the admin endpoints need an admin key")
        return await endpoint(request)

    return guarded


def _sync(request: Request) -> SyncControl:
    services: Services = request.app.state.services
    if services.sync is None:  # only an app built without the syncer (never the gateway's own)
        raise NotFound("synchronization is not available in this process")
    return services.sync


def _json(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers={"Cache-Control": "no-store"})


def _page(items: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    """Keyset pages: one row more than asked tells whether a next page exists."""
    more = len(items) > limit
    shown = items[:limit]
    cursor = str(shown[-1]["id"]) if more and shown else None
    return {"items": shown, "pageInfo": {"hasNextPage": more, "endCursor": cursor}}


# ---------------------------------------------------------------------------------------- mappings


async def list_mappings(request: Request) -> Response:
    read_query(request, ())
    return _json({"items": await _sync(request).list_mappings()})


async def get_mapping(request: Request) -> Response:
    read_query(request, ())
    return _json(await _sync(request).get_mapping(request.path_params["name"]))


async def patch_mapping(request: Request) -> Response:
    read_query(request, ())
    changes = await read_body(request, spec.MAPPING_PATCH)
    return _json(await _sync(request).patch_mapping(request.path_params["name"], changes))


async def reset_mappings(request: Request) -> Response:
    read_query(request, ())
    return _json({"items": await _sync(request).reset_mappings()})


# --------------------------------------------------------------------------------------- full sync


async def start_full_sync(request: Request) -> Response:
    read_query(request, ())
    body = await read_body(request, spec.FULL_SYNC_START, optional=True)
    # SyncControl checks the names before whether one runs (an unknown mapping is always a 400).
    return _json(await _sync(request).start_full_sync(mappings=body.get("mappings")), status=202)


async def full_sync_status(request: Request) -> Response:
    read_query(request, ())
    return _json(await _sync(request).full_sync_status())


async def run_mapping(request: Request) -> Response:
    read_query(request, ())
    body = await read_body(request, spec.RUN_REQUEST, optional=True)
    runs = await _sync(request).run_mapping(request.path_params["name"], direction=body.get("direction"))
    return _json({"runs": runs})


# -------------------------------------------------------------------------------------------- jobs


async def list_jobs(request: Request) -> Response:
    query = read_query(request, JOB_PARAMS)
    items = await _sync(request).list_jobs(
        mapping=query.get("mapping"),
        type=query.get("type"),
        status=query.get("status"),
        limit=query.get("first", 50),
    )
    if "direction" in query:
        items = [job for job in items if job["direction"] == query["direction"]]
    return _json({"items": items})


async def get_job(request: Request) -> Response:
    read_query(request, ())
    return _json(await _sync(request).get_job(request.path_params["id"]))


# ------------------------------------------------------------------------------------------ errors


async def list_errors(request: Request) -> Response:
    query = read_query(request, ERROR_PARAMS)
    limit = query.get("first", 100)
    status = query.get("status", "open")
    items = await _sync(request).list_errors(
        mapping=query.get("mapping"),
        job_id=query.get("job"),
        record_id=query.get("record"),
        status=None if status == "all" else status,
        after_id=int(query["after"]) if "after" in query else None,
        limit=min(limit + 1, spec.MAX_PAGE),
    )
    return _json(_page(items, limit))


async def error_action(request: Request) -> Response:
    read_query(request, ())
    error_id = path_int(request, "id")
    action = request.path_params["action"]
    if action not in spec.ERROR_ACTIONS:
        raise InvalidInput(f"action must be one of {', '.join(spec.ERROR_ACTIONS)}", field="action")
    return _json(await _sync(request).error_action(error_id, action))


async def error_actions(request: Request) -> Response:
    read_query(request, ())
    body = await read_body(request, spec.ERROR_ACTIONS_REQUEST)
    ids = list(dict.fromkeys(int(i) for i in body["ids"]))
    return _json({"results": await _sync(request).error_actions(ids, body["action"])})


# --------------------------------------------------------------------------------------- couplings


async def list_couplings(request: Request) -> Response:
    query = read_query(request, COUPLING_PARAMS)
    limit = query.get("first", 100)
    items = await _sync(request).list_couplings(
        mapping=query.get("mapping"),
        state=query.get("state"),
        record_id=query.get("record"),
        key=query.get("number"),
        after_id=int(query["after"]) if "after" in query else None,
        limit=min(limit + 1, spec.MAX_PAGE),
    )
    return _json(_page(items, limit))


async def create_coupling(request: Request) -> Response:
    read_query(request, ())
    body = await read_body(request, spec.COUPLING_CREATE)
    try:
        made = await _sync(request).create_coupling(
            mapping=body["mapping"],
            erp_id=body.get("erpId"),
            crm_id=body.get("crmId"),
            erp_key=body.get("erpKey"),
            crm_key=body.get("crmKey"),
            synchronize=body.get("synchronize", True),
        )
    except DuplicateCoupling as exc:
        return problem(409, "Conflict", str(exc), field=f"{exc.side}Id" if exc.side else None)
    return _json(made, status=201)


async def delete_coupling(request: Request) -> Response:
    read_query(request, ())
    coupling_id = path_int(request, "id")
    if not await _sync(request).delete_coupling(coupling_id):
        raise NotFound(f"no coupling with id {coupling_id}")
    return Response(status_code=204)


async def match_couplings(request: Request) -> Response:
    read_query(request, ())
    body = await read_body(request, spec.MATCH_REQUEST)
    report = await _sync(request).match(
        mapping=body["mapping"],
        fields=body.get("fields") or None,
        case_sensitive=body.get("caseSensitive"),
        create_if_no_match=body.get("createIfNoMatch", False),
        dry_run=body.get("dryRun", True),
    )
    return _json(report)


def admin_routes() -> list[BaseRoute]:
    table: list[tuple[str, Endpoint, str]] = [
        ("/mappings", list_mappings, "GET"),
        ("/mappings/reset", reset_mappings, "POST"),
        ("/mappings/{name}", get_mapping, "GET"),
        ("/mappings/{name}", patch_mapping, "PATCH"),
        ("/mappings/{name}/run", run_mapping, "POST"),
        ("/sync/full", start_full_sync, "POST"),
        ("/sync/full", full_sync_status, "GET"),
        ("/jobs", list_jobs, "GET"),
        ("/jobs/{id}", get_job, "GET"),
        ("/errors", list_errors, "GET"),
        ("/errors/actions", error_actions, "POST"),
        ("/errors/{id:int}/{action}", error_action, "POST"),
        ("/couplings", list_couplings, "GET"),
        ("/couplings", create_coupling, "POST"),
        ("/couplings/match", match_couplings, "POST"),
        ("/couplings/{id:int}", delete_coupling, "DELETE"),
    ]
    # One Route per path with every method, so an undeclared method is a 405 with the right Allow.
    by_path: dict[str, dict[str, Endpoint]] = {}
    for path, endpoint, method in table:
        by_path.setdefault(path, {})[method] = admin_only(endpoint)
    return [
        Route(f"{ADMIN}{path}", _dispatch(methods), methods=list(methods))
        for path, methods in by_path.items()
    ]


def _dispatch(methods: dict[str, Endpoint]) -> Endpoint:
    if len(methods) == 1:
        return next(iter(methods.values()))

    async def by_method(request: Request) -> Response:
        # HEAD is answered like GET (Starlette adds it to every GET route).
        return await methods.get(request.method, methods["GET"])(request)

    return by_method
