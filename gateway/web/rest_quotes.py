"""REST: `POST /api/v1/prices/quote` — best prices for a customer's basket (issue §5), validated
strictly (pydantic) and priced by the pricing service; its OpenAPI operation is declared here."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictStr, ValidationError
from pydantic.alias_generators import to_camel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gateway.domain import PriceLineRef, PriceQuote
from gateway.errors import InvalidInput
from gateway.services.container import Services
from gateway.services.pricing import MAX_LINES, MAX_QUANTITY, Quote
from gateway.web.json_schema import Schema
from gateway.web.openapi import Operation
from gateway.web.pagination import to_json
from gateway.web.problems import problem

MAX_BODY_BYTES = 256 * 1024
_CODE = 50  # BC item numbers are Code[20], units and currencies Code[10]: 50 leaves room, bounds input


def _json_number(value: Any) -> Any:
    # The contract says numbers are JSON numbers; "12" (a string) or true is a client bug.
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError("must be a JSON number")
    # str() first: a float's shortest repr, so 0.1 stays 0.1 instead of its binary expansion.
    return value if isinstance(value, Decimal) else Decimal(str(value))


Quantity = Annotated[
    Decimal,
    BeforeValidator(_json_number),
    Field(gt=0, le=MAX_QUANTITY, decimal_places=5, allow_inf_nan=False),
]
Code = Annotated[StrictStr, Field(min_length=1, max_length=_CODE)]


class _Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", alias_generator=to_camel, frozen=True)


class QuoteLineBody(_Body):
    item_number: Code
    quantity: Quantity
    unit_of_measure_code: Code | None = None


class QuoteBody(_Body):
    customer_number: Code
    currency_code: Annotated[StrictStr, Field(max_length=_CODE)] | None = None
    date: dt.date | None = None
    lines: Annotated[list[QuoteLineBody], Field(min_length=1, max_length=MAX_LINES)]


@dataclass(frozen=True, slots=True)
class QuoteLineResponse:
    """One priced line. `priceSource`/`discountSource` name the winning price list lines (null: the
    item's unit price / no discount); `notes` say why in words; quotes exclude tax, and
    `priceIncludesTax` flags a winning price that includes it."""

    item_number: str
    quantity: Decimal
    unit_of_measure_code: str
    unit_price: Decimal
    line_discount_percent: Decimal
    line_amount: Decimal
    price_source: PriceLineRef | None
    discount_source: PriceLineRef | None
    price_includes_tax: bool
    notes: tuple[str, ...]

    @classmethod
    def of(cls, quote: PriceQuote) -> QuoteLineResponse:
        return cls(
            item_number=quote.item_number,
            quantity=quote.quantity,
            unit_of_measure_code=quote.unit_of_measure_code,
            unit_price=quote.unit_price,
            line_discount_percent=quote.line_discount_percent,
            line_amount=quote.line_amount,
            price_source=quote.price_source,
            discount_source=quote.discount_source,
            price_includes_tax=quote.price_includes_tax,
            notes=quote.notes,
        )


@dataclass(frozen=True, slots=True)
class QuoteResponse:
    customer_number: str
    currency_code: str
    date: dt.date
    lines: tuple[QuoteLineResponse, ...]
    total_amount: Decimal

    @classmethod
    def of(cls, quote: Quote) -> QuoteResponse:
        return cls(
            customer_number=quote.customer_number,
            currency_code=quote.currency_code,
            date=quote.date,
            lines=tuple(QuoteLineResponse.of(q) for q in quote.lines),
            total_amount=quote.total_amount,
        )


def _field(loc: tuple[int | str, ...]) -> str:
    """("lines", 0, "quantity") -> "lines[0].quantity", as the problem's `field`."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "body"


def parse_body(raw: bytes) -> QuoteBody:
    try:
        return QuoteBody.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        if first["type"] == "json_invalid":
            raise InvalidInput("the body is not valid JSON", field="body") from None
        loc = tuple(p for p in first["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        name = _field(loc)
        raise InvalidInput(f"{name}: {first['msg']}", field=name) from None


async def quote(request: Request) -> Response:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return problem(413, "Payload Too Large", f"a quote body may have at most {MAX_BODY_BYTES} bytes")
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        return problem(413, "Payload Too Large", f"a quote body may have at most {MAX_BODY_BYTES} bytes")
    body = parse_body(raw)
    services: Services = request.app.state.services
    answer = await services.pricing.quote(
        request.user.principal,
        customer_number=body.customer_number,
        currency_code=body.currency_code,
        on_date=body.date,
        lines=[(ln.item_number, ln.quantity, ln.unit_of_measure_code) for ln in body.lines],
    )
    return JSONResponse(to_json(QuoteResponse.of(answer)), headers={"Cache-Control": "no-store"})


def quote_routes() -> list[BaseRoute]:
    return [Route("/api/v1/prices/quote", quote, methods=["POST"])]


def _code(description: str) -> Schema:
    return {"type": "string", "minLength": 1, "maxLength": _CODE, "description": description}


REQUEST_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["customerNumber", "lines"],
    "properties": {
        "customerNumber": _code("the customer's number"),
        "currencyCode": {
            "type": ["string", "null"],
            "maxLength": _CODE,
            "description": "document currency; default the customer's (blank there: the local currency)",
        },
        "date": {
            "type": ["string", "null"],
            "format": "date",
            "description": "pricing date; default today (UTC)",
        },
        "lines": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_LINES,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["itemNumber", "quantity"],
                "properties": {
                    "itemNumber": _code("the item's number"),
                    "quantity": {
                        "type": "number",
                        "exclusiveMinimum": 0,
                        "maximum": int(MAX_QUANTITY),
                        "description": "in the line's unit; at most 5 decimals",
                    },
                    "unitOfMeasureCode": {
                        "anyOf": [_code("unit of measure"), {"type": "null"}],
                        "description": "default the item's sales unit, else its base unit",
                    },
                },
            },
        },
    },
}

OPERATIONS = (
    Operation(
        method="POST",
        path="/api/v1/prices/quote",
        operation_id="quotePrices",
        summary="Best prices (Business Central's lowest-price rules) for a customer's basket",
        tag="pricing",
        request_body=REQUEST_SCHEMA,
        response=QuoteResponse,
        # No upstream call on this path: 503 while the sync has not read the local currency.
        errors=(400, 403, 404, 413, 503),
    ),
)
