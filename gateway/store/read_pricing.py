"""What a price quote needs from the read model, as domain objects: the customers' pricing profiles,
the items with their pricing profiles and units, currencies, exchange rates, and every price list
line that can apply to those customers and items (DOMAIN.md §9 step 1), in seven statements (four
when the caller passes the currency tables it keeps: `load_currency_tables`, `read_versions`).

The pricing service turns a `PricingData` into the price engine's snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from sqlalchemy import Table, and_, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.domain import (
    Currency,
    CustomerPricing,
    ExchangeRate,
    Item,
    ItemPricing,
    ItemUnit,
    PriceAssetType,
    PriceListLine,
    PriceSourceType,
)
from gateway.store.read_lines import line_from_row
from gateway.store.read_model import (
    RmCompany,
    RmCurrency,
    RmCustomerPricing,
    RmExchangeRate,
    RmItem,
    RmItemPricing,
    RmItemUnit,
    RmPriceLine,
    RmPriceList,
)
from gateway.store.read_queries import chunks
from gateway.store.read_values import natural


def _t(model: Any) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


@dataclass(frozen=True, slots=True)
class CurrencyTables:
    """Every currency by code, every exchange rate (by currency, then starting date) and the local
    currency: the same for every quote until the sync writes them, so a process may keep them."""

    currencies: Mapping[str, Currency]
    exchange_rates: tuple[ExchangeRate, ...]
    local_currency_code: str = ""
    """BC's `companyInformation.currencyCode` as the sync last read it; "" before it ever did."""


@dataclass(frozen=True, slots=True)
class PricingData:
    """Keyed as `gateway.services.price_engine.PricingSnapshot` wants its fields."""

    currencies: Mapping[str, Currency] = field(default_factory=dict)
    exchange_rates: Sequence[ExchangeRate] = ()
    customers: dict[str, CustomerPricing] = field(default_factory=dict)
    items: dict[str, Item] = field(default_factory=dict)
    item_pricing: dict[str, ItemPricing] = field(default_factory=dict)
    item_units: dict[tuple[str, str], ItemUnit] = field(default_factory=dict)
    lines: list[PriceListLine] = field(default_factory=list)


async def _rows(session: AsyncSession, statement: Any) -> Sequence[Any]:
    rows: Sequence[Any] = (await session.exec(statement)).all()
    return rows


async def load_currency_tables(session: AsyncSession) -> CurrencyTables:
    currencies: dict[str, Currency] = {}
    for row in await _rows(session, select(_t(RmCurrency)).order_by(_t(RmCurrency).c.side.desc())):
        # ERP rows come last and win; a CRM-only currency (the local one) is kept from Dataverse.
        currencies[row.number] = Currency(
            code=row.number,
            name=row.name,
            symbol=row.symbol,
            amount_decimal_places=row.amount_decimal_places,
            amount_rounding_precision=natural(row.amount_rounding_precision),
            unit_amount_rounding_precision=natural(row.unit_amount_rounding_precision),
        )
    rates = _t(RmExchangeRate)
    exchange_rates = tuple(
        ExchangeRate(
            currency_code=row.currency_code,
            starting_date=row.starting_date,
            exchange_rate_amount=natural(row.exchange_rate_amount),
            relational_exchange_rate_amount=natural(row.relational_exchange_rate_amount),
        )
        for row in await _rows(session, select(rates).order_by(rates.c.currency_code, rates.c.starting_date))
        if row.starting_date is not None
    )
    return CurrencyTables(
        currencies=MappingProxyType(currencies),
        exchange_rates=exchange_rates,
        local_currency_code=await stored_local_currency(session),
    )


async def stored_local_currency(session: AsyncSession) -> str:
    """BC's local currency as ERP PRICING last mirrored it ("" before its first read). One company per
    store (the gateway serves one); the lowest id if BC's row id ever changed."""
    company = _t(RmCompany)
    local = await _rows(session, select(company.c.currency_code).order_by(company.c.id).limit(1))
    return str(local[0].currency_code) if local else ""


