"""Queries of the read model: unified customers, items, price lists, salespeople and currencies
(ERP row + coupling + CRM row, or a CRM-only row), keyset pages, batch lookups for DataLoaders.

A two-sided table holds ERP rows and CRM rows; a unified record is an ERP row (with the coupling
of its mapping, if any) or a CRM row no coupling ties to an ERP row we hold. Plain reads: callers
pass a session from `read_session_factory`. What each kind adds to the skeleton: `read_kinds`.

Core tables and plain rows, not ORM entities: an ORM select pays for its compile state and for one
entity per row on every execution, which for a page of 50 customers was a fifth of the request.
"""

from __future__ import annotations

import collections
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Integer,
    Table,
    and_,
    bindparam,
    case,
    func,
    literal,
    or_,
    select,
    tuple_,
)
from sqlalchemy.sql import Select
from sqlalchemy.sql.selectable import NamedFromClause
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.domain import CouplingStatus
from gateway.store.read_model import (
    RmCurrency,
    RmCustomer,
    RmItem,
    RmPriceList,
    RmSalesperson,
)
from gateway.store.tables import Coupling, CouplingState

# Which coupling mapping pairs the rows of each two-sided table.
MAPPINGS: dict[type[Any], str] = {
    RmCustomer: "CUSTOMER",
    RmItem: "ITEM-PRODUCT",
    RmPriceList: "PRICE LIST",
    RmSalesperson: "SALESPEOPLE",
    RmCurrency: "CURRENCY",
}
_IN_CHUNK = 500
_HEALTHY = (CouplingState.COUPLED.value, CouplingState.SKIPPED.value)


@dataclass(frozen=True, slots=True)
class Filters:
    """What a list may be narrowed by; None means "any"."""

    search: str | None = None
    salesperson_code: str | None = None
    blocked: bool | None = None
    coupling_states: frozenset[CouplingStatus] | None = None
    changed_since: datetime | None = None
    only_salesperson: str | None = None
    """The access rule of a `sales` key with scope `own`: only this salesperson's customers."""


@dataclass(frozen=True, slots=True)
class Order:
    field: str  # "number", "name" or "changed"
    descending: bool = False


SortKey = tuple[Any, str, str]
"""(value of the ordered field, side, upstream id): a row's position in a keyset ordering."""


