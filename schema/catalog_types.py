"""GraphQL object types of the unified catalog: customers, items, price lists and their lines,
salespeople, currencies, units. Resolvers hand back domain objects; relations go through DataLoaders."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import strawberry

from gateway.domain import (
    UnifiedCurrency,
    UnifiedCustomer,
    UnifiedItem,
    UnifiedItemUnit,
    UnifiedPriceList,
    UnifiedSalesperson,
    UnifiedUnit,
)
from resolvers import catalog as r
from resolvers.availability import item_availability
from schema.availability_types import AvailabilityLine
from schema.enums import CouplingState
from schema.pagination import Connection

_LINES_DOC = "Paged with `first` (at most 200) and `after`."


# Types implementing it name the domain class they are built from (is_type_of), as resolvers
# return domain objects rather than these classes.
@strawberry.interface(description="A record that may exist in Business Central, in Sales, or in both.")
class Unified:
    erp_id: strawberry.ID | None = strawberry.field(
        description="Business Central SystemId, if on the ERP side."
    )
    crm_id: strawberry.ID | None = strawberry.field(description="Dataverse id, if on the CRM side.")
    coupling_state: CouplingState  # type: ignore[valid-type]
    last_synchronized_at: datetime | None = strawberry.field(
        description="When the pair was last synchronized (one-sided records: when the gateway last read it)."
    )


@strawberry.type(description="A salesperson (BC) and/or user (Sales).")
class Salesperson(Unified):
    @classmethod
    def is_type_of(cls, obj: Any, _info: Any) -> bool:
        return isinstance(obj, (cls, UnifiedSalesperson))

    code: str
    name: str
    email: str
    phone: str
    job_title: str
    blocked: bool
    modified_at: datetime | None


@strawberry.type(description="A currency; blank code fields elsewhere mean the local currency.")
class Currency(Unified):
    @classmethod
    def is_type_of(cls, obj: Any, _info: Any) -> bool:
        return isinstance(obj, (cls, UnifiedCurrency))

    code: str
    name: str
    symbol: str
    amount_rounding_precision: Decimal
    unit_amount_rounding_precision: Decimal


@strawberry.type(description="A unit of measure.")
class Unit(Unified):
    @classmethod
    def is_type_of(cls, obj: Any, _info: Any) -> bool:
        return isinstance(obj, (cls, UnifiedUnit))

    code: str
    name: str
    international_standard_code: str
    symbol: str


@strawberry.type(description="A unit an item is sold in, with how many base units it holds.")
class ItemUnit(Unified):
    @classmethod
    def is_type_of(cls, obj: Any, _info: Any) -> bool:
        return isinstance(obj, (cls, UnifiedItemUnit))

    code: str
    qty_per_unit_of_measure: Decimal


@strawberry.type(description="A customer price group.")
class PriceGroup:
    code: str
    description: str
    allow_line_discount: bool
    price_includes_tax: bool


@strawberry.type(description="One price list line (a price or a discount, for an item or a discount group).")
class PriceLine:
    price_list_code: str
    line_no: int
    source_type: str
    source_no: str
    asset_type: str
    asset_no: str
    amount_type: str
    unit_of_measure_code: str = strawberry.field(description='"" = any unit (price per base unit).')
    currency_code: str = strawberry.field(description='"" = local currency.')
    starting_date: date | None
    ending_date: date | None
    minimum_quantity: Decimal
    unit_price: Decimal
    line_discount_percent: Decimal
    allow_line_discount: bool
    price_includes_tax: bool
    status: str = strawberry.field(description="Its price list's status.")
    # An annotation, not graphql_type=: PriceList is declared below and strawberry resolves the name late.
    price_list: "PriceList | None" = strawberry.field(resolver=r.line_price_list)  # type: ignore[assignment]


@strawberry.type(description="A price list (BC price list header) and/or price level (Sales).")
class PriceList(Unified):
    @classmethod
    def is_type_of(cls, obj: Any, _info: Any) -> bool:
        return isinstance(obj, (cls, UnifiedPriceList))

    code: str
    description: str
    source_type: str
    source_no: str
    currency_code: str
    starting_date: date | None
    ending_date: date | None
    status: str
    price_includes_tax: bool
    allow_line_discount: bool
    modified_at: datetime | None
    currency = strawberry.field(graphql_type=Currency | None, resolver=r.price_list_currency)
    lines = strawberry.field(
        graphql_type=Connection[PriceLine], resolver=r.price_list_lines, description=_LINES_DOC
    )


@strawberry.type(description="A customer (BC) and/or account (Sales).")
class Customer(Unified):
    @classmethod
    def is_type_of(cls, obj: Any, _info: Any) -> bool:
        return isinstance(obj, (cls, UnifiedCustomer))

    number: str = strawberry.field(
        description="The customer number; blank for an account created in Sales without one that the "
        "ERP does not have yet (look it up by crmId)."
    )
    name: str
    type: str
    address_line1: str
    address_line2: str
    city: str
    state: str
    country: str
    postal_code: str
    phone: str
    email: str
    website: str
    salesperson_code: str
    currency_code: str
    credit_limit: Decimal
    balance_due: Decimal
    blocked: str = strawberry.field(description='BC "Blocked": " " (not), "Ship", "Invoice" or "All".')
    price_group_code: str
    discount_group_code: str
    allow_line_discount: bool
    modified_at: datetime | None
    salesperson = strawberry.field(graphql_type=Salesperson | None, resolver=r.customer_salesperson)
    currency = strawberry.field(graphql_type=Currency | None, resolver=r.customer_currency)
    price_group = strawberry.field(graphql_type=PriceGroup | None, resolver=r.customer_price_group)
    default_price_list = strawberry.field(
        graphql_type=PriceList | None,
        resolver=r.customer_price_list,
        description="The price list of its price group (BC), else the account's default price level (Sales).",
    )
    price_lines = strawberry.field(
        graphql_type=Connection[PriceLine],
        resolver=r.customer_price_lines,
        description="Lines whose source applies: all customers, this customer, its price and discount "
        "groups. " + _LINES_DOC,
    )


@strawberry.type(description="An item (BC) and/or product (Sales).")
class Item(Unified):
    @classmethod
    def is_type_of(cls, obj: Any, _info: Any) -> bool:
        return isinstance(obj, (cls, UnifiedItem))

    number: str
    name: str
    type: str
    item_category_code: str
    blocked: bool
    gtin: str
    inventory: Decimal = strawberry.field(description="On hand, all locations, base unit, as last synced.")
    unit_price: Decimal
    price_includes_tax: bool
    unit_cost: Decimal
    base_unit_of_measure_code: str
    discount_group_code: str
    sales_unit_of_measure_code: str
    modified_at: datetime | None
    units = strawberry.field(graphql_type=list[ItemUnit], resolver=r.item_units)
    price_lines = strawberry.field(
        graphql_type=Connection[PriceLine],
        resolver=r.item_price_lines,
        description="Item-level price and discount lines. " + _LINES_DOC,
    )
    availability = strawberry.field(
        graphql_type=list[AvailabilityLine],
        resolver=item_availability,
        description="Live availability per location (all when `locations` is absent) in `unit` (default the "
        "base unit); the items of one request are fetched together.",
    )
