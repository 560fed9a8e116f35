"""The dependency DAG of the mappings: which may run together, and which must wait (DOMAIN §6)."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.errors import InvalidInput
from gateway.sync.model import TableMapping


def layers(mappings: Sequence[TableMapping], *, only: Sequence[str] | None = None) -> list[list[str]]:
    """Mapping names in layers: each layer depends only on earlier ones, so its members may run
    concurrently. Dependencies that are disabled or not selected are assumed done (they gate nothing)."""
    by_name = {m.name: m for m in mappings}
    selected = [m for m in mappings if m.enabled and (only is None or m.name in only)]
    if only is not None:
        unknown = set(only) - set(by_name)
        if unknown:
            raise InvalidInput(f"unknown mappings: {', '.join(sorted(unknown))}", field="mappings")
    names = {m.name for m in selected}
    pending = {m.name: {d for d in m.dependencies if d in names} for m in selected}
    result: list[list[str]] = []
    while pending:
        ready = sorted(name for name, deps in pending.items() if not deps)
        if not ready:
            raise InvalidInput(
                f"the mappings' dependencies form a cycle: {', '.join(sorted(pending))}", field="dependencies"
            )
        result.append(ready)
        for name in ready:
            del pending[name]
        for deps in pending.values():
            deps.difference_update(ready)
    return result
