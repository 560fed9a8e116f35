"""How a priced, resolved order reaches Dataverse: one atomic change set (the order, its details, the
submit) under client-chosen ids, and how an order already there is read back as a `SalesOrder`."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_CEILING, Decimal
from typing import Any, Protocol

from gateway.domain import BatchResult, SalesOrder, SalesOrderLine, SalesOrderState, UpstreamRecord
from gateway.errors import GatewayError, UpstreamError, UpstreamNotFound
from gateway.services.pricing_index import round_to
from gateway.upstream.odata import Key
from gateway.upstream.writes import Write

ORDERS, DETAILS = "salesorders", "salesorderdetails"
# Dataverse's salesorder states, and the status a submitted order carries (as the demo data and
# the sync engine's SALES ORDER mapping expect: statecode 1 "Submitted", statuscode 3 "In Progress").
STATES = {
    0: SalesOrderState.ACTIVE,
    1: SalesOrderState.SUBMITTED,
    2: SalesOrderState.CANCELED,
    3: SalesOrderState.FULFILLED,
    4: SalesOrderState.INVOICED,
}
SUBMITTED_STATE, SUBMITTED_STATUS = 1, 3
_ORDER_IDS = uuid.UUID("6f1d4c52-8a1e-4b7e-9d35-0c2f51a7e4b3")


class OrderSink(Protocol):
    """What the order service needs of the Dataverse connector (`gateway.upstream.crm.CrmConnector`)."""

    async def get(
        self, entity_set: str, key: Key, *, select: Sequence[str] | None = None
    ) -> UpstreamRecord: ...

    def pages(self, entity_set: str, *, filter: str | None = None) -> Any: ...

    async def batch(self, writes: Sequence[Write], *, atomic: bool = False) -> list[BatchResult]: ...


class OrderSubmissionFailed(GatewayError):
    """Dataverse failed while the order was being created. `outcome` is "not_created" when it
    certainly does not exist, "unknown" when it may (retrying with the same idempotency key is safe:
    the retry finds it); `retriable` says whether trying again can help."""

    def __init__(self, message: str, *, outcome: str, retriable: bool) -> None:
        self.outcome = outcome
        self.retriable = retriable
        super().__init__(message)


def order_id(*, key_id: str, idempotency_key: str | None) -> uuid.UUID:
    """The order's Dataverse id: derived from the caller's key and its idempotency key, so a retried
    request names the same order; random without one. Scoped per API key: two callers' keys never clash."""
    if idempotency_key is None:
        return uuid.uuid4()
    return uuid.uuid5(_ORDER_IDS, f"{key_id}\x00{idempotency_key}")


def detail_id(order: uuid.UUID, sequence: int) -> uuid.UUID:
    return uuid.uuid5(order, f"line:{sequence}")


def order_number(order: uuid.UUID) -> str:
    """Our own order number (the sync engine sends it to BC as external document number, ≤ 35)."""
    return f"GW-{order.hex[:12].upper()}"


@dataclass(frozen=True, slots=True)
class PlannedLine:
    """One line ready to write: what Sales needs (ids, money) and what the answer reports."""

    sequence: int
    item_number: str
    unit_code: str
    product_id: str
    uom_id: str
    quantity: Decimal
    unit_price: Decimal
    """The price Sales holds: the quoted unit price rounded up to the currency's amount precision."""
    discount_amount: Decimal
    """quantity * unit_price (rounded) - the quoted line amount: the discount plus the rounding."""
    line_discount_percent: Decimal


def plan_line_amounts(
    *, quantity: Decimal, quoted_unit_price: Decimal, quoted_line_amount: Decimal, precision: Decimal
) -> tuple[Decimal, Decimal]:
    """(unit price, manual discount amount) that carry the quote into Sales and on to BC exactly.

    A quoted unit price has up to five decimals (the unit-amount precision); Sales keeps money to at
    most four and the sync sends BC amounts. Rounding the price *up* to the amount precision and
    putting the difference into the manual discount keeps the line amount the quote's in both
    systems, and the discount never negative."""
    if precision <= 0:
        return quoted_unit_price, Decimal(0)
    steps = (quoted_unit_price / precision).to_integral_value(rounding=ROUND_CEILING)
    price = steps * precision
    return price, round_to(quantity * price, precision) - quoted_line_amount


