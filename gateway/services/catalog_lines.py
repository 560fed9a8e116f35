"""Price-line connections of the catalog: the lines of price lists, of items and those that apply
to a customer, paged per owner, one query per distinct page asked for whatever the number of owners
(the batch functions the GraphQL DataLoaders and REST call)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.domain import PriceListLine, Principal, UnifiedCustomer
from gateway.services import cursors
from gateway.services.paging import DEFAULT_PAGE, Edge, Page, page_size
from gateway.store import read_lines
from gateway.store.engine import SessionFactory


@dataclass(frozen=True, slots=True)
class LineKey:
    """A request for one owner's price lines: the owner, and the page wanted."""

    owner: str
    first: int = DEFAULT_PAGE
    after: str | None = None


@dataclass(frozen=True, slots=True)
class CustomerLineKey:
    customer: UnifiedCustomer
    first: int = DEFAULT_PAGE
    after: str | None = None


class PriceLinesPart:
    """The price-line half of `CatalogService` (which sets `_sessions`)."""

    _sessions: SessionFactory

    async def _line_pages(
        self,
        keys: Sequence[Any],
        owner: Callable[[Any], str],
        fetch: Callable[
            [Any, list[Any], int, tuple[str, int] | None], Awaitable[dict[str, list[PriceListLine]]]
        ],
        count: Callable[[Any, Any], Awaitable[int]],
    ) -> list[Page[PriceListLine]]:
        """Group the keys by the page they ask for (one query per distinct first/after), then cut pages."""
        groups: dict[tuple[int, str | None], list[Any]] = defaultdict(list)
        for key in keys:
            groups[(page_size(key.first), key.after)].append(key)
        results: dict[int, Page[PriceListLine]] = {}
        async with self._sessions() as session:
            for (first, after), members in groups.items():
                position = cursors.decode_line(after) if after else None
                found = await fetch(session, members, first, position)
                for key in members:
                    lines = found.get(owner(key), [])
                    edges = [
                        Edge(cursors.encode_line(ln.price_list_code, ln.line_no), ln) for ln in lines[:first]
                    ]
                    results[id(key)] = Page(
                        edges=edges,
                        has_next_page=len(lines) > first,
                        count=self._line_count(count, key),
                        has_previous_page=after is not None,
                    )
        return [results[id(k)] for k in keys]

    def _line_count(
        self, count: Callable[[Any, Any], Awaitable[int]], key: Any
    ) -> Callable[[], Awaitable[int]]:
        """A nested connection's total, counted only when asked for (one COUNT per connection)."""

        async def total() -> int:
            async with self._sessions() as session:
                return await count(session, key)

        return total

    async def lines_of_price_lists(
        self, principal: Principal, keys: Sequence[LineKey]
    ) -> list[Page[PriceListLine]]:
        async def fetch(
            session: Any, members: list[LineKey], first: int, after: tuple[str, int] | None
        ) -> Any:
            return await read_lines.lines_of_price_lists(
                session, codes=[k.owner for k in members], first=first, after=after
            )

        async def count(session: Any, key: LineKey) -> int:
            return await read_lines.count_lines(session, kind="price_list", owner=key.owner)

        return await self._line_pages(keys, lambda k: k.owner, fetch, count)

    async def lines_of_items(
        self, principal: Principal, keys: Sequence[LineKey]
    ) -> list[Page[PriceListLine]]:
        async def fetch(
            session: Any, members: list[LineKey], first: int, after: tuple[str, int] | None
        ) -> Any:
            return await read_lines.lines_of_items(
                session, numbers=[k.owner for k in members], first=first, after=after
            )

        async def count(session: Any, key: LineKey) -> int:
            return await read_lines.count_lines(session, kind="item", owner=key.owner)

        return await self._line_pages(keys, lambda k: k.owner, fetch, count)

    async def lines_for_customers(
        self, principal: Principal, keys: Sequence[CustomerLineKey]
    ) -> list[Page[PriceListLine]]:
        """The price lines whose source applies to each customer (on Active lists), paged per customer."""

        def owner(key: CustomerLineKey) -> str:
            return key.customer.erp_id or key.customer.crm_id or key.customer.number

        async def fetch(
            session: Any, members: list[CustomerLineKey], first: int, after: tuple[str, int] | None
        ) -> Any:
            sources = {
                owner(k): read_lines.customer_sources(k.customer) for k in members if k.customer.erp_id
            }
            return await read_lines.lines_for_customers(session, sources=sources, first=first, after=after)

        async def count(session: Any, key: CustomerLineKey) -> int:
            pairs = read_lines.customer_sources(key.customer) if key.customer.erp_id else []
            return await read_lines.count_lines(session, kind="customer", owner=pairs)

        return await self._line_pages(keys, owner, fetch, count)
