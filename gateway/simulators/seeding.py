"""Where simulator data comes from: the demo data generator (or rows given in the options) plus
bulk filler rows for paging tests, kept deterministic so every reset gives the same data.
"""

from __future__ import annotations

import importlib
import uuid
from typing import Any

from .odata.model import EntitySet
from .options import SimulatorOptions

_BULK_NAMESPACE = uuid.UUID("6f1b8a52-3f7e-4a7e-9a55-5c1f6a0d0b11")
# String properties that must be unique-ish so alternate keys and numbers don't collide.
_NAMED = {"number", "displayName", "name", "accountnumber", "productnumber", "fullname", "code"}


def demo_data(options: SimulatorOptions) -> Any:
    """``options.demo_data`` if given, else ``demo_data.generate(seed=, customers=, items=)``."""
    if options.demo_data is not None:
        return options.demo_data
    # Imported lazily: another module owns it, and the simulators must start without it in tests.
    module = importlib.import_module("gateway.simulators.demo_data")
    return module.generate(seed=options.seed, customers=options.customers, items=options.items)


def bulk_rows(entity_set: EntitySet, count: int, *, seed: int) -> list[dict[str, Any]]:
    """``count`` filler rows with deterministic keys; named string properties get ``BULK000001``."""
    key = entity_set.single_key
    # A per-set, per-seed GUID prefix; the index fills the last group (uuid5 per row is too slow).
    prefix = str(uuid.uuid5(_BULK_NAMESPACE, f"{seed}:{entity_set.name}"))[:24]
    named = [p.name for p in entity_set.props if p.name in _NAMED and p.edm == "Edm.String"]
    rows: list[dict[str, Any]] = []
    for index in range(1, count + 1):
        row: dict[str, Any] = {key: f"{prefix}{index:012x}"}
        label = f"BULK{index:06d}"
        for name in named:
            row[name] = label
        rows.append(row)
    return rows
