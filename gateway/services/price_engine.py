"""Business Central's default "lowest price" sales price calculation (DOMAIN.md §9) for one line
or a basket, over an already-loaded pricing snapshot. Pure: no I/O, no clock, no globals.
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cached_property

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
    PriceQuote,
    PriceRequest,
    PriceSourceType,
)
from gateway.errors import InvalidInput, NotFound
from gateway.services.pricing_index import (
    ExchangeRateTable,
    Precisions,
    PriceIndex,
    code_key,
    round_to,
)

PRICE_TYPES = frozenset({PriceAmountType.PRICE, PriceAmountType.ANY})
DISCOUNT_TYPES = frozenset({PriceAmountType.DISCOUNT, PriceAmountType.ANY})
_HUNDRED = Decimal(100)
_ONE = Decimal(1)


@dataclass(frozen=True, eq=False)
class PricingSnapshot:
    """Everything the engine needs, already loaded. Lookup structures are built lazily, once.

    Compared and hashed by identity (eq=False): a snapshot is a cache key, not a value to diff.
    """

    local_currency_code: str
    currencies: Mapping[str, Currency] = field(default_factory=dict)
    exchange_rates: Sequence[ExchangeRate] = ()
    customers: Mapping[str, CustomerPricing] = field(default_factory=dict)
    items: Mapping[str, Item] = field(default_factory=dict)
    item_pricing: Mapping[str, ItemPricing] = field(default_factory=dict)
    item_units: Mapping[tuple[str, str], ItemUnit] = field(default_factory=dict)
    lines: Sequence[PriceListLine] = ()

    @cached_property
    def index(self) -> PriceIndex:
        return PriceIndex.build(self.lines)

    @cached_property
    def rates(self) -> ExchangeRateTable:
        return ExchangeRateTable(self.exchange_rates)

    @cached_property
    def _qty_per_unit(self) -> dict[tuple[str, str], Decimal]:
        return {(n, code_key(u.code)): u.qty_per_unit_of_measure for (n, _), u in self.item_units.items()}

    @cached_property
    def _currencies(self) -> dict[str, Currency]:
        return {code_key(code): currency for code, currency in self.currencies.items()}

    def document_currency(self, currency_code: str) -> str:
        """ "" for the local currency (however it was spelled), else the upper-case code."""
        code = code_key(currency_code)
        return "" if code == code_key(self.local_currency_code) else code

    def precisions(self, document_currency: str) -> Precisions:
        code = document_currency or code_key(self.local_currency_code)
        return Precisions.of(self._currencies.get(code))

    def qty_per_unit(self, item: Item, unit_code: str) -> Decimal | None:
        qty = self._qty_per_unit.get((item.number, unit_code))
        if qty is None and unit_code == code_key(item.base_unit_of_measure_code):
            return _ONE  # the base unit is 1 by definition even if its unit row was not loaded
        return qty


@dataclass(frozen=True, slots=True)
class _Line:
    """One request, resolved: the document's terms every candidate is judged against."""

    customer: CustomerPricing
    item: Item
    discount_group: str
    quantity: Decimal
    unit: str
    qty_per_unit: Decimal
    currency: str
    """"" = local currency."""
    local_to_document: Decimal
    """Multiplier taking a local amount into the document currency (1 for a local document)."""
    on_date: date
    precisions: Precisions

    @property
    def base_quantity(self) -> Decimal:
        return self.quantity * self.qty_per_unit


@dataclass(frozen=True, slots=True)
class _Priced:
    line: PriceListLine
    unit_price: Decimal
    value: Decimal
    in_currency: bool

    def rank(self) -> tuple[int, Decimal, str, int]:
        return (0 if self.in_currency else 1, self.value, self.line.price_list_code, self.line.line_no)


def quote_line(request: PriceRequest, *, snapshot: PricingSnapshot) -> PriceQuote:
    """The best price for one sales line, as Business Central's default calculation finds it.

    Ranking ("Price Calculation - V16" with "Price Calculation Buffer Mgt."):

    * discounts: the highest `lineDiscountPercent` wins; ties go to the lowest (price list code,
      line no), the first line BC's loop meets, since its comparison is strict;
    * prices: a line in the document currency beats a blank-currency line whatever the price; then
      the lowest price * (1 - d/100) wins; ties again go to the lowest (price list code, line no).

    Raises NotFound for an unknown customer or item, InvalidInput for a unit the item does not
    have, a quantity <= 0, or a foreign currency without a usable exchange rate on the date.
    """
    with decimal.localcontext() as ctx:
        ctx.prec = 38  # money * rates * quantities must not lose digits before the final rounding
        return _quote(_resolve(request, snapshot), request, snapshot)


