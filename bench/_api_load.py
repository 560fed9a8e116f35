"""The load driver of bench/api.py: N concurrent clients (asyncio tasks sharing one keep-alive
`LeanClient`, bench/_api_http.py) send a bounded number of requests; per-request latency gives
p50/p99 and requests per second.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bench._api_http import LeanClient, ProtocolError, Reply

# One request: given the shared client and the request's index (0, 1, …), return its response and
# whether its body is a correct answer (not merely a 200).
Send = Callable[[LeanClient, int], Awaitable[tuple[Reply, bool]]]


@dataclass
class LoadResult:
    """One scenario at one concurrency."""

    scenario: str
    target: str
    concurrency: int
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    wrong_answers: int = 0
    first_wrong: str | None = None  # the first wrong answer: what was asked and what came back
    seconds: float = 0.0
    upstream_requests: int = 0
    # What was called upstream during the row: "erp GET items 200" -> count (tokens as "erp token").
    upstream_detail: dict[str, int] = field(default_factory=dict)
    server_cpu_seconds: float | None = None  # CPU time of the measured server's processes during the row
    upstream_cpu_seconds: float | None = None  # CPU time of the simulators it read from during the row
    load_cpu_seconds: float = 0.0  # CPU time of this (the load generator's) process during the row
    # `gateway xN` rows: the keep-alive connections each worker held when the row ended, most first.
    worker_connections: tuple[int, ...] = ()

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def ok(self) -> bool:
        return (
            self.requests > 0 and self.statuses == Counter({"200": self.requests}) and not self.wrong_answers
        )

    def percentile_ms(self, p: float) -> float:
        """Nearest-rank percentile of the latencies, in milliseconds."""
        if not self.latencies:
            return math.nan
        ordered = sorted(self.latencies)
        rank = max(1, math.ceil(p / 100 * len(ordered)))
        return ordered[rank - 1] * 1000

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def upstream_per_request(self) -> float:
        return self.upstream_requests / self.requests if self.requests else math.nan

    def cpu_ms_per_request(self, seconds: float | None) -> float:
        return seconds / self.requests * 1000 if seconds is not None and self.requests else math.nan


async def run_load(
    *,
    scenario: str,
    target: str,
    client: LeanClient,
    send: Send,
    concurrency: int,
    requests: int,
    max_seconds: float,
) -> LoadResult:
    """`concurrency` workers take request indexes until `requests` are sent or `max_seconds` have
    passed (a request already started still finishes and counts)."""
    result = LoadResult(scenario=scenario, target=target, concurrency=concurrency)
    next_index = 0
    cpu_started = time.process_time()
    started = time.perf_counter()
    deadline = started + max_seconds

    async def worker() -> None:
        nonlocal next_index
        while next_index < requests and time.perf_counter() < deadline:
            index = next_index
            next_index += 1  # no await in between: asyncio tasks cannot interleave here
            sent = time.perf_counter()
            try:
                response, correct = await send(client, index)
            except (ProtocolError, OSError, TimeoutError) as exc:
                result.latencies.append(time.perf_counter() - sent)
                result.statuses[type(exc).__name__] += 1
                continue
            result.latencies.append(time.perf_counter() - sent)
            result.statuses[str(response.status_code)] += 1
            if response.status_code == 200 and not correct:
                result.wrong_answers += 1
            if not correct and result.first_wrong is None:
                result.first_wrong = response.describe()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - started
    result.load_cpu_seconds = time.process_time() - cpu_started
    return result
