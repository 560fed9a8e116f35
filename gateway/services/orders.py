"""The order use case (issue 4 §2): a salesperson's order is checked against the couplings, priced
at the gateway's best price and created in Sales as a submitted order the sync engine carries on.

Expected failures come back as `OrderRejection`s (data, never exceptions): the caller's role, an
unknown, uncoupled or blocked customer or item, invalid input. Access (§6): `sales` and `admin`
keys may order, `app` keys may not; with `GATEWAY_SALES_SCOPE=own` a sales key orders only for its
own customers (others are unknown to it, as in the catalog). Dataverse failures raise
`OrderSubmissionFailed`, which says whether the order may exist.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Protocol

from gateway.domain import (
    CustomerBlocked,
    CustomerNotCoupled,
    InvalidOrder,
    ItemBlocked,
    ItemNotCoupled,
    OrderNotPermitted,
    OrderRejection,
    PriceQuote,
    Principal,
    Role,
    SalesOrder,
    UnifiedCustomer,
    UnifiedItem,
    UnifiedItemUnit,
    UnknownCustomer,
    UnknownItem,
)
from gateway.errors import InvalidInput, NotFound
from gateway.services.catalog import CatalogService
from gateway.services.order_checks import MAX_NAME_LENGTH, OrderLineRequest, validate_order
from gateway.services.order_writes import (
    OrderContext,
    OrderSink,
    PlannedLine,
    PlannedOrder,
    find_order,
    order_id,
    order_number,
    plan_line_amounts,
    sales_order,
    same_order,
    submit_order,
)

CreateSalesOrderResult = SalesOrder | OrderRejection


class QuoteAnswer(Protocol):
    @property
    def currency_code(self) -> str: ...

    @property
    def lines(self) -> Sequence[PriceQuote]: ...


class Quoter(Protocol):
    """The quote service (`gateway.services.pricing.PricingService`)."""

    async def quote(
        self,
        principal: Principal,
        *,
        customer_number: str,
        currency_code: str | None = None,
        on_date: date | None = None,
        lines: Sequence[tuple[str, Decimal, str | None]],
    ) -> QuoteAnswer: ...


@dataclass(frozen=True, slots=True)
class _Line:
    index: int
    item: UnifiedItem
    unit: UnifiedItemUnit
    quantity: Decimal

    @property
    def sequence(self) -> int:
        return self.index + 1


def _today() -> date:
    return datetime.now(UTC).date()


class OrderService:
    def __init__(
        self,
        *,
        catalog: CatalogService,
        quotes: Quoter,
        crm: OrderSink,
        today: Callable[[], date] = _today,
    ) -> None:
        self._catalog = catalog
        self._quotes = quotes
        self._crm = crm
        self._today = today

    async def create_sales_order(
        self,
        principal: Principal,
        *,
        customer_number: str,
        lines: Sequence[OrderLineRequest],
        requested_delivery_date: date | None = None,
        name: str | None = None,
        idempotency_key: str | None = None,
    ) -> CreateSalesOrderResult:
        """Create a submitted order in Sales, or say why not. With an `idempotency_key`, a repeated
        call answers the order the first one created (`created` False) instead of creating another;
        the same key with a different customer or different lines is an InvalidOrder."""
        if principal.role not in (Role.SALES, Role.ADMIN):
            return OrderNotPermitted(
                f"{principal.role.value} keys may read but not order; use a sales or admin key",
                role=principal.role.value,
            )
        invalid = validate_order(
            customer_number=customer_number,
            lines=lines,
            requested=requested_delivery_date,
            name=name,
            key=idempotency_key,
            today=self._today(),
        )
        if invalid is not None:
            return invalid
        customer = await self._customer(principal, customer_number.strip())
        if isinstance(customer, OrderRejection):
            return customer
        resolved = await self._lines(principal, lines)
        if isinstance(resolved, OrderRejection):
            return resolved
        assert customer.crm_id is not None
        new_id = order_id(key_id=principal.key_id, idempotency_key=idempotency_key)
        if idempotency_key is not None:
            earlier = await find_order(self._crm, new_id)
            if earlier is not None:
                return await self._earlier(principal, customer, resolved, earlier, idempotency_key)

        priced = await self._price(principal, customer, resolved)
        if isinstance(priced, OrderRejection):
            return priced
        currency_code, quotes = priced
        planned = await self._plan(
            principal, customer, resolved, quotes, currency_code, new_id, requested_delivery_date, name
        )
        if isinstance(planned, OrderRejection):
            return planned
        plan, price_list_code = planned
        context = OrderContext(
            customer_number=customer.number,
            currency_code=currency_code,
            price_list_code=price_list_code,
            items={line.product_id: line.item_number for line in plan.lines},
            units={line.uom_id: line.unit_code for line in plan.lines},
            idempotency_key=idempotency_key,
        )
        written = await submit_order(self._crm, plan)
        if written is None:  # a concurrent call with the same key created it first
            earlier = await find_order(self._crm, new_id)
            if earlier is None:
                raise AssertionError("Sales reported the order as existing, then not")  # pragma: no cover
            return await self._earlier(principal, customer, resolved, earlier, idempotency_key)
        order, details = written
        percents = {line.sequence: line.line_discount_percent for line in plan.lines}
        return sales_order(
            order, details, context=context, created=True, precision=plan.amount_precision, percents=percents
        )

    # ------------------------------------------------------------------------------ resolution

    async def _customer(self, principal: Principal, number: str) -> UnifiedCustomer | OrderRejection:
        (customer,) = await self._catalog.customers_by_numbers(principal, [number])
        if customer is None:
            return UnknownCustomer(f"no customer {number}", customer_number=number)
        if customer.erp_id is None or customer.crm_id is None:
            side = "Business Central" if customer.erp_id is None else "Sales"
            return CustomerNotCoupled(
                f"customer {number} has no {side} counterpart (CUSTOMER is not coupled): the order "
                "could not reach Business Central",
                customer_number=number,
                erp_id=customer.erp_id,
                crm_id=customer.crm_id,
            )
        # BC refuses a customer with any Blocked value on a new sales order (Ship, Invoice, All).
        if customer.blocked.strip():
            return CustomerBlocked(
                f"customer {number} is blocked ({customer.blocked.strip()})",
                customer_number=number,
                blocked=customer.blocked.strip(),
            )
        return customer

    async def _lines(
        self, principal: Principal, lines: Sequence[OrderLineRequest]
    ) -> list[_Line] | OrderRejection:
        numbers = [line.item_number.strip() for line in lines]
        unique = list(dict.fromkeys(numbers))
        items = dict(zip(unique, await self._catalog.items_by_numbers(principal, unique), strict=True))
        for index, number in enumerate(numbers):
            item = items[number]
            if item is None:
                return UnknownItem(f"lines[{index}]: no item {number}", line_index=index, item_number=number)
            if item.erp_id is None or item.crm_id is None:
                side = "Business Central" if item.erp_id is None else "Sales"
                return ItemNotCoupled(
                    f"lines[{index}]: item {number} has no {side} counterpart (ITEM-PRODUCT is not coupled)",
                    line_index=index,
                    item_number=number,
                )
            if item.blocked:
                return ItemBlocked(
                    f"lines[{index}]: item {number} is blocked", line_index=index, item_number=number
                )
        units = dict(zip(unique, await self._catalog.units_of_items(principal, unique), strict=True))
        resolved: list[_Line] = []
        for index, (line, number) in enumerate(zip(lines, numbers, strict=True)):
            item = items[number]
            assert item is not None
            unit = _unit(item, units[number], line.unit_of_measure_code)
            where = f"lines[{index}].unitOfMeasureCode"
            if unit is None:
                wanted = (
                    line.unit_of_measure_code
                    or item.sales_unit_of_measure_code
                    or item.base_unit_of_measure_code
                )
                return InvalidOrder(f"item {number} has no unit of measure {wanted!r}", field=where)
            if unit.crm_id is None:
                return InvalidOrder(
                    f"unit {unit.code} of item {number} has no Sales unit (ITEM UOM is not coupled)",
                    field=where,
                )
            resolved.append(_Line(index, item, unit, Decimal(line.quantity)))
        return resolved

    # ------------------------------------------------------------------------------ pricing and plan

    async def _price(
        self, principal: Principal, customer: UnifiedCustomer, lines: Sequence[_Line]
    ) -> tuple[str, list[PriceQuote]] | OrderRejection:
        """The best price of every line on today's date (BC prices an order on its order date)."""
        try:
            quote = await self._quotes.quote(
                principal,
                customer_number=customer.number,
                on_date=self._today(),
                lines=[(line.item.number, line.quantity, line.unit.code) for line in lines],
            )
        except NotFound as exc:
            return InvalidOrder(f"cannot price the order: {exc}", field="lines")
        except InvalidInput as exc:
            return InvalidOrder(f"cannot price the order: {exc}", field=exc.field or "lines")
        return quote.currency_code, list(quote.lines)

    async def _plan(
        self,
        principal: Principal,
        customer: UnifiedCustomer,
        lines: Sequence[_Line],
        quotes: Sequence[PriceQuote],
        currency_code: str,
        new_id: uuid.UUID,
        requested: date | None,
        name: str | None,
    ) -> tuple[PlannedOrder, str | None] | OrderRejection:
        (currency,) = await self._catalog.currencies_by_codes(principal, [currency_code])
        if currency is None or currency.crm_id is None:
            return InvalidOrder(
                f"the customer's currency {currency_code} has no Sales currency (CURRENCY is not coupled)",
                field="customerNumber",
            )
        (price_list,) = await self._catalog.default_price_lists(principal, [customer])
        price_level_id = price_list_code = None
        # Sales wants the order's price list in the order's currency; a list in another one is left off.
        if (
            price_list is not None
            and price_list.crm_id
            and _same_currency(price_list.currency_code, customer.currency_code, currency_code)
        ):
            price_level_id, price_list_code = price_list.crm_id, price_list.code
        seller = (
            principal.salesperson_code
            if principal.role is Role.SALES and principal.salesperson_code
            else customer.salesperson_code
        )
        owner_id = None
        if seller:
            (salesperson,) = await self._catalog.salespeople_by_codes(principal, [seller])
            owner_id = salesperson.crm_id if salesperson is not None else None
        number = order_number(new_id)
        planned = []
        for line, quote in zip(lines, quotes, strict=True):
            price, discount = plan_line_amounts(
                quantity=line.quantity,
                quoted_unit_price=quote.unit_price,
                quoted_line_amount=quote.line_amount,
                precision=currency.amount_rounding_precision,
            )
            planned.append(
                PlannedLine(
                    sequence=line.sequence,
                    item_number=line.item.number,
                    unit_code=line.unit.code,
                    product_id=str(line.item.crm_id),
                    uom_id=str(line.unit.crm_id),
                    quantity=line.quantity,
                    unit_price=price,
                    discount_amount=discount,
                    line_discount_percent=quote.line_discount_percent,
                )
            )
        plan = PlannedOrder(
            id=new_id,
            number=number,
            name=(name or f"{customer.name} - {number}").strip()[:MAX_NAME_LENGTH],
            account_id=str(customer.crm_id),
            currency_id=currency.crm_id,
            price_level_id=price_level_id,
            owner_id=owner_id,
            requested_delivery_date=requested,
            lines=tuple(planned),
            amount_precision=currency.amount_rounding_precision,
        )
        return plan, price_list_code

    # ------------------------------------------------------------------------------ replays

    async def _earlier(
        self,
        principal: Principal,
        customer: UnifiedCustomer,
        lines: Sequence[_Line],
        earlier: tuple[dict[str, object], list[dict[str, object]]],
        key: str | None,
    ) -> CreateSalesOrderResult:
        order, details = earlier
        asked = [
            (line.sequence, str(line.item.crm_id), str(line.unit.crm_id), line.quantity) for line in lines
        ]
        if not same_order(order, details, account_id=str(customer.crm_id), lines=asked):
            return InvalidOrder(
                f"idempotencyKey {key!r} was already used for a different order ({order.get('ordernumber')})",
                field="idempotencyKey",
            )
        currencies = {c.crm_id: c for c in await self._catalog.list_currencies(principal) if c.crm_id}
        currency = currencies.get(str(order.get("_transactioncurrencyid_value") or ""))
        (price_list,) = await self._catalog.default_price_lists(principal, [customer])
        level = str(order.get("_pricelevelid_value") or "")
        context = OrderContext(
            customer_number=customer.number,
            currency_code=currency.code if currency is not None else "",
            price_list_code=price_list.code
            if price_list is not None and price_list.crm_id == level
            else None,
            items={str(line.item.crm_id): line.item.number for line in lines},
            units={str(line.unit.crm_id): line.unit.code for line in lines},
            idempotency_key=key,
        )
        precision = currency.amount_rounding_precision if currency is not None else Decimal("0.01")
        return sales_order(order, details, context=context, created=False, precision=precision)


def _unit(item: UnifiedItem, units: Sequence[UnifiedItemUnit], asked: str | None) -> UnifiedItemUnit | None:
    wanted = (asked or item.sales_unit_of_measure_code or item.base_unit_of_measure_code).strip().upper()
    return next((u for u in units if u.code.upper() == wanted), None)


def _same_currency(list_code: str, customer_code: str, order_code: str) -> bool:
    """Blank codes (price list, customer) mean the local currency; `order_code` is never blank."""
    if not list_code:
        return not customer_code.strip()
    return list_code.strip().upper() == order_code.strip().upper()