def alias(model: type[Any], name: str) -> NamedFromClause[Any]:
    """An aliased Core table of a table model (its columns as `.c.<name>`)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table.alias(name)


class Unified:
    """The FROM/JOIN skeleton of one two-sided table, with the expressions every query needs.

    `base`, `erp_coupling` … are the aliases' column collections (`unified.base.number`)."""

    def __init__(self, model: type[Any]) -> None:
        self.model = model
        self.mapping = MAPPINGS[model]
        self.tables = {
            name: alias(m, name)
            for name, m in (("b", model), ("cpe", Coupling), ("cpc", Coupling), ("e", model), ("o", model))
        }
        self.base: Any = self.tables["b"].c
        self.erp_coupling: Any = self.tables["cpe"].c
        self.crm_coupling: Any = self.tables["cpc"].c
        self.erp_of_crm: Any = self.tables["e"].c
        self.other: Any = self.tables["o"].c
        b, cpe, cpc = self.base, self.erp_coupling, self.crm_coupling
        is_erp = b.side == "erp"
        self.is_erp = is_erp
        self.state = case(
            (
                is_erp,
                case(
                    (cpe.id.is_(None), literal(CouplingStatus.ERP_ONLY.value)),
                    (cpe.state.in_(_HEALTHY), literal(CouplingStatus.COUPLED.value)),
                    else_=literal(CouplingStatus.ERROR.value),
                ),
            ),
            else_=case(
                (cpc.id.is_(None), literal(CouplingStatus.CRM_ONLY.value)),
                else_=literal(CouplingStatus.ERROR.value),
            ),
        )
        self.erp_id = case((is_erp, b.id), else_=cpc.erp_id)
        self.crm_id = case((is_erp, cpe.crm_id), else_=b.id)
        self.last_synced = func.coalesce(cpe.updated_at, cpc.updated_at, b.synced_at)

    def select(self, *columns: Any) -> Select[Any]:
        b, cpe, cpc, e, o = self.base, self.erp_coupling, self.crm_coupling, self.erp_of_crm, self.other
        t = self.tables
        return (
            select(
                *t["b"].c,
                self.state.label("u_state"),
                self.erp_id.label("u_erp_id"),
                self.crm_id.label("u_crm_id"),
                self.last_synced.label("u_last_synced"),
                o.modified_at.label("u_other_modified_at"),
                *columns,
            )
            .select_from(t["b"])
            .outerjoin(t["cpe"], and_(self.is_erp, cpe.mapping == self.mapping, cpe.erp_id == b.id))
            .outerjoin(t["cpc"], and_(b.side == "crm", cpc.mapping == self.mapping, cpc.crm_id == b.id))
            .outerjoin(t["e"], and_(e.side == "erp", e.id == cpc.erp_id))
            .outerjoin(t["o"], and_(o.side == "crm", o.id == cpe.crm_id))
            .where(or_(self.is_erp, e.id.is_(None)))
        )

    def sort_expression(self, field: str) -> Any:
        b = self.base
        if field == "name":
            return b.name
        if field == "changed":
            # The bare column, so its index serves the ORDER BY; projections never leave it NULL.
            return b.modified_at
        return b.number

    def common_filters(self, filters: Filters) -> list[ColumnElement[bool]]:
        b = self.base
        conditions: list[ColumnElement[bool]] = []
        if filters.search:
            needle = filters.search.strip().lower()
            conditions.append(
                or_(
                    func.lower(b.number).contains(needle, autoescape=True),
                    func.lower(b.name).contains(needle, autoescape=True),
                )
            )
        if filters.coupling_states is not None:
            conditions.append(self.state.in_(sorted(s.value for s in filters.coupling_states)))
        if filters.changed_since is not None:
            since = filters.changed_since
            conditions.append(or_(b.modified_at >= since, self.other.modified_at >= since))
        return conditions

    def pages(self, statement: Select[Any], *, order: Order, shape: PageShape) -> list[Segment]:
        """The keyset statements of one page, to run in turn until the page is full (`fetch_page`).

        Ordered by number or name, records whose field is blank (a CRM-only account has no number
        until the ERP gives it one) come after every record that has one, in either direction, by
        side and id: two statements, each served by the (field, side, id) index, the second only
        run for the page that reaches the blank ones. A cursor at a blank record ("" in its key)
        continues among the blank ones.

        The position after which a page starts and its size are bound parameters (`keyset_params`,
        `PAGE_LIMIT`), so one statement object serves every page of a shape and SQLAlchemy
        computes its cache key once."""
        sort = self.sort_expression(order.field)
        if order.field == "changed":  # never blank
            return [Segment(self._keyset(statement, sort, order, keyset=shape != "first"), shape != "first")]
        segments: list[Segment] = []
        if shape != "after_blank":
            keyset = shape == "after"
            # `> ''`, the same as `!= ''` for a NOT NULL column, is an index range past the blank
            # entries; ascending from a cursor, the cursor's own range already excludes them.
            numbered = statement if keyset and not order.descending else statement.where(sort > "")
            segments.append(Segment(self._keyset(numbered, sort, order, keyset=keyset), keyset))
        keyset = shape == "after_blank"
        segments.append(
            Segment(self._keyset(statement.where(sort == ""), sort, order, keyset=keyset), keyset)
        )
        return segments

    def _keyset(self, statement: Select[Any], sort: Any, order: Order, *, keyset: bool) -> Select[Any]:
        b = self.base
        key = tuple_(sort, b.side, b.id)
        if keyset:
            bound = tuple_(
                bindparam("after_value", type_=sort.type),
                bindparam("after_side", type_=b.side.type),
                bindparam("after_id", type_=b.id.type),
            )
            statement = statement.where(key < bound if order.descending else key > bound)
        if order.descending:
            statement = statement.order_by(sort.desc(), b.side.desc(), b.id.desc())
        else:
            statement = statement.order_by(sort, b.side, b.id)
        return statement.add_columns(sort.label("u_sort")).limit(bindparam(PAGE_LIMIT, type_=Integer))


PageShape = Literal["first", "after", "after_blank"]
"""Which statements a page needs: the first page, one after a cursor, one after a blank record's."""

