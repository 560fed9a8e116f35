"""Service protection limits per client identity: a sliding request window plus a concurrency cap.

BC queues requests beyond its concurrency (up to a queue size); Dataverse rejects them at once.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


class Throttled(Exception):
    """Answer 429 with ``Retry-After: retry_after`` seconds."""

    def __init__(self, retry_after: int, reason: str) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        self.reason = reason


@dataclass
class Limits:
    requests: int
    window_seconds: float
    concurrency: int
    queue: int
    # Dataverse: rejected requests still count, so hammering extends the wait.
    count_rejected: bool = False


@dataclass
class _ClientState:
    times: deque[float] = field(default_factory=deque)
    running: int = 0
    waiting: int = 0
    condition: asyncio.Condition = field(default_factory=asyncio.Condition)


class ServiceProtection:
    def __init__(self, limits: Limits, *, clock: Callable[[], float]) -> None:
        self.limits = limits
        self._clock = clock
        self._clients: dict[str, _ClientState] = {}
        self.throttled = 0

    def reset(self) -> None:
        for state in self._clients.values():
            state.times.clear()
        self.throttled = 0

    def _window_check(self, state: _ClientState) -> None:
        now = self._clock()
        limits = self.limits
        while state.times and state.times[0] <= now - limits.window_seconds:
            state.times.popleft()
        if len(state.times) >= limits.requests:
            # The wait lasts until enough old requests slide out for one more to fit.
            pivot = state.times[len(state.times) - limits.requests]
            retry = max(1, math.ceil(pivot + limits.window_seconds - now))
            if limits.count_rejected:
                state.times.append(now)
            self.throttled += 1
            raise Throttled(retry, "Number of requests exceeded the limit")
        state.times.append(now)

    @asynccontextmanager
    async def slot(self, client: str) -> AsyncIterator[None]:
        state = self._clients.setdefault(client, _ClientState())
        self._window_check(state)
        limits = self.limits
        if state.running >= limits.concurrency:
            if state.waiting >= limits.queue:
                self.throttled += 1
                raise Throttled(1, "Number of concurrent requests exceeded the limit")
            state.waiting += 1
            try:
                async with state.condition:
                    await state.condition.wait_for(lambda: state.running < self.limits.concurrency)
            finally:
                state.waiting -= 1
        state.running += 1
        try:
            yield
        finally:
            state.running -= 1
            async with state.condition:
                state.condition.notify()
