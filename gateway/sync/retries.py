"""When an incremental run retries the records whose last synchronization failed.

A record that failed is retried at once when it changes (it is then in the run's scope anyway).
Otherwise retrying it gives the same answer until something it depends on changes: the couplings
its lookups go through (a salesperson coupled at last, a product created), the CRM records a
lookup's natural-key fallback reads, the local currency, or the mapping itself (fields, policies).
Their fingerprint decides, taken cheaply (SyncEngine._dependencies: per lookup mapping the number of
couplings and the highest coupling id, per fallback set the number of rows and when one was last
mirrored; an idle run must not load every coupling to find nothing changed). A coupling whose key
alone changed is not seen: such records wait for the backoff, as do failures with outside causes
(an upstream that refused or was down). Without this, every idle run re-processed every open error
(and wrote a fresh error row for each), so idle runs grew slower with the data.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping

from gateway.sync.model import TableMapping, mapping_to_dict

RETRY_BACKOFF_SECONDS = 300.0
"""Failed records whose dependencies did not change are retried this often (ten 30-s rounds)."""


def fingerprint(table: TableMapping, *, local_currency: str, versions: Mapping[str, object]) -> str:
    """A digest of everything a failed record's retry depends on besides the record itself."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(json.dumps(mapping_to_dict(table), sort_keys=True, default=str).encode())
    digest.update(local_currency.encode())
    digest.update(json.dumps(sorted(versions.items()), default=str).encode())
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

    def due(self, table: TableMapping, dependencies: str) -> bool:
        """`dependencies`: the fingerprint of what `table`'s records depend on now."""
        last = self._tried.get(table.name)
        if last is None:
            return True
        mark, at = last
        return mark != dependencies or self.clock() - at >= self.backoff_seconds

    def tried(self, table: TableMapping, dependencies: str) -> None:
        """Every failed record of `table` was just tried with these dependencies."""
        self._tried[table.name] = (dependencies, self.clock())

    def forget(self, mapping: str) -> None:
        self._tried.pop(mapping, None)
