"""The quote use case (issue §3, DOMAIN.md §9): best prices for a customer's basket, from the read
model through the pure price engine, with defaults (currency, date, unit) and access rules applied.

Access (issue §6): `admin` and `sales` keys may quote; `app` keys read only (PermissionDenied); a
`sales` key with `GATEWAY_SALES_SCOPE=own` quotes only its own customers (others are NotFound, as in
the catalog, which decides visibility here too).
"""

from __future__ import annotations

import decimal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from gateway.domain import PriceQuote, PriceRequest, Principal, Role, UnifiedCustomer
from gateway.errors import InvalidInput, NotFound, NotSynchronized, PermissionDenied
from gateway.services.catalog import CatalogService
from gateway.services.currency_tables import KeptCurrencyTables
from gateway.services.price_engine import PricingSnapshot, quote_line
from gateway.services.pricing_index import code_key, round_to
from gateway.store.engine import SessionFactory
from gateway.store.read_pricing import CurrencyTables, load_pricing_data

MAX_LINES = 200
MAX_QUANTITY = Decimal(999_999_999)
QuoteLine = tuple[str, Decimal, str | None]
"""(item number, quantity, unit of measure code or None for the item's sales/base unit)."""


@dataclass(frozen=True, slots=True)
class Quote:
    """A priced basket: one `PriceQuote` per requested line, in request order, and their total."""

    customer_number: str
    currency_code: str
    """The document currency's code; the local currency is named by its code too (never blank)."""
    date: date
    lines: tuple[PriceQuote, ...]
    total_amount: Decimal
    """Sum of the line amounts, rounded to the currency's amount precision."""


def _local_currency(tables: CurrencyTables) -> str:
    """The company's local currency, from the store: the sync's ERP PRICING run keeps BC's
    `companyInformation` there, so no quote asks an upstream for it (issue 4: no upstream calls on
    the read path), in no process, not even its first quote."""
    code = code_key(tables.local_currency_code)
    if not code:
        raise NotSynchronized(
            "the local currency is not synchronized yet: ERP PRICING's next run reads it from "
            "Business Central (companyInformation)"
        )
    return code


def _today() -> date:
    return datetime.now(UTC).date()


