"""Resolvers of best-price quotes: `price` (one line) and `prices` (a basket) over the pricing
service. Expected failures (bad input, unknown or foreign customer, app keys) come back as data."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from gateway.domain import PriceLineRef
from gateway.errors import InvalidInput, NotFound, PermissionDenied
from gateway.services.pricing import Quote
from resolvers.context import Info
from schema.inputs import PricesInput

__all__ = ["PriceFailure", "PricedLine", "Quote", "price", "prices"]


@dataclass(frozen=True, slots=True)
class PriceFailure:
    """Why no price: `code` is INVALID_INPUT, NOT_FOUND or FORBIDDEN; `field` names the argument."""

    code: str
    message: str
    field: str | None = None


@dataclass(frozen=True, slots=True)
class PricedLine:
    """One line priced on its own (`price`): the line and its document's terms, flat."""

    customer_number: str
    currency_code: str
    date: date
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


# The service names REST body fields; GraphQL arguments are named differently.
_ARGUMENTS: tuple[tuple[str, str], ...] = (
    ("customerNumber", "customer"),
    ("currencyCode", "currency"),
    ("itemNumber", "item"),
    ("unitOfMeasureCode", "unit"),
)


def _argument(field: str | None, *, single: bool) -> str | None:
    if field is None:
        return None
    for service_name, argument in _ARGUMENTS:
        field = field.replace(service_name, argument)
    return re.sub(r"^lines\[0\]\.", "", field) if single else field


def _message(text: str, *, single: bool) -> str:
    """The service's message in GraphQL's words: `lines[1].unitOfMeasureCode` is `lines[1].unit`,
    and `price` has no lines at all (`lines[0]: item 'X' not found` is `item 'X' not found`)."""
    text = re.sub(
        r"lines\[(\d+)\]\.(\w+)",
        lambda m: f"lines[{m.group(1)}].{_argument(m.group(2), single=False)}",
        text,
    )
    return re.sub(r"lines\[0\](: |\.)", "", text) if single else text


def _failure(exc: Exception, *, single: bool) -> PriceFailure:
    message = _message(str(exc), single=single)
    if isinstance(exc, InvalidInput):
        return PriceFailure("INVALID_INPUT", message, _argument(exc.field, single=single))
    if isinstance(exc, PermissionDenied):
        return PriceFailure("FORBIDDEN", message)
    return PriceFailure("NOT_FOUND", message)


async def price(
    info: Info,
    customer: str,
    item: str,
    quantity: Decimal,
    unit: str | None = None,
    currency: str | None = None,
    date: date | None = None,
) -> PricedLine | PriceFailure:
    try:
        quote = await info.context.services.pricing.quote(
            info.context.principal,
            customer_number=customer,
            currency_code=currency,
            on_date=date,
            lines=[(item, quantity, unit)],
        )
    except (InvalidInput, NotFound, PermissionDenied) as exc:
        return _failure(exc, single=True)
    (line,) = quote.lines
    return PricedLine(
        customer_number=quote.customer_number,
        currency_code=quote.currency_code,
        date=quote.date,
        item_number=line.item_number,
        quantity=line.quantity,
        unit_of_measure_code=line.unit_of_measure_code,
        unit_price=line.unit_price,
        line_discount_percent=line.line_discount_percent,
        line_amount=line.line_amount,
        price_source=line.price_source,
        discount_source=line.discount_source,
        price_includes_tax=line.price_includes_tax,
        notes=line.notes,
    )


async def prices(info: Info, input: PricesInput) -> Quote | PriceFailure:
    try:
        return await info.context.services.pricing.quote(
            info.context.principal,
            customer_number=input.customer,
            currency_code=input.currency,
            on_date=input.on_date,
            lines=[(ln.item, ln.quantity, ln.unit) for ln in input.lines],
        )
    except (InvalidInput, NotFound, PermissionDenied) as exc:
        return _failure(exc, single=False)
