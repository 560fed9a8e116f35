"""Request counters for ``GET /_sim/stats``: by method, entity set and status, plus totals.

Tests and benchmarks read them to count calls the gateway made upstream.
"""

from __future__ import annotations

from collections import Counter
from typing import Any


class RequestStats:
    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str, int]] = Counter()
        self.tokens_issued = 0

    def record(self, *, method: str, entity_set: str, status: int) -> None:
        self._counts[(method, entity_set, status)] += 1

    def reset(self) -> None:
        self._counts.clear()
        self.tokens_issued = 0

    def snapshot(self) -> dict[str, Any]:
        by_method: Counter[str] = Counter()
        by_set: Counter[str] = Counter()
        by_status: Counter[str] = Counter()
        rows = []
        for (method, entity_set, status), count in sorted(self._counts.items()):
            by_method[method] += count
            by_set[entity_set] += count
            by_status[str(status)] += count
            rows.append({"method": method, "entitySet": entity_set, "status": status, "count": count})
        return {
            "total": sum(self._counts.values()),
            "byMethod": dict(by_method),
            "byEntitySet": dict(by_set),
            "byStatus": dict(by_status),
            "requests": rows,
            "tokensIssued": self.tokens_issued,
        }
