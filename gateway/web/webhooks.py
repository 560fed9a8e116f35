"""`POST /api/v1/admin/webhooks/bc`: Business Central's change notifications. Answers the
subscription handshake (`?validationToken=` echoed as text/plain), checks each notification's
`clientState`, and wakes the syncer for the mappings of the notified entity set; 202 at once.

Authenticated by `clientState`, not by API key (BC cannot send one): the path is public in auth.py.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from gateway.services.container import Services
from gateway.web import rest_admin_spec as spec
from gateway.web.problems import problem
from gateway.web.rest_admin_input import read_body, read_query
from gateway.web.rest_admin_ops import OPERATIONS, WEBHOOK_PATH

log = logging.getLogger(__name__)

Wake = Callable[[str, str], Awaitable[None]]
"""wake(mapping, direction): ask the scheduler (in this process or any worker) to run it now."""


@dataclass(frozen=True, slots=True)
class BcWebhookConfig:
    """What the receiver needs from the composition root: the clientState our subscriptions carry
    (None: no subscription, every notification is refused) and how to wake the syncer."""

    client_state: str | None
    wake: Wake


def entity_set_of(resource: str) -> str | None:
    """'api/v2.0/companies(<id>)/customers(<id>)' (or the collection) -> 'customers'."""
    path = resource.split("?", 1)[0].rstrip("/")
    if "companies(" not in path:
        return None
    last = path.rsplit("/", 1)[-1]
    name = last.split("(", 1)[0]
    return name or None


def entity_id_of(resource: str) -> str | None:
    """'api/v2.0/companies(<id>)/customers(<id>)' -> the customer's id ('…/customers' -> None)."""
    last = resource.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    if "(" not in last or not last.endswith(")"):
        return None
    key = last.split("(", 1)[1][:-1].strip("'")
    return key or None


def _params() -> tuple[Any, ...]:
    return next(op.parameters for op in OPERATIONS if op.path == WEBHOOK_PATH)


async def receive_bc(request: Request) -> Response:
    query = read_query(request, _params())
    token = query.get("validationToken")
    # The handshake (a subscription created or renewed) comes without a body; a body must be valid.
    body = await read_body(request, spec.BC_NOTIFICATIONS, optional=token is not None)
    if token is not None:
        return PlainTextResponse(token)
    config: BcWebhookConfig | None = getattr(request.app.state, "bc_webhook", None)
    notifications: list[dict[str, Any]] = body["value"]
    expected = config.client_state if config is not None else None
    if expected is None or not all(
        secrets.compare_digest(str(n["clientState"]).encode(), expected.encode()) for n in notifications
    ):
        # Nothing is woken for a notification that is not ours (the whole delivery is refused).
        return problem(401, "Unauthorized", "the clientState does not match the subscription's")
    assert config is not None
    services: Services = request.app.state.services
    sets = {name for n in notifications if (name := entity_set_of(str(n["resource"]))) is not None}
    # A deleted ERP record is never seen by an incremental read (it asks for modified rows): each
    # woken mapping of its set is told, and its run checks with BC and applies the deletion policy.
    deleted: dict[str, list[str]] = {}
    for n in notifications:
        name, key = entity_set_of(str(n["resource"])), entity_id_of(str(n["resource"]))
        if n.get("changeType") == "deleted" and name is not None and key is not None:
            deleted.setdefault(name, []).append(key)
    woken: list[dict[str, str]] = []
    if sets and services.sync is not None:
        # Every run reading a notified set towards the CRM: erp_to_crm ones, SALES ORDER's
        # crm_to_erp (the ERP orders' fulfilled status flows back) and ERP PRICING (its standard-API
        # sets), which poll those sets only when told. A run reading several notified sets wakes once.
        # A `collection` notice names no record, so deletions inside it are unknown: the receiver's
        # service asks for the set's deletion check (gateway.sync.deletion_check).
        collections = sorted(
            {
                name
                for n in notifications
                if n.get("changeType") == "collection"
                and (name := entity_set_of(str(n["resource"]))) is not None
            }
        )
        notified = await services.sync.erp_notified(sorted(sets), collections=collections)
        for name, direction, entity_set, reads_as in notified:
            if direction == "erp_to_crm" and entity_set in deleted:
                await services.sync.note_erp_deletions(mapping=reads_as, erp_ids=deleted[entity_set])
            if {"mapping": name, "direction": direction} not in woken:
                await config.wake(name, direction)
                woken.append({"mapping": name, "direction": direction})
    log.info("BC notification: %d change(s) in %s; woke %s", len(notifications), sorted(sets), woken)
    return JSONResponse({"accepted": len(notifications), "woken": woken}, status_code=202)


def webhook_routes() -> list[BaseRoute]:
    return [Route(WEBHOOK_PATH, receive_bc, methods=["POST"])]