PAGE_LIMIT = "page_limit"


@dataclass(frozen=True, slots=True)
class Segment:
    statement: Select[Any]
    keyset: bool
    """Whether it takes the cursor's position (`keyset_params`)."""


def page_shape(after: SortKey | None) -> PageShape:
    if after is None:
        return "first"
    return "after_blank" if after[0] == "" else "after"


def keyset_params(order: Order, after: SortKey) -> dict[str, Any]:
    value = after[0]
    if order.field == "changed" and isinstance(value, str):
        value = datetime.fromisoformat(value)
    return {"after_value": value, "after_side": after[1], "after_id": after[2]}


def sort_key(row: Any) -> SortKey:
    value = "" if row.u_sort is None else row.u_sort
    if isinstance(value, datetime):
        value = value.isoformat()
    return (value, row.side, row.id)


def chunks(values: Iterable[str]) -> list[list[str]]:
    unique = list(dict.fromkeys(v for v in values if v))
    return [unique[i : i + _IN_CHUNK] for i in range(0, len(unique), _IN_CHUNK)]


async def fetch(
    session: AsyncSession, statement: Select[Any], params: dict[str, Any] | None = None
) -> Sequence[Any]:
    """The rows, each a named tuple of the statement's columns when their labels allow one.

    SQLAlchemy's `Row` answers `row.name` through `__getattr__`, after the ordinary lookup has
    failed and raised internally: about 1 µs per column read, ~30 reads per unified customer, which
    was a tenth of a GraphQL page's CPU. A named tuple reads a column by index (C code).
    """
    result = await session.exec(statement, params=params)  # type: ignore[call-overload]
    shape = _row_shape(tuple(result.keys()))
    rows: Sequence[Any] = result.all()
    if shape is None:
        return rows
    return [shape._make(row) for row in rows]


@functools.lru_cache(maxsize=512)
def _row_shape(columns: tuple[str, ...]) -> Any:
    # The statements are kept (read_catalog), so their shapes are few. A label that cannot name a
    # tuple field (a leading underscore, a duplicate, a keyword) keeps SQLAlchemy's Row.
    try:
        return collections.namedtuple("UnifiedRow", columns)
    except ValueError:
        return None


async def fetch_page(
    session: AsyncSession, segments: Sequence[Segment], *, limit: int, after: dict[str, Any] | None
) -> list[Any]:
    """Up to `limit` rows from a page's segments (`Unified.pages`), in turn; `after` holds the
    cursor's `keyset_params`."""
    rows: list[Any] = []
    for segment in segments:
        params = {PAGE_LIMIT: limit - len(rows)}
        if segment.keyset and after is not None:
            params.update(after)
        rows.extend(await fetch(session, segment.statement, params))
        if len(rows) >= limit:
            break
    return rows


def count_statement(statement: Select[Any]) -> Select[Any]:
    # Same FROM, joins and WHERE, but none of the page's columns (a correlated subquery among them).
    return statement.order_by(None).with_only_columns(func.count(), maintain_column_froms=False)


async def count(session: AsyncSession, statement: Select[Any]) -> int:
    return int((await session.exec(statement)).scalar_one())  # type: ignore[call-overload]


KEYS = "keys"
"""The expanding parameter of `by_keys_statement`: the chunk of keys asked for."""


def by_keys_statement(
    unified: Unified, statement: Select[Any], *, column: str, key: str = KEYS
) -> Select[Any]:
    """Rows whose `column` ("erp_id", "crm_id", "number") is one of the `key` parameter."""
    keys: Any = bindparam(key, expanding=True)
    if column == "erp_id":
        condition = and_(unified.is_erp, unified.base.id.in_(keys))
    elif column == "crm_id":
        condition = unified.crm_id.in_(keys)
    else:
        condition = unified.base.number.in_(keys)
    return statement.where(condition)


async def by_keys(session: AsyncSession, statement: Select[Any], *, values: Iterable[str]) -> Sequence[Any]:
    """Rows of a `by_keys_statement`, in chunks of IN lists."""
    found: list[Any] = []
    for chunk in chunks(values):
        found.extend(await fetch(session, statement, {KEYS: chunk}))
    return found
