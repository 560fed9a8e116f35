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

Failures whose cause was the upstream's state (throttled, unavailable, timed out, after the
client's own retries) are the exception: they are retried after a short backoff that doubles while
they keep failing (5, 10, 20 … s, at most the full backoff), so a record caught by a brief outage
arrives seconds after the service is back, not minutes.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping

from gateway.sync.model import TableMapping, mapping_to_dict

RETRY_BACKOFF_SECONDS = 300.0
"""Failed records whose dependencies did not change are retried this often (ten 30-s rounds)."""
TRANSIENT_BACKOFF_SECONDS = 5.0
"""The first wait before retrying records that failed for upstream reasons; it doubles per failure."""


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
        transient_seconds: float = TRANSIENT_BACKOFF_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backoff_seconds = backoff_seconds
        self.transient_seconds = transient_seconds
        self.clock = clock
        self._tried: dict[str, tuple[str, float]] = {}
        self._soon: dict[str, tuple[float, int]] = {}
        """Per mapping with upstream-caused failures: when to retry them, and how many in a row."""

    def due(self, table: TableMapping, dependencies: str) -> bool:
        """`dependencies`: the fingerprint of what `table`'s records depend on now."""
        soon = self._soon.get(table.name)
        if soon is not None and self.clock() >= soon[0]:
            # Book the next attempt now: should this retry end in an exception instead of a
            # settle(), the backoff still doubles rather than the mapping retrying every round.
            streak = soon[1] + 1
            self._soon[table.name] = (self.clock() + self._transient_wait(streak), streak)
            return True
        last = self._tried.get(table.name)
        if last is None:
            return True
        mark, at = last
        return mark != dependencies or self.clock() - at >= self.backoff_seconds

    def tried(self, table: TableMapping, dependencies: str) -> None:
        """Every failed record of `table` was just tried with these dependencies."""
        self._tried[table.name] = (dependencies, self.clock())

    def settle(self, table: TableMapping, *, transient: bool, retried: bool) -> None:
        """After a run that did work: `transient` when some record failed for upstream reasons (its
        retry becomes due after the short backoff, doubled for each such run in a row); a retry
        without such failures ends the streak."""
        soon = self._soon.get(table.name)
        if transient:
            if soon is not None and soon[0] > self.clock():
                return  # due() booked the next attempt when it let this retry run
            streak = soon[1] + 1 if soon is not None else 0
            self._soon[table.name] = (self.clock() + self._transient_wait(streak), streak)
        elif retried:
            self._soon.pop(table.name, None)

    def _transient_wait(self, streak: int) -> float:
        return float(min(self.transient_seconds * 2**streak, self.backoff_seconds))

    def forget(self, mapping: str) -> None:
        self._tried.pop(mapping, None)
        self._soon.pop(mapping, None)
