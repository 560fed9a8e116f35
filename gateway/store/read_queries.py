"""Queries of the read model: unified customers, items, price lists, salespeople and currencies
(ERP row + coupling + CRM row, or a CRM-only row), keyset pages, batch lookups for DataLoaders.

A two-sided table holds ERP rows and CRM rows; a unified record is an ERP row (with the coupling
of its mapping, if any) or a CRM row no coupling ties to an ERP row we hold. Plain reads: callers
pass a session from `read_session_factory`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select, tuple_
from sqlalchemy.orm import aliased
from sqlalchemy.sql import Select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.domain import CouplingStatus
from gateway.store.read_model import (
    RmCurrency,
    RmCustomer,
    RmCustomerPricing,
    RmItem,
    RmItemPricing,
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


class Unified:
    """The FROM/JOIN skeleton of one two-sided table, with the expressions every query needs."""

    def __init__(self, model: type[Any]) -> None:
        self.model = model
        self.mapping = MAPPINGS[model]
        self.base: Any = aliased(model, name="b")
        self.erp_coupling: Any = aliased(Coupling, name="cpe")
        self.crm_coupling: Any = aliased(Coupling, name="cpc")
        self.erp_of_crm: Any = aliased(model, name="e")
        self.other: Any = aliased(model, name="o")
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
        return (
            select(
                b,
                self.state.label("u_state"),
                self.erp_id.label("u_erp_id"),
                self.crm_id.label("u_crm_id"),
                self.last_synced.label("u_last_synced"),
                o.modified_at.label("u_other_modified_at"),
                *columns,
            )
            .select_from(b)
            .outerjoin(cpe, and_(self.is_erp, cpe.mapping == self.mapping, cpe.erp_id == b.id))
            .outerjoin(cpc, and_(b.side == "crm", cpc.mapping == self.mapping, cpc.crm_id == b.id))
            .outerjoin(e, and_(e.side == "erp", e.id == cpc.erp_id))
            .outerjoin(o, and_(o.side == "crm", o.id == cpe.crm_id))
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

    def pages(self, statement: Select[Any], *, order: Order, after: SortKey | None) -> list[Select[Any]]:
        """The keyset statements of one page, to run in turn until the page is full (`fetch_page`).

        Ordered by number or name, records whose field is blank (a CRM-only account has no number
        until the ERP gives it one) come after every record that has one, in either direction, by
        side and id: two statements, each served by the (field, side, id) index, the second only
        run for the page that reaches the blank ones. A cursor at a blank record ("" in its key)
        continues among the blank ones."""
        sort = self.sort_expression(order.field)
        if order.field == "changed":  # never blank
            return [self._keyset(statement, sort, order, after)]
        segments: list[Select[Any]] = []
        if after is None or after[0] != "":
            # `> ''`, the same as `!= ''` for a NOT NULL column, is an index range past the blank
            # entries; ascending from a cursor, the cursor's own range already excludes them.
            numbered = statement if after is not None and not order.descending else statement.where(sort > "")
            segments.append(self._keyset(numbered, sort, order, after))
            after = None
        segments.append(self._keyset(statement.where(sort == ""), sort, order, after))
        return segments

    def _keyset(self, statement: Select[Any], sort: Any, order: Order, after: SortKey | None) -> Select[Any]:
        b = self.base
        key = tuple_(sort, b.side, b.id)
        if after is not None:
            value = after[0]
            if order.field == "changed" and isinstance(value, str):
                value = datetime.fromisoformat(value)
            bound = tuple_(literal(value, sort.type), literal(after[1]), literal(after[2]))
            statement = statement.where(key < bound if order.descending else key > bound)
        if order.descending:
            statement = statement.order_by(sort.desc(), b.side.desc(), b.id.desc())
        else:
            statement = statement.order_by(sort, b.side, b.id)
        return statement.add_columns(sort.label("u_sort"))


def sort_key(row: Any) -> SortKey:
    value = "" if row.u_sort is None else row.u_sort
    if isinstance(value, datetime):
        value = value.isoformat()
    base = row[0]
    return (value, base.side, base.id)


def chunks(values: Iterable[str]) -> list[list[str]]:
    unique = list(dict.fromkeys(v for v in values if v))
    return [unique[i : i + _IN_CHUNK] for i in range(0, len(unique), _IN_CHUNK)]


async def fetch(session: AsyncSession, statement: Select[Any]) -> Sequence[Any]:
    rows: Sequence[Any] = (await session.exec(statement)).all()  # type: ignore[call-overload]
    return rows


async def fetch_page(session: AsyncSession, statements: Sequence[Select[Any]], *, limit: int) -> list[Any]:
    """Up to `limit` rows from `statements` (a page's segments, `Unified.pages`), in turn."""
    rows: list[Any] = []
    for statement in statements:
        rows.extend(await fetch(session, statement.limit(limit - len(rows))))
        if len(rows) >= limit:
            break
    return rows


async def count(session: AsyncSession, statement: Select[Any]) -> int:
    # Same FROM, joins and WHERE, but none of the page's columns (a correlated subquery among them).
    counted = statement.order_by(None).with_only_columns(func.count(), maintain_column_froms=False)
    return int((await session.exec(counted)).scalar_one())  # type: ignore[call-overload]


async def by_keys(
    session: AsyncSession, unified: Unified, statement: Select[Any], *, column: str, values: Iterable[str]
) -> Sequence[Any]:
    """Rows whose `column` ("erp_id", "crm_id", "number") is one of `values`, in chunks of IN lists."""
    found: list[Any] = []
    for chunk in chunks(values):
        if column == "erp_id":
            condition = and_(unified.is_erp, unified.base.id.in_(chunk))
        elif column == "crm_id":
            condition = unified.crm_id.in_(chunk)
        else:
            condition = unified.base.number.in_(chunk)
        found.extend(await fetch(session, statement.where(condition)))
    return found


# ------------------------------------------------------------------------------------------------
# Per-entity additions: extra joins and filters


def customer_statement(unified: Unified) -> tuple[Select[Any], dict[str, Any]]:
    """Customers: pricing profile (ERP), the CRM-only account's currency code and salesperson code."""
    b = unified.base
    pricing: Any = aliased(RmCustomerPricing, name="cpr")
    currency: Any = aliased(RmCurrency, name="cur")
    seller: Any = aliased(RmSalesperson, name="sp")
    seller_coupling: Any = aliased(Coupling, name="spc")
    owner_code = (
        select(seller.number)
        .select_from(seller_coupling)
        .join(seller, and_(seller.side == "erp", seller.id == seller_coupling.erp_id))
        .where(seller_coupling.mapping == MAPPINGS[RmSalesperson], seller_coupling.crm_id == b.owner_id)
        .limit(1)
        .scalar_subquery()
    )
    expressions = {
        "salesperson_code": case((unified.is_erp, b.salesperson_code), else_=func.coalesce(owner_code, "")),
        "currency_code": case((unified.is_erp, b.currency_code), else_=func.coalesce(currency.number, "")),
    }
    statement = (
        unified.select(
            pricing.price_group_code.label("u_price_group"),
            pricing.discount_group_code.label("u_discount_group"),
            pricing.allow_line_discount.label("u_allow_line_discount"),
            expressions["salesperson_code"].label("u_salesperson_code"),
            expressions["currency_code"].label("u_currency_code"),
        )
        .outerjoin(pricing, and_(unified.is_erp, pricing.id == b.id))
        .outerjoin(currency, and_(b.side == "crm", currency.side == "crm", currency.id == b.currency_id))
        # Only accounts that are customers (customertypecode 3, or unset) are unified customers.
        .where(or_(unified.is_erp, b.customer_type_code.is_(None), b.customer_type_code == 3))
    )
    return statement, expressions


def customer_filters(
    unified: Unified, expressions: dict[str, Any], filters: Filters
) -> list[ColumnElement[bool]]:
    conditions = unified.common_filters(filters)
    if filters.salesperson_code is not None:
        conditions.append(expressions["salesperson_code"] == filters.salesperson_code)
    if filters.only_salesperson is not None:
        conditions.append(expressions["salesperson_code"] == filters.only_salesperson)
    if filters.blocked is not None:
        blocked = unified.base.blocked.notin_(("", " "))
        conditions.append(blocked if filters.blocked else ~blocked)
    return conditions


def item_statement(unified: Unified) -> Select[Any]:
    pricing: Any = aliased(RmItemPricing, name="ipr")
    return unified.select(
        pricing.discount_group_code.label("u_discount_group"),
        pricing.sales_unit_code.label("u_sales_unit"),
    ).outerjoin(pricing, and_(unified.is_erp, pricing.id == unified.base.id))


def blocked_filter(unified: Unified, filters: Filters) -> list[ColumnElement[bool]]:
    """Items and salespeople: `blocked` is a boolean column."""
    conditions = unified.common_filters(filters)
    if filters.blocked is not None:
        conditions.append(unified.base.blocked.is_(filters.blocked))
    return conditions


def salesperson_statement(unified: Unified) -> Select[Any]:
    # Integration and application users are never salespeople (DOMAIN.md §5, SALESPEOPLE).
    return unified.select().where(or_(unified.is_erp, unified.base.integration_user.is_(False)))


def price_list_statement(unified: Unified) -> Select[Any]:
    currency: Any = aliased(RmCurrency, name="plc")
    b = unified.base
    code = case((unified.is_erp, b.currency_code), else_=func.coalesce(currency.number, ""))
    return unified.select(code.label("u_currency_code")).outerjoin(
        currency, and_(b.side == "crm", currency.side == "crm", currency.id == b.currency_id)
    )
