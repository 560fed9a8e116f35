"""Price list lines of the read model, paged per owner (a price list, an item, a customer's price
sources): one statement for many owners, each owner's page cut by its own ORDER BY … LIMIT, plus the
totals nested connections show and the row → `PriceListLine` conversion the pricing loader shares.
"""

from __future__ import annotations

import heapq
import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    String,
    Table,
    and_,
    func,
    literal,
    or_,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.sql import Select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.domain import (
    PriceAmountType,
    PriceAssetType,
    PriceListLine,
    PriceListStatus,
    PriceSourceType,
    UnifiedCustomer,
)
from gateway.store.read_model import RmPriceLine, RmPriceList
from gateway.store.read_values import natural

LineCursor = tuple[str, int]
"""(price list code, line no): a price line's position in every line ordering."""

_LINE_TABLE: Table = RmPriceLine.__table__  # type: ignore[attr-defined]
_LIST_TABLE: Table = RmPriceList.__table__  # type: ignore[attr-defined]


def _enum(enum_type: Any, value: Any, default: Any) -> Any:
    try:
        return enum_type(value)
    except ValueError:
        return default


def line_from_row(data: Mapping[str, Any]) -> PriceListLine:
    return PriceListLine(
        price_list_code=data["price_list_code"],
        line_no=data["line_no"],
        source_type=_enum(PriceSourceType, data["source_type"], PriceSourceType.ALL_CUSTOMERS),
        source_no=data["source_no"],
        asset_type=_enum(PriceAssetType, data["asset_type"], PriceAssetType.ITEM),
        asset_no=data["asset_no"],
        amount_type=_enum(PriceAmountType, data["amount_type"], PriceAmountType.PRICE),
        unit_of_measure_code=data["unit_code"],
        currency_code=data["currency_code"],
        starting_date=data["starting_date"],
        ending_date=data["ending_date"],
        minimum_quantity=natural(data["minimum_quantity"]),
        unit_price=natural(data["unit_price"]),
        line_discount_percent=natural(data["line_discount_percent"]),
        allow_line_discount=bool(data["allow_line_discount"]),
        price_includes_tax=bool(data["price_includes_tax"]),
        status=_enum(PriceListStatus, data["header_status"] or "Active", PriceListStatus.ACTIVE),
    )


OwnerKey = tuple[str, ...]


def _line_query(
    *, fixed: Sequence[ColumnElement[bool]], after: LineCursor | None, active_only: bool
) -> Select[Any]:
    line, header = _LINE_TABLE, _LIST_TABLE
    query = (
        select(*line.columns, header.c.status.label("header_status"))
        .select_from(line)
        .outerjoin(header, and_(header.c.side == "erp", header.c.number == line.c.price_list_code))
        .where(*fixed)
    )
    if active_only:
        query = query.where(or_(header.c.status.is_(None), header.c.status == PriceListStatus.ACTIVE.value))
    if after is not None:
        position = tuple_(literal(after[0]), literal(after[1]))
        query = query.where(tuple_(line.c.price_list_code, line.c.line_no) > position)
    return query


async def _lines_per_owner(
    session: AsyncSession,
    *,
    owner_columns: Sequence[Any],
    keys: Iterable[OwnerKey],
    fixed: Sequence[ColumnElement[bool]] = (),
    first: int,
    after: LineCursor | None,
    active_only: bool = False,
) -> dict[OwnerKey, list[PriceListLine]]:
    """At most `first + 1` lines per owner (the extra one says "there is a next page"), in
    (price list code, line no) order; an owner is the value of `owner_columns` in `keys`.

    Every owner's page is its own ORDER BY … LIMIT, which an index range scan answers, so a long
    price list costs no more than a short one: PostgreSQL runs it once per owner through a LATERAL
    join over the unnested keys (a small plan whatever the count); SQLite, which has no LATERAL,
    gets one UNION ALL branch per owner (its planner is cheap)."""
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return {}
    line = _LINE_TABLE
    width = len(owner_columns)
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    if dialect == "postgresql":
        owners = select(
            *(
                func.unnest(literal([k[i] for k in wanted], ARRAY(String()))).label(f"k{i}")
                for i in range(width)
            )
        ).subquery("owners")
        matches = [c == owners.c[f"k{i}"] for i, c in enumerate(owner_columns)]
        page = (
            _line_query(fixed=[*fixed, *matches], after=after, active_only=active_only)
            .order_by(line.c.price_list_code, line.c.line_no)
            .limit(first + 1)
            .lateral("page")
        )
        statement: Any = select(*(owners.c[f"k{i}"] for i in range(width)), page).select_from(
            owners.join(page, true())
        )
    else:
        branches = []
        for key in wanted:
            matches = [c == value for c, value in zip(owner_columns, key, strict=True)]
            query = _line_query(fixed=[*fixed, *matches], after=after, active_only=active_only).add_columns(
                *(literal(value).label(f"k{i}") for i, value in enumerate(key))
            )
            branches.append(
                select(query.order_by(line.c.price_list_code, line.c.line_no).limit(first + 1).subquery())
            )
        statement = branches[0] if len(branches) == 1 else union_all(*branches)
    found: dict[OwnerKey, list[PriceListLine]] = defaultdict(list)
    for row in (await session.exec(statement)).all():
        data = row._mapping
        found[tuple(data[f"k{i}"] for i in range(width))].append(line_from_row(data))
    for lines in found.values():  # neither UNION ALL nor the join promise an order across owners
        lines.sort(key=lambda ln: (ln.price_list_code, ln.line_no))
    return dict(found)


