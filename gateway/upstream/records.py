"""Conversions from OData JSON rows to domain values: generic `UpstreamRecord`s and the small typed
coercions (Decimal, bool, str, datetime) the connectors' typed helpers use."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from gateway.domain import UpstreamRecord
from gateway.errors import UpstreamProtocolError
from gateway.upstream.odata import parse_datetime


def to_record(
    row: Mapping[str, Any], *, entity_set: str, key: str, modified: str, service: str
) -> UpstreamRecord:
    """`key` names the primary key property; an absent key gives `id=""` (computed sets have none)."""
    raw_id = row.get(key)
    if raw_id is not None and not isinstance(raw_id, str | int):
        raise UpstreamProtocolError(f"{entity_set}: key {key} is not a string", service=service)
    etag = row.get("@odata.etag")
    return UpstreamRecord(
        entity_set=entity_set,
        id="" if raw_id is None else str(raw_id),
        values={name: value for name, value in row.items() if not name.startswith("@")},
        etag=etag if isinstance(etag, str) else None,
        modified_at=parse_datetime(row.get(modified)),
    )


def as_str(value: object) -> str:
    return "" if value is None else str(value)


def as_bool(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def as_decimal(value: object, *, name: str = "value", service: str = "") -> Decimal:
    if value is None:
        return Decimal(0)
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise UpstreamProtocolError(f"{name} is not a number: {value!r}", service=service)
    try:
        # str() first: Decimal(float) would carry the binary expansion (0.1 → 0.1000000000000000055…).
        number = Decimal(str(value))
    except InvalidOperation:
        raise UpstreamProtocolError(f"{name} is not a number: {value!r}", service=service) from None
    if not number.is_finite():
        raise UpstreamProtocolError(f"{name} is not a finite number", service=service)
    return number


def as_datetime(value: object) -> datetime | None:
    return parse_datetime(value)