class PricingService:
    def __init__(
        self,
        *,
        sessions: SessionFactory,
        catalog: CatalogService,
        today: Callable[[], date] = _today,
    ) -> None:
        self._sessions = sessions
        self._catalog = catalog
        self._today = today
        self.currency_tables = KeptCurrencyTables()

    async def quote(
        self,
        principal: Principal,
        *,
        customer_number: str,
        currency_code: str | None = None,
        on_date: date | None = None,
        lines: Sequence[QuoteLine],
    ) -> Quote:
        """Best prices for `lines` sold to `customer_number` in `currency_code` (default: the
        customer's; blank there means local) on `on_date` (default: today, UTC).

        Raises PermissionDenied for `app` keys; NotFound for a customer that does not exist or is
        not the caller's, or an unknown item; InvalidInput (with `field` naming the body field, e.g.
        `lines[2].unitOfMeasureCode`) for a blocked customer or item, an unknown currency or one
        without an exchange rate on the date, a unit the item lacks, or a bad quantity.
        """
        if principal.role is Role.APP:
            raise PermissionDenied("app keys may read but not quote; use a sales or admin key")
        _check_lines(lines)
        customer = await self._customer(principal, customer_number)
        when = on_date or self._today()

        async with self._sessions() as session:
            tables = await self.currency_tables.get(session)
            local = _local_currency(tables)
            currency = code_key(currency_code or "") or code_key(customer.currency_code) or local
            data = await load_pricing_data(
                session,
                customer_numbers=[customer.number],
                item_numbers=[n for n, _, _ in lines],
                currency_tables=tables,
            )
        if currency != local and currency not in {code_key(c) for c in data.currencies}:
            raise InvalidInput(f"unknown currency {currency!r}", field="currencyCode")
        snapshot = PricingSnapshot(
            local_currency_code=local,
            currencies=data.currencies,
            exchange_rates=data.exchange_rates,
            customers=data.customers,
            items=data.items,
            item_pricing=data.item_pricing,
            item_units=data.item_units,
            lines=data.lines,
        )
        if customer.number not in data.customers:
            raise InvalidInput(
                f"customer {customer.number} has no pricing profile in Business Central yet",
                field="customerNumber",
            )
        quotes = [
            self._line(snapshot, index, customer.number, currency, when, line)
            for index, line in enumerate(lines)
        ]
        precision = snapshot.precisions(snapshot.document_currency(currency)).amount
        with decimal.localcontext() as ctx:
            ctx.prec = 38
            total = round_to(sum((q.line_amount for q in quotes), Decimal(0)), precision)
        return Quote(
            customer_number=customer.number,
            currency_code=currency,
            date=when,
            lines=tuple(quotes),
            total_amount=total,
        )

    async def _customer(self, principal: Principal, number: str) -> UnifiedCustomer:
        if not number or not number.strip():
            raise InvalidInput("customerNumber is required", field="customerNumber")
        (customer,) = await self._catalog.customers_by_numbers(principal, [number.strip()])
        if customer is None:
            raise NotFound(f"customer {number!r} not found")
        if customer.erp_id is None:
            raise InvalidInput(
                f"customer {number} exists only in Sales; quotes need its Business Central customer",
                field="customerNumber",
            )
        # BC refuses every sales document for Blocked = All; Ship/Invoice still allow quotes.
        if customer.blocked.strip().lower() == "all":
            raise InvalidInput(f"customer {number} is blocked (All)", field="customerNumber")
        return customer

    @staticmethod
    def _line(
        snapshot: PricingSnapshot, index: int, customer: str, currency: str, on_date: date, line: QuoteLine
    ) -> PriceQuote:
        item_number, quantity, unit = line
        where = f"lines[{index}]"
        item = snapshot.items.get(item_number)
        if item is None:
            raise NotFound(f"{where}: item {item_number!r} not found")
        if item.blocked:
            raise InvalidInput(f"{where}: item {item_number} is blocked", field=f"{where}.itemNumber")
        request = PriceRequest(
            customer_number=customer,
            item_number=item_number,
            quantity=Decimal(quantity),
            unit_of_measure_code=unit or "",
            currency_code=currency,
            on_date=on_date,
        )
        try:
            return quote_line(request, snapshot=snapshot)
        except InvalidInput as exc:
            field = {
                "currency_code": "currencyCode",
                "unit_of_measure_code": f"{where}.unitOfMeasureCode",
                "quantity": f"{where}.quantity",
            }.get(exc.field or "", exc.field)
            prefix = "" if field == "currencyCode" else f"{where}: "
            raise InvalidInput(f"{prefix}{exc}", field=field) from exc


def _check_lines(lines: Sequence[QuoteLine]) -> None:
    if not lines:
        raise InvalidInput("lines: at least one line is required", field="lines")
    if len(lines) > MAX_LINES:
        raise InvalidInput(f"lines: at most {MAX_LINES} lines per quote", field="lines")
    for index, (item_number, quantity, _) in enumerate(lines):
        if not item_number or not item_number.strip():
            raise InvalidInput(f"lines[{index}].itemNumber is required", field=f"lines[{index}].itemNumber")
        q = Decimal(quantity)
        # BC quantities carry at most 5 decimals; NaN/Infinity must not reach a comparison.
        if not q.is_finite() or not Decimal(0) < q <= MAX_QUANTITY or q != round(q, 5):
            raise InvalidInput(
                f"lines[{index}].quantity must be positive, at most {MAX_QUANTITY}, with at most 5 decimals",
                field=f"lines[{index}].quantity",
            )
