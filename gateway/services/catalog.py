"""The catalog read use cases: unified customers, items, price lists, salespeople, currencies and
units from the read model (never an upstream call), with filters, keyset cursors, access rules and
the batch loaders GraphQL DataLoaders call so that relations cost a constant number of queries.
Pages and orderings: `gateway.services.paging`; price-line connections: `catalog_lines`.

Access (issue §6): every role may read; a `sales` key with `GATEWAY_SALES_SCOPE=own` sees only the
customers whose salesperson is its own, here, so GraphQL and REST agree.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from gateway.domain import (
    CouplingStatus,
    PricingGroup,
    Principal,
    Role,
    UnifiedCurrency,
    UnifiedCustomer,
    UnifiedItem,
    UnifiedItemUnit,
    UnifiedPriceList,
    UnifiedSalesperson,
    UnifiedUnit,
)
from gateway.errors import InvalidInput
from gateway.services import cursors
from gateway.services.catalog_lines import PriceLinesPart
from gateway.services.paging import Edge, Page, page_size, parse_order
from gateway.store import read_catalog, read_relations
from gateway.store.engine import SessionFactory
from gateway.store.read_queries import Filters, Order
from gateway.store.read_relations import Lookup

SalesScope = Literal["all", "own"]
_NOBODY = "\x00"  # a salesperson code no record has: a sales key without a code sees no customer


@dataclass(frozen=True, slots=True)
class CatalogFilter:
    """Typed list filters; None means "any". `search` matches number or name, case-insensitively."""

    search: str | None = None
    salesperson_code: str | None = None
    blocked: bool | None = None
    coupling_states: frozenset[CouplingStatus] | None = None
    changed_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class CustomerRelations:
    """A page's relations by the key each DataLoader uses (None: looked up, not found)."""

    salespeople_by_code: dict[str, UnifiedSalesperson | None]
    salespeople_by_crm_id: dict[str, UnifiedSalesperson | None]
    currencies_by_code: dict[str, UnifiedCurrency | None]
    default_price_lists: dict[UnifiedCustomer, UnifiedPriceList | None]


