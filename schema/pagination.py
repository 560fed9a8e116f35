"""Relay-style connections: `edges { cursor node }`, `nodes`, `pageInfo` and `totalCount`.

Cursors are opaque keyset positions (stable under inserts), never offsets.
"""

from typing import Any, Generic, TypeVar

import strawberry

from resolvers.catalog import total_count

T = TypeVar("T")


@strawberry.type(description="Where a page stands in its list.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool = strawberry.field(description="True when the page was asked for with `after`.")
    start_cursor: str | None
    end_cursor: str | None = strawberry.field(description="Pass as `after` to get the next page.")


def _page_info(root: strawberry.Parent[Any]) -> PageInfo:
    return root  # type: ignore[no-any-return]  # the service's Page has PageInfo's fields


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    nodes: list[T] = strawberry.field(description="The nodes of `edges`, for clients that need no cursors.")
    page_info: PageInfo = strawberry.field(resolver=_page_info)
    total_count: int = strawberry.field(
        resolver=total_count, description="How many records match the filter (one COUNT query when asked)."
    )
