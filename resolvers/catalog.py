"""Resolvers of the catalog: unified customers, items, price lists, salespeople, currencies and units
from the catalog service, and their relations through the per-request DataLoaders (no per-row I/O).

Expected "not found" is null; bad arguments (page size, cursor) raise InvalidInput.
"""

from __future__ import annotations

from typing import Any

import strawberry

from gateway.domain import (
    CouplingStatus,
    PriceListLine,
    PricingGroup,
    UnifiedCurrency,
    UnifiedCustomer,
    UnifiedItem,
    UnifiedItemUnit,
    UnifiedPriceList,
    UnifiedSalesperson,
    UnifiedUnit,
)
from gateway.services.catalog import DEFAULT_PAGE, CatalogFilter, CustomerLineKey, LineKey, Page
from resolvers.context import Info
from schema.enums import CatalogOrder
from schema.inputs import CatalogFilter as CatalogFilterInput
from schema.inputs import CustomerFilter, PriceListFilter


def _states(given: list[Any] | None) -> frozenset[CouplingStatus] | None:
    return None if given is None else frozenset(CouplingStatus(s.value) for s in given)


def _customer_filter(f: CustomerFilter | None) -> CatalogFilter | None:
    if f is None:
        return None
    return CatalogFilter(
        search=f.search,
        salesperson_code=f.salesperson_code,
        blocked=f.blocked,
        coupling_states=_states(f.coupling_state),
        changed_since=f.changed_since,
    )


def _filter(f: CatalogFilterInput | PriceListFilter | None) -> CatalogFilter | None:
    if f is None:
        return None
    return CatalogFilter(
        search=f.search,
        blocked=getattr(f, "blocked", None),
        coupling_states=_states(f.coupling_state),
        changed_since=f.changed_since,
    )


# ---------------------------------------------------------------------------------------- roots


async def customer(
    info: Info,
    number: str | None = None,
    erp_id: strawberry.ID | None = None,
    crm_id: strawberry.ID | None = None,
) -> UnifiedCustomer | None:
    catalog = info.context.services.catalog
    return await catalog.get_customer(info.context.principal, number=number, erp_id=erp_id, crm_id=crm_id)


async def customers(
    info: Info,
    filter: CustomerFilter | None = None,
    order_by: CatalogOrder = CatalogOrder.NUMBER,
    first: int = DEFAULT_PAGE,
    after: str | None = None,
) -> Page[UnifiedCustomer]:
    return await info.context.services.catalog.list_customers(
        info.context.principal,
        filter=_customer_filter(filter),
        order_by=order_by.value,
        first=first,
        after=after,
    )


async def item(
    info: Info,
    number: str | None = None,
    erp_id: strawberry.ID | None = None,
    crm_id: strawberry.ID | None = None,
) -> UnifiedItem | None:
    catalog = info.context.services.catalog
    return await catalog.get_item(info.context.principal, number=number, erp_id=erp_id, crm_id=crm_id)


async def items(
    info: Info,
    filter: CatalogFilterInput | None = None,
    order_by: CatalogOrder = CatalogOrder.NUMBER,
    first: int = DEFAULT_PAGE,
    after: str | None = None,
) -> Page[UnifiedItem]:
    return await info.context.services.catalog.list_items(
        info.context.principal, filter=_filter(filter), order_by=order_by.value, first=first, after=after
    )


async def price_list(
    info: Info,
    code: str | None = None,
    erp_id: strawberry.ID | None = None,
    crm_id: strawberry.ID | None = None,
) -> UnifiedPriceList | None:
    catalog = info.context.services.catalog
    return await catalog.get_price_list(info.context.principal, code=code, erp_id=erp_id, crm_id=crm_id)


async def price_lists(
    info: Info,
    filter: PriceListFilter | None = None,
    order_by: CatalogOrder = CatalogOrder.NUMBER,
    first: int = DEFAULT_PAGE,
    after: str | None = None,
) -> Page[UnifiedPriceList]:
    return await info.context.services.catalog.list_price_lists(
        info.context.principal, filter=_filter(filter), order_by=order_by.value, first=first, after=after
    )


