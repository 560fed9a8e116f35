"""The catalog's store API: unified records as domain objects, keyset pages, counts and the batch
lookups DataLoaders call (one SQL statement per batch, whatever the batch size up to 500 keys).

Kinds: "customers", "items", "price_lists", "salespeople", "currencies". Price lines and item units
come in batches keyed by their owner, each owner's page cut by a window function in the same query.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
)
from sqlalchemy.sql import Select
from sqlmodel import col
from sqlmodel import select as model_select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.domain import (
    CouplingStatus,
    PriceListStatus,
    PriceSourceType,
    PricingGroup,
    UnifiedCurrency,
    UnifiedCustomer,
    UnifiedItem,
    UnifiedItemUnit,
    UnifiedPriceList,
    UnifiedSalesperson,
    UnifiedUnit,
)
from gateway.errors import InvalidInput
from gateway.store import read_queries as q
from gateway.store.read_model import (
    RmCurrency,
    RmCustomer,
    RmItem,
    RmItemUnit,
    RmPriceList,
    RmPricingGroup,
    RmSalesperson,
    RmUnit,
)
from gateway.store.read_queries import Filters, Order, SortKey, Unified
from gateway.store.tables import Coupling, CouplingState

Kind = Literal["customers", "items", "price_lists", "salespeople", "currencies"]
LookupColumn = Literal["erp_id", "crm_id", "number"]


def natural(value: Any) -> Decimal:
    """Numeric columns come back with the column's 10 decimals; give the value its natural scale."""
    number = Decimal(value)
    if number == number.to_integral_value():
        return number.quantize(Decimal(1))
    return number.normalize()


def _link(row: Any) -> dict[str, Any]:
    return {
        "erp_id": row.u_erp_id,
        "crm_id": row.u_crm_id,
        "coupling_state": CouplingStatus(row.u_state),
        "last_synchronized_at": row.u_last_synced,
    }


def _customer(row: Any) -> UnifiedCustomer:
    b = row
    return UnifiedCustomer(
        **_link(row),
        number=b.number,
        name=b.name,
        type=b.type,
        address_line1=b.address_line1,
        address_line2=b.address_line2,
        city=b.city,
        state=b.state,
        country=b.country,
        postal_code=b.postal_code,
        phone=b.phone,
        email=b.email,
        website=b.website,
        salesperson_code=row.u_salesperson_code or "",
        currency_code=row.u_currency_code or "",
        credit_limit=natural(b.credit_limit),
        balance_due=natural(b.balance_due),
        blocked=b.blocked,
        price_group_code=row.u_price_group or "",
        discount_group_code=row.u_discount_group or "",
        allow_line_discount=True if row.u_allow_line_discount is None else bool(row.u_allow_line_discount),
        crm_owner_id=b.owner_id,
        crm_default_price_list_id=b.default_price_list_id,
        modified_at=b.modified_at,
    )


def _item(row: Any) -> UnifiedItem:
    b = row
    return UnifiedItem(
        **_link(row),
        number=b.number,
        name=b.name,
        type=b.type,
        item_category_code=b.item_category_code,
        blocked=b.blocked,
        gtin=b.gtin,
        inventory=natural(b.inventory),
        unit_price=natural(b.unit_price),
        price_includes_tax=b.price_includes_tax,
        unit_cost=natural(b.unit_cost),
        base_unit_of_measure_code=b.base_unit_code,
        discount_group_code=row.u_discount_group or "",
        sales_unit_of_measure_code=row.u_sales_unit or "",
        modified_at=b.modified_at,
    )


def _price_list(row: Any) -> UnifiedPriceList:
    b = row
    return UnifiedPriceList(
        **_link(row),
        code=b.number,
        description=b.name,
        source_type=b.source_type,
        source_no=b.source_no,
        currency_code=row.u_currency_code or "",
        starting_date=b.starting_date,
        ending_date=b.ending_date,
        status=b.status,
        price_includes_tax=b.price_includes_tax,
        allow_line_discount=b.allow_line_discount,
        modified_at=b.modified_at,
    )


def _salesperson(row: Any) -> UnifiedSalesperson:
    b = row
    return UnifiedSalesperson(
        **_link(row),
        code=b.number,
        name=b.name,
        email=b.email,
        phone=b.phone,
        job_title=b.job_title,
        blocked=b.blocked,
        modified_at=b.modified_at,
    )


def _currency(row: Any) -> UnifiedCurrency:
    b = row
    return UnifiedCurrency(
        **_link(row),
        code=b.number,
        name=b.name,
        symbol=b.symbol,
        amount_rounding_precision=natural(b.amount_rounding_precision),
        unit_amount_rounding_precision=natural(b.unit_amount_rounding_precision),
        modified_at=b.modified_at,
    )


