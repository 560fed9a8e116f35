"""REST plumbing shared by list and detail routes: camelCase JSON of domain objects, RFC 8288
`Link: <…>; rel="next"` headers for cursor pages, and strong ETags with conditional GET (304)."""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from gateway.errors import InvalidInput


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


# Types whose values are JSON as they are (exact types: a StrEnum member is a str, but serialises by
# its value through the enum branch, which gives the same string).
_PLAIN = frozenset({str, int, float, bool, type(None)})


_FIELD_NAMES: dict[type, tuple[tuple[str, str], ...] | None] = {}


def _field_names(cls: type) -> tuple[tuple[str, str], ...] | None:
    """A dataclass's (field name, camelCase key) pairs, once per class; None for other types."""
    try:
        return _FIELD_NAMES[cls]
    except KeyError:
        names = None
        if dataclasses.is_dataclass(cls):
            names = tuple((f.name, camel(f.name)) for f in dataclasses.fields(cls))
        _FIELD_NAMES[cls] = names
        return names


def json_number(value: Decimal) -> int | float:
    """A Decimal as a JSON number (issue §5); integral values stay integers so "12" does not become "12.0"."""
    return int(value) if value == value.to_integral_value() else float(value)


def _iso(value: date) -> str:
    return value.isoformat()


# Leaf types by exact type, looked up before the isinstance chain below (whose first test, against
# the Mapping ABC, was the dearest step for each Decimal of an availability answer).
_LEAVES: dict[type, Any] = {Decimal: json_number, datetime: _iso, date: _iso}


def to_json(value: Any, *, omit: Iterable[str] = ()) -> Any:
    """A domain object as JSON data: camelCase keys, numbers as numbers, enums as their values."""
    cls = type(value)
    if cls in _PLAIN:
        return value
    leaf = _LEAVES.get(cls)
    if leaf is not None:
        return leaf(value)
    names = _field_names(cls)
    if names is not None:
        if omit:
            skip = set(omit)
            return {key: to_json(getattr(value, name)) for name, key in names if name not in skip}
        return {key: to_json(getattr(value, name)) for name, key in names}
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Decimal):  # a subclass
        return json_number(value)
    if isinstance(value, datetime | date):
        return _iso(value)
    return value


def check_query(request: Request, known: Iterable[str]) -> None:
    """Unknown query parameters, and known ones given twice, are a 400 naming them: a second
    `items=` or `first=` used to replace the first one silently (only the last item answered)."""
    allowed = set(known)
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise InvalidInput(f"unknown query parameter {unknown[0]!r}", field=unknown[0])
    for name in sorted(set(request.query_params)):
        if len(request.query_params.getlist(name)) > 1:
            raise InvalidInput(
                f"{name} may be given once (several values: one comma-separated list)", field=name
            )


def query_int(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be an integer", field=name) from None


def query_bool(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise InvalidInput(f"{name} must be true or false", field=name)


def query_datetime(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{name} must be an ISO 8601 date-time with a time zone", field=name) from None
    if parsed.tzinfo is None:
        raise InvalidInput(f"{name} needs a time zone (e.g. 2026-11-25T08:00:00Z)", field=name)
    return parsed


def next_link(request: Request, cursor: str) -> str:
    """`Link` header value pointing at the next page: the same query with `after` replaced."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "after"]
    query = urlencode([*params, ("after", cursor)])
    return f'<{request.url.replace(query=query)}>; rel="next"'


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _matches(header: str, etag: str) -> bool:
    # If-None-Match uses the weak comparison (RFC 9110 §13.1.2): W/"x" matches "x".
    tags = [t.strip() for t in header.split(",")]
    return any(t == "*" or t.removeprefix("W/") == etag for t in tags)


def json_response(request: Request, data: Any, *, headers: Mapping[str, str] | None = None) -> Response:
    """200 with a strong ETag, or 304 when the client's If-None-Match already has this body."""
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    etag = _etag(body)
    common = {
        "ETag": etag,
        # Answers depend on the caller's key (sales scope): shared caches must not reuse them.
        "Cache-Control": "private, no-cache",
        "Vary": "Authorization",
        **(headers or {}),
    }
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None and _matches(if_none_match, etag):
        return Response(status_code=304, headers=common)
    return Response(body, media_type="application/json", headers=common)
