"""Projection of upstream records into the read model: `project_records` upserts a page of ERP or
CRM records into the typed read-model tables in bulk, `remove_records` deletes them.

Callers (the sync engine) own the transaction: nothing here commits, so a page of upstream writes,
couplings and read-model rows commit together. Entity sets the read model does not keep are ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic_core import PydanticUndefined
from sqlalchemy import Table, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.domain import Side, UpstreamRecord
from gateway.store import read_versions
from gateway.store.couplings import normalize_id
from gateway.store.read_model import (
    RmCurrency,
    RmCustomer,
    RmCustomerPricing,
    RmExchangeRate,
    RmItem,
    RmItemPricing,
    RmItemUnit,
    RmLocation,
    RmPriceLine,
    RmPriceList,
    RmPricingGroup,
    RmSalesperson,
    RmUnit,
)
from gateway.store.types import utcnow

# Rows per executemany call: bounds the memory of one call, not the round trips.
_UPSERT_CHUNK = 5_000
_DELETE_CHUNK = 500

Row = dict[str, Any]
Values = Mapping[str, Any]


# ------------------------------------------------------------------------------------------------
# Value conversion: upstream JSON → column values


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _id(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return normalize_id(str(value))


def _decimal(value: Any, default: Decimal = Decimal(0)) -> Decimal:
    if value is None or value == "":
        return default
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return default


def _bool(value: Any, default: bool = False) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes"}
    return bool(value)


def _int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _date(value: Any) -> date | None:
    """BC writes a blank date as 0001-01-01; Dataverse as null. Both mean "no date"."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value)[:10]
    if text.startswith("0001-01-01"):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _datetime(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _precision(places: Any) -> Decimal:
    digits = _int(places)
    return Decimal(1).scaleb(-digits) if digits is not None and digits >= 0 else Decimal("0.01")


# ------------------------------------------------------------------------------------------------
# One converter per entity set: upstream properties → the table's columns


def _erp_customer(v: Values) -> Row:
    return {
        "number": _text(v.get("number")),
        "name": _text(v.get("displayName")),
        "type": _text(v.get("type")),
        "address_line1": _text(v.get("addressLine1")),
        "address_line2": _text(v.get("addressLine2")),
        "city": _text(v.get("city")),
        "state": _text(v.get("state")),
        "country": _text(v.get("country")),
        "postal_code": _text(v.get("postalCode")),
        "phone": _text(v.get("phoneNumber")),
        "email": _text(v.get("email")),
        "website": _text(v.get("website")),
        "salesperson_code": _text(v.get("salespersonCode")),
        "currency_code": _text(v.get("currencyCode")),
        "currency_id": _id(v.get("currencyId")),
        "credit_limit": _decimal(v.get("creditLimit")),
        "balance_due": _decimal(v.get("balanceDue")),
        "blocked": _text(v.get("blocked")) or " ",
    }


def _crm_account(v: Values) -> Row:
    return {
        "number": _text(v.get("accountnumber")),
        "name": _text(v.get("name")),
        "address_line1": _text(v.get("address1_line1")),
        "address_line2": _text(v.get("address1_line2")),
        "city": _text(v.get("address1_city")),
        "state": _text(v.get("address1_stateorprovince")),
        "country": _text(v.get("address1_country")),
        "postal_code": _text(v.get("address1_postalcode")),
        "phone": _text(v.get("telephone1")),
        "email": _text(v.get("emailaddress1")),
        "website": _text(v.get("websiteurl")),
        "owner_id": _id(v.get("_ownerid_value")),
        "currency_id": _id(v.get("_transactioncurrencyid_value")),
        "default_price_list_id": _id(v.get("_defaultpricelevelid_value")),
        "credit_limit": _decimal(v.get("creditlimit")),
        "customer_type_code": _int(v.get("customertypecode")),
        "state_code": _int(v.get("statecode")),
    }


def _customer_pricing(v: Values) -> Row:
    return {
        "customer_number": _text(v.get("customerNumber")),
        "price_group_code": _text(v.get("customerPriceGroupCode")),
        "discount_group_code": _text(v.get("customerDiscountGroupCode")),
        "allow_line_discount": _bool(v.get("allowLineDiscount"), True),
    }


def _erp_item(v: Values) -> Row:
    return {
        "number": _text(v.get("number")),
        "name": _text(v.get("displayName")),
        "type": _text(v.get("type")),
        "item_category_code": _text(v.get("itemCategoryCode")),
        "blocked": _bool(v.get("blocked")),
        "gtin": _text(v.get("gtin")),
        "inventory": _decimal(v.get("inventory")),
        "unit_price": _decimal(v.get("unitPrice")),
        "price_includes_tax": _bool(v.get("priceIncludesTax")),
        "unit_cost": _decimal(v.get("unitCost")),
        "base_unit_code": _text(v.get("baseUnitOfMeasureCode")),
        "base_unit_id": _id(v.get("baseUnitOfMeasureId")),
    }


_PRODUCT_TYPES = {1: "Inventory", 2: "Inventory", 3: "Service", 4: "Service"}


def _crm_product(v: Values) -> Row:
    type_code = _int(v.get("producttypecode"))
    state = _int(v.get("statecode"))
    return {
        "number": _text(v.get("productnumber")),
        "name": _text(v.get("name")),
        "type": _PRODUCT_TYPES.get(type_code or 0, ""),
        "blocked": state not in (None, 0),  # retired, draft or under revision: not for sale
        "inventory": _decimal(v.get("quantityonhand")),
        "unit_price": _decimal(v.get("price")),
        "unit_cost": _decimal(v.get("standardcost")),
        "base_unit_id": _id(v.get("_defaultuomid_value")),
        "product_type_code": type_code,
        "state_code": state,
    }


def _item_pricing(v: Values) -> Row:
    return {
        "item_number": _text(v.get("itemNumber")),
        "discount_group_code": _text(v.get("itemDiscountGroupCode")),
        "sales_unit_code": _text(v.get("salesUnitOfMeasureCode")),
    }


def _item_unit(v: Values) -> Row:
    return {
        "item_number": _text(v.get("itemNumber")),
        "code": _text(v.get("code")),
        "qty_per_unit": _decimal(v.get("qtyPerUnitOfMeasure"), Decimal(1)),
    }


def _erp_price_list(v: Values) -> Row:
    return {
        "number": _text(v.get("code")),
        "name": _text(v.get("description")),
        "source_type": _text(v.get("sourceType")),
        "source_no": _text(v.get("sourceNo")),
        "currency_code": _text(v.get("currencyCode")),
        "starting_date": _date(v.get("startingDate")),
        "ending_date": _date(v.get("endingDate")),
        "status": _text(v.get("status")) or "Active",
        "price_includes_tax": _bool(v.get("priceIncludesTax")),
        "allow_line_discount": _bool(v.get("allowLineDiscount"), True),
    }


def _crm_price_level(v: Values) -> Row:
    return {
        "number": _text(v.get("name")),
        "name": _text(v.get("description")),
        "currency_id": _id(v.get("_transactioncurrencyid_value")),
        "starting_date": _date(v.get("begindate")),
        "ending_date": _date(v.get("enddate")),
        "status": "Active" if _int(v.get("statecode")) in (None, 0) else "Inactive",
    }


def _price_line(v: Values) -> Row:
    return {
        "price_list_code": _text(v.get("priceListCode")),
        "line_no": _int(v.get("lineNo")) or 0,
        "source_type": _text(v.get("sourceType")),
        "source_no": _text(v.get("sourceNo")),
        "asset_type": _text(v.get("assetType")),
        "asset_no": _text(v.get("assetNo")),
        "unit_code": _text(v.get("unitOfMeasureCode")),
        "currency_code": _text(v.get("currencyCode")),
        "starting_date": _date(v.get("startingDate")),
        "ending_date": _date(v.get("endingDate")),
        "minimum_quantity": _decimal(v.get("minimumQuantity")),
        "amount_type": _text(v.get("amountType")) or "Price",
        "unit_price": _decimal(v.get("unitPrice")),
        "line_discount_percent": _decimal(v.get("lineDiscountPercent")),
        "allow_line_discount": _bool(v.get("allowLineDiscount"), True),
        "price_includes_tax": _bool(v.get("priceIncludesTax")),
    }


def _erp_salesperson(v: Values) -> Row:
    return {
        "number": _text(v.get("code")),
        "name": _text(v.get("displayName")),
        "email": _text(v.get("email")),
        "phone": _text(v.get("phoneNo")),
        "job_title": _text(v.get("jobTitle")),
        "blocked": _bool(v.get("blocked")),
    }


def _crm_user(v: Values) -> Row:
    return {
        "name": _text(v.get("fullname")),
        "email": _text(v.get("internalemailaddress")),
        "phone": _text(v.get("mobilephone")),
        "job_title": _text(v.get("title")),
        "blocked": _bool(v.get("isdisabled")) or not _bool(v.get("islicensed"), True),
        "integration_user": _bool(v.get("isintegrationuser")),
    }


def _erp_currency(v: Values) -> Row:
    row: Row = {
        "number": _text(v.get("code")),
        "name": _text(v.get("displayName")),
        "symbol": _text(v.get("symbol")),
        "amount_decimal_places": _text(v.get("amountDecimalPlaces")) or "2:2",
        "amount_rounding_precision": _decimal(v.get("amountRoundingPrecision"), Decimal("0.01")),
    }
    if v.get("unitAmountRoundingPrecision") is not None:
        row["unit_amount_rounding_precision"] = _decimal(v.get("unitAmountRoundingPrecision"))
    return row


def _crm_currency(v: Values) -> Row:
    return {
        "number": _text(v.get("isocurrencycode")),
        "name": _text(v.get("currencyname")),
        "symbol": _text(v.get("currencysymbol")),
        "amount_rounding_precision": _precision(v.get("currencyprecision")),
        "exchange_rate": _decimal(v.get("exchangerate"), Decimal(1)),
    }


def _exchange_rate(v: Values) -> Row:
    return {
        "currency_code": _text(v.get("currencyCode")),
        "starting_date": _date(v.get("startingDate")),
        "exchange_rate_amount": _decimal(v.get("exchangeRateAmount"), Decimal(1)),
        "relational_exchange_rate_amount": _decimal(v.get("relationalExchangeRateAmount"), Decimal(1)),
    }


def _unit(v: Values) -> Row:
    return {
        "code": _text(v.get("code")),
        "name": _text(v.get("displayName")),
        "international_standard_code": _text(v.get("internationalStandardCode")),
        "symbol": _text(v.get("symbol")),
    }


def _location(v: Values) -> Row:
    return {
        "code": _text(v.get("code")),
        "name": _text(v.get("displayName")),
        "address_line1": _text(v.get("addressLine1")),
        "city": _text(v.get("city")),
        "country": _text(v.get("country")),
    }


def _group(kind: str) -> Callable[[Values], Row]:
    def convert(v: Values) -> Row:
        return {
            "kind": kind,
            "code": _text(v.get("code")),
            "description": _text(v.get("description")),
            "allow_line_discount": _bool(v.get("allowLineDiscount"), True),
            "price_includes_tax": _bool(v.get("priceIncludesTax")),
        }

    return convert


@dataclass(frozen=True, slots=True)
class _Projection:
    model: type[SQLModel]
    convert: Callable[[Values], Row]
    two_sided: bool = False


PROJECTIONS: dict[tuple[Side, str], _Projection] = {
    (Side.ERP, "customers"): _Projection(RmCustomer, _erp_customer, two_sided=True),
    (Side.ERP, "customerPricing"): _Projection(RmCustomerPricing, _customer_pricing),
    (Side.ERP, "items"): _Projection(RmItem, _erp_item, two_sided=True),
    (Side.ERP, "itemPricing"): _Projection(RmItemPricing, _item_pricing),
    (Side.ERP, "itemUnitsOfMeasure"): _Projection(RmItemUnit, _item_unit),
    (Side.ERP, "priceListHeaders"): _Projection(RmPriceList, _erp_price_list, two_sided=True),
    (Side.ERP, "priceListLines"): _Projection(RmPriceLine, _price_line),
    (Side.ERP, "salespersonPurchasers"): _Projection(RmSalesperson, _erp_salesperson, two_sided=True),
    (Side.ERP, "currencies"): _Projection(RmCurrency, _erp_currency, two_sided=True),
    (Side.ERP, "currencyExchangeRates"): _Projection(RmExchangeRate, _exchange_rate),
    (Side.ERP, "unitsOfMeasure"): _Projection(RmUnit, _unit),
    (Side.ERP, "locations"): _Projection(RmLocation, _location),
    (Side.ERP, "customerPriceGroups"): _Projection(RmPricingGroup, _group("customerPrice")),
    (Side.ERP, "customerDiscountGroups"): _Projection(RmPricingGroup, _group("customerDiscount")),
    (Side.ERP, "itemDiscountGroups"): _Projection(RmPricingGroup, _group("itemDiscount")),
    (Side.CRM, "accounts"): _Projection(RmCustomer, _crm_account, two_sided=True),
    (Side.CRM, "products"): _Projection(RmItem, _crm_product, two_sided=True),
    (Side.CRM, "pricelevels"): _Projection(RmPriceList, _crm_price_level, two_sided=True),
    (Side.CRM, "systemusers"): _Projection(RmSalesperson, _crm_user, two_sided=True),
    (Side.CRM, "transactioncurrencies"): _Projection(RmCurrency, _crm_currency, two_sided=True),
}


def projected_entity_sets(side: Side) -> frozenset[str]:
    """The entity sets of one side the read model keeps (the sync engine reads at least these)."""
    return frozenset(name for s, name in PROJECTIONS if s is side)


# ------------------------------------------------------------------------------------------------
# Bulk upsert


def _table(model: type[SQLModel]) -> Table:
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


def _defaults(model: type[SQLModel]) -> Row:
    """Every column's default, so that all rows of one multi-row INSERT have the same keys."""
    defaults: Row = {}
    for name, info in model.model_fields.items():
        if info.default_factory is not None:
            defaults[name] = None  # only synced_at has one; set per call below
        elif info.default is not PydanticUndefined:
            defaults[name] = info.default
    return defaults


_DEFAULTS: dict[type[SQLModel], Row] = {}


def _rows(spec: _Projection, side: Side, records: Sequence[UpstreamRecord]) -> list[Row]:
    defaults = _DEFAULTS.get(spec.model)
    if defaults is None:
        defaults = _DEFAULTS[spec.model] = _defaults(spec.model)
    now = utcnow()
    by_key: dict[str, Row] = {}
    for record in records:
        key = normalize_id(record.id)
        row = dict(defaults)
        row.update(spec.convert(record.values))
        row["id"] = key
        if spec.two_sided:
            row["side"] = side.value
        # Never NULL: the "changed" ordering and its keyset cursors need a value on every row.
        row["modified_at"] = (
            record.modified_at
            or _datetime(record.values.get("lastModifiedDateTime") or record.values.get("modifiedon"))
            or now
        )
        row["synced_at"] = now
        by_key[key] = row  # a page may repeat a record; the last one wins, as it would upstream
    return list(by_key.values())


def _upsert(session: AsyncSession, table: Table) -> Any:
    keys = [c.name for c in table.primary_key.columns]
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table)
    updates = {c.name: statement.excluded[c.name] for c in table.columns if c.name not in keys}
    return statement.on_conflict_do_update(index_elements=keys, set_=updates)


