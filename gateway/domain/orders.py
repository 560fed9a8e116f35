"""Sales orders created by salespeople through the gateway (issue 4 §2, DOMAIN.md §8), and why an
order was not created (answered as data)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date
from decimal import Decimal


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
