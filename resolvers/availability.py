"""Resolvers of live availability: `availability(items, locations, unit)` and `Item.availability`
(through a per-request DataLoader, so a list of items costs one service call, not one per item)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import strawberry
from graphql import GraphQLError

from gateway.domain import AvailabilityAnswer, UnifiedItem
from gateway.errors import AvailabilityUnavailable, InvalidInput
from resolvers.context import Info
from resolvers.loaders import AvailabilityKey

MAX_ITEMS = 500


@dataclass(frozen=True, slots=True)
class AvailabilityLine:
    """One item at one location, in the asked unit, with how fresh the figure is (as REST has it)."""

    item_number: str
    location_code: str
    unit_of_measure_code: str
    inventory: Decimal
    qty_on_sales_orders: Decimal
    qty_on_purchase_orders: Decimal
    available_quantity: Decimal
    projected_available_quantity: Decimal
    as_of: datetime
    age_seconds: float
    stale: bool

    @classmethod
    def of(cls, answer: AvailabilityAnswer) -> AvailabilityLine:
        a = answer.availability
        return cls(
            item_number=a.item_number,
            location_code=a.location_code,
            unit_of_measure_code=a.unit_of_measure_code,
            inventory=a.inventory,
            qty_on_sales_orders=a.qty_on_sales_orders,
            qty_on_purchase_orders=a.qty_on_purchase_orders,
            available_quantity=a.available_quantity,
            projected_available_quantity=a.projected_available_quantity,
            as_of=answer.as_of,
            age_seconds=round(answer.age_seconds, 3),
            stale=answer.stale,
        )


def _unavailable(exc: AvailabilityUnavailable) -> GraphQLError:
    # An upstream error would be masked as internal; this one is expected and says how old the data is.
    return GraphQLError(str(exc), extensions={"code": "UNAVAILABLE"})


def _codes(values: Sequence[str] | None, name: str) -> list[str] | None:
    if values is None:
        return None
    codes = [v.strip() for v in values if v.strip()]
    if any(len(c) > 50 for c in codes):
        raise InvalidInput(f"{name}: a code has at most 50 characters", field=name)
    return codes or None


async def availability(
    info: Info, items: list[str], locations: list[str] | None = None, unit: str | None = None
) -> list[AvailabilityLine]:
    numbers = _codes(items, "items")
    if not numbers:
        raise InvalidInput("items: give at least one item number", field="items")
    if len(numbers) > MAX_ITEMS:
        raise InvalidInput(f"items: at most {MAX_ITEMS} item numbers per request", field="items")
    try:
        answers = await info.context.services.availability.get(
            numbers, location_codes=_codes(locations, "locations"), unit=(unit or "").strip() or None
        )
    except AvailabilityUnavailable as exc:
        raise _unavailable(exc) from exc
    return [AvailabilityLine.of(a) for a in answers]


async def item_availability(
    root: strawberry.Parent[UnifiedItem],
    info: Info,
    locations: list[str] | None = None,
    unit: str | None = None,
) -> list[AvailabilityLine]:
    if root.erp_id is None:
        return []  # a Sales-only product has no stock in the ERP
    codes = _codes(locations, "locations")
    key = AvailabilityKey(root.number, tuple(codes) if codes else None, (unit or "").strip() or None)
    try:
        answers = await info.context.loaders.availability.load(key)
    except AvailabilityUnavailable as exc:
        raise _unavailable(exc) from exc
    return [AvailabilityLine.of(a) for a in answers]
