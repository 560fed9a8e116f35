"""REST: `GET /api/v1/availability?items=A,B&locations=EAST,WEST&unit=BOX` — live availability per
item and location from the availability service (cached, with its age)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from gateway.domain import AvailabilityAnswer, AvailabilityLine
from gateway.errors import InvalidInput
from gateway.services.container import Services
from gateway.web.json_schema import Schema
from gateway.web.openapi import Operation, Param
from gateway.web.pagination import check_query, json_number

MAX_ITEMS = 500
KNOWN_PARAMETERS = frozenset({"items", "locations", "unit"})


@dataclass(frozen=True, slots=True)
class AvailabilityResponse:
    items: tuple[AvailabilityLine, ...]


def _codes(request: Request, name: str, *, required: bool = False) -> list[str] | None:
    raw = request.query_params.get(name) or ""
    codes = [c.strip() for c in raw.split(",") if c.strip()]
    if not codes:
        if required:
            raise InvalidInput(f"{name} is required: a comma-separated list", field=name)
        return None
    if any(len(c) > 50 for c in codes):
        raise InvalidInput(f"{name}: a code has at most 50 characters", field=name)
    return codes


async def availability(request: Request) -> JSONResponse:
    check_query(request, KNOWN_PARAMETERS)
    items = _codes(request, "items", required=True) or []
    if len(items) > MAX_ITEMS:
        raise InvalidInput(f"items: at most {MAX_ITEMS} item numbers per request", field="items")
    unit = (request.query_params.get("unit") or "").strip() or None
    services: Services = request.app.state.services
    answers = await services.availability.get(items, location_codes=_codes(request, "locations"), unit=unit)
    return JSONResponse({"items": [line_json(a) for a in answers]}, headers={"Cache-Control": "no-store"})


def line_json(answer: AvailabilityAnswer) -> dict[str, Any]:
    """`to_json(AvailabilityLine.of(answer))` (the shape the OpenAPI document gives), built in one
    step: the generic walk over an intermediate AvailabilityLine was a sixth of the CPU of a
    cached answer. A test holds the two equal, keys and their order included."""
    row = answer.availability
    return {
        "itemNumber": row.item_number,
        "locationCode": row.location_code,
        "unitOfMeasureCode": row.unit_of_measure_code,
        "inventory": json_number(row.inventory),
        "qtyOnSalesOrders": json_number(row.qty_on_sales_orders),
        "qtyOnPurchaseOrders": json_number(row.qty_on_purchase_orders),
        "availableQuantity": json_number(row.available_quantity),
        "projectedAvailableQuantity": json_number(row.projected_available_quantity),
        "asOf": answer.as_of.isoformat(),
        "ageSeconds": round(answer.age_seconds, 3),
        "stale": answer.stale,
    }


def availability_routes() -> list[BaseRoute]:
    return [Route("/api/v1/availability", availability, methods=["GET"])]


def _csv(description: str) -> Schema:
    return {"type": "string", "description": description}


OPERATIONS = (
    Operation(
        method="GET",
        path="/api/v1/availability",
        operation_id="getAvailability",
        summary="Live availability per item and location, in the asked unit, with its age",
        tag="availability",
        response=AvailabilityResponse,
        parameters=(
            Param(
                "items",
                "query",
                {"type": "string", "minLength": 1},
                "comma-separated item numbers (at most 500)",
                required=True,
            ),
            Param("locations", "query", _csv("comma-separated location codes; all when absent")),
            Param("unit", "query", _csv("unit of measure code; each item's base unit when absent")),
        ),
        errors=(400, 503),
    ),
)
