"""The OpenAPI operations of the catalog routes in `gateway.web.rest_catalog`: their parameters and
response shapes, built from the same unified dataclasses the routes serialise."""

from __future__ import annotations

from gateway.domain import (
    CouplingStatus,
    PriceListLine,
    UnifiedCustomer,
    UnifiedItem,
    UnifiedItemUnit,
    UnifiedPriceList,
)
from gateway.services.paging import ORDERS
from gateway.web.json_schema import Schema, SchemaRegistry
from gateway.web.openapi import Operation, Param, page_of
from gateway.web.rest_catalog import _CUSTOMER_OMIT

ETAG_HEADERS = {"ETag": "strong validator of the representation; send it back in If-None-Match"}
LINK_HEADERS = {**ETAG_HEADERS, "Link": 'RFC 8288 link to the next page (rel="next") when there is one'}
STATES = ", ".join(s.value for s in CouplingStatus)
STATE_ALTERNATIVES = "|".join(s.value for s in CouplingStatus)

PAGE_PARAMS = (
    Param(
        "first",
        "query",
        {"type": "integer", "minimum": 1, "maximum": 200},
        "page size (default 50, at most 200)",
    ),
    Param("after", "query", {"type": "string"}, "the endCursor of the previous page"),
)
FILTER_PARAMS = (
    Param(
        "orderBy",
        "query",
        {"type": "string", "enum": [f"{sign}{name}" for name in ORDERS for sign in ("", "-")]},
        "sort key; a - prefix reverses it; records with a blank number (name) come last either way",
    ),
    Param("search", "query", {"type": "string"}, "text search on number and name"),
    Param(
        "couplingState",
        "query",
        {"type": "string", "pattern": f"^\\s*({STATE_ALTERNATIVES})?\\s*(,\\s*({STATE_ALTERNATIVES})\\s*)*$"},
        f"comma-separated coupling states: {STATES}",
    ),
    Param(
        "changedSince", "query", {"type": "string", "format": "date-time"}, "changed at or after (ISO 8601)"
    ),
)
IF_NONE_MATCH = Param(
    "If-None-Match", "header", {"type": "string"}, "an ETag from an earlier answer: 304 if unchanged"
)


def record_key(name: str, what: str) -> Param:
    return Param(
        name,
        "path",
        {"type": "string", "minLength": 1},
        f"the {what}, or `crm:<GUID>` / `erp:<GUID>` for the record with that Dataverse / Business"
        " Central id (records created in the CRM have no number until the ERP has them)",
    )


BLOCKED = Param("blocked", "query", {"type": "boolean"}, "only blocked (true) or unblocked (false) records")


def _customer(registry: SchemaRegistry) -> Schema:
    return registry.ref(UnifiedCustomer, omit=_CUSTOMER_OMIT)


def _item_detail(registry: SchemaRegistry) -> Schema:
    units = {"type": "array", "items": registry.ref(UnifiedItemUnit)}
    return {
        "allOf": [
            registry.ref(UnifiedItem),
            {"type": "object", "properties": {"units": units}, "required": ["units"]},
        ]
    }


def _price_list_detail(registry: SchemaRegistry) -> Schema:
    lines = page_of(registry.ref(PriceListLine))
    return {
        "allOf": [
            registry.ref(UnifiedPriceList),
            {"type": "object", "properties": {"lines": lines}, "required": ["lines"]},
        ]
    }


OPERATIONS = (
    Operation(
        method="GET",
        path="/api/v1/customers",
        operation_id="listCustomers",
        summary="Unified customers, a cursor page at a time",
        tag="catalog",
        response=lambda r: page_of(_customer(r)),
        parameters=(
            *PAGE_PARAMS,
            *FILTER_PARAMS,
            Param("salespersonCode", "query", {"type": "string"}, "customers of this salesperson"),
            BLOCKED,
            IF_NONE_MATCH,
        ),
        errors=(304, 400),
        response_headers=LINK_HEADERS,
    ),
    Operation(
        method="GET",
        path="/api/v1/customers/{number}",
        operation_id="getCustomer",
        summary="One unified customer by its number or either side's id",
        tag="catalog",
        response=_customer,
        parameters=(record_key("number", "customer's number"), IF_NONE_MATCH),
        errors=(304, 400, 404),
        response_headers=ETAG_HEADERS,
    ),
    Operation(
        method="GET",
        path="/api/v1/items",
        operation_id="listItems",
        summary="Unified items, a cursor page at a time",
        tag="catalog",
        response=lambda r: page_of(r.ref(UnifiedItem)),
        parameters=(*PAGE_PARAMS, *FILTER_PARAMS, BLOCKED, IF_NONE_MATCH),
        errors=(304, 400),
        response_headers=LINK_HEADERS,
    ),
    Operation(
        method="GET",
        path="/api/v1/items/{number}",
        operation_id="getItem",
        summary="One unified item by its number or either side's id, with its units of measure",
        tag="catalog",
        response=_item_detail,
        parameters=(record_key("number", "item's number"), IF_NONE_MATCH),
        errors=(304, 400, 404),
        response_headers=ETAG_HEADERS,
    ),
    Operation(
        method="GET",
        path="/api/v1/price-lists",
        operation_id="listPriceLists",
        summary="Unified price lists, a cursor page at a time",
        tag="catalog",
        response=lambda r: page_of(r.ref(UnifiedPriceList)),
        parameters=(*PAGE_PARAMS, *FILTER_PARAMS, IF_NONE_MATCH),
        errors=(304, 400),
        response_headers=LINK_HEADERS,
    ),
    Operation(
        method="GET",
        path="/api/v1/price-lists/{code}",
        operation_id="getPriceList",
        summary="One price list (by its code or either side's id) with a cursor page of its lines",
        tag="catalog",
        response=_price_list_detail,
        parameters=(record_key("code", "price list's code"), *PAGE_PARAMS, IF_NONE_MATCH),
        errors=(304, 400, 404),
        response_headers=LINK_HEADERS,
    ),
)