@dataclass(frozen=True, slots=True)
class PlannedOrder:
    id: uuid.UUID
    number: str
    name: str
    account_id: str
    currency_id: str
    price_level_id: str | None
    owner_id: str | None
    requested_delivery_date: date | None
    lines: tuple[PlannedLine, ...]
    amount_precision: Decimal = Decimal("0.01")


def _bind(entity_set: str, record_id: str | uuid.UUID) -> str:
    return f"/{entity_set}({record_id})"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def order_writes(plan: PlannedOrder) -> list[Write]:
    """The change set: create the order, create each detail, then submit — all or nothing, so the
    sync engine never sees a submitted order without its lines."""
    order: dict[str, Any] = {
        "salesorderid": str(plan.id),
        "name": plan.name,
        "ordernumber": plan.number,
        "customerid_account@odata.bind": _bind("accounts", plan.account_id),
        "transactioncurrencyid@odata.bind": _bind("transactioncurrencies", plan.currency_id),
    }
    if plan.price_level_id:
        order["pricelevelid@odata.bind"] = _bind("pricelevels", plan.price_level_id)
    if plan.owner_id:
        order["ownerid@odata.bind"] = _bind("systemusers", plan.owner_id)
    if plan.requested_delivery_date is not None:
        order["requestdeliveryby"] = plan.requested_delivery_date.isoformat()
    writes = [Write.create(ORDERS, order)]
    for line in plan.lines:
        writes.append(
            Write.create(
                DETAILS,
                {
                    "salesorderdetailid": str(detail_id(plan.id, line.sequence)),
                    "salesorderid@odata.bind": _bind(ORDERS, plan.id),
                    "productid@odata.bind": _bind("products", line.product_id),
                    "uomid@odata.bind": _bind("uoms", line.uom_id),
                    "quantity": float(line.quantity),
                    # The gateway's best price, entered as an override so Sales does not re-price it;
                    # the line discount travels as a manual discount amount (DOMAIN.md §8).
                    "priceperunit": float(line.unit_price),
                    "ispriceoverridden": True,
                    "manualdiscountamount": float(line.discount_amount),
                    "sequencenumber": line.sequence,
                },
            )
        )
    submit = {"statecode": SUBMITTED_STATE, "statuscode": SUBMITTED_STATUS, "submitdate": _now()}
    writes.append(Write.update(ORDERS, plan.id, submit, etag="*"))
    return writes


async def submit_order(
    crm: OrderSink, plan: PlannedOrder
) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """Write the change set; the order row (as submitted) and the detail rows, or None when Dataverse
    refused it because an order with this id already exists (a concurrent retry got there first).

    Raises OrderSubmissionFailed when it failed; after an ambiguous failure it first looks for the
    order, so "unknown" is only reported when even that look-up failed.
    """
    writes = order_writes(plan)
    try:
        results = await crm.batch(writes, atomic=True)
    except UpstreamError as exc:
        if await _exists(crm, plan.id):
            return None
        raise OrderSubmissionFailed(
            f"Sales did not confirm the order ({type(exc).__name__}); it was not created",
            outcome="not_created",
            retriable=True,
        ) from exc
    if all(r.ok for r in results) and len(results) == len(writes):
        rows = [dict(r.body or {}) for r in results]
        order = {**rows[0], **rows[-1]}  # the submit's answer carries the final state
        return order, rows[1:-1]
    failed = next((r for r in results if not r.ok), None)
    if await _exists(crm, plan.id):
        return None
    reason = failed.error_message if failed is not None else "no answer for some operations"
    raise OrderSubmissionFailed(
        f"Sales refused the order ({failed.status if failed else '?'}): {reason}",
        outcome="not_created",
        retriable=failed is not None and (failed.status >= 500 or failed.status == 429),
    )


async def _exists(crm: OrderSink, order: uuid.UUID) -> bool:
    try:
        await crm.get(ORDERS, order, select=["salesorderid"])
    except UpstreamNotFound:
        return False
    except UpstreamError as exc:
        raise OrderSubmissionFailed(
            "Sales failed while the order was being created and could not be asked whether it exists;"
            " retry with the same idempotencyKey to find out",
            outcome="unknown",
            retriable=True,
        ) from exc
    return True


