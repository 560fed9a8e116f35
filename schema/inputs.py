"""GraphQL input types: the typed filters of the catalog lists (resolvers may import these)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import strawberry

from schema.enums import CouplingState


@strawberry.input(description="Narrows a customer list; every field given must match.")
class CustomerFilter:
    search: str | None = strawberry.field(default=None, description="Part of the number or name, any case.")
    salesperson_code: str | None = None
    blocked: bool | None = strawberry.field(default=None, description="True: blocked in any way.")
    coupling_state: list[CouplingState] | None = None  # type: ignore[valid-type]
    changed_since: datetime | None = strawberry.field(
        default=None, description="Changed on either side at or after this time."
    )


@strawberry.input(description="Narrows an item or salesperson list; every field given must match.")
class CatalogFilter:
    search: str | None = strawberry.field(
        default=None, description="Part of the number/code or name, any case."
    )
    blocked: bool | None = None
    coupling_state: list[CouplingState] | None = None  # type: ignore[valid-type]
    changed_since: datetime | None = None


@strawberry.input(description="Narrows a price list list; every field given must match.")
class PriceListFilter:
    search: str | None = strawberry.field(
        default=None, description="Part of the code or description, any case."
    )
    coupling_state: list[CouplingState] | None = None  # type: ignore[valid-type]
    changed_since: datetime | None = None


@strawberry.input(description="One line of a basket to price.")
class PriceLineInput:
    item: str = strawberry.field(description="The item's number.")
    quantity: Decimal = strawberry.field(description="In the line's unit; positive, at most 5 decimals.")
    unit: str | None = strawberry.field(
        default=None, description="Default: the item's sales unit, else base unit."
    )


@strawberry.input(description="A basket to price for one customer (the REST quote body).")
class PricesInput:
    customer: str = strawberry.field(description="The customer's number.")
    lines: list[PriceLineInput] = strawberry.field(description="1 to 200 lines.")
    currency: str | None = strawberry.field(
        default=None, description="Default: the customer's currency (blank there: the local currency)."
    )
    on_date: date | None = strawberry.field(
        name="date", default=None, description="Pricing date; default today (UTC)."
    )


@strawberry.input(description="One line of a sales order.")
class SalesOrderLineInput:
    item_number: str = strawberry.field(description="The item's number (coupled to a Sales product).")
    quantity: Decimal = strawberry.field(description="In the line's unit; positive.")
    unit_of_measure_code: str | None = strawberry.field(
        default=None, description="Default: the item's sales unit, else its base unit."
    )


@strawberry.input(
    description="A sales order to create in Sales, submitted, for the sync to carry to the ERP."
)
class CreateSalesOrderInput:
    customer_number: str = strawberry.field(description="The customer's number (coupled to a Sales account).")
    lines: list[SalesOrderLineInput] = strawberry.field(description="1 to 100 lines.")
    requested_delivery_date: date | None = strawberry.field(
        default=None, description="Not in the past, at most two years ahead."
    )
    name: str | None = strawberry.field(
        default=None, description="Default: the customer's name and order number."
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Up to 100 characters, unique per order for your API key: a retry with the same key "
        "answers the order the first call created instead of creating another.",
    )
