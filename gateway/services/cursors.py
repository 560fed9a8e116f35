"""Opaque pagination cursors: a row's keyset position (and the ordering it belongs to) as URL-safe
base64 JSON. Clients must treat them as opaque; a tampered or foreign cursor is a 400, not a 500."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from gateway.errors import InvalidInput


def _encode(payload: Any) -> str:
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> Any:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error):
        raise InvalidInput("after is not a cursor this API gave out", field="after") from None


def encode_position(key: tuple[Any, str, str], *, order: str, kind: str) -> str:
    """`kind` names the list (customers, items, …): a position is a number or name, which another
    list would take as a place of its own."""
    return _encode({"t": kind, "o": order, "k": list(key)})


def decode_position(cursor: str, *, order: str, kind: str) -> tuple[Any, str, str]:
    """The keyset position in a cursor; InvalidInput when it is garbage, from another list or from
    another ordering."""
    payload = _decode(cursor)
    if isinstance(payload, dict) and "t" in payload and payload["t"] != kind:
        theirs, ours = str(payload["t"]).replace("_", " "), kind.replace("_", " ")
        raise InvalidInput(
            f"after is a cursor of {theirs}, not of {ours}; start again without it", field="after"
        )
    key = payload.get("k") if isinstance(payload, dict) else None
    if (
        not isinstance(key, list)
        or len(key) != 3
        or not isinstance(key[0], str)
        or key[1] not in ("erp", "crm")
        or not isinstance(key[2], str)
    ):
        raise InvalidInput("after is not a cursor this API gave out", field="after")
    if payload.get("t") != kind:
        raise InvalidInput("after is not a cursor this API gave out", field="after")
    if payload.get("o") != order:
        raise InvalidInput("after belongs to a different orderBy; start again without it", field="after")
    if order.lstrip("-") == "changed":
        try:  # the position of a "changed" ordering is a timestamp; anything else would reach SQL
            stamp = datetime.fromisoformat(key[0])
        except ValueError:
            raise InvalidInput("after is not a cursor this API gave out", field="after") from None
        if stamp.tzinfo is None:
            raise InvalidInput("after is not a cursor this API gave out", field="after")
    return key[0], key[1], key[2]


def encode_line(price_list_code: str, line_no: int) -> str:
    return _encode({"l": [price_list_code, line_no]})


def decode_line(cursor: str) -> tuple[str, int]:
    payload = _decode(cursor)
    value = payload.get("l") if isinstance(payload, dict) else None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not isinstance(value[0], str)
        or type(value[1]) is not int
    ):
        raise InvalidInput("after is not a price line cursor this API gave out", field="after")
    return value[0], value[1]
