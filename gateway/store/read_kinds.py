"""The five kinds of unified record (customers, items, price lists, salespeople, currencies): per kind,
what its statement adds to the two-sided skeleton (`read_queries.Unified`: joins, columns, filters)
and how one of its rows becomes the domain object. `read_catalog` builds, caches and runs them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.sql import Select
from sqlalchemy.sql.selectable import NamedFromClause

from gateway.domain import (
    CouplingStatus,
    UnifiedCurrency,
    UnifiedCustomer,
    UnifiedItem,
    UnifiedPriceList,
    UnifiedSalesperson,
)
from gateway.store.read_model import (
    RmCurrency,
    RmCustomer,
    RmCustomerPricing,
    RmItem,
    RmItemPricing,
    RmPriceList,
    RmSalesperson,
)
from gateway.store.read_queries import MAPPINGS, Filters, Unified, alias
from gateway.store.read_values import natural
from gateway.store.tables import Coupling

Where = Callable[[Filters], list[ColumnElement[bool]]]
"""A kind's WHERE conditions for a list's filters."""


# ------------------------------------------------------------------------------------------------
# Rows as domain objects


def _link(row: Any) -> dict[str, Any]:
    return {
        "erp_id": row.u_erp_id,
        "crm_id": row.u_crm_id,
        "coupling_state": CouplingStatus(row.u_state),
        "last_synchronized_at": row.u_last_synced,
    }


def _customer(row: Any) -> UnifiedCustomer:
    return UnifiedCustomer(
        **_link(row),
        number=row.number,
        name=row.name,
        type=row.type,
        address_line1=row.address_line1,
        address_line2=row.address_line2,
        city=row.city,
        state=row.state,
        country=row.country,
        postal_code=row.postal_code,
        phone=row.phone,
        email=row.email,
        website=row.website,
        salesperson_code=row.u_salesperson_code or "",
        currency_code=row.u_currency_code or "",
        credit_limit=natural(row.credit_limit),
        balance_due=natural(row.balance_due),
        blocked=row.blocked,
        price_group_code=row.u_price_group or "",
        discount_group_code=row.u_discount_group or "",
        allow_line_discount=True if row.u_allow_line_discount is None else bool(row.u_allow_line_discount),
        crm_owner_id=row.owner_id,
        crm_default_price_list_id=row.default_price_list_id,
        modified_at=row.modified_at,
    )


def _item(row: Any) -> UnifiedItem:
    return UnifiedItem(
        **_link(row),
        number=row.number,
        name=row.name,
        type=row.type,
        item_category_code=row.item_category_code,
        blocked=row.blocked,
        gtin=row.gtin,
        inventory=natural(row.inventory),
        unit_price=natural(row.unit_price),
        price_includes_tax=row.price_includes_tax,
        unit_cost=natural(row.unit_cost),
        base_unit_of_measure_code=row.base_unit_code,
        discount_group_code=row.u_discount_group or "",
        sales_unit_of_measure_code=row.u_sales_unit or "",
        modified_at=row.modified_at,
    )


def _price_list(row: Any) -> UnifiedPriceList:
    return UnifiedPriceList(
        **_link(row),
        code=row.number,
        description=row.name,
        source_type=row.source_type,
        source_no=row.source_no,
        currency_code=row.u_currency_code or "",
        starting_date=row.starting_date,
        ending_date=row.ending_date,
        status=row.status,
        price_includes_tax=row.price_includes_tax,
        allow_line_discount=row.allow_line_discount,
        modified_at=row.modified_at,
    )


def _salesperson(row: Any) -> UnifiedSalesperson:
    return UnifiedSalesperson(
        **_link(row),
        code=row.number,
        name=row.name,
        email=row.email,
        phone=row.phone,
        job_title=row.job_title,
        blocked=row.blocked,
        modified_at=row.modified_at,
    )


def _currency(row: Any) -> UnifiedCurrency:
    return UnifiedCurrency(
        **_link(row),
        code=row.number,
        name=row.name,
        symbol=row.symbol,
        amount_rounding_precision=natural(row.amount_rounding_precision),
        unit_amount_rounding_precision=natural(row.unit_amount_rounding_precision),
        modified_at=row.modified_at,
    )


# ------------------------------------------------------------------------------------------------
# Per-kind additions to the skeleton: extra joins and filters


def _customer_statement(unified: Unified) -> tuple[Select[Any], dict[str, Any]]:
    """Customers: pricing profile (ERP), the CRM-only account's currency code and salesperson code."""
    b = unified.base
    pricing_t = alias(RmCustomerPricing, "cpr")
    pricing: Any = pricing_t.c
    currency_code, currency_t, currency_on = _currency_code(unified, "cur")
    seller_t, seller_coupling_t = alias(RmSalesperson, "sp"), alias(Coupling, "spc")
    seller: Any = seller_t.c
    seller_coupling: Any = seller_coupling_t.c
    owner_code = (
        select(seller.number)
        .select_from(seller_coupling_t)
        .join(seller_t, and_(seller.side == "erp", seller.id == seller_coupling.erp_id))
        .where(seller_coupling.mapping == MAPPINGS[RmSalesperson], seller_coupling.crm_id == b.owner_id)
        .limit(1)
        .scalar_subquery()
    )
    expressions = {
        "salesperson_code": case((unified.is_erp, b.salesperson_code), else_=func.coalesce(owner_code, "")),
        "currency_code": currency_code,
    }
    statement = (
        unified.select(
            pricing.price_group_code.label("u_price_group"),
            pricing.discount_group_code.label("u_discount_group"),
            pricing.allow_line_discount.label("u_allow_line_discount"),
            expressions["salesperson_code"].label("u_salesperson_code"),
            expressions["currency_code"].label("u_currency_code"),
        )
        .outerjoin(pricing_t, and_(unified.is_erp, pricing.id == b.id))
        .outerjoin(currency_t, currency_on)
        # Only accounts that are customers (customertypecode 3, or unset) are unified customers.
        .where(or_(unified.is_erp, b.customer_type_code.is_(None), b.customer_type_code == 3))
    )
    return statement, expressions