async def lines_of_price_lists(
    session: AsyncSession, *, codes: Iterable[str], first: int, after: LineCursor | None
) -> dict[str, list[PriceListLine]]:
    found = await _lines_per_owner(
        session,
        owner_columns=[_LINE_TABLE.c.price_list_code],
        keys=[(code,) for code in codes if code],
        first=first,
        after=after,
    )
    return {key[0]: lines for key, lines in found.items()}


async def lines_of_items(
    session: AsyncSession, *, numbers: Iterable[str], first: int, after: LineCursor | None
) -> dict[str, list[PriceListLine]]:
    """Item-level price and discount lines of each item (discount-group lines are the group's)."""
    line = _LINE_TABLE.c
    found = await _lines_per_owner(
        session,
        owner_columns=[line.asset_no],
        keys=[(number,) for number in numbers if number],
        fixed=[line.asset_type == PriceAssetType.ITEM.value],
        first=first,
        after=after,
    )
    return {key[0]: lines for key, lines in found.items()}


async def lines_for_customers(
    session: AsyncSession,
    *,
    sources: Mapping[str, Sequence[tuple[str, str]]],
    first: int,
    after: LineCursor | None,
) -> dict[str, list[PriceListLine]]:
    """Lines whose source applies to each customer (AllCustomers, itself, its price and discount
    groups; DOMAIN.md §9 step 1), keyed like `sources`, on Active price lists only.

    Customers share sources (every one has AllCustomers), so each distinct source is read once and
    a customer's page is the merge of its sources' pages: its first n lines are among their first n.
    """
    line = _LINE_TABLE.c
    by_source = await _lines_per_owner(
        session,
        owner_columns=[line.source_type, line.source_no],
        keys=sorted({pair for pairs in sources.values() for pair in pairs}),
        first=first,
        after=after,
        active_only=True,
    )
    found: dict[str, list[PriceListLine]] = {}
    for key, pairs in sources.items():
        merged = heapq.merge(
            *(by_source.get(pair, []) for pair in pairs), key=lambda ln: (ln.price_list_code, ln.line_no)
        )
        found[key] = list(itertools.islice(merged, first + 1))
    return found


async def count_lines(
    session: AsyncSession, *, kind: Literal["price_list", "item", "customer"], owner: Any
) -> int:
    """How many lines a nested connection has in all: a price list's (owner = its code), an item's
    (its number), or a customer's (its `customer_sources` pairs, on Active lists only)."""
    line = _LINE_TABLE.c
    if kind == "price_list":
        conditions: list[Any] = [line.price_list_code == owner]
    elif kind == "item":
        conditions = [line.asset_type == PriceAssetType.ITEM.value, line.asset_no == owner]
    else:
        pairs = list(owner)
        if not pairs:
            return 0
        conditions = [or_(*(and_(line.source_type == t, line.source_no == n) for t, n in pairs))]
    query = _line_query(fixed=conditions, after=None, active_only=kind == "customer")
    counted = query.with_only_columns(func.count(), maintain_column_froms=False)
    return int((await session.exec(counted)).scalar_one())  # type: ignore[call-overload]


def customer_sources(customer: UnifiedCustomer) -> list[tuple[str, str]]:
    """The (source type, source no) pairs whose price lines apply to a customer."""
    sources = [(PriceSourceType.ALL_CUSTOMERS.value, ""), (PriceSourceType.CUSTOMER.value, customer.number)]
    if customer.price_group_code:
        sources.append((PriceSourceType.CUSTOMER_PRICE_GROUP.value, customer.price_group_code))
    if customer.discount_group_code:
        sources.append((PriceSourceType.CUSTOMER_DISCOUNT_GROUP.value, customer.discount_group_code))
    return sources
