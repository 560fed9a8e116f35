"""OData v4 URL building: literals for `$filter`, key and alternate-key segments, typed query options.

Strict OData servers reject `+` for a space, so query strings are encoded by hand (`%20`), never by httpx.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

# Characters left readable in a query string: OData syntax that every server accepts unencoded.
QUERY_SAFE = "$,'()/:"
# In a path segment `/` must be encoded (it would start a new segment); `'`, `(`, `)`, `=`, `,` are syntax.
PATH_SAFE = "'()=,:@$"

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

KeyValue = str | int | uuid.UUID | Decimal
Key = KeyValue | Mapping[str, Any]


def is_guid(value: str) -> bool:
    return bool(_GUID.match(value))


def odata_literal(value: object) -> str:
    """Format a Python value as an OData v4 literal, safe to splice into a `$filter` expression.

    Strings are quoted with single quotes doubled; `uuid.UUID` is bare; aware datetimes become UTC
    `...Z`; dates `YYYY-MM-DD`; Decimals never use an exponent. A `str` is always a string, even
    when it looks like a GUID: pass `uuid.UUID(text)` to compare with a GUID property.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):  # before int: bool is an int
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"no OData literal for {value}")
        return format(value, "f")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"no OData literal for {value}")
        return repr(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime: OData DateTimeOffset needs a time zone")
        text = value.astimezone(UTC).isoformat(timespec="microseconds" if value.microsecond else "seconds")
        return text.replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.isoformat()
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no OData literal for {type(value).__name__}")


def in_filter(prop: str, values: Sequence[object]) -> str:
    """`prop in (v1,v2,…)` with each value as a literal; one value is written `prop eq v`, which
    every OData 4.0 server understands (`in` is 4.01, and some parsers reject a one-value list)."""
    if not values:
        raise ValueError("an `in` filter needs at least one value")
    if len(values) == 1:
        return f"{prop} eq {odata_literal(values[0])}"
    return f"{prop} in ({','.join(odata_literal(v) for v in values)})"


def _key_literal(value: object) -> str:
    # In both upstreams primary keys are GUIDs, so a GUID-shaped str key is addressed bare.
    if isinstance(value, str) and is_guid(value):
        return value.lower()
    return odata_literal(value)


def key_segment(key: Key) -> str:
    """The `(…)` part addressing one entity, already percent-encoded for a URL path.

    `key_segment("5f0c…")` → `(5f0c…)`; `key_segment({"accountnumber": "C1"})` → `(accountnumber='C1')`.
    """
    if isinstance(key, Mapping):
        if not key:
            raise ValueError("an alternate key needs at least one property")
        inner = ",".join(f"{name}={_key_literal(value)}" for name, value in key.items())
    else:
        inner = _key_literal(key)
    return quote(f"({inner})", safe=PATH_SAFE)


def entity_path(entity_set: str, key: Key | None = None) -> str:
    """`entity_set` or `entity_set(key)`; `entity_set` may itself contain already-built segments."""
    return entity_set if key is None else entity_set + key_segment(key)


def encode_query(params: Sequence[tuple[str, str]]) -> str:
    return urlencode(list(params), quote_via=quote, safe=QUERY_SAFE)


@dataclass(frozen=True, slots=True)
class Query:
    """Typed OData system query options. `orderby` items are like `"name desc"`."""

    filter: str | None = None
    select: Sequence[str] | None = None
    orderby: Sequence[str] | None = None
    expand: Sequence[str] | None = None
    top: int | None = None
    skip: int | None = None
    count: bool = False

    def params(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if self.filter:
            out.append(("$filter", self.filter))
        if self.select:
            out.append(("$select", ",".join(self.select)))
        if self.orderby:
            out.append(("$orderby", ",".join(self.orderby)))
        if self.expand:
            out.append(("$expand", ",".join(self.expand)))
        if self.top is not None:
            out.append(("$top", str(self.top)))
        if self.skip is not None:
            out.append(("$skip", str(self.skip)))
        if self.count:
            out.append(("$count", "true"))
        return out

    def encode(self) -> str:
        return encode_query(self.params())


def parse_datetime(value: object) -> datetime | None:
    """An OData DateTimeOffset (`2026-11-25T10:00:00Z`, any fraction) as an aware UTC datetime."""
    if not isinstance(value, str) or not value:
        return None
    text = value.replace("Z", "+00:00") if value.endswith("Z") else value
    # Python 3.11 parses up to 6 fractional digits; .NET writes 7.
    match = re.match(r"^(.*\.\d{6})\d+(.*)$", text)
    if match:
        text = match.group(1) + match.group(2)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
