"""Known-answer tests for the best-price engine (DOMAIN.md §9): each rule on a hand-worked example,
with the arithmetic written out beside the assertion.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import date
from decimal import Decimal as D
from typing import overload

import pytest

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
    PriceRequest,
    PriceSourceType,
)
from gateway.errors import InvalidInput, NotFound
from gateway.services.price_engine import PricingSnapshot, quote_basket, quote_line
from gateway.services.pricing_index import PriceIndex, round_to

ALL = PriceSourceType.ALL_CUSTOMERS
CUST = PriceSourceType.CUSTOMER
CPG = PriceSourceType.CUSTOMER_PRICE_GROUP
CDG = PriceSourceType.CUSTOMER_DISCOUNT_GROUP
ITEM = PriceAssetType.ITEM
IDG = PriceAssetType.ITEM_DISCOUNT_GROUP
PRICE = PriceAmountType.PRICE
DISC = PriceAmountType.DISCOUNT
ANY = PriceAmountType.ANY
TODAY = date(2026, 11, 25)

# The world: local currency EUR. Item 1000 is sold per PCS (base), BOX = 12 PCS, PALLET = 120 PCS,
# item discount group BIKES. C1 is in price group RETAIL and discount group LARGE and may get line
# discounts; C2 is in the same groups but may not.
# USD: from 2026-01-01, 1 USD = 0.80 EUR (local -> USD multiply by 1/0.8 = 1.25);
#      from 2026-07-01, 100 USD = 90 EUR (local -> USD multiply by 100/90 = 1.111...).
# CHF: cash-rounded amounts (0.05) and unit amounts to 0.001; 1 CHF = 1.07 EUR from 2026-01-01.
CURRENCIES = {
    "USD": Currency(code="USD", name="US dollar"),
    "CHF": Currency(
        code="CHF",
        name="Swiss franc",
        amount_rounding_precision=D("0.05"),
        unit_amount_rounding_precision=D("0.001"),
    ),
}
RATES = (
    ExchangeRate("USD", date(2026, 1, 1), D(1), D("0.80")),
    ExchangeRate("USD", date(2026, 7, 1), D(100), D(90)),
    ExchangeRate("CHF", date(2026, 1, 1), D(1), D("1.07")),
)
ITEM_1000 = Item(
    erp_id="i1", number="1000", name="Bicycle", unit_price=D(10), base_unit_of_measure_code="PCS"
)
UNITS = {
    ("1000", "PCS"): ItemUnit("1000", "PCS", D(1)),
    ("1000", "BOX"): ItemUnit("1000", "BOX", D(12)),
    ("1000", "PALLET"): ItemUnit("1000", "PALLET", D(120)),
}
CUSTOMERS = {
    "C1": CustomerPricing("C1", customer_price_group_code="RETAIL", customer_discount_group_code="LARGE"),
    "C2": CustomerPricing(
        "C2",
        customer_price_group_code="RETAIL",
        customer_discount_group_code="LARGE",
        allow_line_discount=False,
    ),
    "C3": CustomerPricing("C3"),
}


def line(
    code: str,
    no: int,
    *,
    source: PriceSourceType = ALL,
    source_no: str = "",
    asset: PriceAssetType = ITEM,
    asset_no: str = "1000",
    amount: PriceAmountType = PRICE,
    unit: str = "PCS",
    currency: str = "",
    start: date | None = None,
    end: date | None = None,
    min_qty: str = "0",
    price: str = "0",
    disc: str = "0",
    allow: bool = True,
    tax: bool = False,
    status: PriceListStatus = PriceListStatus.ACTIVE,
) -> PriceListLine:
    return PriceListLine(
        price_list_code=code,
        line_no=no,
        source_type=source,
        source_no=source_no,
        asset_type=asset,
        asset_no=asset_no,
        amount_type=amount,
        unit_of_measure_code=unit,
        currency_code=currency,
        starting_date=start,
        ending_date=end,
        minimum_quantity=D(min_qty),
        unit_price=D(price),
        line_discount_percent=D(disc),
        allow_line_discount=allow,
        price_includes_tax=tax,
        status=status,
    )


def disc(code: str, no: int, pct: str, **kwargs: object) -> PriceListLine:
    kwargs.setdefault("unit", "")
    return line(code, no, amount=DISC, disc=pct, **kwargs)  # type: ignore[arg-type]


def world(lines: Sequence[PriceListLine] = (), *, item: Item = ITEM_1000) -> PricingSnapshot:
    return PricingSnapshot(
        local_currency_code="EUR",
        currencies=CURRENCIES,
        exchange_rates=RATES,
        customers=CUSTOMERS,
        items={item.number: item},
        item_pricing={"1000": ItemPricing("1000", item_discount_group_code="BIKES")},
        item_units=UNITS,
        lines=lines,
    )


def req(
    qty: str = "1", unit: str = "PCS", currency: str = "", on: date = TODAY, customer: str = "C1"
) -> PriceRequest:
    return PriceRequest(customer, "1000", D(qty), unit, currency, on)


def ref(code: str, no: int) -> PriceLineRef:
    return PriceLineRef(code, no)


# ---------------------------------------------------------------------------------------------
# Candidates


def test_one_price_line_gives_its_price_and_amount() -> None:
    quote = quote_line(req("3"), snapshot=world([line("P", 10000, price="80")]))
    assert quote.unit_price == D("80")
    assert quote.line_discount_percent == 0
    assert quote.line_amount == D("240.00")  # 3 * 80
    assert quote.price_source == ref("P", 10000)
    assert quote.discount_source is None
    assert quote.unit_of_measure_code == "PCS"


def test_date_window_is_inclusive_and_blank_means_open() -> None:
    lines = [
        line("A", 1, price="70", start=date(2026, 12, 1)),  # not yet valid today
        line("B", 1, price="75", end=date(2026, 11, 24)),  # ended yesterday
        line("C", 1, price="90", start=TODAY, end=TODAY),  # both ends inclusive
        line("D", 1, price="95"),  # open both ways
    ]
    assert quote_line(req(), snapshot=world(lines)).price_source == ref("C", 1)
    # On 1 December A starts (70) and C has ended.
    assert quote_line(req(on=date(2026, 12, 1)), snapshot=world(lines)).unit_price == D("70")
    # On 24 November B (75) is still valid, A not yet, C not yet: 75 < 95.
    assert quote_line(req(on=date(2026, 11, 24)), snapshot=world(lines)).unit_price == D("75")


def test_draft_and_inactive_lines_are_ignored() -> None:
    lines = [
        line("DRAFT", 1, price="50", status=PriceListStatus.DRAFT),
        line("OLD", 1, price="60", status=PriceListStatus.INACTIVE),
        line("LIVE", 1, price="90"),
        disc("DRAFTD", 1, "50", status=PriceListStatus.DRAFT),
    ]
    quote = quote_line(req(), snapshot=world(lines))
    assert (quote.unit_price, quote.line_discount_percent) == (D("90"), 0)
    assert quote.price_source == ref("LIVE", 1)


def test_unit_filter_line_for_another_unit_is_not_a_candidate() -> None:
    lines = [line("BOX", 1, unit="BOX", price="1"), line("PCS", 1, unit="PCS", price="9")]
    assert quote_line(req(unit="PCS"), snapshot=world(lines)).price_source == ref("PCS", 1)


def test_amount_types_price_discount_any() -> None:
    lines = [
        # A Discount line's unit price is never a price; a Price line's percent is never a discount.
        line("D", 1, amount=DISC, price="1", disc="10"),
        line("P", 1, amount=PRICE, price="100", disc="50"),
        # An Any line is both: price 105 and a 20 % discount.
        line("X", 1, amount=ANY, price="105", disc="20"),
    ]
    quote = quote_line(req(), snapshot=world(lines))
    # Best discount 20 (X). Values: P 100 * 0.8 = 80, X 105 * 0.8 = 84 -> P wins with 20 %.
    assert quote.price_source == ref("P", 1)
    assert quote.discount_source == ref("X", 1)
    assert (quote.unit_price, quote.line_discount_percent, quote.line_amount) == (D(100), D(20), D("80.00"))


# ---------------------------------------------------------------------------------------------
# Minimum quantity and units


def test_quantity_break_in_the_line_unit() -> None:
    lines = [line("P", 1, price="100"), line("P", 2, price="90", min_qty="10")]
    assert quote_line(req("9"), snapshot=world(lines)).unit_price == D("100")  # 9 < 10
    assert quote_line(req("10"), snapshot=world(lines)).unit_price == D("90")  # 10 >= 10


def test_quantity_break_on_blank_unit_line_counts_base_units() -> None:
    lines = [
        # Blank unit, from 10 base units, 60 per PCS -> 60 * 12 = 720 per BOX.
        line("BASE", 1, unit="", min_qty="10", price="60"),
        # BOX line from 10 BOX, 700 per BOX.
        line("BOXES", 1, unit="BOX", min_qty="10", price="700"),
        line("LIST", 1, unit="BOX", price="800"),
    ]
    # 1 BOX = 12 PCS >= 10, so BASE applies; BOXES needs 10 BOX (1 < 10).
    one = quote_line(req("1", unit="BOX"), snapshot=world(lines))
    assert (one.price_source, one.unit_price) == (ref("BASE", 1), D("720"))
    # 10 BOX: BOXES applies too and 700 < 720.
    ten = quote_line(req("10", unit="BOX"), snapshot=world(lines))
    assert (ten.price_source, ten.unit_price, ten.line_amount) == (ref("BOXES", 1), D(700), D("7000.00"))
    # 9 PCS: BASE needs 10 base units (9 < 10) and the BOX lines are for another unit: fallback.
    nine = quote_line(req("9", unit="PCS"), snapshot=world(lines))
    assert nine.price_source is None


def test_blank_unit_price_is_per_base_unit() -> None:
    lines = [line("P", 1, unit="", price="7.5")]
    quote = quote_line(req("2", unit="PALLET"), snapshot=world(lines))
    assert quote.unit_price == D("900")  # 7.5 * 120
    assert quote.line_amount == D("1800.00")


def test_minimum_quantity_applies_to_discount_lines() -> None:
    lines = [line("P", 1, price="10"), disc("D", 1, "10", min_qty="5")]  # blank unit: base units
    assert quote_line(req("4"), snapshot=world(lines)).line_discount_percent == 0
    five = quote_line(req("5"), snapshot=world(lines))
    assert (five.line_discount_percent, five.line_amount) == (D(10), D("45.00"))  # 5 * 10 * 0.9
    # 1 BOX = 12 base units >= 5: the blank-unit discount applies.
    assert quote_line(req("1", unit="BOX"), snapshot=world(lines)).line_discount_percent == D(10)


# ---------------------------------------------------------------------------------------------
# Currencies


def test_local_price_converted_at_the_rate_in_force() -> None:
    lines = [line("P", 1, price="100")]
    # March: 1 USD = 0.80 EUR, 100 EUR = 100 / 0.8 = 125 USD.
    march = quote_line(req(currency="USD", on=date(2026, 3, 1)), snapshot=world(lines))
    assert (march.unit_price, march.line_amount, march.currency_code) == (D("125"), D("125.00"), "USD")
    # August: 100 USD = 90 EUR, 100 EUR = 100 * 100 / 90 = 111.111111... -> 111.11111 (unit amount).
    august = quote_line(req("3", currency="USD", on=date(2026, 8, 1)), snapshot=world(lines))
    assert august.unit_price == D("111.11111")
    assert august.line_amount == D("333.33")  # 3 * 111.11111 = 333.33333
    # A rate is in force from its starting date itself.
    first_day = quote_line(req(currency="USD", on=date(2026, 7, 1)), snapshot=world(lines))
    assert first_day.unit_price == D("111.11111")
    assert any("converted" in note for note in august.notes)


def test_currency_line_beats_a_cheaper_local_line() -> None:
    lines = [line("LOCAL", 1, price="80"), line("USD", 1, price="120", currency="USD")]
    # March: LOCAL is 80 * 1.25 = 100 USD, cheaper than 120 USD, but the USD line wins.
    usd = quote_line(req(currency="USD", on=date(2026, 3, 1)), snapshot=world(lines))
    assert (usd.price_source, usd.unit_price) == (ref("USD", 1), D("120"))
    assert any("beats cheaper" in note for note in usd.notes)
    # In a local document the USD line is not even a candidate.
    eur = quote_line(req(), snapshot=world(lines))
    assert (eur.price_source, eur.unit_price) == (ref("LOCAL", 1), D("80"))


def test_local_currency_spelled_out_is_the_local_currency() -> None:
    lines = [line("EURLINE", 1, price="70", currency="EUR"), line("BLANK", 1, price="80")]
    # "EUR" on the request and on a line both mean local: no conversion, no rate needed, and the
    # EUR line has no "currency line" precedence; 70 < 80 wins on price.
    quote = quote_line(req(currency="eur"), snapshot=world(lines))
    assert (quote.price_source, quote.unit_price, quote.currency_code) == (ref("EURLINE", 1), D(70), "eur")


def test_currency_with_other_precisions() -> None:
    lines = [line("P", 1, price="10")]
    # 10 EUR / 1.07 = 9.3457943... -> unit amount to 0.001: 9.346 CHF.
    # 3 * 9.346 = 28.038 -> amounts to 0.05: 28.038 / 0.05 = 560.76 -> 561 * 0.05 = 28.05.
    quote = quote_line(req("3", currency="CHF"), snapshot=world(lines))
    assert (quote.unit_price, quote.line_amount) == (D("9.346"), D("28.05"))


def test_rounding_defaults_and_halves_away_from_zero() -> None:
    # 1.234567 -> 1.23457 (unit amount 0.00001); 3 * 1.23457 = 3.70371 -> 3.70.
    quote = quote_line(req("3"), snapshot=world([line("P", 1, price="1.234567")]))
    assert (quote.unit_price, quote.line_amount) == (D("1.23457"), D("3.70"))
    # 1 * 0.125 = 0.125 -> 0.13 (BC rounds halves up, not to even).
    assert quote_line(req(), snapshot=world([line("P", 1, price="0.125")])).line_amount == D("0.13")
    assert round_to(D("-0.125"), D("0.01")) == D("-0.13")
    assert round_to(D("2.5"), D(1)) == D(3)


# ---------------------------------------------------------------------------------------------
# Discounts


def test_line_discount_not_allowed_on_the_winner() -> None:
    base = [disc("D", 1, "10"), line("A", 1, price="100", allow=True)]
    # A: 100 * 0.9 = 90 ; B: 95 (no discount) -> A wins with 10 %.
    quote = quote_line(req(), snapshot=world([*base, line("B", 1, price="95", allow=False)]))
    assert (quote.price_source, quote.line_discount_percent, quote.line_amount) == (
        ref("A", 1),
        D(10),
        D("90.00"),
    )
    assert quote.discount_source == ref("D", 1)
    # B at 89 (no discount) beats A's 90: B wins and gets no discount at all.
    quote = quote_line(req(), snapshot=world([*base, line("B", 1, price="89", allow=False)]))
    assert (quote.price_source, quote.line_discount_percent, quote.line_amount) == (
        ref("B", 1),
        0,
        D("89.00"),
    )
    assert quote.discount_source is None
    assert any("does not allow line discounts" in note for note in quote.notes)


def test_customer_not_allowing_line_discounts_gets_none() -> None:
    lines = [line("P", 1, price="100"), disc("D", 1, "10")]
    quote = quote_line(req(customer="C2"), snapshot=world(lines))
    assert (quote.unit_price, quote.line_discount_percent, quote.line_amount) == (D(100), 0, D("100.00"))
    assert quote.discount_source is None
    assert "customer does not allow line discounts" in quote.notes


def test_customer_not_allowing_discounts_prices_by_undiscounted_value() -> None:
    # For C1 (10 % allowed): A 100 * 0.9 = 90 beats B 95 (no discount). For C2 d = 0: B 95 < A 100.
    lines = [disc("D", 1, "10"), line("A", 1, price="100"), line("B", 1, price="95", allow=False)]
    assert quote_line(req(customer="C1"), snapshot=world(lines)).price_source == ref("A", 1)
    assert quote_line(req(customer="C2"), snapshot=world(lines)).price_source == ref("B", 1)


def test_item_discount_group_only_for_a_source_without_an_item_level_discount() -> None:
    price = line("P", 1, price="100")
    all_item = disc("ALLI", 1, "5")  # AllCustomers, item level
    all_group = disc("ALLG", 1, "20", asset=IDG, asset_no="BIKES")  # AllCustomers has ALLI: ignored
    large_group = disc("LRGG", 1, "15", source=CDG, source_no="LARGE", asset=IDG, asset_no="BIKES")
    other_group = disc("OTHG", 1, "30", asset=IDG, asset_no="CARS")  # another item discount group

    # AllCustomers: item-level 5 % hides its group 20 %; LARGE has only a group line: 15 % counts.
    quote = quote_line(req(), snapshot=world([price, all_item, all_group, large_group, other_group]))
    assert (quote.line_discount_percent, quote.discount_source) == (D(15), ref("LRGG", 1))
    assert quote.line_amount == D("85.00")

    # Give LARGE an item-level 3 % line: now its group line is hidden too; best is 5 %.
    large_item = disc("LRGI", 1, "3", source=CDG, source_no="LARGE")
    quote = quote_line(req(), snapshot=world([price, all_item, all_group, large_group, large_item]))
    assert (quote.line_discount_percent, quote.discount_source) == (D(5), ref("ALLI", 1))

    # Without any item-level line the AllCustomers group line counts: 20 %.
    quote = quote_line(req(), snapshot=world([price, all_group, large_group]))
    assert (quote.line_discount_percent, quote.discount_source) == (D(20), ref("ALLG", 1))


def test_which_item_level_discount_lines_hide_the_group() -> None:
    # BC's FindLines decides "this source has item-level lines" with its filters (status, amount
    # type, dates, currency, unit); the minimum quantity is checked only afterwards.
    price = line("P", 1, price="100")
    group = disc("ALLG", 1, "20", asset=IDG, asset_no="BIKES")
    # An expired item-level line, or a draft one, is not found: the group line counts (20 %).
    expired = disc("ALLI", 1, "5", end=date(2026, 1, 31))
    draft = disc("ALLD", 1, "5", status=PriceListStatus.DRAFT)
    assert quote_line(req(), snapshot=world([price, expired, draft, group])).line_discount_percent == D(20)
    # An item-level line for another unit is not found either.
    other_unit = disc("ALLU", 1, "5", unit="BOX")
    assert quote_line(req(), snapshot=world([price, other_unit, group])).line_discount_percent == D(20)
    # An item-level line whose break (100 base units) is not reached IS found: it hides the group
    # line of its source and then fails the quantity check, so no discount is left at quantity 1.
    big_break = disc("ALLQ", 1, "8", min_qty="100")
    quote = quote_line(req(), snapshot=world([price, big_break, group]))
    assert (quote.line_discount_percent, quote.discount_source) == (0, None)
    # At 100 PCS the break is reached: 8 %.
    assert quote_line(req("100"), snapshot=world([price, big_break, group])).line_discount_percent == D(8)


def test_all_four_source_types_compete_on_one_level() -> None:
    lines = [
        line("ALL", 1, price="100"),
        line("CUST", 1, source=CUST, source_no="C1", price="97"),
        line("GRP", 1, source=CPG, source_no="RETAIL", price="95"),
        line("DGRP", 1, source=CDG, source_no="LARGE", price="96"),
        line("OTHER", 1, source=CUST, source_no="C9", price="50"),  # another customer
        line("WHOLE", 1, source=CPG, source_no="WHOLESALE", price="40"),  # another price group
        disc("ALLD", 1, "2"),
        disc("CUSTD", 1, "4", source=CUST, source_no="C1"),
        disc("GRPD", 1, "6", source=CPG, source_no="RETAIL"),
        disc("DGRPD", 1, "8", source=CDG, source_no="LARGE"),
        disc("OTHERD", 1, "50", source=CUST, source_no="C9"),
    ]
    quote = quote_line(req("2"), snapshot=world(lines))
    # Lowest price among the customer's own sources: GRP 95; highest discount: DGRPD 8 %.
    assert (quote.price_source, quote.discount_source) == (ref("GRP", 1), ref("DGRPD", 1))
    assert quote.line_amount == D("174.80")  # 2 * 95 * 0.92
    # The discount group wins prices too when it is cheapest.
    cheaper = [*lines, line("DGRP", 2, source=CDG, source_no="LARGE", price="94")]
    assert quote_line(req(), snapshot=world(cheaper)).price_source == ref("DGRP", 2)
    # C3 has no groups: only AllCustomers applies (a group line with a blank source no does not).
    blank_group = [*lines, line("BLANKGRP", 1, source=CPG, source_no="", price="1")]
    c3 = quote_line(req(customer="C3"), snapshot=world(blank_group))
    assert (c3.price_source, c3.line_discount_percent) == (ref("ALL", 1), D(2))


# ---------------------------------------------------------------------------------------------
# Fallback, tax, ties, defaults


def test_fallback_to_item_unit_price_with_unit_and_currency_conversion() -> None:
    lines = [disc("D", 1, "10"), line("BOXONLY", 1, unit="BOX", price="1", min_qty="50")]
    quote = quote_line(req("2", unit="BOX", currency="USD", on=date(2026, 3, 1)), snapshot=world(lines))
    # 10 EUR per PCS * 12 = 120 EUR per BOX * 1.25 = 150 USD; 2 * 150 * 0.9 = 270.
    assert (quote.unit_price, quote.line_discount_percent, quote.line_amount) == (D(150), D(10), D("270.00"))
    assert (quote.price_source, quote.discount_source) == (None, ref("D", 1))
    assert any("unit price" in note for note in quote.notes)
    # C2 may not get line discounts: 2 * 150 = 300.
    c2 = quote_line(
        req("2", unit="BOX", currency="USD", on=date(2026, 3, 1), customer="C2"), snapshot=world(lines)
    )
    assert (c2.line_discount_percent, c2.line_amount) == (0, D("300.00"))


def test_tax_inclusive_winner_is_flagged() -> None:
    lines = [line("GROSS", 1, price="119", tax=True), line("NET", 1, price="120")]
    quote = quote_line(req(), snapshot=world(lines))
    assert (quote.price_source, quote.price_includes_tax) == (ref("GROSS", 1), True)
    assert "the price includes tax" in quote.notes
    net = quote_line(req(), snapshot=world([line("NET", 1, price="120")]))
    assert net.price_includes_tax is False
    gross_item = replace(ITEM_1000, price_includes_tax=True)
    assert quote_line(req(), snapshot=world([], item=gross_item)).price_includes_tax is True


def test_ties_go_to_the_lowest_price_list_code_then_line_no() -> None:
    lines = [
        line("B", 1, price="50"),
        line("A", 20000, price="50"),
        line("A", 10000, price="50"),
        disc("Z", 1, "5"),
        disc("Y", 2, "5"),
        disc("Y", 1, "5"),
    ]
    quote = quote_line(req(), snapshot=world(lines))
    assert (quote.price_source, quote.discount_source) == (ref("A", 10000), ref("Y", 1))
    # Equal value after discount: 100 * 0.5 = 50 (discount allowed) vs 50 (not allowed) - still a tie.
    tie = [disc("D", 1, "50"), line("N", 1, price="50", allow=False), line("M", 1, price="100")]
    assert quote_line(req(), snapshot=world(tie)).price_source == ref("M", 1)


def test_blank_and_lowercase_unit_codes() -> None:
    lines = [line("BOX", 1, unit="BOX", price="100"), line("PCS", 1, price="9")]
    # Blank unit: the item's sales unit (BOX here), else its base unit.
    snap = world(lines)
    snap_sales_box = replace(
        snap, item_pricing={"1000": ItemPricing("1000", sales_unit_of_measure_code="BOX")}
    )
    assert quote_line(req(unit=""), snapshot=snap).unit_of_measure_code == "PCS"
    sales = quote_line(req(unit=""), snapshot=snap_sales_box)
    assert (sales.unit_of_measure_code, sales.price_source) == ("BOX", ref("BOX", 1))
    assert quote_line(req(unit="box"), snapshot=snap).price_source == ref("BOX", 1)


def test_base_unit_without_a_unit_row_counts_as_one() -> None:
    snap = replace(world([line("P", 1, unit="", price="4")]), item_units={})
    assert quote_line(req(unit="PCS"), snapshot=snap).unit_price == D(4)
    with pytest.raises(InvalidInput):
        quote_line(req(unit="BOX"), snapshot=snap)


# ---------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize(
    ("request_", "error", "field"),
    [
        (req(customer="NOPE"), NotFound, None),
        (replace(req(), item_number="9999"), NotFound, None),
        (req(unit="CRATE"), InvalidInput, "unit_of_measure_code"),
        (req("0"), InvalidInput, "quantity"),
        (req("-1"), InvalidInput, "quantity"),
        (req(currency="GBP"), InvalidInput, "currency_code"),  # no rate at all
        (req(currency="USD", on=date(2025, 12, 31)), InvalidInput, "currency_code"),  # before the first
    ],
)
def test_errors(request_: PriceRequest, error: type[Exception], field: str | None) -> None:
    with pytest.raises(error) as caught:
        quote_line(request_, snapshot=world([line("P", 1, price="1")]))
    if field is not None:
        assert getattr(caught.value, "field", None) == field


def test_unusable_exchange_rate_is_invalid_input() -> None:
    snap = replace(world(), exchange_rates=(ExchangeRate("USD", date(2026, 1, 1), D(0), D(1)),))
    with pytest.raises(InvalidInput):
        quote_line(req(currency="USD"), snapshot=snap)


# ---------------------------------------------------------------------------------------------
# Basket and index


class CountingLines(Sequence[PriceListLine]):
    """A price book that counts how often it is walked, to prove quotes do not rescan it."""

    def __init__(self, lines: list[PriceListLine]) -> None:
        self._lines = lines
        self.walks = 0

    def __len__(self) -> int:
        return len(self._lines)

    @overload
    def __getitem__(self, index: int) -> PriceListLine: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[PriceListLine]: ...
    def __getitem__(self, index: int | slice) -> PriceListLine | Sequence[PriceListLine]:
        if isinstance(index, int) and index == 0:
            self.walks += 1
        return self._lines[index]

    def __iter__(self) -> Iterator[PriceListLine]:
        self.walks += 1
        return iter(self._lines)


def test_basket_of_20_against_50000_lines_walks_the_price_book_once() -> None:
    # 2,500 items with 20 lines each (10 price breaks by 1 PCS, 10 discounts) = 50,000 lines.
    items = {
        f"I{n:04}": Item(erp_id=f"e{n}", number=f"I{n:04}", name="x", unit_price=D(5)) for n in range(2500)
    }
    book: list[PriceListLine] = []
    for number in items:
        for k in range(10):
            book.append(line("P", len(book), asset_no=number, unit="", min_qty=str(k), price=str(100 - k)))
            book.append(disc("D", len(book), str(k), asset_no=number, min_qty=str(k)))
    counted = CountingLines(book)
    snap = PricingSnapshot(
        local_currency_code="EUR",
        customers=CUSTOMERS,
        items=items,
        item_units={(n, "PCS"): ItemUnit(n, "PCS", D(1)) for n in items},
        lines=counted,
    )
    requests = [PriceRequest("C1", f"I{n * 100:04}", D(n % 10 + 1), "PCS", "", TODAY) for n in range(20)]
    quotes = quote_basket(requests, snapshot=snap)
    assert counted.walks == 1
    assert snap.index.size == 50_000
    for request, quote in zip(requests, quotes, strict=True):
        k = min(int(request.quantity), 9)  # the highest break reached: min qty k <= quantity
        assert quote.item_number == request.item_number
        assert (quote.unit_price, quote.line_discount_percent) == (D(100 - k), D(k))
        assert quote == quote_line(request, snapshot=snap)
    assert counted.walks == 1


def test_index_keeps_only_active_lines_by_asset() -> None:
    index = PriceIndex.build(
        [
            line("B", 2, price="1"),
            line("A", 1, price="1"),
            line("A", 3, price="1", status=PriceListStatus.DRAFT),
            disc("G", 1, "5", asset=IDG, asset_no="BIKES"),
        ]
    )
    assert [(x.price_list_code, x.line_no) for x in index.lines_for(ITEM, "1000")] == [("A", 1), ("B", 2)]
    assert len(index.lines_for(IDG, "BIKES")) == 1
    assert index.lines_for(IDG, "") == ()
    assert index.size == 3
