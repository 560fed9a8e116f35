"""Property tests for the best-price engine: random price books checked against a brute-force
reference written straight from DOMAIN.md §9, plus invariants (order, dearer lines, removal).
"""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP
from decimal import Decimal as D

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gateway.domain import (
    Currency,
    CustomerPricing,
    ExchangeRate,
    Item,
    ItemPricing,
    ItemUnit,
    PriceAmountType,
    PriceAssetType,
    PriceLineRef,
    PriceListLine,
    PriceListStatus,
    PriceQuote,
    PriceRequest,
    PriceSourceType,
)
from gateway.services.price_engine import PricingSnapshot, quote_line

ALL = PriceSourceType.ALL_CUSTOMERS
ITEM = PriceAssetType.ITEM
IDG = PriceAssetType.ITEM_DISCOUNT_GROUP
PRICE = PriceAmountType.PRICE
DISC = PriceAmountType.DISCOUNT
ANY = PriceAmountType.ANY

# A small fixed world, so random lines hit it often.
QTY_PER_UNIT = {"PCS": D(1), "BOX": D(12)}
CUSTOMERS = {
    "C1": CustomerPricing("C1", "RETAIL", "LARGE", allow_line_discount=True),
    "C2": CustomerPricing("C2", "RETAIL", "LARGE", allow_line_discount=False),
}
CURRENCIES = {
    "USD": Currency("USD", "US dollar"),
    "CHF": Currency(
        "CHF", "Swiss franc", amount_rounding_precision=D("0.05"), unit_amount_rounding_precision=D("0.001")
    ),
}
# (currency, starting date, exchange rate amount, relational exchange rate amount)
RATES = [
    ExchangeRate("USD", date(2026, 1, 1), D(1), D("0.8")),
    ExchangeRate("USD", date(2026, 7, 1), D(100), D(90)),
    ExchangeRate("CHF", date(2026, 1, 1), D(1), D("1.07")),
]
DATES = [date(2026, 3, 1), date(2026, 8, 1), date(2026, 11, 25)]
SETTINGS = settings(max_examples=150, deadline=None, derandomize=True)
MANY = settings(SETTINGS, max_examples=400)


def snapshot(lines: Sequence[PriceListLine], item_price: D = D("10")) -> PricingSnapshot:
    item = Item(
        erp_id="i", number="1000", name="Bicycle", unit_price=item_price, base_unit_of_measure_code="PCS"
    )
    return PricingSnapshot(
        local_currency_code="EUR",
        currencies=CURRENCIES,
        exchange_rates=RATES,
        customers=CUSTOMERS,
        items={"1000": item},
        item_pricing={"1000": ItemPricing("1000", item_discount_group_code="BIKES")},
        item_units={("1000", u): ItemUnit("1000", u, q) for u, q in QTY_PER_UNIT.items()},
        lines=list(lines),
    )


# ---------------------------------------------------------------------------------------------
# The brute-force reference: one pass per rule, no indexes, no cleverness.


def rounded(amount: D, precision: D) -> D:
    return (amount / precision).to_integral_value(rounding=ROUND_HALF_UP) * precision


@dataclass
class Ranked:
    line: PriceListLine
    price: D
    value: D


@dataclass
class Reference:
    ranking: list[Ranked]
    discount_line: PriceListLine | None
    unit_price: D
    discount: D
    amount: D
    price_source: PriceLineRef | None
    discount_source: PriceLineRef | None


