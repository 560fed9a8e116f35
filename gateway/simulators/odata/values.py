"""Conversion between JSON values, SQLite column values and URL key literals, per Edm type.

Datetimes are stored as naive UTC; GUIDs as lower-case strings; strings compare case-insensitively.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from .model import Prop


def column_type(prop: Prop) -> sa.types.TypeEngine[Any]:
    """SQLite column type for an Edm type; NOCASE mimics SQL Server's case-insensitive collation."""
    match prop.edm:
        case "Edm.Guid":
            return sa.String(36)
        case "Edm.String":
            return sa.String(collation="NOCASE")
        case "Edm.Int32" | "Edm.Int64":
            return sa.Integer()
        case "Edm.Decimal" | "Edm.Double":
            return sa.Float()
        case "Edm.Boolean":
            return sa.Boolean()
        case "Edm.Date":
            return sa.Date()
        case _:
            return sa.DateTime()


def parse_datetime(text: str) -> datetime:
    """ISO 8601 with offset or Z -> naive UTC; a value without offset is taken as UTC."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def from_json(prop: Prop, value: Any) -> Any:
    """Validate and convert one JSON value for storage; raises ValueError with a readable reason."""
    if value is None:
        if not prop.nullable:
            raise ValueError(f"property '{prop.name}' cannot be null")
        return None
    edm = prop.edm
    if edm == "Edm.Guid":
        if not isinstance(value, str):
            raise ValueError(f"property '{prop.name}' expects a GUID string")
        return str(uuid.UUID(value))
    if edm == "Edm.String":
        if not isinstance(value, str):
            raise ValueError(f"property '{prop.name}' expects a string")
        if prop.max_length is not None and len(value) > prop.max_length:
            raise ValueError(f"property '{prop.name}' is longer than {prop.max_length} characters")
        return value
    if edm in ("Edm.Int32", "Edm.Int64"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"property '{prop.name}' expects an integer")
        return value
    if edm in ("Edm.Decimal", "Edm.Double"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            # Decimal may also arrive as a string under IEEE754Compatible; accept it like the real API.
            if isinstance(value, str):
                return float(value)
            raise ValueError(f"property '{prop.name}' expects a number")
        return float(value)
    if edm == "Edm.Boolean":
        if not isinstance(value, bool):
            raise ValueError(f"property '{prop.name}' expects true or false")
        return value
    if not isinstance(value, str):
        raise ValueError(f"property '{prop.name}' expects a string")
    if edm == "Edm.Date":
        return date.fromisoformat(value[:10]) if len(value) > 10 else date.fromisoformat(value)
    return parse_datetime(value)


def format_datetime(value: datetime, *, millis: bool) -> str:
    """BC writes milliseconds (``...10:27:39.297Z``), Dataverse whole seconds (``...10:27:39Z``)."""
    if millis:
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def to_json(prop: Prop, value: Any, *, millis: bool) -> Any:
    """Stored value -> JSON value."""
    if value is None:
        return None
    if prop.edm == "Edm.DateTimeOffset" and isinstance(value, datetime):
        return format_datetime(value, millis=millis)
    if prop.edm == "Edm.Date" and isinstance(value, date):
        return value.isoformat()
    if prop.edm in ("Edm.Decimal", "Edm.Double"):
        number = float(value)
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    if prop.edm == "Edm.Boolean":
        return bool(value)
    return value


def from_key_literal(prop: Prop, literal: object) -> Any:
    """A value parsed from a URL key predicate (str for quoted, else raw token) -> stored value."""
    if prop.edm == "Edm.Guid":
        return str(uuid.UUID(str(literal)))
    if prop.edm in ("Edm.Int32", "Edm.Int64"):
        return int(str(literal))
    if prop.edm in ("Edm.Decimal", "Edm.Double"):
        return float(str(literal))
    if prop.edm == "Edm.Date":
        return date.fromisoformat(str(literal))
    if prop.edm == "Edm.DateTimeOffset":
        return parse_datetime(str(literal))
    if prop.edm == "Edm.Boolean":
        return str(literal) == "true"
    return str(literal)
