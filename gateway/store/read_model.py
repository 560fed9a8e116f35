"""Table models of the read model: typed copies of the ERP and CRM records the API serves, kept
current by the sync engine through `gateway.store.read_projection` and read by `read_queries`.

Entities that exist on both sides (customers/accounts, items/products, price lists/price levels,
salespeople/users, currencies) share one table with a `side` column, so that a unified list is one
ordered index scan; the coupling table says which ERP row and which CRM row are one. ERP-only
data (pricing profiles, units, price lines, exchange rates, groups, locations) has its own tables.
Every schema change here needs a new migration in gateway/store/migrations/versions/.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Index, Numeric
from sqlmodel import Field, SQLModel

from gateway.store.types import UTCDateTime, utcnow

# Money, prices and quantities: exact on PostgreSQL; SQLite keeps them as REAL (close enough to read).
MONEY = Numeric(38, 10)


def _money(default: int = 0) -> Any:
    return Field(default=Decimal(default), sa_type=MONEY, nullable=False)


def _stamp(*, nullable: bool) -> Any:
    if nullable:
        return Field(default=None, sa_type=UTCDateTime, nullable=True)
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class _Row(SQLModel):
    """What every read-model row has: when the upstream last changed it and when we last read it."""

    modified_at: datetime | None = _stamp(nullable=True)
    synced_at: datetime = _stamp(nullable=False)


class _TwoSided(_Row):
    """A row of an entity that exists on both sides: (`side`, upstream id) is the key."""

    side: str = Field(primary_key=True, max_length=3)
    id: str = Field(primary_key=True)
    number: str = Field(default="", nullable=False)
    name: str = Field(default="", nullable=False)


class RmCustomer(_TwoSided, table=True):
    """A BC customer (side erp) or a Dataverse account (side crm)."""

    __tablename__ = "rm_customer"
    __table_args__ = (
        Index("ix_rm_customer_number", "number", "side", "id"),
        Index("ix_rm_customer_name", "name", "side", "id"),
        Index("ix_rm_customer_modified_at", "modified_at", "side", "id"),
        Index("ix_rm_customer_salesperson_code", "salesperson_code"),
    )

    type: str = Field(default="", nullable=False)
    address_line1: str = Field(default="", nullable=False)
    address_line2: str = Field(default="", nullable=False)
    city: str = Field(default="", nullable=False)
    state: str = Field(default="", nullable=False)
    country: str = Field(default="", nullable=False)
    postal_code: str = Field(default="", nullable=False)
    phone: str = Field(default="", nullable=False)
    email: str = Field(default="", nullable=False)
    website: str = Field(default="", nullable=False)
    salesperson_code: str = Field(default="", nullable=False)  # ERP; CRM rows go through owner_id
    owner_id: str | None = Field(default=None, nullable=True)  # CRM systemuser
    currency_code: str = Field(default="", nullable=False)  # ERP
    currency_id: str | None = Field(default=None, nullable=True)  # ERP currencyId / CRM transactioncurrency
    default_price_list_id: str | None = Field(default=None, nullable=True)  # CRM pricelevel
    credit_limit: Decimal = _money()
    balance_due: Decimal = _money()
    blocked: str = Field(default=" ", nullable=False)
    customer_type_code: int | None = Field(default=None, nullable=True)  # CRM (3 = Customer)
    state_code: int | None = Field(default=None, nullable=True)  # CRM (0 active, 1 inactive)


class RmCustomerPricing(_Row, table=True):
    """A customer's pricing profile (`customerPricing`; its id is the customer's id)."""

    __tablename__ = "rm_customer_pricing"

    id: str = Field(primary_key=True)
    customer_number: str = Field(default="", nullable=False, index=True)
    price_group_code: str = Field(default="", nullable=False)
    discount_group_code: str = Field(default="", nullable=False)
    allow_line_discount: bool = Field(default=True, nullable=False)


class RmItem(_TwoSided, table=True):
    """A BC item (side erp) or a Dataverse product (side crm)."""

    __tablename__ = "rm_item"
    __table_args__ = (
        Index("ix_rm_item_number", "number", "side", "id"),
        Index("ix_rm_item_name", "name", "side", "id"),
        Index("ix_rm_item_modified_at", "modified_at", "side", "id"),
    )

    type: str = Field(default="", nullable=False)
    item_category_code: str = Field(default="", nullable=False)
    blocked: bool = Field(default=False, nullable=False)
    gtin: str = Field(default="", nullable=False)
    inventory: Decimal = _money()
    unit_price: Decimal = _money()
    price_includes_tax: bool = Field(default=False, nullable=False)
    unit_cost: Decimal = _money()
    base_unit_code: str = Field(default="", nullable=False)
    base_unit_id: str | None = Field(default=None, nullable=True)
    product_type_code: int | None = Field(default=None, nullable=True)  # CRM
    state_code: int | None = Field(default=None, nullable=True)  # CRM


class RmItemPricing(_Row, table=True):
    """An item's pricing profile (`itemPricing`; its id is the item's id)."""

    __tablename__ = "rm_item_pricing"

    id: str = Field(primary_key=True)
    item_number: str = Field(default="", nullable=False, index=True)
    discount_group_code: str = Field(default="", nullable=False)
    sales_unit_code: str = Field(default="", nullable=False)


class RmItemUnit(_Row, table=True):
    """One unit an item is sold in (`itemUnitsOfMeasure`)."""

    __tablename__ = "rm_item_unit"
    __table_args__ = (Index("ix_rm_item_unit_item_code", "item_number", "code"),)

    id: str = Field(primary_key=True)
    item_number: str = Field(default="", nullable=False)
    code: str = Field(default="", nullable=False)
    qty_per_unit: Decimal = _money(1)


class RmPriceList(_TwoSided, table=True):
    """A BC price list header (side erp; `number` is its code) or a Dataverse price level (side crm)."""

    __tablename__ = "rm_price_list"
    __table_args__ = (
        Index("ix_rm_price_list_number", "number", "side", "id"),
        Index("ix_rm_price_list_name", "name", "side", "id"),
        Index("ix_rm_price_list_modified_at", "modified_at", "side", "id"),
        Index("ix_rm_price_list_source", "source_type", "source_no"),
    )

    source_type: str = Field(default="", nullable=False)
    source_no: str = Field(default="", nullable=False)
    currency_code: str = Field(default="", nullable=False)
    currency_id: str | None = Field(default=None, nullable=True)  # CRM
    starting_date: date | None = Field(default=None, nullable=True)
    ending_date: date | None = Field(default=None, nullable=True)
    status: str = Field(default="Active", nullable=False)
    price_includes_tax: bool = Field(default=False, nullable=False)
    allow_line_discount: bool = Field(default=True, nullable=False)


class RmPriceLine(_Row, table=True):
    """One BC price list line (`priceListLines`), with everything the price engine needs."""

    __tablename__ = "rm_price_line"
    __table_args__ = (
        Index("ix_rm_price_line_list", "price_list_code", "line_no"),
        Index("ix_rm_price_line_asset", "asset_type", "asset_no", "price_list_code", "line_no"),
        Index("ix_rm_price_line_source", "source_type", "source_no", "price_list_code", "line_no"),
    )

    id: str = Field(primary_key=True)
    price_list_code: str = Field(default="", nullable=False)
    line_no: int = Field(default=0, nullable=False)
    source_type: str = Field(default="", nullable=False)
    source_no: str = Field(default="", nullable=False)
    asset_type: str = Field(default="", nullable=False)
    asset_no: str = Field(default="", nullable=False)
    unit_code: str = Field(default="", nullable=False)
    currency_code: str = Field(default="", nullable=False)
    starting_date: date | None = Field(default=None, nullable=True)
    ending_date: date | None = Field(default=None, nullable=True)
    minimum_quantity: Decimal = _money()
    amount_type: str = Field(default="Price", nullable=False)
    unit_price: Decimal = _money()
    line_discount_percent: Decimal = _money()
    allow_line_discount: bool = Field(default=True, nullable=False)
    price_includes_tax: bool = Field(default=False, nullable=False)


class RmSalesperson(_TwoSided, table=True):
    """A BC salesperson (side erp; `number` is the code) or a Dataverse user (side crm)."""

    __tablename__ = "rm_salesperson"
    __table_args__ = (
        Index("ix_rm_salesperson_number", "number", "side", "id"),
        Index("ix_rm_salesperson_name", "name", "side", "id"),
        Index("ix_rm_salesperson_modified_at", "modified_at", "side", "id"),
    )

    email: str = Field(default="", nullable=False)
    phone: str = Field(default="", nullable=False)
    job_title: str = Field(default="", nullable=False)
    blocked: bool = Field(default=False, nullable=False)
    integration_user: bool = Field(default=False, nullable=False)  # CRM: never a salesperson


class RmCurrency(_TwoSided, table=True):
    """A BC currency (side erp) or a Dataverse transaction currency (side crm); `number` is the code."""

    __tablename__ = "rm_currency"
    __table_args__ = (Index("ix_rm_currency_number", "number", "side", "id"),)

    symbol: str = Field(default="", nullable=False)
    amount_decimal_places: str = Field(default="2:2", nullable=False)
    amount_rounding_precision: Decimal = Field(default=Decimal("0.01"), sa_type=MONEY, nullable=False)
    unit_amount_rounding_precision: Decimal = Field(default=Decimal("0.00001"), sa_type=MONEY, nullable=False)
    exchange_rate: Decimal | None = Field(default=None, sa_type=MONEY, nullable=True)  # CRM


class RmExchangeRate(_Row, table=True):
    """A currency's exchange rate from a starting date (`currencyExchangeRates`)."""

    __tablename__ = "rm_exchange_rate"
    __table_args__ = (Index("ix_rm_exchange_rate_currency", "currency_code", "starting_date"),)

    id: str = Field(primary_key=True)
    currency_code: str = Field(default="", nullable=False)
    starting_date: date | None = Field(default=None, nullable=True)
    exchange_rate_amount: Decimal = _money(1)
    relational_exchange_rate_amount: Decimal = _money(1)


