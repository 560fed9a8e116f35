"""The unified read model: what the catalog API serves from the store, each record with both ids,
its coupling state and when the pair was last synchronized."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal


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
