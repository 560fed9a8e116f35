"""Resolvers of live availability: `availability(items, locations, unit)` and `Item.availability`
(through a per-request DataLoader, so a list of items costs one service call, not one per item)."""

from __future__ import annotations

from collections.abc import Sequence

import strawberry
from graphql import GraphQLError

from gateway.domain import AvailabilityLine, UnifiedItem
from gateway.errors import AvailabilityUnavailable, InvalidInput
from resolvers.context import Info
from resolvers.loaders import AvailabilityKey

MAX_ITEMS = 500


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
