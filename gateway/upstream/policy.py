"""How hard a client may push an upstream: page and batch sizes, concurrency, timeouts, and retries
(exponential backoff with full jitter, honouring `Retry-After`); and per-call budgets (`call_budget`)
that make one caller's requests stricter than the client's policy: fewer retries, a total deadline."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


@dataclass(frozen=True, slots=True)
class ClientLimits:
    """Per-upstream limits. `batch_size` is capped by the caller at the service's own maximum."""

    page_size: int = 1_000
    batch_size: int = 100
    max_concurrency: int = 5
    timeout_seconds: float = 30.0

    def __post_init__(self) -> None:
        if self.page_size < 1 or self.batch_size < 1 or self.max_concurrency < 1:
            raise ValueError("page_size, batch_size and max_concurrency must be at least 1")
        if self.timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retries of retriable failures. `sleep` and `random` are injectable so tests can record delays."""

    max_retries: int = 6
    backoff_base_seconds: float = 0.5
    backoff_max_seconds: float = 30.0
    # A Retry-After longer than this is not waited out: the caller gets UpstreamThrottled instead.
    max_retry_after_seconds: float = 300.0
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, compare=False, repr=False)
    random: Callable[[], float] = field(default=random.random, compare=False, repr=False)
    now: Callable[[], datetime] = field(default=_utc_now, compare=False, repr=False)

    def backoff(self, attempt: int) -> float:
        """Full jitter (AWS architecture blog): uniform in [0, min(max, base·2^attempt)]."""
        ceiling = min(self.backoff_max_seconds, self.backoff_base_seconds * (2.0**attempt))
        return ceiling * float(self.random())

    def delay(self, attempt: int, retry_after: float | None) -> float:
        # The server's word wins: waiting less only extends a Dataverse penalty.
        if retry_after is not None:
            return max(retry_after, 0.0)
        return self.backoff(attempt)

    def parse_retry_after(self, value: str | None) -> float | None:
        return parse_retry_after(value, now=self.now())


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds to wait from a `Retry-After` header: delta-seconds or an HTTP-date; None if absent/bad."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if seconds == seconds else None  # NaN guard
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)


@dataclass(frozen=True, slots=True)
class CallBudget:
    """Limits on the requests of one call, on top of the client's `RetryPolicy` and `ClientLimits`.

    `max_retries`: at most this many retries per request (None: the client's). `deadline`: the
    event-loop time (`loop.time()`) by which every attempt, token fetch, throttle wait and backoff
    must be over; a retry whose wait would end past it is not made (None: no deadline)."""

    max_retries: int | None = None
    deadline: float | None = None

    def remaining(self) -> float | None:
        """Seconds left before the deadline (at most 0 once it passed); None without one."""
        if self.deadline is None:
            return None
        return self.deadline - asyncio.get_running_loop().time()


_NO_BUDGET = CallBudget()
_BUDGET: ContextVar[CallBudget | None] = ContextVar("gateway_upstream_call_budget", default=None)


def current_budget() -> CallBudget:
    """The budget of the `call_budget` block this code runs in (no limits outside one)."""
    return _BUDGET.get() or _NO_BUDGET


@contextmanager
def call_budget(*, max_retries: int | None = None, seconds: float | None = None) -> Iterator[CallBudget]:
    """Requests sent inside this block (by this task, and by tasks it starts inside it) retry at most
    `max_retries` times and are over within `seconds` from now, retries and waits included. A budget
    inside another keeps the stricter of each limit. Used where a caller waits: readiness probes (one
    attempt, a short timeout) and live availability reads (a total deadline)."""
    if max_retries is not None and max_retries < 0:
        raise ValueError("max_retries must not be negative")
    if seconds is not None and seconds <= 0:
        raise ValueError("seconds must be positive")
    outer = current_budget()
    deadline = None if seconds is None else asyncio.get_running_loop().time() + seconds
    retries = [value for value in (outer.max_retries, max_retries) if value is not None]
    deadlines = [value for value in (outer.deadline, deadline) if value is not None]
    budget = CallBudget(
        max_retries=min(retries) if retries else None, deadline=min(deadlines) if deadlines else None
    )
    token = _BUDGET.set(budget)
    try:
        yield budget
    finally:
        _BUDGET.reset(token)


BACKSTOP = 1.5
"""`within_budget` cancels its block at this many times its seconds."""


@asynccontextmanager
async def within_budget(*, seconds: float, max_retries: int | None = None) -> AsyncIterator[CallBudget]:
    """`call_budget`, and a backstop: the block is cancelled (TimeoutError) at BACKSTOP x `seconds`,
    for whatever it might wait on that the budget does not bound (a lock another caller holds, say)."""
    with call_budget(max_retries=max_retries, seconds=seconds) as budget:
        async with asyncio.timeout(seconds * BACKSTOP):
            yield budget
