"""Reference data, customers and items as Business Central holds them (API v2.0)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

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