def quote_basket(requests: Sequence[PriceRequest], *, snapshot: PricingSnapshot) -> list[PriceQuote]:
    """Quotes for several lines against one snapshot. Quantity breaks apply per line, as in BC."""
    return [quote_line(request, snapshot=snapshot) for request in requests]


def _resolve(request: PriceRequest, snapshot: PricingSnapshot) -> _Line:
    customer = snapshot.customers.get(request.customer_number)
    if customer is None:
        raise NotFound(f"customer {request.customer_number!r} not found")
    item = snapshot.items.get(request.item_number)
    if item is None:
        raise NotFound(f"item {request.item_number!r} not found")
    if not request.quantity > 0:
        raise InvalidInput(f"quantity must be positive, got {request.quantity}", field="quantity")
    pricing = snapshot.item_pricing.get(item.number) or ItemPricing(item_number=item.number)
    # A blank unit means what BC would put on a new sales line: the sales unit, else the base unit.
    unit = code_key(
        request.unit_of_measure_code or pricing.sales_unit_of_measure_code or item.base_unit_of_measure_code
    )
    qty_per_unit = snapshot.qty_per_unit(item, unit) if unit else None
    if qty_per_unit is None or qty_per_unit <= 0:
        raise InvalidInput(
            f"item {item.number} has no unit of measure {unit or '(blank)'!r}", field="unit_of_measure_code"
        )
    currency = snapshot.document_currency(request.currency_code)
    factor = _ONE
    if currency:
        rate = snapshot.rates.in_force(currency, request.on_date)
        if rate is None:
            raise InvalidInput(
                f"no exchange rate for {currency} in force on {request.on_date.isoformat()}",
                field="currency_code",
            )
        if rate.exchange_rate_amount <= 0 or rate.relational_exchange_rate_amount <= 0:
            raise InvalidInput(
                f"the exchange rate for {currency} from {rate.starting_date.isoformat()} is not positive",
                field="currency_code",
            )
        # exchangeRateAmount units of the currency = relationalExchangeRateAmount units of local.
        factor = rate.exchange_rate_amount / rate.relational_exchange_rate_amount
    return _Line(
        customer=customer,
        item=item,
        discount_group=pricing.item_discount_group_code,
        quantity=request.quantity,
        unit=unit,
        qty_per_unit=qty_per_unit,
        currency=currency,
        local_to_document=factor,
        on_date=request.on_date,
        precisions=snapshot.precisions(currency),
    )


def _source_key(line: PriceListLine) -> tuple[str, str]:
    # AllCustomers has no source number in BC; ignore whatever the data carries there.
    if line.source_type == PriceSourceType.ALL_CUSTOMERS:
        return (PriceSourceType.ALL_CUSTOMERS.value, "")
    return (str(line.source_type), line.source_no)


def _source_matches(line: PriceListLine, customer: CustomerPricing) -> bool:
    match line.source_type:
        case PriceSourceType.ALL_CUSTOMERS:
            return True
        case PriceSourceType.CUSTOMER:
            return line.source_no == customer.customer_number
        case PriceSourceType.CUSTOMER_PRICE_GROUP:
            return bool(customer.customer_price_group_code) and line.source_no == (
                customer.customer_price_group_code
            )
        case PriceSourceType.CUSTOMER_DISCOUNT_GROUP:
            return bool(customer.customer_discount_group_code) and line.source_no == (
                customer.customer_discount_group_code
            )
    return False


def _line_currency(line: PriceListLine, snapshot: PricingSnapshot) -> str:
    return snapshot.document_currency(line.currency_code) if line.currency_code else ""


def _is_found(
    line: PriceListLine, doc: _Line, snapshot: PricingSnapshot, amount_types: frozenset[PriceAmountType]
) -> bool:
    """BC's FindLines filters (status is settled by the index): everything but minimum quantity."""
    if line.amount_type not in amount_types:
        return False
    if line.starting_date is not None and line.starting_date > doc.on_date:
        return False
    if line.ending_date is not None and line.ending_date < doc.on_date:
        return False
    if _line_currency(line, snapshot) not in ("", doc.currency):
        return False
    if code_key(line.unit_of_measure_code) not in ("", doc.unit):
        return False
    return _source_matches(line, doc.customer)


def _in_min_qty(line: PriceListLine, doc: _Line) -> bool:
    # A unit-specific break counts in that unit; a blank-unit break counts in base units.
    quantity = doc.quantity if line.unit_of_measure_code else doc.base_quantity
    return line.minimum_quantity <= quantity


def _is_candidate(
    line: PriceListLine, doc: _Line, snapshot: PricingSnapshot, amount_types: frozenset[PriceAmountType]
) -> bool:
    return _is_found(line, doc, snapshot, amount_types) and _in_min_qty(line, doc)


