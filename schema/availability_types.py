"""GraphQL type of live availability (`availability`, `Item.availability`): the fields of the REST
availability answer, per item, location and unit, with how fresh the figure is."""

from datetime import datetime
from decimal import Decimal
from typing import Any

import strawberry

from gateway.domain import AvailabilityLine as Line


@strawberry.type(
    description="One item at one location, in the asked unit, live from the ERP (cached for seconds)."
)
class AvailabilityLine:
    @classmethod
    def is_type_of(cls, obj: Any, _info: Any) -> bool:
        return isinstance(obj, (cls, Line))

    item_number: str
    location_code: str
    unit_of_measure_code: str
    inventory: Decimal
    qty_on_sales_orders: Decimal
    qty_on_purchase_orders: Decimal
    available_quantity: Decimal
    projected_available_quantity: Decimal
    as_of: datetime = strawberry.field(description="When the gateway fetched the figure from the ERP.")
    age_seconds: float
    stale: bool = strawberry.field(description="True once the figure is older than the fresh period.")