def reference(lines: Sequence[PriceListLine], r: PriceRequest, item_price: D = D("10")) -> Reference:
    with decimal.localcontext() as ctx:
        ctx.prec = 38
        customer = CUSTOMERS[r.customer_number]
        my_sources = {
            (ALL, ""),
            (PriceSourceType.CUSTOMER, customer.customer_number),
            (PriceSourceType.CUSTOMER_PRICE_GROUP, customer.customer_price_group_code),
            (PriceSourceType.CUSTOMER_DISCOUNT_GROUP, customer.customer_discount_group_code),
        }
        qty_per_unit = QTY_PER_UNIT[r.unit_of_measure_code]
        factor = D(1)
        if r.currency_code:
            rate = max(
                (x for x in RATES if x.currency_code == r.currency_code and x.starting_date <= r.on_date),
                key=lambda x: x.starting_date,
            )
            factor = rate.exchange_rate_amount / rate.relational_exchange_rate_amount
        precision = CURRENCIES.get(r.currency_code, Currency("", ""))

        def found(line: PriceListLine, types: set[PriceAmountType]) -> bool:
            return (
                line.status == PriceListStatus.ACTIVE
                and line.amount_type in types
                and (line.starting_date is None or line.starting_date <= r.on_date)
                and (line.ending_date is None or line.ending_date >= r.on_date)
                and line.currency_code in ("", r.currency_code)
                and line.unit_of_measure_code in ("", r.unit_of_measure_code)
                and (line.source_type, line.source_no) in my_sources
            )

        def in_min_qty(line: PriceListLine) -> bool:
            base = r.quantity * qty_per_unit
            return line.minimum_quantity <= (r.quantity if line.unit_of_measure_code else base)

        def applies(line: PriceListLine, types: set[PriceAmountType]) -> bool:
            return found(line, types) and in_min_qty(line)

        # Sources that found an item-level discount line (before the quantity check) skip the group.
        item_discounts = [
            x for x in lines if x.asset_type == ITEM and x.asset_no == "1000" and found(x, {DISC, ANY})
        ]
        covered = {(x.source_type, x.source_no) for x in item_discounts}
        group_discounts = [
            x
            for x in lines
            if x.asset_type == IDG
            and x.asset_no == "BIKES"
            and (x.source_type, x.source_no) not in covered
            and found(x, {DISC, ANY})
        ]
        discounts = sorted(
            [x for x in item_discounts + group_discounts if in_min_qty(x)],
            key=lambda x: (-x.line_discount_percent, x.price_list_code, x.line_no),
        )
        best = discounts[0] if discounts and customer.allow_line_discount else None
        d = best.line_discount_percent if best else D(0)

        ranking = []
        for x in lines:
            if x.asset_type == ITEM and x.asset_no == "1000" and applies(x, {PRICE, ANY}):
                price = x.unit_price
                if not x.unit_of_measure_code:
                    price *= qty_per_unit
                if not x.currency_code:
                    price *= factor
                price = rounded(price, precision.unit_amount_rounding_precision)
                value = price * (1 - (d if x.allow_line_discount else D(0)) / 100)
                ranking.append(Ranked(x, price, value))
        # Currency lines first (False sorts before True), then value, then the key.
        ranking.sort(
            key=lambda k: (k.line.currency_code == "", k.value, k.line.price_list_code, k.line.line_no)
        )

        if ranking:
            winner = ranking[0].line
            unit_price = ranking[0].price
            discount = d if winner.allow_line_discount else D(0)
            price_source: PriceLineRef | None = PriceLineRef(winner.price_list_code, winner.line_no)
            discount_line = best if winner.allow_line_discount else None
        else:
            unit_price = rounded(item_price * qty_per_unit * factor, precision.unit_amount_rounding_precision)
            discount, price_source, discount_line = d, None, best
        amount = rounded(r.quantity * unit_price * (1 - discount / 100), precision.amount_rounding_precision)
        return Reference(
            ranking=ranking,
            discount_line=discount_line,
            unit_price=unit_price,
            discount=discount,
            amount=amount,
            price_source=price_source,
            discount_source=(
                PriceLineRef(discount_line.price_list_code, discount_line.line_no) if discount_line else None
            ),
        )


def essentials(q: PriceQuote) -> tuple[object, ...]:
    return (q.unit_price, q.line_discount_percent, q.line_amount, q.price_source, q.discount_source)


def essentials_of(ref: Reference) -> tuple[object, ...]:
    return (ref.unit_price, ref.discount, ref.amount, ref.price_source, ref.discount_source)


# ---------------------------------------------------------------------------------------------
# Strategies