def _converted(amount: Decimal, *, per_base_unit: bool, local: bool, doc: _Line) -> Decimal:
    if per_base_unit:
        amount *= doc.qty_per_unit
    if local and doc.currency:
        amount *= doc.local_to_document
    return round_to(amount, doc.precisions.unit_amount)


def _best_discount(doc: _Line, snapshot: PricingSnapshot) -> PriceListLine | None:
    found = [
        line
        for line in snapshot.index.lines_for(PriceAssetType.ITEM, doc.item.number)
        if _is_found(line, doc, snapshot, DISCOUNT_TYPES)
    ]
    # The item discount group is BC's lower asset level: FindLines consults it per source only when
    # that source found no item-level discount line. Like BC, "found" is judged before the minimum
    # quantity check (CalcBestAmount's IsInMinQty), so an item-level line whose break is not reached
    # still hides the group lines of its source.
    sources_with_item_lines = {_source_key(line) for line in found}
    found += [
        line
        for line in snapshot.index.lines_for(PriceAssetType.ITEM_DISCOUNT_GROUP, doc.discount_group)
        if _source_key(line) not in sources_with_item_lines and _is_found(line, doc, snapshot, DISCOUNT_TYPES)
    ]
    candidates = [line for line in found if _in_min_qty(line, doc)]
    if not candidates:
        return None
    return min(candidates, key=lambda ln: (-ln.line_discount_percent, ln.price_list_code, ln.line_no))


def _quote(doc: _Line, request: PriceRequest, snapshot: PricingSnapshot) -> PriceQuote:
    notes: list[str] = []
    discount_line = _best_discount(doc, snapshot)
    best_discount = Decimal(0)
    if not doc.customer.allow_line_discount:
        if discount_line is not None:
            notes.append("customer does not allow line discounts")
        discount_line = None
    elif discount_line is not None:
        best_discount = discount_line.line_discount_percent

    priced: list[_Priced] = []
    for line in snapshot.index.lines_for(PriceAssetType.ITEM, doc.item.number):
        if not _is_candidate(line, doc, snapshot, PRICE_TYPES):
            continue
        price = _converted(
            line.unit_price,
            per_base_unit=not line.unit_of_measure_code,
            local=not _line_currency(line, snapshot),
            doc=doc,
        )
        d = best_discount if line.allow_line_discount else Decimal(0)
        value = price * (_ONE - d / _HUNDRED)
        priced.append(_Priced(line, price, value, in_currency=bool(_line_currency(line, snapshot))))

    price_source: PriceLineRef | None = None
    includes_tax = False
    if priced:
        winner = min(priced, key=_Priced.rank)
        unit_price = winner.unit_price
        discount = best_discount if winner.line.allow_line_discount else Decimal(0)
        price_source = PriceLineRef(winner.line.price_list_code, winner.line.line_no)
        includes_tax = winner.line.price_includes_tax
        notes.append(_describe(winner.line, doc))
        if winner.in_currency and any(not p.in_currency and p.value < winner.value for p in priced):
            notes.append(f"a {doc.currency} price beats cheaper local-currency prices")
        if discount_line is not None and not winner.line.allow_line_discount:
            notes.append("the winning price line does not allow line discounts")
            discount_line = None
    else:
        unit_price = _converted(doc.item.unit_price, per_base_unit=True, local=True, doc=doc)
        discount = best_discount
        includes_tax = doc.item.price_includes_tax
        notes.append("no price list line applies: the item's unit price")

    if discount_line is not None:
        notes.append(
            f"line discount {discount_line.line_discount_percent}% from "
            f"{discount_line.price_list_code} line {discount_line.line_no}"
        )
    if includes_tax:
        notes.append("the price includes tax")
    amount = round_to(request.quantity * unit_price * (_ONE - discount / _HUNDRED), doc.precisions.amount)
    return PriceQuote(
        item_number=doc.item.number,
        quantity=request.quantity,
        unit_of_measure_code=doc.unit,
        currency_code=request.currency_code,
        unit_price=unit_price,
        line_discount_percent=discount,
        line_amount=amount,
        price_source=price_source,
        discount_source=(
            PriceLineRef(discount_line.price_list_code, discount_line.line_no) if discount_line else None
        ),
        price_includes_tax=includes_tax,
        notes=tuple(notes),
    )


def _describe(line: PriceListLine, doc: _Line) -> str:
    source = line.source_type if not line.source_no else f"{line.source_type} {line.source_no}"
    text = f"price from {line.price_list_code} line {line.line_no} ({source})"
    if line.minimum_quantity > 0:
        text += f", from {line.minimum_quantity} {line.unit_of_measure_code or 'base units'}"
    if not line.unit_of_measure_code and doc.qty_per_unit != _ONE:
        text += f", per base unit * {doc.qty_per_unit}"
    if doc.currency and not line.currency_code:
        text += f", converted from local currency to {doc.currency}"
    return text
