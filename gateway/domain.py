"""Plain, frozen value objects shared by every layer: records as the two upstreams hold them,
the unified read model, and the inputs and answers of pricing and availability. No I/O here.

Money and quantities are `Decimal`; timestamps are timezone-aware UTC `datetime`s; dates are `date`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any


class Side(enum.StrEnum):
    ERP = "erp"
    CRM = "crm"


# --------------------------------------------------------------------------------------------
# Generic upstream records (what the sync engine moves around)


@dataclass(frozen=True, slots=True)
class UpstreamRecord:
    """One entity as an upstream returned it: its key, concurrency token and properties."""

    entity_set: str
    id: str
    values: Mapping[str, Any]
    etag: str | None = None
    modified_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DeletedRecord:
    """A Dataverse change-tracking `$deletedEntity` row (or a BC `deleted` notification)."""

    entity_set: str
    id: str


@dataclass(frozen=True, slots=True)
class WebhookSubscription:
    """A Business Central webhook subscription as BC lists it (`api/v2.0/subscriptions`)."""

    id: str
    resource: str
    """`api/v2.0/companies(<id>)/customers`: the collection whose changes are notified."""
    notification_url: str
    client_state: str
    expires_at: datetime
    etag: str


@dataclass(frozen=True, slots=True)
class BatchResult:
    """The outcome of one operation inside a `$batch`."""

    index: int
    status: int
    body: Mapping[str, Any] | None = None
    etag: str | None = None
    error_code: str | None = None
    error_message: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


# --------------------------------------------------------------------------------------------
# Who we are connected to


@dataclass(frozen=True, slots=True)
class Company:
    """A Business Central company (from `companies` and `companyInformation`)."""

    id: str
    name: str
    display_name: str
    currency_code: str = ""


@dataclass(frozen=True, slots=True)
class Organisation:
    """A Dataverse organisation, as `WhoAmI` and the base currency tell it."""

    url: str
    organization_id: str
    user_id: str
    base_currency_code: str = ""


# --------------------------------------------------------------------------------------------
# Reference data


@dataclass(frozen=True, slots=True)
class Currency:
    code: str
    name: str
    symbol: str = ""
    amount_decimal_places: str = "2:2"
    amount_rounding_precision: Decimal = Decimal("0.01")
    unit_amount_rounding_precision: Decimal = Decimal("0.00001")


@dataclass(frozen=True, slots=True)
class ExchangeRate:
    """BC semantics: `exchange_rate_amount` units of `currency_code` equal
    `relational_exchange_rate_amount` units of local currency, from `starting_date` on."""

    currency_code: str
    starting_date: date
    exchange_rate_amount: Decimal
    relational_exchange_rate_amount: Decimal


@dataclass(frozen=True, slots=True)
class UnitOfMeasure:
    code: str
    name: str
    international_standard_code: str = ""


@dataclass(frozen=True, slots=True)
class ItemUnit:
    item_number: str
    code: str
    qty_per_unit_of_measure: Decimal


@dataclass(frozen=True, slots=True)
class Salesperson:
    code: str
    name: str
    email: str = ""
    phone: str = ""
    blocked: bool = False


@dataclass(frozen=True, slots=True)
class Location:
    code: str
    name: str


# --------------------------------------------------------------------------------------------
# Customers and items


@dataclass(frozen=True, slots=True)
class Customer:
    """A Business Central customer (API v2.0 `customers`)."""

    erp_id: str
    number: str
    name: str
    address_line1: str = ""
    address_line2: str = ""
    city: str = ""
    state: str = ""
    country: str = ""
    postal_code: str = ""
    phone: str = ""
    email: str = ""
    website: str = ""
    salesperson_code: str = ""
    currency_code: str = ""
    credit_limit: Decimal = Decimal(0)
    balance_due: Decimal = Decimal(0)
    blocked: str = " "
    modified_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Item:
    """A Business Central item (API v2.0 `items`)."""

    erp_id: str
    number: str
    name: str
    type: str = "Inventory"
    item_category_code: str = ""
    blocked: bool = False
    gtin: str = ""
    inventory: Decimal = Decimal(0)
    unit_price: Decimal = Decimal(0)
    price_includes_tax: bool = False
    unit_cost: Decimal = Decimal(0)
    base_unit_of_measure_code: str = ""
    modified_at: datetime | None = None


# --------------------------------------------------------------------------------------------
# Pricing (DOMAIN.md §2.1 and §9)


class PriceSourceType(enum.StrEnum):
    ALL_CUSTOMERS = "AllCustomers"
    CUSTOMER = "Customer"
    CUSTOMER_PRICE_GROUP = "CustomerPriceGroup"
    CUSTOMER_DISCOUNT_GROUP = "CustomerDiscountGroup"


class PriceAssetType(enum.StrEnum):
    ITEM = "Item"
    ITEM_DISCOUNT_GROUP = "ItemDiscountGroup"


class PriceAmountType(enum.StrEnum):
    PRICE = "Price"
    DISCOUNT = "Discount"
    ANY = "Any"


class PriceListStatus(enum.StrEnum):
    DRAFT = "Draft"
    ACTIVE = "Active"
    INACTIVE = "Inactive"


@dataclass(frozen=True, slots=True)
class PriceListHeader:
    code: str
    description: str
    source_type: PriceSourceType
    source_no: str = ""
    currency_code: str = ""
    starting_date: date | None = None
    ending_date: date | None = None
    status: PriceListStatus = PriceListStatus.ACTIVE
    price_includes_tax: bool = False
    allow_line_discount: bool = True


@dataclass(frozen=True, slots=True)
class PriceListLine:
    price_list_code: str
    line_no: int
    source_type: PriceSourceType
    source_no: str
    asset_type: PriceAssetType
    asset_no: str
    amount_type: PriceAmountType
    unit_of_measure_code: str = ""
    currency_code: str = ""
    starting_date: date | None = None
    ending_date: date | None = None
    minimum_quantity: Decimal = Decimal(0)
    unit_price: Decimal = Decimal(0)
    line_discount_percent: Decimal = Decimal(0)
    allow_line_discount: bool = True
    price_includes_tax: bool = False
    status: PriceListStatus = PriceListStatus.ACTIVE
    """The header's status, copied onto the line so that a line can be judged on its own."""


