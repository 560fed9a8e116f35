"""Resource path parsing: ``companies(<id>)/salesOrders(<id>)/salesOrderLines``, alternate keys, $count.

Key predicates follow OData ABNF: bare GUIDs and numbers, quoted strings with '' as an escaped quote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import ODataError

_NAME = re.compile(r"^[A-Za-z_$][A-Za-z0-9_.$]*$")


@dataclass(frozen=True)
class KeyValue:
    """A key literal: ``quoted`` strings came in single quotes, others are raw tokens."""

    text: str
    quoted: bool


@dataclass(frozen=True)
class Segment:
    name: str
    # None: no parentheses; {"": v} for a bare key; {"prop": v, ...} for named (alternate) keys.
    keys: dict[str, KeyValue] | None = None
    call: bool = False  # "WhoAmI()" (function call with no arguments)


def _bad(message: str) -> ODataError:
    return ODataError(400, "BadRequest", message)


def split_path(path: str) -> list[str]:
    """Split on '/' outside quotes (a key like 'A/B' stays whole)."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in path:
        if char == "'":
            quoted = not quoted
        if char == "/" and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part for part in parts if part]


def _parse_value(text: str) -> KeyValue:
    text = text.strip()
    if len(text) >= 2 and text[0] == "'" and text[-1] == "'":
        inner = text[1:-1]
        if re.search(r"(?<!')'(?!')", inner.replace("''", "")):
            raise _bad(f"Invalid key literal {text}.")
        return KeyValue(inner.replace("''", "'"), True)
    if not text or "'" in text:
        raise _bad(f"Invalid key literal {text}.")
    return KeyValue(text, False)


def _split_keys(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == "'":
            quoted = not quoted
        if char == "," and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def parse_segment(raw: str) -> Segment:
    if "(" not in raw:
        if not _NAME.match(raw):
            raise _bad(f"Invalid path segment '{raw}'.")
        return Segment(raw)
    name, _, rest = raw.partition("(")
    if not rest.endswith(")") or not _NAME.match(name):
        raise _bad(f"Invalid path segment '{raw}'.")
    inner = rest[:-1]
    if inner.strip() == "":
        return Segment(name, call=True)
    keys: dict[str, KeyValue] = {}
    for part in _split_keys(inner):
        quoted_start = part.strip().startswith("'")
        key, sep, value = part.partition("=")
        if sep and not quoted_start:
            keys[key.strip()] = _parse_value(value)
        else:
            if keys or len(_split_keys(inner)) > 1:
                raise _bad(f"Invalid key predicate '{inner}'.")
            keys[""] = _parse_value(part)
    return Segment(name, keys=keys)


def parse_path(path: str) -> list[Segment]:
    return [parse_segment(part) for part in split_path(path)]
