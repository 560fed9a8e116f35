"""When an incremental run retries the records whose last synchronization failed.

A record that failed is retried at once when it changes (it is then in the run's scope anyway).
Otherwise retrying it gives the same answer until something it depends on changes: the couplings
its lookups go through (a salesperson coupled at last, a product created), the local currency, or
the mapping itself (fields, policies). Those are what a run's `LookupTable` and the mapping
hold, so their fingerprint decides; failures with outside causes (an upstream that refused or was
down) are retried after a backoff. Without this, every idle run re-processed every open error
(and wrote a fresh error row for each), so idle runs grew slower with the data.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable

from gateway.sync.model import TableMapping, mapping_to_dict
from gateway.sync.values import LookupTable

RETRY_BACKOFF_SECONDS = 300.0
"""Failed records whose dependencies did not change are retried this often (ten 30-s rounds)."""


def fingerprint(table: TableMapping, lookups: LookupTable) -> str:
    """A digest of everything a failed record's retry depends on besides the record itself."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(json.dumps(mapping_to_dict(table), sort_keys=True, default=str).encode())
    digest.update(lookups.local_currency.encode())
    for tables in (
        lookups.erp_key_to_crm,
        lookups.erp_id_to_crm,
        lookups.crm_to_erp_key,
        lookups.crm_to_erp_id,
        lookups.crm_natural,
    ):
        for name in sorted(tables):
            digest.update(f"\x00{name}\x00".encode())
            for key, value in sorted(tables[name].items()):
                digest.update(f"{key}\x01{value}\x02".encode())
    return digest.hexdigest()


class RetryGate:
    """Per mapping, the fingerprint and time of the last run that tried its failed records (in this
    process: a new process retries once, then follows the rule)."""

    def __init__(
        self,
        *,
        backoff_seconds: float = RETRY_BACKOFF_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backoff_seconds = backoff_seconds
        self.clock = clock
        self._tried: dict[str, tuple[str, float]] = {}

    def due(self, table: TableMapping, lookups: LookupTable) -> bool:
        last = self._tried.get(table.name)
        if last is None:
            return True
        mark, at = last
        return mark != fingerprint(table, lookups) or self.clock() - at >= self.backoff_seconds

    def tried(self, table: TableMapping, lookups: LookupTable) -> None:
        """Every failed record of `table` was just tried with these dependencies."""
        self._tried[table.name] = (fingerprint(table, lookups), self.clock())

    def forget(self, mapping: str) -> None:
        self._tried.pop(mapping, None)