@dataclass(frozen=True, slots=True)
class CustomerPricing:
    """A customer's pricing profile (integration API `customerPricing`)."""

    customer_number: str
    customer_price_group_code: str = ""
    customer_discount_group_code: str = ""
    allow_line_discount: bool = True


@dataclass(frozen=True, slots=True)
class ItemPricing:
    """An item's pricing profile (integration API `itemPricing`)."""

    item_number: str
    item_discount_group_code: str = ""
    sales_unit_of_measure_code: str = ""


@dataclass(frozen=True, slots=True)
class PriceLineRef:
    price_list_code: str
    line_no: int


@dataclass(frozen=True, slots=True)
class PriceRequest:
    customer_number: str
    item_number: str
    quantity: Decimal
    unit_of_measure_code: str
    currency_code: str
    """"" means the local currency."""
    on_date: date


@dataclass(frozen=True, slots=True)
class PriceQuote:
    item_number: str
    quantity: Decimal
    unit_of_measure_code: str
    currency_code: str
    unit_price: Decimal
    line_discount_percent: Decimal
    line_amount: Decimal
    price_source: PriceLineRef | None = None
    discount_source: PriceLineRef | None = None
    price_includes_tax: bool = False
    """True when the winning line's price includes tax (quotes exclude tax; this flags it)."""
    notes: tuple[str, ...] = field(default=())


# --------------------------------------------------------------------------------------------
# Availability (DOMAIN.md §2.1 itemAvailabilities and §10)


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
class AvailabilityLine:
    """One item at one location, in the asked unit, with how fresh the figure is: availability as
    REST and GraphQL serve it (an AvailabilityAnswer, flattened)."""

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


# --------------------------------------------------------------------------------------------
# Callers (who is asking; the services decide what each role may do)


class Role(enum.StrEnum):
    ADMIN = "admin"
    SALES = "sales"
    APP = "app"


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: the API key's id, role and, for sales keys, a salesperson code."""

    key_id: str
    role: Role
    name: str = ""
    salesperson_code: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


@dataclass(frozen=True, slots=True)
class UpstreamStatus:
    """Whether one upstream answered, and who it is, as of `checked_at`."""

    service: Side
    reachable: bool
    checked_at: datetime
    error: str | None = None
    company: Company | None = None
    organisation: Organisation | None = None


# --------------------------------------------------------------------------------------------
# The unified read model (what the catalog API serves from the store)


