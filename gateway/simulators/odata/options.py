"""System query options ($select, $orderby, $top, $skip, $count, $expand, $filter, $skiptoken) parsed.

Each option is validated against the entity model so an unknown property is a 400, as on the real APIs.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from .errors import ODataError
from .model import EntitySet, ServiceModel

KNOWN_OPTIONS = frozenset(
    {
        "$select",
        "$orderby",
        "$top",
        "$skip",
        "$count",
        "$expand",
        "$filter",
        "$skiptoken",
        "$deltatoken",
        "$format",
    }
)


@dataclass
class Expand:
    """One ``$expand`` item with its nested options (``salesOrderLines($select=a,b;$orderby=c)``)."""

    name: str
    options: QueryOptions
    target_set: str = ""
    lookup_column: str | None = None  # set for a single-valued (Dataverse lookup) navigation


@dataclass
class QueryOptions:
    select: list[str] | None = None
    orderby: list[tuple[str, bool]] = field(default_factory=list)  # (property, descending)
    top: int | None = None
    skip: int | None = None
    count: bool = False
    expand: list[Expand] = field(default_factory=list)
    filter: str | None = None
    skiptoken: dict[str, Any] | None = None
    deltatoken: str | None = None


def _bad(message: str) -> ODataError:
    return ODataError(400, "BadRequest", message)


def _split_top_level(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside parentheses and quoted strings."""
    parts: list[str] = []
    depth = 0
    quoted = False
    current: list[str] = []
    for char in text:
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        if char == sep and depth == 0 and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _int_option(name: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise _bad(f"Invalid value '{value}' for {name}; a non-negative integer is expected.") from None
    if number < 0:
        raise _bad(f"Invalid value '{value}' for {name}; a non-negative integer is expected.")
    return number


def _check_prop(entity_set: EntitySet, name: str) -> str:
    if entity_set.prop(name) is None:
        raise _bad(f"Could not find a property named '{name}' on type '{entity_set.type_name}'.")
    return name


def encode_token(state: dict[str, Any]) -> str:
    raw = json.dumps(state, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> dict[str, Any]:
    try:
        padded = token + "=" * (-len(token) % 4)
        state = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        raise _bad("The $skiptoken is not valid.") from None
    if not isinstance(state, dict):
        raise _bad("The $skiptoken is not valid.")
    return state


def parse_options(
    pairs: list[tuple[str, str]], *, entity_set: EntitySet, model: ServiceModel
) -> QueryOptions:
    """Parse decoded query pairs; parameters without ``$`` are ignored like the real services do."""
    seen: set[str] = set()
    options = QueryOptions()
    for raw_name, value in pairs:
        name = raw_name.strip()
        if not name.startswith("$"):
            continue
        if name not in KNOWN_OPTIONS:
            raise _bad(f"The query parameter '{name}' is not supported.")
        if name in seen:
            raise _bad(f"Query option '{name}' was specified more than once.")
        seen.add(name)
        _apply(options, name, value, entity_set=entity_set, model=model)
    return options


def _apply(
    options: QueryOptions, name: str, value: str, *, entity_set: EntitySet, model: ServiceModel
) -> None:
    if name == "$select":
        items = [item.strip() for item in value.split(",") if item.strip()]
        options.select = [_check_prop(entity_set, item) for item in items if item != "*"] or None
    elif name == "$orderby":
        for item in _split_top_level(value, ","):
            words = item.split()
            if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
                raise _bad(f"Invalid $orderby expression '{item}'.")
            _check_prop(entity_set, words[0])
            options.orderby.append((words[0], len(words) == 2 and words[1].lower() == "desc"))
    elif name == "$top":
        options.top = _int_option(name, value)
    elif name == "$skip":
        options.skip = _int_option(name, value)
    elif name == "$count":
        if value not in ("true", "false"):
            raise _bad("$count must be true or false.")
        options.count = value == "true"
    elif name == "$filter":
        if not value.strip():
            raise _bad("The $filter expression is empty.")
        options.filter = value
    elif name == "$skiptoken":
        options.skiptoken = decode_token(value)
    elif name == "$deltatoken":
        options.deltatoken = value
    elif name == "$expand":
        for item in _split_top_level(value, ","):
            options.expand.append(_parse_expand(item.strip(), entity_set=entity_set, model=model))


def _parse_expand(item: str, *, entity_set: EntitySet, model: ServiceModel) -> Expand:
    nav, _, rest = item.partition("(")
    nav = nav.strip()
    child = entity_set.child(nav)
    lookup = entity_set.lookup_by_nav(nav)
    target_name = child.target_set if child else (lookup.navs[nav] if lookup else "")
    target = model.get(target_name)
    if target is None:
        raise _bad(f"Could not find a navigation property named '{nav}' on type '{entity_set.type_name}'.")
    nested = QueryOptions()
    if rest:
        if not rest.endswith(")"):
            raise _bad(f"Invalid $expand expression '{item}'.")
        for part in _split_top_level(rest[:-1], ";"):
            key, sep, val = part.partition("=")
            if not sep or key.strip() not in ("$select", "$orderby", "$filter", "$top"):
                raise _bad(f"Invalid $expand option '{part}'.")
            _apply(nested, key.strip(), val, entity_set=target, model=model)
    if lookup is not None and (nested.filter or nested.orderby or nested.top is not None):
        raise _bad(f"Only $select applies to the single-valued navigation '{nav}'.")
    return Expand(
        name=nav, options=nested, target_set=target_name, lookup_column=lookup.column if lookup else None
    )
