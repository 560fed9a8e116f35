"""Pricing (DOMAIN.md §2.1 and §9): price list headers and lines, the customers' and items' pricing
profiles, and the request and answer of a price quote."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal


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
