"""Lookup structures the price engine builds once per pricing snapshot: price list lines by asset,
exchange rates by currency and date, and BC-style rounding. Pure; no I/O.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from gateway.domain import (
    Currency,
    ExchangeRate,
    PriceAssetType,
    PriceListLine,
    PriceListStatus,
)

DEFAULT_AMOUNT_PRECISION = Decimal("0.01")
DEFAULT_UNIT_AMOUNT_PRECISION = Decimal("0.00001")

AssetKey = tuple[PriceAssetType, str]


def code_key(code: str) -> str:
    """BC `Code` fields are stored upper-case and compared that way; a caller may type "box"."""
    return code.strip().upper()


def round_to(amount: Decimal, precision: Decimal) -> Decimal:
    """BC's `Round(amount, precision, '=')`: nearest multiple of `precision`, halves away from zero.

    Precisions need not be powers of ten (0.05 for cash rounding, 1 for JPY), so divide, round to
    an integer and multiply back instead of quantizing directly.
    """
    if precision <= 0:
        return amount
    steps = (amount / precision).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return steps * precision


@dataclass(frozen=True, slots=True)
class Precisions:
    """A currency's rounding precisions (amounts and unit amounts)."""

    amount: Decimal = DEFAULT_AMOUNT_PRECISION
    unit_amount: Decimal = DEFAULT_UNIT_AMOUNT_PRECISION

    @classmethod
    def of(cls, currency: Currency | None) -> Precisions:
        if currency is None:
            return cls()
        return cls(currency.amount_rounding_precision, currency.unit_amount_rounding_precision)


class PriceIndex:
    """Active price list lines grouped by asset, each group in (price list code, line no) order.

    Built once per snapshot so a quote touches only the lines of its item and item discount group,
    never the whole price book. Draft and Inactive lines are dropped here: they never compete.
    """

    __slots__ = ("_by_asset", "size")

    def __init__(self, by_asset: Mapping[AssetKey, tuple[PriceListLine, ...]], size: int) -> None:
        self._by_asset = by_asset
        self.size = size

    @classmethod
    def build(cls, lines: Iterable[PriceListLine]) -> PriceIndex:
        groups: dict[AssetKey, list[PriceListLine]] = defaultdict(list)
        size = 0
        for line in lines:
            if line.status != PriceListStatus.ACTIVE:
                continue
            groups[(PriceAssetType(line.asset_type), line.asset_no)].append(line)
            size += 1
        # (code, line no) is BC's primary-key order: the order its loops meet the lines, which
        # decides ties there; sorting here makes our tie-break independent of input order.
        frozen = {
            key: tuple(sorted(group, key=lambda ln: (ln.price_list_code, ln.line_no)))
            for key, group in groups.items()
        }
        return cls(frozen, size)

    def lines_for(self, asset_type: PriceAssetType, asset_no: str) -> tuple[PriceListLine, ...]:
        if not asset_no:
            return ()
        return self._by_asset.get((asset_type, asset_no), ())


class ExchangeRateTable:
    """Exchange rates by currency, sorted by starting date, answering "the rate in force on a date"
    (BC: the one with the latest starting date on or before it)."""

    __slots__ = ("_dates", "_rates")

    def __init__(self, rates: Iterable[ExchangeRate]) -> None:
        by_currency: dict[str, list[ExchangeRate]] = defaultdict(list)
        for rate in rates:
            by_currency[code_key(rate.currency_code)].append(rate)
        self._rates: dict[str, list[ExchangeRate]] = {}
        self._dates: dict[str, list[date]] = {}
        for code, group in by_currency.items():
            # BC keys rates by (currency, starting date), so duplicates cannot exist there; if our
            # data has some, the full sort key keeps the pick independent of input order.
            group.sort(
                key=lambda r: (r.starting_date, r.exchange_rate_amount, r.relational_exchange_rate_amount)
            )
            self._rates[code] = group
            self._dates[code] = [r.starting_date for r in group]

    def in_force(self, currency_code: str, on_date: date) -> ExchangeRate | None:
        code = code_key(currency_code)
        dates = self._dates.get(code)
        if not dates:
            return None
        position = bisect.bisect_right(dates, on_date)
        if position == 0:
            return None
        return self._rates[code][position - 1]
