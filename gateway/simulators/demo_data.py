"""Deterministic, scalable demo data for the Business Central and Dataverse simulators: one seed and
two sizes give the same company, customers, items, prices, stock, orders and CRM records every time.

`generate(seed=42, customers=60, items=40)` returns `DemoData`: `erp` keyed by BC entity set (API v2.0
and the integration API of DOMAIN.md §2.1, plus the private `_stock` set the simulator derives
`itemAvailabilities` from) and `crm` keyed by Dataverse entity set. Values are JSON-ready; BC dates are
"YYYY-MM-DD" with blank dates as "0001-01-01" (as BC returns them), Dataverse blanks are null.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.simulators.demo.catalog import build_items
from gateway.simulators.demo.common import BLANK_DATE, LOCAL_CURRENCY, NIL_GUID, REFERENCE_DATE, Row
from gateway.simulators.demo.crm_accounts import build_crm_parties
from gateway.simulators.demo.crm_catalog import build_crm_catalog, price_level_id
from gateway.simulators.demo.orders import build_orders
from gateway.simulators.demo.parties import build_customers
from gateway.simulators.demo.pricelists import build_price_lists
from gateway.simulators.demo.reference import build_reference

__all__ = ["BLANK_DATE", "NIL_GUID", "REFERENCE_DATE", "DemoData", "generate"]

MIN_CUSTOMERS = 20
MIN_ITEMS = 20
MAX_ERP_ORDERS = 2000
MAX_CRM_ORDERS = 1000
FIRST_VERSION_NUMBER = 1_000_001
"""Dataverse row versions are one counter for the whole organisation; the demo's start here."""


@dataclass(slots=True)
class DemoData:
    """The two upstreams' rows. The simulators own (and may mutate) the lists they are handed."""

    seed: int
    company_id: str
    local_currency: str
    erp: dict[str, list[Row]] = field(default_factory=dict)
    crm: dict[str, list[Row]] = field(default_factory=dict)


def generate(*, seed: int = 42, customers: int = 60, items: int = 40) -> DemoData:
    """Build the demo data for `seed` with `customers` customers and `items` items.

    Everything else scales from those two: about 40% of customers and items already exist in
    Sales, ~10% more exist only there, one open ERP order per eight customers (at most 2,000), one
    CRM order per twenty (at most 1,000), one customer-specific price list per ten customers (at
    most 500) and about ten price list lines per item. Both sizes must be at least 20 so that
    every case the data promises exists.
    """
    if customers < MIN_CUSTOMERS or items < MIN_ITEMS:
        raise ValueError(f"need at least {MIN_CUSTOMERS} customers and {MIN_ITEMS} items")
    ref = build_reference(seed=seed)
    parties = build_customers(seed=seed, count=customers, ref=ref)
    catalog = build_items(seed=seed, count=items, ref=ref)
    orders = build_orders(
        seed=seed,
        count=min(max(8, customers // 8), MAX_ERP_ORDERS),
        customers=parties.customers,
        catalog=catalog,
        ref=ref,
    )
    prices = build_price_lists(seed=seed, catalog=catalog, customers=parties.customers)
    crm_parties = build_crm_parties(
        seed=seed,
        ref=ref,
        customers=parties.customers,
        spare_names=parties.spare_names,
        price_level_id=price_level_id(seed=seed),
    )
    crm_catalog = build_crm_catalog(
        seed=seed, catalog=catalog, crm=crm_parties, order_count=min(max(6, customers // 20), MAX_CRM_ORDERS)
    )
    erp = {
        **ref.sets,
        "customers": parties.customers,
        "customerPricing": parties.pricing,
        "items": catalog.items,
        "itemUnitsOfMeasure": catalog.units,
        "itemPricing": catalog.pricing,
        "salesOrders": orders.orders,
        "salesOrderLines": orders.lines,
        "priceListHeaders": prices.headers,
        "priceListLines": prices.lines,
        "_stock": catalog.stock,
    }
    crm = {
        "transactioncurrencies": crm_parties.currencies,
        "systemusers": crm_parties.users,
        "accounts": crm_parties.accounts,
        "uomschedules": crm_catalog.schedules,
        "uoms": crm_catalog.uoms,
        "products": crm_catalog.products,
        "pricelevels": crm_catalog.price_levels,
        "productpricelevels": crm_catalog.product_price_levels,
        "salesorders": crm_catalog.orders,
        "salesorderdetails": crm_catalog.order_lines,
    }
    _number_versions(crm)
    return DemoData(seed=seed, company_id=ref.company_id, local_currency=LOCAL_CURRENCY, erp=erp, crm=crm)


def _number_versions(crm: dict[str, list[Row]]) -> None:
    """Give every CRM row a `versionnumber` that grows with `modifiedon` across all sets, as
    Dataverse's organisation-wide row version does (ties broken by set order, then row order)."""
    rows = [row for rows in crm.values() for row in rows]
    # sorted() is stable, so rows with the same modifiedon keep their set and row order.
    for version, row in enumerate(
        sorted(rows, key=lambda row: row["modifiedon"]), start=FIRST_VERSION_NUMBER
    ):
        row["versionnumber"] = version