class CatalogService(PriceLinesPart):
    """Records and their relations here; price-line connections in `PriceLinesPart`."""

    def __init__(self, *, sessions: SessionFactory, sales_scope: SalesScope = "all") -> None:
        self._sessions = sessions
        self._sales_scope = sales_scope

    # --------------------------------------------------------------------------------- access

    def _scope(self, principal: Principal) -> str | None:
        if principal.role is Role.SALES and self._sales_scope == "own":
            return principal.salesperson_code or _NOBODY
        return None

    def _filters(self, principal: Principal, kind: str, given: CatalogFilter | None) -> Filters:
        f = given or CatalogFilter()
        return Filters(
            search=f.search or None,
            salesperson_code=f.salesperson_code,
            blocked=f.blocked,
            coupling_states=f.coupling_states,
            changed_since=f.changed_since,
            only_salesperson=self._scope(principal) if kind == "customers" else None,
        )

    # --------------------------------------------------------------------------------- lists

    async def _list(
        self,
        principal: Principal,
        kind: read_catalog.Kind,
        *,
        filter: CatalogFilter | None,
        order_by: str | None,
        first: int | None,
        after: str | None,
    ) -> Page[Any]:
        limit = page_size(first)
        order = parse_order(order_by)
        filters = self._filters(principal, kind, filter)
        order_text = ("-" if order.descending else "") + order.field
        position = cursors.decode_position(after, order=order_text, kind=kind) if after else None
        async with self._sessions() as session:
            rows = await read_catalog.list_records(
                session, kind=kind, filters=filters, order=order, after=position, limit=limit + 1
            )
        edges = [
            Edge(functools.partial(cursors.encode_position, key, order=order_text, kind=kind), node)
            for node, key in rows[:limit]
        ]

        async def count() -> int:
            async with self._sessions() as session:
                return await read_catalog.count_records(session, kind=kind, filters=filters)

        return Page(
            edges=edges, has_next_page=len(rows) > limit, count=count, has_previous_page=after is not None
        )

    async def list_customers(
        self,
        principal: Principal,
        *,
        filter: CatalogFilter | None = None,
        order_by: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Page[UnifiedCustomer]:
        return await self._list(
            principal, "customers", filter=filter, order_by=order_by, first=first, after=after
        )

    async def list_items(
        self,
        principal: Principal,
        *,
        filter: CatalogFilter | None = None,
        order_by: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Page[UnifiedItem]:
        return await self._list(
            principal, "items", filter=filter, order_by=order_by, first=first, after=after
        )

    async def list_price_lists(
        self,
        principal: Principal,
        *,
        filter: CatalogFilter | None = None,
        order_by: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Page[UnifiedPriceList]:
        return await self._list(
            principal, "price_lists", filter=filter, order_by=order_by, first=first, after=after
        )

    async def list_salespeople(
        self,
        principal: Principal,
        *,
        filter: CatalogFilter | None = None,
        order_by: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Page[UnifiedSalesperson]:
        return await self._list(
            principal, "salespeople", filter=filter, order_by=order_by, first=first, after=after
        )

    async def list_currencies(self, principal: Principal) -> list[UnifiedCurrency]:
        """Every currency (a short list): ERP ones, and uncoupled CRM ones such as the base currency."""
        async with self._sessions() as session:
            rows = await read_catalog.list_records(
                session, kind="currencies", filters=Filters(), order=Order("number"), after=None, limit=10_000
            )
        return [node for node, _ in rows]

    async def list_units(self, principal: Principal) -> list[UnifiedUnit]:
        async with self._sessions() as session:
            return await read_catalog.list_units(session)

    # --------------------------------------------------------------------------------- one record

    async def _get(
        self,
        principal: Principal,
        kind: read_catalog.Kind,
        *,
        number: str | None,
        erp_id: str | None,
        crm_id: str | None,
    ) -> Any:
        keys: tuple[tuple[read_catalog.LookupColumn, str | None], ...] = (
            ("number", number),
            ("erp_id", erp_id),
            ("crm_id", crm_id),
        )
        given = [(c, v) for c, v in keys if v is not None]
        if len(given) != 1:
            raise InvalidInput("give exactly one of number, erpId, crmId")
        ((column, value),) = given
        found = await self._by(principal, kind, column, [value])
        return found[0]

    async def _by(
        self,
        principal: Principal,
        kind: read_catalog.Kind,
        column: read_catalog.LookupColumn,
        values: Sequence[str],
    ) -> list[Any]:
        if not values:
            return []
        filters = self._filters(principal, kind, None)
        async with self._sessions() as session:
            found = await read_catalog.records_by(
                session, kind=kind, column=column, values=values, filters=filters
            )
        if column != "number":
            return [found.get(read_catalog.normalized(v)) for v in values]
        return [found.get(v) for v in values]

    async def get_customer(
        self,
        principal: Principal,
        *,
        number: str | None = None,
        erp_id: str | None = None,
        crm_id: str | None = None,
    ) -> UnifiedCustomer | None:
        """One customer, or None when it does not exist or the caller may not see it."""
        return await self._get(principal, "customers", number=number, erp_id=erp_id, crm_id=crm_id)  # type: ignore[no-any-return]

    async def get_item(
        self,
        principal: Principal,
        *,
        number: str | None = None,
        erp_id: str | None = None,
        crm_id: str | None = None,
    ) -> UnifiedItem | None:
        return await self._get(principal, "items", number=number, erp_id=erp_id, crm_id=crm_id)  # type: ignore[no-any-return]

    async def get_price_list(
        self,
        principal: Principal,
        *,
        code: str | None = None,
        erp_id: str | None = None,
        crm_id: str | None = None,
    ) -> UnifiedPriceList | None:
        return await self._get(principal, "price_lists", number=code, erp_id=erp_id, crm_id=crm_id)  # type: ignore[no-any-return]

    async def get_salesperson(
        self,
        principal: Principal,
        *,
        code: str | None = None,
        erp_id: str | None = None,
        crm_id: str | None = None,
    ) -> UnifiedSalesperson | None:
        return await self._get(principal, "salespeople", number=code, erp_id=erp_id, crm_id=crm_id)  # type: ignore[no-any-return]

    # --------------------------------------------------------------------------------- batch loaders
    # Each returns one result per key, in key order (the DataLoader contract), in one or two queries.

    async def customers_by_numbers(
        self, principal: Principal, numbers: Sequence[str]
    ) -> list[UnifiedCustomer | None]:
        return await self._by(principal, "customers", "number", numbers)

    async def items_by_numbers(
        self, principal: Principal, numbers: Sequence[str]
    ) -> list[UnifiedItem | None]:
        return await self._by(principal, "items", "number", numbers)

    async def salespeople_by_codes(
        self, principal: Principal, codes: Sequence[str]
    ) -> list[UnifiedSalesperson | None]:
        return await self._by(principal, "salespeople", "number", codes)

    async def salespeople_by_crm_ids(
        self, principal: Principal, ids: Sequence[str]
    ) -> list[UnifiedSalesperson | None]:
        return await self._by(principal, "salespeople", "crm_id", ids)

    async def currencies_by_codes(
        self, principal: Principal, codes: Sequence[str]
    ) -> list[UnifiedCurrency | None]:
        return await self._by(principal, "currencies", "number", codes)

    async def price_lists_by_codes(
        self, principal: Principal, codes: Sequence[str]
    ) -> list[UnifiedPriceList | None]:
        return await self._by(principal, "price_lists", "number", codes)

    async def price_groups_by_codes(
        self, principal: Principal, codes: Sequence[str]
    ) -> list[PricingGroup | None]:
        async with self._sessions() as session:
            found = await read_catalog.pricing_groups(session, kind="customerPrice", codes=codes)
        return [found.get(c) for c in codes]

    async def default_price_lists(
        self, principal: Principal, customers: Sequence[UnifiedCustomer]
    ) -> list[UnifiedPriceList | None]:
        """Each customer's default price list: the list of its price group (ERP), else the account's
        default price level (CRM). At most two queries for any number of customers."""
        groups = [c.price_group_code for c in customers if c.price_group_code]
        crm_ids = [c.crm_default_price_list_id for c in customers if c.crm_default_price_list_id]
        by_group: dict[str, UnifiedPriceList] = {}
        async with self._sessions() as session:
            if groups:
                by_group = await read_catalog.price_lists_for_groups(session, group_codes=groups)
            by_crm = (
                await read_catalog.records_by(session, kind="price_lists", column="crm_id", values=crm_ids)
                if crm_ids
                else {}
            )
        return [
            by_group.get(c.price_group_code) or by_crm.get(c.crm_default_price_list_id or "")
            for c in customers
        ]

    async def customer_relations(
        self,
        principal: Principal,
        customers: Sequence[UnifiedCustomer],
        *,
        salesperson: bool = True,
        currency: bool = True,
        price_list: bool = True,
    ) -> CustomerRelations:
        """The asked relations of a page of customers in one statement (`read_relations`), keyed
        as `salespeople_by_codes`, `salespeople_by_crm_ids`, `currencies_by_codes` and
        `default_price_lists` would answer them one query each."""
        codes = [c.salesperson_code for c in customers if c.salesperson_code] if salesperson else []
        owners = (
            [
                c.crm_owner_id
                for c in customers
                if not c.salesperson_code and c.crm_owner_id and c.erp_id is None
            ]
            if salesperson
            else []
        )
        currencies = [c.currency_code for c in customers if c.currency_code] if currency else []
        listed = (
            [c for c in customers if c.price_group_code or c.crm_default_price_list_id] if price_list else []
        )
        groups = [c.price_group_code for c in listed if c.price_group_code]
        list_ids = [c.crm_default_price_list_id for c in listed if c.crm_default_price_list_id]
        lookups = [
            Lookup("salespeople", "number", tuple(codes)),
            Lookup("salespeople", "crm_id", tuple(owners)),
            Lookup("currencies", "number", tuple(currencies)),
            Lookup("price_lists", "group", tuple(groups)),
            Lookup("price_lists", "crm_id", tuple(list_ids)),
        ]
        async with self._sessions() as session:
            by_code, by_owner, by_currency, by_group, by_list_id = await read_relations.lookup_many(
                session, lookups
            )
        return CustomerRelations(
            salespeople_by_code={v: by_code.get(v) for v in codes},
            salespeople_by_crm_id={v: by_owner.get(read_catalog.normalized(v)) for v in owners},
            currencies_by_code={v: by_currency.get(v) for v in currencies},
            default_price_lists={
                c: by_group.get(c.price_group_code) or by_list_id.get(c.crm_default_price_list_id or "")
                for c in listed
            },
        )

    async def units_of_items(
        self, principal: Principal, numbers: Sequence[str]
    ) -> list[list[UnifiedItemUnit]]:
        async with self._sessions() as session:
            found = await read_catalog.units_of_items(session, item_numbers=numbers)
        return [found.get(n, []) for n in numbers]