class RmUnit(_Row, table=True):
    """A unit of measure (`unitsOfMeasure`)."""

    __tablename__ = "rm_unit"

    id: str = Field(primary_key=True)
    code: str = Field(default="", nullable=False, index=True)
    name: str = Field(default="", nullable=False)
    international_standard_code: str = Field(default="", nullable=False)
    symbol: str = Field(default="", nullable=False)


class RmLocation(_Row, table=True):
    """A warehouse location (`locations`)."""

    __tablename__ = "rm_location"

    id: str = Field(primary_key=True)
    code: str = Field(default="", nullable=False, index=True)
    name: str = Field(default="", nullable=False)
    address_line1: str = Field(default="", nullable=False)
    city: str = Field(default="", nullable=False)
    country: str = Field(default="", nullable=False)


class RmPricingGroup(_Row, table=True):
    """A customer price group, customer discount group or item discount group (`kind` says which)."""

    __tablename__ = "rm_pricing_group"
    __table_args__ = (Index("ix_rm_pricing_group_kind_code", "kind", "code"),)

    id: str = Field(primary_key=True)
    kind: str = Field(nullable=False)
    code: str = Field(default="", nullable=False)
    description: str = Field(default="", nullable=False)
    allow_line_discount: bool = Field(default=True, nullable=False)
    price_includes_tax: bool = Field(default=False, nullable=False)


class RmCompany(_Row, table=True):
    """BC's company (`companyInformation`, one row): its local currency, which every quote needs and
    BC names nowhere else (its currency fields leave it blank)."""

    __tablename__ = "rm_company"

    id: str = Field(primary_key=True)
    name: str = Field(default="", nullable=False)
    currency_code: str = Field(default="", nullable=False)


class RmVersion(SQLModel, table=True):
    """A version of a group of read-model tables, raised in the transaction of every write to them
    (`gateway.store.read_versions`), so that a process may keep what it read while it is unchanged.
    `epoch` is drawn when the row is made: a store rebuilt from scratch never repeats a version."""

    __tablename__ = "rm_version"

    name: str = Field(primary_key=True)
    version: int = Field(nullable=False)
    epoch: str = Field(nullable=False)


READ_MODEL_TABLES: tuple[type[SQLModel], ...] = (
    RmCustomer,
    RmCustomerPricing,
    RmItem,
    RmItemPricing,
    RmItemUnit,
    RmPriceList,
    RmPriceLine,
    RmSalesperson,
    RmCurrency,
    RmExchangeRate,
    RmUnit,
    RmLocation,
    RmPricingGroup,
    RmCompany,
    RmVersion,
)
