"""GraphQL types of best-price quotes (`price`, `prices`): the same fields as the REST quote, and
`PriceError` for the expected failures, returned as data in the `PriceResult`/`PricesResult` unions."""

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

import strawberry

from gateway.domain import PriceLineRef, PriceQuote
from resolvers.pricing import PricedLine, PriceFailure, Quote


@strawberry.type(name="PriceLineRef", description="A price list line: its list's code and its line number.")
class PriceSource:
    @classmethod
    def is_type_of(cls, obj: Any, _info: Any) -> bool:
        return isinstance(obj, (cls, PriceLineRef))

    price_list_code: str
    line_no: int


_SOURCE = "The winning price list line; null: no line applies, the item's unit price."
_DISCOUNT = "The line whose discount applies; null: no line discount."
_TAX = "True when the winning price includes tax (quotes exclude tax; this flags it)."
_NOTES = "Why, in words: which line won and what was converted."


@strawberry.type(description="One priced line of a basket.")
class QuoteLine:
    @classmethod
    def is_type_of(cls, obj: Any, _info: Any) -> bool:
        return isinstance(obj, (cls, PriceQuote))

    item_number: str
    quantity: Decimal
    unit_of_measure_code: str
    unit_price: Decimal = strawberry.field(description="Rounded to the currency's unit-amount precision.")
    line_discount_percent: Decimal
    line_amount: Decimal = strawberry.field(description="Rounded to the currency's amount precision.")
    price_source: PriceSource | None = strawberry.field(description=_SOURCE)
    discount_source: PriceSource | None = strawberry.field(description=_DISCOUNT)
    price_includes_tax: bool = strawberry.field(description=_TAX)
    notes: list[str] = strawberry.field(description=_NOTES)


@strawberry.type(name="Quote", description="A priced basket: each line in request order and the total.")
class QuoteType:
    @classmethod
    def is_type_of(cls, obj: Any, _info: Any) -> bool:
        return isinstance(obj, (cls, Quote))

    customer_number: str
    currency_code: str = strawberry.field(description="The document currency (the local one by its code).")
    date: date
    lines: list[QuoteLine]
    total_amount: Decimal = strawberry.field(description="Sum of the line amounts, rounded.")


@strawberry.type(name="PriceQuote", description="One line priced on its own.")
class PriceQuoteType:
    @classmethod
    def is_type_of(cls, obj: Any, _info: Any) -> bool:
        return isinstance(obj, (cls, PricedLine))

    customer_number: str
    currency_code: str
    date: date
    item_number: str
    quantity: Decimal
    unit_of_measure_code: str
    unit_price: Decimal = strawberry.field(description="Rounded to the currency's unit-amount precision.")
    line_discount_percent: Decimal
    line_amount: Decimal = strawberry.field(description="Rounded to the currency's amount precision.")
    price_source: PriceSource | None = strawberry.field(description=_SOURCE)
    discount_source: PriceSource | None = strawberry.field(description=_DISCOUNT)
    price_includes_tax: bool = strawberry.field(description=_TAX)
    notes: list[str] = strawberry.field(description=_NOTES)


@strawberry.type(
    description="Why there is no price: a bad argument, an unknown or foreign customer, "
    "a key that may not quote."
)
class PriceError:
    @classmethod
    def is_type_of(cls, obj: Any, _info: Any) -> bool:
        return isinstance(obj, (cls, PriceFailure))

    code: str = strawberry.field(description="INVALID_INPUT, NOT_FOUND or FORBIDDEN.")
    message: str
    field: str | None = strawberry.field(description="The argument at fault, e.g. `lines[2].unit`.")


PriceResult = Annotated[PriceQuoteType | PriceError, strawberry.union("PriceResult")]
PricesResult = Annotated[QuoteType | PriceError, strawberry.union("PricesResult")]
