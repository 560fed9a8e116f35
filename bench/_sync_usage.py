"""Classifying the requests the simulators counted (`/_sim/stats`) and the minimum the issue
asks for: Σ over the sets read max(1, ⌈N / page⌉) + Σ over the sets written ⌈n / batch limit⌉."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from bench._sync_model import BenchConfig, Usage
from bench._sync_servers import SyncTarget

WRITE_METHODS = ("POST", "PATCH", "PUT", "DELETE")

Key = tuple[str, str, int]


def counts_of(stats: dict[str, Any]) -> Counter[Key]:
    return Counter({(r["method"], r["entitySet"], r["status"]): r["count"] for r in stats["requests"]})


async def stats(targets: dict[str, SyncTarget]) -> dict[str, Counter[Key]]:
    return {s: counts_of(await t.target.control("stats")) for s, t in targets.items()}


def diff(after: dict[str, Counter[Key]], before: dict[str, Counter[Key]]) -> dict[str, Counter[Key]]:
    return {s: after[s] - before[s] for s in after}


def writes_outside_batches(counts: Counter[Key]) -> int:
    """Write requests that are not `$batch`es (those are counted by the meter, by what they carry)."""
    return sum(n for (method, s, _st), n in counts.items() if method in WRITE_METHODS and s != "$batch")


def usage_of(
    *,
    service: str,
    counts: Counter[Key],
    operations: Counter[tuple[str, str]],
    batches_by_set: Counter[str],
    read_batches: int,
    sizes: dict[str, int],
    config: BenchConfig,
) -> Usage:
    """Classify one service's requests of the full sync and compute the minimum:
    reads Σ over sets read max(1, ⌈N / page⌉) with N the set's rows when the run started;
    writes Σ over sets written ⌈n / batch limit⌉ with n the operations sent to the set in $batch
    bodies; other: 1 on the ERP (the GET of `companies` resolving the company id), 0 on the CRM."""
    usage = Usage(service=service, other_minimum=1 if service == "erp" else 0)
    page, limit = config.page(service), config.batch(service)
    statuses: Counter[str] = Counter()
    gets: Counter[str] = Counter()
    for (method, entity_set, status), n in counts.items():
        statuses["dropped" if status == 0 else str(status)] += n
        if entity_set == "$batch":
            usage.batches += n  # the read batches are taken out below
        elif method == "GET" and entity_set in sizes and entity_set != "companies":
            gets[entity_set] += n
        else:
            usage.other += n
            usage.other_detail[f"{method} {entity_set}"] = (
                usage.other_detail.get(f"{method} {entity_set}", 0) + n
            )
    for entity_set, made in sorted(gets.items()):
        rows = sizes[entity_set]
        minimum = max(1, math.ceil(rows / page))
        usage.sets_read[entity_set] = [rows, page, minimum, made]
        usage.reads += made
        usage.read_minimum += minimum
        usage.records_read += rows
    per_set: Counter[str] = Counter()
    for (_method, entity_set), n in operations.items():
        per_set[entity_set] += n
    for entity_set, n in sorted(per_set.items()):
        minimum = math.ceil(n / limit)
        usage.sets_written[entity_set] = [n, limit, minimum, batches_by_set[entity_set]]
        usage.batch_minimum += minimum
        usage.operations += n
    if read_batches:  # GETs sent together (incremental ERP PRICING): not write batches
        usage.batches -= read_batches
        usage.other += read_batches
        usage.other_detail["POST $batch of GETs"] = read_batches
    usage.statuses = dict(sorted(statuses.items()))
    return usage


def detail_of(made: dict[str, Counter[Key]]) -> dict[str, int]:
    """Requests by "service METHOD set" (statuses added up)."""
    detail: Counter[str] = Counter()
    for service, counts in made.items():
        for (method, entity_set, _status), n in counts.items():
            detail[f"{service} {method} {entity_set}"] += n
    return {k: v for k, v in sorted(detail.items()) if v}
