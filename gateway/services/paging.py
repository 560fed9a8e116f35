"""The vocabulary of connections (GraphQL) and pages (REST) the catalog answers with: edges, pages
whose total is counted only when asked, the page size and the orderings a list accepts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from gateway.errors import InvalidInput
from gateway.store.read_queries import Order

T = TypeVar("T")
DEFAULT_PAGE = 50
MAX_PAGE = 200
ORDERS = ("number", "name", "changed")


class Edge(Generic[T]):
    """A node and its cursor. The cursor may be given as a function that makes it: most pages are
    asked for without `cursor` (a GraphQL page's edges encoded 50 JSON cursors for nothing), and a
    REST page only wants the last one."""

    __slots__ = ("_cursor", "node")

    def __init__(self, cursor: str | Callable[[], str], node: T) -> None:
        self._cursor = cursor
        self.node = node

    @property
    def cursor(self) -> str:
        if not isinstance(self._cursor, str):
            self._cursor = self._cursor()
        return self._cursor

    def __repr__(self) -> str:
        return f"Edge(cursor={self.cursor!r}, node={self.node!r})"


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a connection; `total_count()` runs a COUNT only when someone asks for it."""

    edges: list[Edge[T]]
    has_next_page: bool
    count: Callable[[], Awaitable[int]] = field(repr=False)
    has_previous_page: bool = False

    @property
    def nodes(self) -> list[T]:
        return [e.node for e in self.edges]

    @property
    def end_cursor(self) -> str | None:
        return self.edges[-1].cursor if self.edges else None

    @property
    def start_cursor(self) -> str | None:
        return self.edges[0].cursor if self.edges else None

    async def total_count(self) -> int:
        return await self.count()


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE
    if not 1 <= first <= MAX_PAGE:
        raise InvalidInput(f"first must be between 1 and {MAX_PAGE}", field="first")
    return first


def parse_order(order: str | None) -> Order:
    """`number`, `name` or `changed`, with a leading `-` for descending."""
    text = "number" if order is None else order.strip()
    descending = text.startswith("-")
    name = text.lstrip("-")
    if name not in ORDERS:
        raise InvalidInput(
            f"orderBy must be one of {', '.join(ORDERS)} (prefix - to reverse)", field="orderBy"
        )
    return Order(name, descending)