class CouplingStatus(enum.StrEnum):
    """Where a unified record stands: on both sides and coupled, on one side only, or in trouble."""

    COUPLED = "coupled"
    ERP_ONLY = "erp_only"
    CRM_ONLY = "crm_only"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class UnifiedCustomer:
    """A customer as the gateway serves it: the ERP customer (or, when CRM-only, the account) plus
    both ids, the coupling state and when the pair was last synchronized (for a one-sided record:
    when the gateway last read it)."""

    erp_id: str | None
    crm_id: str | None
    coupling_state: CouplingStatus
    last_synchronized_at: datetime | None
    number: str
    name: str
    type: str = ""
    address_line1: str = ""
    address_line2: str = ""
    city: str = ""
    state: str = ""
    country: str = ""
    postal_code: str = ""
    phone: str = ""
    email: str = ""
    website: str = ""
    salesperson_code: str = ""
    currency_code: str = ""
    credit_limit: Decimal = Decimal(0)
    balance_due: Decimal = Decimal(0)
    blocked: str = " "
    price_group_code: str = ""
    discount_group_code: str = ""
    allow_line_discount: bool = True
    crm_owner_id: str | None = None
    crm_default_price_list_id: str | None = None
    modified_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class UnifiedItem:
    erp_id: str | None
    crm_id: str | None
    coupling_state: CouplingStatus
    last_synchronized_at: datetime | None
    number: str
    name: str
    type: str = ""
    item_category_code: str = ""
    blocked: bool = False
    gtin: str = ""
    inventory: Decimal = Decimal(0)
    unit_price: Decimal = Decimal(0)
    price_includes_tax: bool = False
    unit_cost: Decimal = Decimal(0)
    base_unit_of_measure_code: str = ""
    discount_group_code: str = ""
    sales_unit_of_measure_code: str = ""
    modified_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class UnifiedPriceList:
    erp_id: str | None
    crm_id: str | None
    coupling_state: CouplingStatus
    last_synchronized_at: datetime | None
    code: str
    description: str
    source_type: str = ""
    source_no: str = ""
    currency_code: str = ""
    starting_date: date | None = None
    ending_date: date | None = None
    status: str = "Active"
    price_includes_tax: bool = False
    allow_line_discount: bool = True
    modified_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class UnifiedSalesperson:
    erp_id: str | None
    crm_id: str | None
    coupling_state: CouplingStatus
    last_synchronized_at: datetime | None
    code: str
    name: str
    email: str = ""
    phone: str = ""
    job_title: str = ""
    blocked: bool = False
    modified_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class UnifiedCurrency:
    erp_id: str | None
    crm_id: str | None
    coupling_state: CouplingStatus
    last_synchronized_at: datetime | None
    code: str
    name: str
    symbol: str = ""
    amount_rounding_precision: Decimal = Decimal("0.01")
    unit_amount_rounding_precision: Decimal = Decimal("0.00001")
    modified_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class UnifiedUnit:
    """A unit of measure (ERP `unitsOfMeasure`); units reach Sales per item (ITEM UOM), not here."""

    erp_id: str | None
    crm_id: str | None
    coupling_state: CouplingStatus
    last_synchronized_at: datetime | None
    code: str
    name: str
    international_standard_code: str = ""
    symbol: str = ""


@dataclass(frozen=True, slots=True)
class UnifiedItemUnit:
    """One unit an item is sold in, coupled to a Dataverse uom through ITEM UOM."""

    erp_id: str | None
    crm_id: str | None
    coupling_state: CouplingStatus
    last_synchronized_at: datetime | None
    item_number: str
    code: str
    qty_per_unit_of_measure: Decimal


@dataclass(frozen=True, slots=True)
class PricingGroup:
    """A customer price group, customer discount group or item discount group."""

    code: str
    description: str
    allow_line_discount: bool = True
    price_includes_tax: bool = False


# ---------------------------------------------------------------------------------------------
# Sales orders created by salespeople through the gateway (issue 4 §2, DOMAIN.md §8)


class SalesOrderState(enum.StrEnum):
    """A Dataverse sales order's `statecode`: 0 Active, 1 Submitted, 2 Canceled, 3 Fulfilled, 4 Invoiced."""

    ACTIVE = "active"
    SUBMITTED = "submitted"
    CANCELED = "canceled"
    FULFILLED = "fulfilled"
    INVOICED = "invoiced"


@dataclass(frozen=True, slots=True)
class SalesOrderLine:
    """One line as it stands in Sales: the gateway's best price as the (overridden) unit price and
    the line discount as a manual discount amount."""

    sequence: int
    item_number: str
    unit_of_measure_code: str
    quantity: Decimal
    unit_price: Decimal
    line_discount_percent: Decimal
    discount_amount: Decimal
    line_amount: Decimal
    crm_id: str


@dataclass(frozen=True, slots=True)
class SalesOrder:
    """A sales order in Sales (Dataverse); `created` is False when an earlier call with the same
    idempotency key had already created it."""

    crm_id: str
    order_number: str
    name: str
    state: SalesOrderState
    status_code: int
    customer_number: str
    crm_account_id: str
    currency_code: str
    price_list_code: str | None
    requested_delivery_date: date | None
    lines: tuple[SalesOrderLine, ...]
    total_amount: Decimal
    total_discount_amount: Decimal
    created: bool
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class OrderRejection:
    """Why an order was not created: an expected failure, answered as data (never an exception)."""

    message: str


@dataclass(frozen=True, slots=True)
class OrderNotPermitted(OrderRejection):
    role: str


@dataclass(frozen=True, slots=True)
class UnknownCustomer(OrderRejection):
    customer_number: str


@dataclass(frozen=True, slots=True)
class CustomerNotCoupled(OrderRejection):
    customer_number: str
    erp_id: str | None
    crm_id: str | None


@dataclass(frozen=True, slots=True)
class CustomerBlocked(OrderRejection):
    customer_number: str
    blocked: str


@dataclass(frozen=True, slots=True)
class UnknownItem(OrderRejection):
    line_index: int
    item_number: str


@dataclass(frozen=True, slots=True)
class ItemNotCoupled(OrderRejection):
    line_index: int
    item_number: str


@dataclass(frozen=True, slots=True)
class ItemBlocked(OrderRejection):
    line_index: int
    item_number: str


@dataclass(frozen=True, slots=True)
class InvalidOrder(OrderRejection):
    field: str
    """The input field at fault, e.g. `lines[2].quantity`, `requestedDeliveryDate`, `idempotencyKey`."""