@dataclass(frozen=True, slots=True)
class _Kind:
    model: type[Any]
    build: Callable[[Unified], tuple[Select[Any], Callable[[Filters], list[ColumnElement[bool]]]]]
    convert: Callable[[Any], Any]


def _customers(u: Unified) -> tuple[Select[Any], Callable[[Filters], list[ColumnElement[bool]]]]:
    statement, expressions = q.customer_statement(u)
    return statement, lambda f: q.customer_filters(u, expressions, f)


def _items(u: Unified) -> tuple[Select[Any], Callable[[Filters], list[ColumnElement[bool]]]]:
    return q.item_statement(u), lambda f: q.blocked_filter(u, f)


def _price_lists(u: Unified) -> tuple[Select[Any], Callable[[Filters], list[ColumnElement[bool]]]]:
    return q.price_list_statement(u), u.common_filters


def _salespeople(u: Unified) -> tuple[Select[Any], Callable[[Filters], list[ColumnElement[bool]]]]:
    return q.salesperson_statement(u), lambda f: q.blocked_filter(u, f)


def _currencies(u: Unified) -> tuple[Select[Any], Callable[[Filters], list[ColumnElement[bool]]]]:
    return u.select(), u.common_filters


KINDS: dict[str, _Kind] = {
    "customers": _Kind(RmCustomer, _customers, _customer),
    "items": _Kind(RmItem, _items, _item),
    "price_lists": _Kind(RmPriceList, _price_lists, _price_list),
    "salespeople": _Kind(RmSalesperson, _salespeople, _salesperson),
    "currencies": _Kind(RmCurrency, _currencies, _currency),
}


@functools.cache
def _skeleton(
    kind: str,
) -> tuple[_Kind, Unified, Select[Any], Callable[[Filters], list[ColumnElement[bool]]]]:
    """The query skeleton of a kind, built once per process: SQLAlchemy memoizes column adaptation
    on each aliased entity, so reusing the aliases saves ~30 ms of Python per request (measured at
    20,000 customers). Statements are immutable; filters and pages are applied to copies."""
    spec = KINDS[kind]
    unified = Unified(spec.model)
    statement, where = spec.build(unified)
    return spec, unified, statement, where


def _prepare(kind: str, filters: Filters) -> tuple[_Kind, Unified, Select[Any]]:
    spec, unified, statement, where = _skeleton(kind)
    return spec, unified, statement.where(*where(filters))


# The statements of one (kind, filters, …), built once and kept: SQLAlchemy memoizes a statement's
# cache key on the statement object, and walking a unified select to compute it cost more than
# running it. Values that change per call (keyset position, page size, looked-up keys) are bound parameters.
_STATEMENTS = 256


@functools.lru_cache(maxsize=_STATEMENTS)
def _page_statements(kind: str, filters: Filters, order: Order, shape: q.PageShape) -> tuple[q.Segment, ...]:
    _, unified, statement = _prepare(kind, filters)
    return tuple(unified.pages(statement, order=order, shape=shape))


@functools.lru_cache(maxsize=_STATEMENTS)
def _count_statement(kind: str, filters: Filters) -> Select[Any]:
    return q.count_statement(_prepare(kind, filters)[2])


@functools.lru_cache(maxsize=_STATEMENTS)
def _lookup_statement(kind: str, filters: Filters, column: LookupColumn) -> Select[Any]:
    _, unified, statement = _prepare(kind, filters)
    return q.by_keys_statement(unified, statement, column=column)


async def list_records(
    session: AsyncSession, *, kind: Kind, filters: Filters, order: Order, after: SortKey | None, limit: int
) -> list[tuple[Any, SortKey]]:
    """One keyset page of unified records, each with its sort key (for cursors)."""
    if order.field not in ("number", "name", "changed"):
        raise InvalidInput(f"cannot order by {order.field!r}", field="orderBy")
    segments = _page_statements(kind, filters, order, q.page_shape(after))
    params = q.keyset_params(order, after) if after is not None else None
    rows = await q.fetch_page(session, segments, limit=limit, after=params)
    convert = KINDS[kind].convert
    return [(convert(row), q.sort_key(row)) for row in rows]


async def count_records(session: AsyncSession, *, kind: Kind, filters: Filters) -> int:
    return await q.count(session, _count_statement(kind, filters))


async def records_by(
    session: AsyncSession,
    *,
    kind: Kind,
    column: LookupColumn,
    values: Iterable[str],
    filters: Filters | None = None,
) -> dict[str, Any]:
    """Unified records by ERP id, CRM id or number, keyed by the value asked for.

    Where a number exists on both sides uncoupled, the ERP record wins (it is the system of record).
    """
    statement = _lookup_statement(kind, filters or Filters(), column)
    wanted = list(values)
    if column != "number":
        wanted = [normalized(v) for v in wanted]
    return keyed(kind, column, await q.by_keys(session, statement, values=wanted))