async def salesperson(
    info: Info,
    code: str | None = None,
    erp_id: strawberry.ID | None = None,
    crm_id: strawberry.ID | None = None,
) -> UnifiedSalesperson | None:
    catalog = info.context.services.catalog
    return await catalog.get_salesperson(info.context.principal, code=code, erp_id=erp_id, crm_id=crm_id)


async def salespeople(
    info: Info,
    filter: CatalogFilterInput | None = None,
    order_by: CatalogOrder = CatalogOrder.NUMBER,
    first: int = DEFAULT_PAGE,
    after: str | None = None,
) -> Page[UnifiedSalesperson]:
    return await info.context.services.catalog.list_salespeople(
        info.context.principal, filter=_filter(filter), order_by=order_by.value, first=first, after=after
    )


async def currencies(info: Info) -> list[UnifiedCurrency]:
    return await info.context.services.catalog.list_currencies(info.context.principal)


async def units(info: Info) -> list[UnifiedUnit]:
    return await info.context.services.catalog.list_units(info.context.principal)


async def total_count(root: strawberry.Parent[Page[Any]]) -> int:
    return await root.total_count()


# ---------------------------------------------------------------------------------------- relations


async def customer_salesperson(
    root: strawberry.Parent[UnifiedCustomer], info: Info
) -> UnifiedSalesperson | None:
    loaders = info.context.loaders
    if root.salesperson_code:
        return await loaders.salesperson_by_code.load(root.salesperson_code)
    if root.crm_owner_id and root.erp_id is None:  # a CRM-only account: its owner
        return await loaders.salesperson_by_crm_id.load(root.crm_owner_id)
    return None


async def customer_currency(root: strawberry.Parent[UnifiedCustomer], info: Info) -> UnifiedCurrency | None:
    if not root.currency_code:
        return None
    return await info.context.loaders.currency_by_code.load(root.currency_code)


async def customer_price_group(root: strawberry.Parent[UnifiedCustomer], info: Info) -> PricingGroup | None:
    if not root.price_group_code:
        return None
    return await info.context.loaders.price_group_by_code.load(root.price_group_code)


async def customer_price_list(
    root: strawberry.Parent[UnifiedCustomer], info: Info
) -> UnifiedPriceList | None:
    if not root.price_group_code and not root.crm_default_price_list_id:
        return None
    return await info.context.loaders.default_price_list.load(root)


async def customer_price_lines(
    root: strawberry.Parent[UnifiedCustomer], info: Info, first: int = DEFAULT_PAGE, after: str | None = None
) -> Page[PriceListLine]:
    return await info.context.loaders.customer_lines.load(CustomerLineKey(root, first, after))


async def item_units(root: strawberry.Parent[UnifiedItem], info: Info) -> list[UnifiedItemUnit]:
    if root.erp_id is None:
        return []
    return await info.context.loaders.item_units.load(root.number)


async def item_price_lines(
    root: strawberry.Parent[UnifiedItem], info: Info, first: int = DEFAULT_PAGE, after: str | None = None
) -> Page[PriceListLine]:
    return await info.context.loaders.item_lines.load(
        LineKey(root.number if root.erp_id else "", first, after)
    )


async def price_list_lines(
    root: strawberry.Parent[UnifiedPriceList], info: Info, first: int = DEFAULT_PAGE, after: str | None = None
) -> Page[PriceListLine]:
    return await info.context.loaders.price_list_lines.load(
        LineKey(root.code if root.erp_id else "", first, after)
    )


async def price_list_currency(
    root: strawberry.Parent[UnifiedPriceList], info: Info
) -> UnifiedCurrency | None:
    if not root.currency_code:
        return None
    return await info.context.loaders.currency_by_code.load(root.currency_code)


async def line_price_list(root: strawberry.Parent[PriceListLine], info: Info) -> UnifiedPriceList | None:
    return await info.context.loaders.price_list_by_code.load(root.price_list_code)