requests = st.builds(
    PriceRequest,
    customer_number=st.sampled_from(["C1", "C2"]),
    item_number=st.just("1000"),
    quantity=st.sampled_from([1, 2, 3, 5, 12]).map(D),
    unit_of_measure_code=st.sampled_from(["PCS", "BOX"]),
    currency_code=st.sampled_from(["", "USD", "CHF"]),
    on_date=st.sampled_from(DATES),
)

# Each random line is drawn from values that usually apply to the request it is priced for, then
# given at most one oddity (a date window, another status, source, asset, unit or currency) that
# may disqualify it. Independent uniform fields would leave most books with no candidate at all.
SOURCES = [
    (ALL, ""),
    (PriceSourceType.CUSTOMER, "C1"),
    (PriceSourceType.CUSTOMER, "C2"),
    (PriceSourceType.CUSTOMER_PRICE_GROUP, "RETAIL"),
    (PriceSourceType.CUSTOMER_DISCOUNT_GROUP, "LARGE"),
]
ODD_SOURCES = [(PriceSourceType.CUSTOMER, "C9"), (PriceSourceType.CUSTOMER_PRICE_GROUP, "WHOLESALE")]
ODDITIES = [*[None] * 8, "start", "end", "status", "source", "asset", "unit", "currency"]


@st.composite
def price_line(draw: st.DrawFn, line_no: int, r: PriceRequest) -> PriceListLine:
    source_type, source_no = draw(st.sampled_from(SOURCES))
    asset_type, asset_no = draw(st.sampled_from([*[(ITEM, "1000")] * 3, (IDG, "BIKES")]))
    currency = draw(st.sampled_from(["", r.currency_code]))
    unit = draw(st.sampled_from(["", r.unit_of_measure_code]))
    start = end = None
    status = PriceListStatus.ACTIVE
    match draw(st.sampled_from(ODDITIES)):
        case "start":
            start = draw(st.sampled_from([date(2026, 2, 1), date(2026, 9, 1)]))
        case "end":
            end = draw(st.sampled_from([date(2026, 6, 30), date(2026, 11, 25)]))
        case "status":
            status = draw(st.sampled_from([PriceListStatus.DRAFT, PriceListStatus.INACTIVE]))
        case "source":
            source_type, source_no = draw(st.sampled_from(ODD_SOURCES))
        case "asset":
            asset_type, asset_no = draw(st.sampled_from([(IDG, "CARS"), (ITEM, "2000")]))
        case "unit":
            unit = draw(st.sampled_from(["PCS", "BOX"]))
        case "currency":
            currency = draw(st.sampled_from(["USD", "CHF"]))
    return PriceListLine(
        price_list_code=draw(st.sampled_from(["A", "B", "C"])),
        line_no=line_no,
        source_type=source_type,
        source_no=source_no,
        asset_type=asset_type,
        asset_no=asset_no,
        amount_type=draw(st.sampled_from([PRICE, PRICE, DISC, ANY])),
        unit_of_measure_code=unit,
        currency_code=currency,
        starting_date=start,
        ending_date=end,
        minimum_quantity=D(draw(st.sampled_from([0, 0, 0, 2, 5, 12]))),
        unit_price=D(draw(st.integers(0, 500_000))) / 1000,
        line_discount_percent=D(draw(st.sampled_from(["0", "5", "10", "12.5", "20", "50"]))),
        allow_line_discount=draw(st.booleans()),
        price_includes_tax=draw(st.booleans()),
        status=status,
    )


@st.composite
def scenario(draw: st.DrawFn, *, sure_winner: bool = False) -> tuple[list[PriceListLine], PriceRequest]:
    """A request and a price book around it; with `sure_winner`, one or two lines that always apply."""
    r = draw(requests)
    # Line numbers are unique, so (code, line no) identifies a line.
    lines = [draw(price_line((n + 1) * 100, r)) for n in range(draw(st.integers(0, 12)))]
    if sure_winner:
        for n in range(draw(st.integers(1, 2))):
            lines.append(
                PriceListLine(
                    price_list_code=draw(st.sampled_from(["A", "B", "C"])),
                    line_no=10_000 + n,
                    source_type=ALL,
                    source_no="",
                    asset_type=ITEM,
                    asset_no="1000",
                    amount_type=draw(st.sampled_from([PRICE, ANY])),
                    unit_price=D(draw(st.integers(0, 500_000))) / 1000,
                    line_discount_percent=D(draw(st.sampled_from(["0", "5", "20"]))),
                    allow_line_discount=draw(st.booleans()),
                )
            )
    return lines, r


