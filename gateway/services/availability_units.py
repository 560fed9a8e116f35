"""Availability in another unit of measure: item units (qtyPerUnitOfMeasure, base unit = 1), where
they come from (a table in memory, or the ERP's `itemUnitsOfMeasure` cached), and the conversion."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal, Protocol
from urllib.parse import quote

from aiocache.base import BaseCache

from gateway.domain import Availability, ItemUnit, UpstreamRecord
from gateway.errors import InvalidInput
from gateway.upstream.odata import in_filter
from gateway.upstream.records import as_decimal

# Business Central's default quantity rounding precision.
QUANTITY_PRECISION = Decimal("0.00001")
_PRECISION_EXPONENT = -5


class UnitLookup(Protocol):
    async def qty_per_unit(self, *, item_numbers: Sequence[str], unit_code: str) -> Mapping[str, Decimal]:
        """qtyPerUnitOfMeasure of `unit_code` for each item (as passed) that has that unit."""
        ...


class UnitTable:
    """A `UnitLookup` over item units held in memory (read from `itemUnitsOfMeasure` or the store)."""

    def __init__(self, units: Iterable[ItemUnit]) -> None:
        self._factors = {
            (unit.item_number.upper(), unit.code.upper()): unit.qty_per_unit_of_measure for unit in units
        }

    async def qty_per_unit(self, *, item_numbers: Sequence[str], unit_code: str) -> Mapping[str, Decimal]:
        code = unit_code.upper()
        found = {number: self._factors.get((number.upper(), code)) for number in item_numbers}
        return {number: factor for number, factor in found.items() if factor is not None}


class RecordPages(Protocol):
    """The ERP connector's generic reader (`ErpConnector.pages`)."""

    def pages(
        self, entity_set: str, *, api: Literal["integration"], filter: str | None = None
    ) -> AsyncIterator[list[UpstreamRecord]]: ...


class ErpItemUnits:
    """A `UnitLookup` over the ERP's `itemUnitsOfMeasure`, each item's units cached for
    `ttl_seconds` (units change rarely); misses are read in chunks, one request per chunk."""

    def __init__(
        self, *, erp: RecordPages, cache: BaseCache, ttl_seconds: float = 3600.0, chunk_size: int = 50
    ) -> None:
        self._erp = erp
        self._cache = cache
        self._ttl = float(ttl_seconds)
        self._chunk = chunk_size

    @staticmethod
    def _key(item_number: str) -> str:
        return f"item-units:v1:{quote(item_number.upper(), safe='')}"

    async def qty_per_unit(self, *, item_numbers: Sequence[str], unit_code: str) -> Mapping[str, Decimal]:
        numbers = list(dict.fromkeys(item_numbers))
        cached = await self._cache.multi_get([self._key(n) for n in numbers])
        tables: dict[str, dict[str, Decimal]] = {
            n: value for n, value in zip(numbers, cached, strict=True) if isinstance(value, dict)
        }
        missing = [n for n in numbers if n not in tables]
        for start in range(0, len(missing), self._chunk):
            tables.update(await self._fetch(missing[start : start + self._chunk]))
        code = unit_code.upper()
        return {n: tables[n][code] for n in numbers if code in tables[n]}

    async def _fetch(self, numbers: Sequence[str]) -> dict[str, dict[str, Decimal]]:
        by_upper: dict[str, dict[str, Decimal]] = {n.upper(): {} for n in numbers}
        pages = self._erp.pages(
            "itemUnitsOfMeasure", api="integration", filter=in_filter("itemNumber", list(numbers))
        )
        async for page in pages:
            for record in page:
                table = by_upper.get(str(record.values.get("itemNumber", "")).upper())
                if table is not None:
                    factor = as_decimal(record.values.get("qtyPerUnitOfMeasure"), name="qtyPerUnitOfMeasure")
                    table[str(record.values.get("code", "")).upper()] = factor
        tables = {n: by_upper[n.upper()] for n in numbers}
        # An item without units is cached too: asking again would not change the answer.
        await self._cache.multi_set([(self._key(n), t) for n, t in tables.items()], ttl=self._ttl)
        return tables


def unit_code_of(unit: str) -> str:
    code = unit.strip().upper()
    if not code:
        raise InvalidInput("unit must not be empty", field="unit")
    return code


async def unit_factors(
    units: UnitLookup | None, *, rows: Mapping[str, Sequence[Availability]], unit_code: str
) -> dict[str, Decimal]:
    """The factor of `unit_code` for each item whose rows are in another unit; `InvalidInput`
    naming the items for which the unit is not defined."""
    need = [
        item
        for item, item_rows in rows.items()
        if any(r.unit_of_measure_code.upper() != unit_code for r in item_rows)
    ]
    if not need:
        return {}
    if units is None:
        raise InvalidInput(f"unit {unit_code} cannot be converted: no unit table", field="unit")
    factors = await units.qty_per_unit(item_numbers=need, unit_code=unit_code)
    unknown = [item for item in need if not factors.get(item, Decimal(0)) > 0]
    if unknown:
        shown = ", ".join(unknown[:5]) + (" …" if len(unknown) > 5 else "")
        raise InvalidInput(f"unit {unit_code} is not a unit of item(s) {shown}", field="unit")
    return {item: factors[item] for item in need}


def _convert(quantity: Decimal, factor: Decimal) -> Decimal:
    value = quantity / factor
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < _PRECISION_EXPONENT:
        return value.quantize(QUANTITY_PRECISION, rounding=ROUND_HALF_UP)
    return value


def in_unit(row: Availability, unit_code: str, factor: Decimal) -> Availability:
    """`row` (in its item's base unit) expressed in `unit_code`, `factor` base units per `unit_code`."""
    if row.unit_of_measure_code.upper() == unit_code:
        return dataclasses.replace(row, unit_of_measure_code=unit_code)
    return dataclasses.replace(
        row,
        unit_of_measure_code=unit_code,
        inventory=_convert(row.inventory, factor),
        qty_on_sales_orders=_convert(row.qty_on_sales_orders, factor),
        qty_on_purchase_orders=_convert(row.qty_on_purchase_orders, factor),
        available_quantity=_convert(row.available_quantity, factor),
        projected_available_quantity=_convert(row.projected_available_quantity, factor),
    )
