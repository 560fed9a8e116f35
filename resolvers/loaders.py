"""Per-request DataLoaders over the catalog service's batch loaders: relations of a list of 100
customers (salesperson, currency, price list …) cost one query per relation, not one per customer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from strawberry.dataloader import DataLoader

from gateway.domain import (
    PriceListLine,
    PricingGroup,
    Principal,
    UnifiedCurrency,
    UnifiedCustomer,
    UnifiedItemUnit,
    UnifiedPriceList,
    UnifiedSalesperson,
)
from gateway.services.catalog import CatalogService, CustomerLineKey, LineKey, Page


@dataclass(frozen=True, slots=True)
class Loaders:
    salesperson_by_code: DataLoader[str, UnifiedSalesperson | None]
    salesperson_by_crm_id: DataLoader[str, UnifiedSalesperson | None]
    currency_by_code: DataLoader[str, UnifiedCurrency | None]
    price_group_by_code: DataLoader[str, PricingGroup | None]
    default_price_list: DataLoader[UnifiedCustomer, UnifiedPriceList | None]
    price_list_by_code: DataLoader[str, UnifiedPriceList | None]
    item_units: DataLoader[str, list[UnifiedItemUnit]]
    price_list_lines: DataLoader[LineKey, Page[PriceListLine]]
    item_lines: DataLoader[LineKey, Page[PriceListLine]]
    customer_lines: DataLoader[CustomerLineKey, Page[PriceListLine]]


def create_loaders(catalog: CatalogService, principal: Principal) -> Loaders:
    """Fresh loaders for one request (their caches must never outlive it or cross callers)."""

    async def salespeople(codes: Sequence[str]) -> list[UnifiedSalesperson | None]:
        return await catalog.salespeople_by_codes(principal, codes)

    async def salespeople_crm(ids: Sequence[str]) -> list[UnifiedSalesperson | None]:
        return await catalog.salespeople_by_crm_ids(principal, ids)

    async def currencies(codes: Sequence[str]) -> list[UnifiedCurrency | None]:
        return await catalog.currencies_by_codes(principal, codes)

    async def price_groups(codes: Sequence[str]) -> list[PricingGroup | None]:
        return await catalog.price_groups_by_codes(principal, codes)

    async def default_lists(customers: Sequence[UnifiedCustomer]) -> list[UnifiedPriceList | None]:
        return await catalog.default_price_lists(principal, customers)

    async def price_lists(codes: Sequence[str]) -> list[UnifiedPriceList | None]:
        return await catalog.price_lists_by_codes(principal, codes)

    async def units(numbers: Sequence[str]) -> list[list[UnifiedItemUnit]]:
        return await catalog.units_of_items(principal, numbers)

    async def list_lines(keys: Sequence[LineKey]) -> list[Page[PriceListLine]]:
        return await catalog.lines_of_price_lists(principal, keys)

    async def item_lines(keys: Sequence[LineKey]) -> list[Page[PriceListLine]]:
        return await catalog.lines_of_items(principal, keys)

    async def customer_lines(keys: Sequence[CustomerLineKey]) -> list[Page[PriceListLine]]:
        return await catalog.lines_for_customers(principal, keys)

    return Loaders(
        salesperson_by_code=DataLoader(load_fn=salespeople),
        salesperson_by_crm_id=DataLoader(load_fn=salespeople_crm),
        currency_by_code=DataLoader(load_fn=currencies),
        price_group_by_code=DataLoader(load_fn=price_groups),
        default_price_list=DataLoader(load_fn=default_lists),
        price_list_by_code=DataLoader(load_fn=price_lists),
        item_units=DataLoader(load_fn=units),
        price_list_lines=DataLoader(load_fn=list_lines),
        item_lines=DataLoader(load_fn=item_lines),
        customer_lines=DataLoader(load_fn=customer_lines),
    )
