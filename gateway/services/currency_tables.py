"""The currencies and exchange rates every quote needs, kept by the process between quotes and read
again only when the store's version of them moved (the sync raises it whenever it writes them).

Correct across gateway processes on one database: the version lives in the store, and each use
costs one primary-key lookup instead of re-reading both tables.
"""

from __future__ import annotations

from typing import Any

from gateway.store import read_versions
from gateway.store.read_pricing import CurrencyTables, load_currency_tables


class KeptCurrencyTables:
    def __init__(self) -> None:
        self._held: tuple[read_versions.Version, CurrencyTables] | None = None
        self.reads = 0
        """How many times the tables were read from the store (for tests and benchmarks)."""

    async def get(self, session: Any) -> CurrencyTables:
        """The tables as of now, in `session` (a read session of `gateway.store`)."""
        # The version first, then the tables: what is read after seeing version V is at least as
        # new as V, so keeping it under V can only cause an extra read later, never a stale answer.
        version = await read_versions.current(session, read_versions.CURRENCIES)
        held = self._held
        if version is not None and held is not None and held[0] == version:
            return held[1]
        tables = await load_currency_tables(session)
        self.reads += 1
        # No version yet (nothing written through the projection): nothing would tell us of a change.
        self._held = None if version is None else (version, tables)
        return tables
