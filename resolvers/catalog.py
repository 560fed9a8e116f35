"""Resolvers of the catalog: unified customers, items, price lists, salespeople, currencies and units
from the catalog service, and their relations through the per-request DataLoaders (no per-row I/O).

Expected "not found" is null; bad arguments (page size, cursor) raise InvalidInput.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import strawberry
from strawberry.types.nodes import SelectedField

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
from gateway.services.catalog import CatalogFilter
from gateway.services.catalog_lines import CustomerLineKey, LineKey
from gateway.services.paging import DEFAULT_PAGE, Page
from resolvers.context import Info
from resolvers.loaders import ready_or_load
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
    page = await info.context.services.catalog.list_customers(
        info.context.principal,
        filter=_customer_filter(filter),
        order_by=order_by.value,
        first=first,
        after=after,
    )
    await _prime_customer_relations(info, page.nodes)
    return page


def _node_selections(info: Info) -> set[str]:
    """Field names selected on a connection's nodes (`edges { node { … } }` or `nodes { … }`),
    through fragments."""
    names: set[str] = set()

    def fields(selections: list[Any]) -> list[SelectedField]:
        found: list[SelectedField] = []
        for selection in selections:
            if isinstance(selection, SelectedField):
                found.append(selection)
            else:  # a fragment spread or inline fragment
                found.extend(fields(selection.selections))
        return found

    for connection in info.selected_fields:
        for field in fields(connection.selections):
            if field.name == "nodes":
                names.update(f.name for f in fields(field.selections))
            elif field.name == "edges":
                for node in (f for f in fields(field.selections) if f.name == "node"):
                    names.update(f.name for f in fields(node.selections))
    return names


async def _prime_customer_relations(info: Info, nodes: list[UnifiedCustomer]) -> None:
    """Load the page's selected relations now, all in one statement, and prime this request's
    loaders with them, so that each node's relation resolves from the loader's cache without an
    await (see `ready_or_load`)."""
    wanted = _node_selections(info) & {"salesperson", "currency", "defaultPriceList"}
    if not wanted or not nodes:
        return
    # No fallback to per-node loads on failure: that hid a PostgreSQL type error in this statement
    # behind a warning and three times the statements; a failure here is a server error.
    found = await info.context.services.catalog.customer_relations(
        info.context.principal,
        nodes,
        salesperson="salesperson" in wanted,
        currency="currency" in wanted,
        price_list="defaultPriceList" in wanted,
    )
    loaders = info.context.loaders
    loaders.salesperson_by_code.prime_many(found.salespeople_by_code)
    loaders.salesperson_by_crm_id.prime_many(found.salespeople_by_crm_id)
    loaders.currency_by_code.prime_many(found.currencies_by_code)
    loaders.default_price_list.prime_many(found.default_price_lists)


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


def customer_salesperson(
    root: strawberry.Parent[UnifiedCustomer], info: Info
) -> UnifiedSalesperson | Awaitable[UnifiedSalesperson | None] | None:
    loaders = info.context.loaders
    if root.salesperson_code:
        return ready_or_load(loaders.salesperson_by_code, root.salesperson_code)
    if root.crm_owner_id and root.erp_id is None:  # a CRM-only account: its owner
        return ready_or_load(loaders.salesperson_by_crm_id, root.crm_owner_id)
    return None


def customer_currency(
    root: strawberry.Parent[UnifiedCustomer], info: Info
) -> UnifiedCurrency | Awaitable[UnifiedCurrency | None] | None:
    if not root.currency_code:
        return None
    return ready_or_load(info.context.loaders.currency_by_code, root.currency_code)


async def customer_price_group(root: strawberry.Parent[UnifiedCustomer], info: Info) -> PricingGroup | None:
    if not root.price_group_code:
        return None
    return await info.context.loaders.price_group_by_code.load(root.price_group_code)


def customer_price_list(
    root: strawberry.Parent[UnifiedCustomer], info: Info
) -> UnifiedPriceList | Awaitable[UnifiedPriceList | None] | None:
    if not root.price_group_code and not root.crm_default_price_list_id:
        return None
    return ready_or_load(info.context.loaders.default_price_list, root)


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