async def project_records(
    session: AsyncSession, *, side: Side, entity_set: str, records: Sequence[UpstreamRecord]
) -> int:
    """Upsert `records` of `entity_set` on `side` into the read model; returns the rows written.

    One INSERT … ON CONFLICT DO UPDATE sent with the driver's executemany (aiosqlite loops in its
    thread, asyncpg pipelines a prepared statement): one round trip per chunk, compiled once.
    Unknown entity sets write nothing.
    """
    spec = PROJECTIONS.get((Side(side), entity_set))
    if spec is None or not records:
        return 0
    table = _table(spec.model)
    rows = _rows(spec, Side(side), records)
    statement = _upsert(session, table)
    for start in range(0, len(rows), _UPSERT_CHUNK):
        await session.exec(statement, params=rows[start : start + _UPSERT_CHUNK])
    await _bump_version(session, spec)
    return len(rows)


async def _bump_version(session: AsyncSession, spec: _Projection) -> None:
    """Tables that processes keep in memory (currencies, exchange rates) tell them they changed."""
    group = read_versions.GROUP_OF.get(spec.model)
    if group is not None:
        await read_versions.bump(session, group)


async def remove_records(session: AsyncSession, *, side: Side, entity_set: str, ids: Sequence[str]) -> int:
    """Delete the read-model rows of records deleted upstream; returns how many existed."""
    spec = PROJECTIONS.get((Side(side), entity_set))
    if spec is None or not ids:
        return 0
    table = _table(spec.model)
    wanted = list(dict.fromkeys(normalize_id(i) for i in ids))
    removed = 0
    for start in range(0, len(wanted), _DELETE_CHUNK):
        chunk = wanted[start : start + _DELETE_CHUNK]
        statement = delete(table).where(table.c.id.in_(chunk))
        if spec.two_sided:
            statement = statement.where(table.c.side == Side(side).value)
        result = await session.exec(statement)
        removed += int(result.rowcount)
    if removed:
        await _bump_version(session, spec)
    return removed