async def load_pricing_data(
    session: AsyncSession,
    *,
    customer_numbers: Iterable[str],
    item_numbers: Iterable[str],
    currency_tables: CurrencyTables | None = None,
) -> PricingData:
    """Everything needed to price `item_numbers` for `customer_numbers`; unknown numbers are absent.
    The currency tables are read too unless given."""
    customers_wanted = list(dict.fromkeys(n for n in customer_numbers if n))
    items_wanted = list(dict.fromkeys(n for n in item_numbers if n))
    tables = currency_tables or await load_currency_tables(session)
    data = PricingData(currencies=tables.currencies, exchange_rates=tables.exchange_rates)

    profiles = _t(RmCustomerPricing)
    for chunk in chunks(customers_wanted):
        for row in await _rows(session, select(profiles).where(profiles.c.customer_number.in_(chunk))):
            data.customers[row.customer_number] = CustomerPricing(
                customer_number=row.customer_number,
                customer_price_group_code=row.price_group_code,
                customer_discount_group_code=row.discount_group_code,
                allow_line_discount=bool(row.allow_line_discount),
            )

    items, item_profiles, units = _t(RmItem), _t(RmItemPricing), _t(RmItemUnit)
    for chunk in chunks(items_wanted):
        statement = (
            select(items, item_profiles.c.discount_group_code, item_profiles.c.sales_unit_code)
            .outerjoin(item_profiles, item_profiles.c.id == items.c.id)
            .where(items.c.side == "erp", items.c.number.in_(chunk))
        )
        for row in await _rows(session, statement):
            data.items[row.number] = Item(
                erp_id=row.id,
                number=row.number,
                name=row.name,
                type=row.type,
                item_category_code=row.item_category_code,
                blocked=bool(row.blocked),
                gtin=row.gtin,
                inventory=natural(row.inventory),
                unit_price=natural(row.unit_price),
                price_includes_tax=bool(row.price_includes_tax),
                unit_cost=natural(row.unit_cost),
                base_unit_of_measure_code=row.base_unit_code,
                modified_at=row.modified_at,
            )
            data.item_pricing[row.number] = ItemPricing(
                item_number=row.number,
                item_discount_group_code=row.discount_group_code or "",
                sales_unit_of_measure_code=row.sales_unit_code or "",
            )
        for row in await _rows(session, select(units).where(units.c.item_number.in_(chunk))):
            data.item_units[(row.item_number, row.code)] = ItemUnit(
                item_number=row.item_number, code=row.code, qty_per_unit_of_measure=natural(row.qty_per_unit)
            )

    data.lines.extend(await _candidate_lines(session, data))
    return data


async def _candidate_lines(session: AsyncSession, data: PricingData) -> list[PriceListLine]:
    """Lines for these items (or their discount groups) whose source is everyone, one of these
    customers, or one of their groups. Date, currency, unit and quantity are the engine's to judge."""
    if not data.items:
        return []
    line, header = _t(RmPriceLine), _t(RmPriceList)
    item_groups = {
        p.item_discount_group_code for p in data.item_pricing.values() if p.item_discount_group_code
    }
    sources: list[Any] = [line.c.source_type == PriceSourceType.ALL_CUSTOMERS.value]
    by_type = {
        PriceSourceType.CUSTOMER.value: set(data.customers),
        PriceSourceType.CUSTOMER_PRICE_GROUP.value: {
            c.customer_price_group_code for c in data.customers.values() if c.customer_price_group_code
        },
        PriceSourceType.CUSTOMER_DISCOUNT_GROUP.value: {
            c.customer_discount_group_code for c in data.customers.values() if c.customer_discount_group_code
        },
    }
    for source_type, numbers in by_type.items():
        if numbers:
            sources.append(and_(line.c.source_type == source_type, line.c.source_no.in_(sorted(numbers))))
    assets: list[Any] = [
        and_(line.c.asset_type == PriceAssetType.ITEM.value, line.c.asset_no.in_(sorted(data.items)))
    ]
    if item_groups:
        assets.append(
            and_(
                line.c.asset_type == PriceAssetType.ITEM_DISCOUNT_GROUP.value,
                line.c.asset_no.in_(sorted(item_groups)),
            )
        )
    statement = (
        select(*line.columns, header.c.status.label("header_status"))
        .select_from(line)
        .outerjoin(header, and_(header.c.side == "erp", header.c.number == line.c.price_list_code))
        .where(or_(*sources), or_(*assets))
        .order_by(line.c.price_list_code, line.c.line_no)
    )
    return [line_from_row(row._mapping) for row in await _rows(session, statement)]
