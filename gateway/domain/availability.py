"""Availability (DOMAIN.md §2.1 itemAvailabilities and §10): as the ERP answers it, and as the
gateway serves it (converted to the asked unit, with its freshness)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Availability:
    item_number: str
    location_code: str
    unit_of_measure_code: str
    inventory: Decimal
    qty_on_sales_orders: Decimal
    qty_on_purchase_orders: Decimal
    available_quantity: Decimal
    projected_available_quantity: Decimal
    as_of: datetime


@dataclass(frozen=True, slots=True)
class AvailabilityAnswer:
    """Availability as the gateway serves it: converted to the asked unit, with its freshness.

    `as_of` is when the gateway fetched the value from the ERP (the ERP's own stamp stays in
    `availability.as_of`); `stale` is true once `age_seconds` passed the fresh period.
    """

    availability: Availability
    as_of: datetime
    age_seconds: float
    stale: bool


@dataclass(frozen=True, slots=True)
class AvailabilityLine(Availability):
    """One item at one location, in the asked unit, with how fresh the figure is: availability as
    REST and GraphQL serve it (an AvailabilityAnswer, flattened). Its `as_of` is the answer's (when
    the gateway fetched the figure), not the ERP's stamp."""

    age_seconds: float
    stale: bool

    @classmethod
    def of(cls, answer: AvailabilityAnswer) -> AvailabilityLine:
        values = {name: getattr(answer.availability, name) for name in _AVAILABILITY_FIELDS}
        values["as_of"] = answer.as_of
        return cls(**values, age_seconds=round(answer.age_seconds, 3), stale=answer.stale)


_AVAILABILITY_FIELDS = tuple(f.name for f in fields(Availability))
