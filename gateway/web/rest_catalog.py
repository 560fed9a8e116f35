"""REST for integrations (issue §5): `/api/v1/customers`, `/items`, `/price-lists` and one record of
each, from the catalog service (the same rules as GraphQL). Cursor pages with `first`/`after` and a
`Link: rel="next"` header, ETags with 304, problem+json errors (400 bad input, 404 unknown).

One record is addressed by its number (code), or by either side's id as `crm:<GUID>` / `erp:<GUID>`:
a CRM-only account has no number until the ERP gives it one. Numbers and codes are at most 20
characters in Business Central, so a prefixed GUID (40) is never one."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from gateway.domain import CouplingStatus
from gateway.errors import InvalidInput, NotFound
from gateway.services.catalog import CatalogFilter
from gateway.services.catalog_lines import LineKey
from gateway.services.container import Services
from gateway.services.paging import Page, page_size
from gateway.web.auth import principal_of
from gateway.web.pagination import (
    check_query,
    json_response,
    next_link,
    query_bool,
    query_datetime,
    query_int,
    to_json,
)

# Fields that only make sense inside the gateway (lookups into the CRM), not to integrators.
_CUSTOMER_OMIT = ("crm_owner_id", "crm_default_price_list_id")
_KNOWN = {
    "first",
    "after",
    "orderBy",
    "search",
    "salespersonCode",
    "blocked",
    "couplingState",
    "changedSince",
}


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _states(request: Request) -> frozenset[CouplingStatus] | None:
    raw = request.query_params.get("couplingState")
    if raw is None:
        return None
    try:
        return frozenset(CouplingStatus(v.strip().lower()) for v in raw.split(",") if v.strip())
    except ValueError:
        allowed = ", ".join(s.value for s in CouplingStatus)
        raise InvalidInput(
            f"couplingState must be a comma-separated list of {allowed}", field="couplingState"
        ) from None


def _filter(request: Request, *, customers: bool = False) -> CatalogFilter:
    check_query(request, _KNOWN)
    if not customers and "salespersonCode" in request.query_params:
        raise InvalidInput("salespersonCode filters customers only", field="salespersonCode")
    return CatalogFilter(
        search=request.query_params.get("search") or None,
        salesperson_code=request.query_params.get("salespersonCode") if customers else None,
        blocked=query_bool(request, "blocked"),
        coupling_states=_states(request),
        changed_since=query_datetime(request, "changedSince"),
    )


ID_PREFIXES = {"crm:": "crm_id", "erp:": "erp_id"}


def record_key(request: Request, param: str) -> dict[str, str]:
    """The lookup the path parameter `param` stands for: `{param: key}` (a number or code), or
    `{"crm_id" | "erp_id": GUID}` for `crm:<GUID>` / `erp:<GUID>` (prefix in any case). A prefix
    without a GUID is a 400."""
    key: str = request.path_params[param]
    column = ID_PREFIXES.get(key[:4].lower())
    if column is None:
        return {param: key}
    try:
        return {column: str(uuid.UUID(key[4:].strip()))}
    except ValueError:
        raise InvalidInput(
            f"{key[:4].lower()} must be followed by a GUID (the record's id on that side)", field=param
        ) from None


def _page_response(request: Request, page: Page[Any], *, omit: tuple[str, ...] = ()) -> Response:
    data = {
        "items": [to_json(node, omit=omit) for node in page.nodes],
        "pageInfo": {"hasNextPage": page.has_next_page, "endCursor": page.end_cursor},
    }
    headers = (
        {"Link": next_link(request, page.end_cursor)} if page.has_next_page and page.end_cursor else None
    )
    return json_response(request, data, headers=headers)


def _list_args(request: Request) -> dict[str, Any]:
    return {
        "order_by": request.query_params.get("orderBy"),
        "first": query_int(request, "first"),
        "after": request.query_params.get("after"),
    }


async def list_customers(request: Request) -> Response:
    catalog = _services(request).catalog
    filter = _filter(request, customers=True)
    page = await catalog.list_customers(principal_of(request), filter=filter, **_list_args(request))
    return _page_response(request, page, omit=_CUSTOMER_OMIT)


async def get_customer(request: Request) -> Response:
    lookup = record_key(request, "number")
    found = await _services(request).catalog.get_customer(principal_of(request), **lookup)
    if found is None:
        raise NotFound(f"no customer {request.path_params['number']!r}")
    return json_response(request, to_json(found, omit=_CUSTOMER_OMIT))


async def list_items(request: Request) -> Response:
    catalog = _services(request).catalog
    page = await catalog.list_items(principal_of(request), filter=_filter(request), **_list_args(request))
    return _page_response(request, page)


async def get_item(request: Request) -> Response:
    lookup = record_key(request, "number")
    principal = principal_of(request)
    catalog = _services(request).catalog
    found = await catalog.get_item(principal, **lookup)
    if found is None:
        raise NotFound(f"no item {request.path_params['number']!r}")
    data = to_json(found)
    data["units"] = to_json(
        (await catalog.units_of_items(principal, [found.number]))[0] if found.erp_id else []
    )
    return json_response(request, data)


async def list_price_lists(request: Request) -> Response:
    catalog = _services(request).catalog
    if "blocked" in request.query_params:
        raise InvalidInput("price lists have no blocked filter", field="blocked")
    page = await catalog.list_price_lists(
        principal_of(request), filter=_filter(request), **_list_args(request)
    )
    return _page_response(request, page)


async def get_price_list(request: Request) -> Response:
    """The price list and one page of its lines (`first`, `after` page the lines)."""
    check_query(request, ("first", "after"))
    lookup = record_key(request, "code")
    principal = principal_of(request)
    catalog = _services(request).catalog
    found = await catalog.get_price_list(principal, **lookup)
    if found is None:
        raise NotFound(f"no price list {request.path_params['code']!r}")
    key = LineKey(
        found.code if found.erp_id else "",
        page_size(query_int(request, "first")),
        request.query_params.get("after"),
    )
    (lines,) = await catalog.lines_of_price_lists(principal, [key])
    data = to_json(found)
    data["lines"] = {
        "items": [to_json(line) for line in lines.nodes],
        "pageInfo": {"hasNextPage": lines.has_next_page, "endCursor": lines.end_cursor},
    }
    headers = (
        {"Link": next_link(request, lines.end_cursor)} if lines.has_next_page and lines.end_cursor else None
    )
    return json_response(request, data, headers=headers)


def catalog_routes() -> list[BaseRoute]:
    return [
        Route("/api/v1/customers", list_customers, methods=["GET"]),
        Route("/api/v1/customers/{number:str}", get_customer, methods=["GET"]),
        Route("/api/v1/items", list_items, methods=["GET"]),
        Route("/api/v1/items/{number:str}", get_item, methods=["GET"]),
        Route("/api/v1/price-lists", list_price_lists, methods=["GET"]),
        Route("/api/v1/price-lists/{code:str}", get_price_list, methods=["GET"]),
    ]
