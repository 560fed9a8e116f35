"""How deep a request's JSON may nest. A body nested a little less deep than `json.loads` gives up
at (about a thousand levels, depending on the stack) parses, and then whatever walks it recursively
(jsonschema, strawberry, a quote of the value in a 400) raises RecursionError: a 500 for a client's
mistake. No body this API takes needs more than a handful of levels."""

from __future__ import annotations

from typing import Any

MAX_JSON_DEPTH = 32


def nested_deeper(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than `limit` levels deep in `value` (`{}` is one level),
    found level by level, without recursing."""
    level = [value] if isinstance(value, dict | list) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        level = [
            child
            for container in level
            for child in (container.values() if isinstance(container, dict) else container)
            if isinstance(child, dict | list)
        ]
    return False