async def find_order(crm: OrderSink, order: uuid.UUID) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """The order with this id and its details, or None when Sales has no such order."""
    try:
        record = await crm.get(ORDERS, order)
        details: list[dict[str, Any]] = []
        async for page in crm.pages(DETAILS, filter=f"_salesorderid_value eq {order}"):
            details += [dict(r.values) for r in page]
    except UpstreamNotFound:
        return None
    except UpstreamError as exc:
        raise OrderSubmissionFailed(
            f"Sales could not be asked for an earlier order with this idempotencyKey ({type(exc).__name__});"
            " nothing was created",
            outcome="not_created",
            retriable=True,
        ) from exc
    return dict(record.values), details


def _decimal(value: Any) -> Decimal:
    return Decimal(0) if value is None else Decimal(str(value))


def _state(row: Mapping[str, Any]) -> tuple[SalesOrderState, int]:
    code = row.get("statecode")
    state = STATES.get(code if isinstance(code, int) else -1, SalesOrderState.ACTIVE)
    status = row.get("statuscode")
    return state, status if isinstance(status, int) else 0


def _date(value: Any) -> date | None:
    return date.fromisoformat(str(value)[:10]) if value else None


@dataclass(frozen=True, slots=True)
class OrderContext:
    """What the answer names that Sales holds only as ids."""

    customer_number: str
    currency_code: str
    price_list_code: str | None
    items: Mapping[str, str]
    """product id → item number"""
    units: Mapping[str, str]
    """uom id → unit code"""
    idempotency_key: str | None


def sales_order(
    order: Mapping[str, Any],
    details: Sequence[Mapping[str, Any]],
    *,
    context: OrderContext,
    created: bool,
    precision: Decimal,
    percents: Mapping[int, Decimal] | None = None,
) -> SalesOrder:
    """The answer, from the rows Sales holds; amounts rounded to the currency's `precision`.
    `percents` (by sequence) are the quote's discount percentages; without them (an order found
    again by its idempotency key) they are derived from the amounts."""
    lines = []
    for row in sorted(details, key=lambda d: int(d.get("sequencenumber") or 0)):
        sequence = int(row.get("sequencenumber") or 0)
        quantity, price = _decimal(row.get("quantity")), _decimal(row.get("priceperunit"))
        base = round_to(quantity * price, precision)
        discount = round_to(
            _decimal(row.get("manualdiscountamount")) + quantity * _decimal(row.get("volumediscountamount")),
            precision,
        )
        percent = (percents or {}).get(sequence)
        if percent is None:
            percent = (discount / base * 100).quantize(Decimal("0.00001")).normalize() if base else Decimal(0)
        lines.append(
            SalesOrderLine(
                sequence=sequence,
                item_number=context.items.get(str(row.get("_productid_value")), ""),
                unit_of_measure_code=context.units.get(str(row.get("_uomid_value")), ""),
                quantity=quantity.normalize(),
                unit_price=price,
                line_discount_percent=percent,
                discount_amount=discount,
                line_amount=base - discount,
                crm_id=str(row.get("salesorderdetailid") or ""),
            )
        )
    state, status = _state(order)
    return SalesOrder(
        crm_id=str(order.get("salesorderid") or ""),
        order_number=str(order.get("ordernumber") or ""),
        name=str(order.get("name") or ""),
        state=state,
        status_code=status,
        customer_number=context.customer_number,
        crm_account_id=str(order.get("_customerid_value") or ""),
        currency_code=context.currency_code,
        price_list_code=context.price_list_code,
        requested_delivery_date=_date(order.get("requestdeliveryby")),
        lines=tuple(lines),
        total_amount=sum((line.line_amount for line in lines), Decimal(0)),
        total_discount_amount=sum((line.discount_amount for line in lines), Decimal(0)),
        created=created,
        idempotency_key=context.idempotency_key,
    )


def same_order(
    order: Mapping[str, Any],
    details: Sequence[Mapping[str, Any]],
    *,
    account_id: str,
    lines: Sequence[tuple[int, str, str, Decimal]],
) -> bool:
    """Whether an order found under this id is the one asked for now: same account, and the same
    (sequence, product, unit, quantity) lines. Prices are not compared: they may have moved since."""
    if str(order.get("_customerid_value") or "").lower() != account_id.lower():
        return False
    found = sorted(
        (
            int(d.get("sequencenumber") or 0),
            str(d.get("_productid_value") or "").lower(),
            str(d.get("_uomid_value") or "").lower(),
            _decimal(d.get("quantity")).normalize(),
        )
        for d in details
    )
    asked = sorted((s, p.lower(), u.lower(), q.normalize()) for s, p, u, q in lines)
    return found == asked
