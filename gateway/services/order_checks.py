"""What an order request must satisfy before anything is looked up: a customer number, 1 to 100
lines with an item and a positive quantity, a delivery date neither past nor absurdly far, sane
name and idempotency key. Each problem is an `InvalidOrder` naming the input field at fault."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from gateway.domain import InvalidOrder

MAX_LINES = 100
MAX_QUANTITY = Decimal(999_999_999)
MAX_KEY_LENGTH = 100
MAX_NAME_LENGTH = 300  # Dataverse salesorder.name
MAX_DELIVERY_DAYS = 730
# A salesperson west of UTC may still be on yesterday's date.
DATE_TOLERANCE = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class OrderLineRequest:
    item_number: str
    quantity: Decimal
    unit_of_measure_code: str | None = None
    """None: the item's sales unit, else its base unit (what BC puts on a new line)."""


def validate_order(
    *,
    customer_number: str,
    lines: Sequence[OrderLineRequest],
    requested: date | None,
    name: str | None,
    key: str | None,
    today: date,
) -> InvalidOrder | None:
    """The first problem of the input alone (no look-ups), as an InvalidOrder naming its field."""
    if not customer_number or not customer_number.strip():
        return InvalidOrder("customerNumber is required", field="customerNumber")
    if not lines:
        return InvalidOrder("an order needs at least one line", field="lines")
    if len(lines) > MAX_LINES:
        return InvalidOrder(f"an order may have at most {MAX_LINES} lines, not {len(lines)}", field="lines")
    for index, line in enumerate(lines):
        where = f"lines[{index}]"
        if not line.item_number or not line.item_number.strip():
            return InvalidOrder(f"{where}.itemNumber is required", field=f"{where}.itemNumber")
        try:
            quantity = Decimal(line.quantity)
            good = quantity.is_finite() and Decimal(0) < quantity <= MAX_QUANTITY
        except (InvalidOperation, TypeError, ValueError):
            good = False
        if not good:
            return InvalidOrder(
                f"{where}.quantity must be positive and at most {MAX_QUANTITY}, not {line.quantity}",
                field=f"{where}.quantity",
            )
        if line.unit_of_measure_code is not None and not line.unit_of_measure_code.strip():
            return InvalidOrder(
                f"{where}.unitOfMeasureCode must not be blank (omit it for the item's default unit)",
                field=f"{where}.unitOfMeasureCode",
            )
    if requested is not None:
        if requested < today - DATE_TOLERANCE:
            return InvalidOrder(
                f"requestedDeliveryDate {requested.isoformat()} is in the past "
                f"(today is {today.isoformat()})",
                field="requestedDeliveryDate",
            )
        if requested > today + timedelta(days=MAX_DELIVERY_DAYS):
            return InvalidOrder(
                f"requestedDeliveryDate {requested.isoformat()} is more than {MAX_DELIVERY_DAYS} days ahead",
                field="requestedDeliveryDate",
            )
    if name is not None and not 0 < len(name.strip()) <= MAX_NAME_LENGTH:
        return InvalidOrder(f"name must have 1 to {MAX_NAME_LENGTH} characters", field="name")
    if key is not None and not 0 < len(key) <= MAX_KEY_LENGTH:
        return InvalidOrder(
            f"idempotencyKey must have 1 to {MAX_KEY_LENGTH} characters", field="idempotencyKey"
        )
    return None