def keyed(kind: Kind, column: LookupColumn, rows: Iterable[Any]) -> dict[str, Any]:
    """`records_by`'s answer from its rows."""
    convert = KINDS[kind].convert
    found: dict[str, Any] = {}
    for row in sorted(rows, key=lambda r: r.side, reverse=True):  # "erp" rows last: they win
        record = convert(row)
        key = {"erp_id": record.erp_id, "crm_id": record.crm_id}.get(column, row.number)
        found[key] = record
    return found


def lookup_statement(kind: Kind, column: LookupColumn, key: str) -> Select[Any]:
    """`records_by`'s statement (default filters) with its keys in parameter `key`."""
    _, unified, statement = _prepare(kind, Filters())
    return q.by_keys_statement(unified, statement, column=column, key=key)


def normalized(value: str) -> str:
    from gateway.store.couplings import normalize_id

    try:
        return normalize_id(value)
    except InvalidInput:
        return value


# ------------------------------------------------------------------------------------------------
# Reference data and relations


async def list_units(session: AsyncSession) -> list[UnifiedUnit]:
    rows = (await session.exec(model_select(RmUnit).order_by(col(RmUnit.code), col(RmUnit.id)))).all()
    return [
        UnifiedUnit(
            erp_id=u.id,
            crm_id=None,
            coupling_state=CouplingStatus.ERP_ONLY,
            last_synchronized_at=u.synced_at,
            code=u.code,
            name=u.name,
            international_standard_code=u.international_standard_code,
            symbol=u.symbol,
        )
        for u in rows
    ]


async def units_of_items(
    session: AsyncSession, *, item_numbers: Iterable[str]
) -> dict[str, list[UnifiedItemUnit]]:
    found: dict[str, list[UnifiedItemUnit]] = defaultdict(list)
    mapping = "ITEM UOM"
    for chunk in q.chunks(item_numbers):
        statement = (
            model_select(RmItemUnit, col(Coupling.crm_id), col(Coupling.state), col(Coupling.updated_at))
            .outerjoin(
                Coupling, and_(col(Coupling.mapping) == mapping, col(Coupling.erp_id) == col(RmItemUnit.id))
            )
            .where(col(RmItemUnit.item_number).in_(chunk))
            .order_by(col(RmItemUnit.item_number), col(RmItemUnit.qty_per_unit), col(RmItemUnit.code))
        )
        for unit, crm_id, state, updated_at in (await session.exec(statement)).all():
            status = (
                CouplingStatus.ERP_ONLY
                if crm_id is None
                else CouplingStatus.COUPLED
                if state in (CouplingState.COUPLED.value, CouplingState.SKIPPED.value)
                else CouplingStatus.ERROR
            )
            found[unit.item_number].append(
                UnifiedItemUnit(
                    erp_id=unit.id,
                    crm_id=crm_id,
                    coupling_state=status,
                    last_synchronized_at=updated_at or unit.synced_at,
                    item_number=unit.item_number,
                    code=unit.code,
                    qty_per_unit_of_measure=natural(unit.qty_per_unit),
                )
            )
    return dict(found)


async def pricing_groups(
    session: AsyncSession, *, kind: str, codes: Iterable[str]
) -> dict[str, PricingGroup]:
    found: dict[str, PricingGroup] = {}
    for chunk in q.chunks(codes):
        statement = model_select(RmPricingGroup).where(
            col(RmPricingGroup.kind) == kind, col(RmPricingGroup.code).in_(chunk)
        )
        for g in (await session.exec(statement)).all():
            found[g.code] = PricingGroup(g.code, g.description, g.allow_line_discount, g.price_includes_tax)
    return found


@functools.lru_cache(maxsize=8)
def group_lists_statement(key: str = q.KEYS) -> Select[Any]:
    """Active ERP price lists whose source is one of the customer price groups in parameter `key`."""
    _, unified, statement = _prepare("price_lists", Filters())
    b = unified.base
    return statement.where(
        unified.is_erp,
        b.source_type == PriceSourceType.CUSTOMER_PRICE_GROUP.value,
        b.source_no.in_(bindparam(key, expanding=True)),
        b.status == PriceListStatus.ACTIVE.value,
    )


def lists_by_group(rows: Iterable[Any]) -> dict[str, UnifiedPriceList]:
    """`price_lists_for_groups`'s answer from its rows: the lowest code wins."""
    found: dict[str, UnifiedPriceList] = {}
    for row in sorted(rows, key=lambda r: r.number, reverse=True):  # the lowest code written last
        found[row.source_no] = _price_list(row)
    return found


async def price_lists_for_groups(
    session: AsyncSession, *, group_codes: Iterable[str]
) -> dict[str, UnifiedPriceList]:
    """The price list a customer price group stands for (DOMAIN.md §5: price group → default price
    list): its Active list with source CustomerPriceGroup, the lowest code when there are several."""
    return lists_by_group(await q.by_keys(session, group_lists_statement(), values=group_codes))
