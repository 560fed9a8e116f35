"""Upstream JSON values as read-model column values, by the conventions of both services: blank
dates (BC's 0001-01-01, Dataverse's null), booleans sent as text, decimals sent as strings; and
numeric column values back as domain decimals (`natural`)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from gateway.store.couplings import normalize_id


def as_text(value: Any) -> str:
    return "" if value is None else str(value)


def as_id(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return normalize_id(str(value))


def as_decimal(value: Any, default: Decimal = Decimal(0)) -> Decimal:
    if value is None or value == "":
        return default
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return default


def as_bool(value: Any, default: bool = False) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes"}
    return bool(value)


def as_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def as_date(value: Any) -> date | None:
    """BC writes a blank date as 0001-01-01; Dataverse as null. Both mean "no date"."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value)[:10]
    if text.startswith("0001-01-01"):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def as_datetime(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def as_precision(places: Any) -> Decimal:
    digits = as_int(places)
    return Decimal(1).scaleb(-digits) if digits is not None and digits >= 0 else Decimal("0.01")


def natural(value: Any) -> Decimal:
    """Numeric columns come back with the column's 10 decimals; give the value its natural scale."""
    number = Decimal(value)
    if number == number.to_integral_value():
        return number.quantize(Decimal(1))
    return number.normalize()