def _customer_filters(
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


def _item_statement(unified: Unified) -> Select[Any]:
    pricing_t = alias(RmItemPricing, "ipr")
    pricing: Any = pricing_t.c
    return unified.select(
        pricing.discount_group_code.label("u_discount_group"),
        pricing.sales_unit_code.label("u_sales_unit"),
    ).outerjoin(pricing_t, and_(unified.is_erp, pricing.id == unified.base.id))


def _blocked_filter(unified: Unified, filters: Filters) -> list[ColumnElement[bool]]:
    """Items and salespeople: `blocked` is a boolean column."""
    conditions = unified.common_filters(filters)
    if filters.blocked is not None:
        conditions.append(unified.base.blocked.is_(filters.blocked))
    return conditions


def _salesperson_statement(unified: Unified) -> Select[Any]:
    # Integration and application users are never salespeople (DOMAIN.md §5, SALESPEOPLE).
    return unified.select().where(or_(unified.is_erp, unified.base.integration_user.is_(False)))


def _price_list_statement(unified: Unified) -> Select[Any]:
    code, currency_t, currency_on = _currency_code(unified, "plc")
    return unified.select(code.label("u_currency_code")).outerjoin(currency_t, currency_on)


def _currency_code(unified: Unified, name: str) -> tuple[Any, NamedFromClause[Any], ColumnElement[bool]]:
    """A record's currency code: an ERP row has its own; a CRM row holds only its currency's id, so
    the code is that CRM currency's number (blank if none), from the currency outer-joined as `name`
    on the condition returned with it."""
    currency_t = alias(RmCurrency, name)
    currency: Any = currency_t.c
    b = unified.base
    code = case((unified.is_erp, b.currency_code), else_=func.coalesce(currency.number, ""))
    return code, currency_t, and_(b.side == "crm", currency.side == "crm", currency.id == b.currency_id)


@dataclass(frozen=True, slots=True)
class KindSpec:
    """A kind's two-sided table, its statement and filters over that table's skeleton, its converter."""

    model: type[Any]
    build: Callable[[Unified], tuple[Select[Any], Where]]
    convert: Callable[[Any], Any]


def _customers(u: Unified) -> tuple[Select[Any], Where]:
    statement, expressions = _customer_statement(u)
    return statement, lambda f: _customer_filters(u, expressions, f)


def _items(u: Unified) -> tuple[Select[Any], Where]:
    return _item_statement(u), lambda f: _blocked_filter(u, f)


def _price_lists(u: Unified) -> tuple[Select[Any], Where]:
    return _price_list_statement(u), u.common_filters


def _salespeople(u: Unified) -> tuple[Select[Any], Where]:
    return _salesperson_statement(u), lambda f: _blocked_filter(u, f)


def _currencies(u: Unified) -> tuple[Select[Any], Where]:
    return u.select(), u.common_filters


KINDS: dict[str, KindSpec] = {
    "customers": KindSpec(RmCustomer, _customers, _customer),
    "items": KindSpec(RmItem, _items, _item),
    "price_lists": KindSpec(RmPriceList, _price_lists, _price_list),
    "salespeople": KindSpec(RmSalesperson, _salespeople, _salesperson),
    "currencies": KindSpec(RmCurrency, _currencies, _currency),
}