# ---------------------------------------------------------------------------------------------
# Properties


@MANY
@given(scenario())
def test_engine_agrees_with_the_brute_force_reference(case: tuple[list[PriceListLine], PriceRequest]) -> None:
    lines, r = case
    assert essentials(quote_line(r, snapshot=snapshot(lines))) == essentials_of(reference(lines, r))


@SETTINGS
@given(scenario().flatmap(lambda case: st.tuples(st.just(case), st.permutations(case[0]))))
def test_answer_does_not_depend_on_line_order(
    cases: tuple[tuple[list[PriceListLine], PriceRequest], list[PriceListLine]],
) -> None:
    (original, r), shuffled = cases
    assert quote_line(r, snapshot=snapshot(original)) == quote_line(r, snapshot=snapshot(shuffled))


@SETTINGS
@given(scenario(sure_winner=True), st.integers(1, 100_000), st.booleans(), st.booleans())
def test_a_dearer_line_never_changes_the_winner(
    case: tuple[list[PriceListLine], PriceRequest], extra_cents: int, allow: bool, blank_currency: bool
) -> None:
    lines, r = case
    before_ref = reference(lines, r)
    assume(before_ref.ranking)
    winner = before_ref.ranking[0]
    # Same currency as the winner (blank when it has none); a blank line against a currency winner
    # is allowed too, since that can never win either.
    currency = "" if blank_currency else winner.line.currency_code
    # Price it above the winner's value even after the best discount (at most 50 %) and conversion.
    price = (winner.value * 3 + D(extra_cents) / 100).quantize(D("0.001"))
    dearer = PriceListLine(
        "ZZ",
        999_999,
        ALL,
        "",
        ITEM,
        "1000",
        PRICE,
        unit_of_measure_code=r.unit_of_measure_code,
        currency_code=currency,
        unit_price=price,
        allow_line_discount=allow,
    )
    after_ref = reference([*lines, dearer], r)
    added = next(k for k in after_ref.ranking if k.line is dearer)
    assert added.value > winner.value or (currency == "" and winner.line.currency_code != "")
    before = quote_line(r, snapshot=snapshot(lines))
    after = quote_line(r, snapshot=snapshot([*lines, dearer]))
    assert essentials(after) == essentials(before)


@SETTINGS
@given(scenario(sure_winner=True))
def test_removing_the_winner_yields_the_next_best_line(
    case: tuple[list[PriceListLine], PriceRequest],
) -> None:
    lines, r = case
    before = reference(lines, r)
    assume(before.ranking)
    winner = before.ranking[0].line
    rest = [x for x in lines if x is not winner]
    after = quote_line(r, snapshot=snapshot(rest))
    assert essentials(after) == essentials_of(reference(rest, r))
    if winner.amount_type == PRICE:
        # A Price-only winner took no part in the discounts, so the rest of the ranking stands.
        runner_up = before.ranking[1].line if len(before.ranking) > 1 else None
        expected = PriceLineRef(runner_up.price_list_code, runner_up.line_no) if runner_up else None
        assert after.price_source == expected


@SETTINGS
@given(scenario())
def test_line_amount_is_the_rounded_product(case: tuple[list[PriceListLine], PriceRequest]) -> None:
    lines, r = case
    q = quote_line(r, snapshot=snapshot(lines))
    exact = r.quantity * q.unit_price * (1 - q.line_discount_percent / 100)
    if r.currency_code == "CHF":  # cash rounding: nearest 0.05, halves up
        expected = (exact * 20).quantize(D(1), rounding=ROUND_HALF_UP) / 20
    else:
        expected = exact.quantize(D("0.01"), rounding=ROUND_HALF_UP)
    assert q.line_amount == expected
    assert q.line_discount_percent in {D(0), *(x.line_discount_percent for x in lines)}
