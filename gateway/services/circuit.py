"""A circuit breaker for one upstream: after N consecutive failures stop calling it for a while,
then let one probe through (half-open) and close again when the probe succeeds."""

from __future__ import annotations

import enum
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from gateway.errors import CircuitOpen, UpstreamBadRequest, UpstreamError, UpstreamNotFound, UpstreamThrottled

T = TypeVar("T")


class CircuitState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


def counts_as_outage(exc: BaseException) -> bool:
    """Does this failure say the upstream is unhealthy? A 400 or 404 is about the request, not
    about the service, so it must not open the circuit for every other caller. Nor a 429: the
    service answered and said when to come back, and the shared request gate already holds every
    caller until then; counted, a sync's short throttle opened the circuit for its reset period."""
    return isinstance(exc, UpstreamError) and not isinstance(
        exc, UpstreamBadRequest | UpstreamNotFound | UpstreamThrottled | CircuitOpen
    )


class CircuitBreaker:
    """Per-process breaker (each gateway process judges the upstream for itself, so one process's
    network trouble does not silence the others). Not thread-safe; one event loop."""

    def __init__(
        self,
        *,
        service: str,
        failure_threshold: int = 5,
        reset_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        is_failure: Callable[[BaseException], bool] = counts_as_outage,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.service = service
        self.failure_threshold = failure_threshold
        self.reset_seconds = reset_seconds
        self._clock = clock
        self._is_failure = is_failure
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    def state(self) -> CircuitState:
        if self._opened_at is None:
            return CircuitState.CLOSED
        if self._probing or self._clock() - self._opened_at >= self.reset_seconds:
            return CircuitState.HALF_OPEN
        return CircuitState.OPEN

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def retry_in(self) -> float:
        """Seconds until the next probe is allowed (0 when calls may go through)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self.reset_seconds - (self._clock() - self._opened_at))

    def _admit(self) -> bool:
        """May a call go out now? True means it is the half-open probe."""
        if self._opened_at is None:
            return False
        if self._probing or self._clock() - self._opened_at < self.reset_seconds:
            raise CircuitOpen(
                f"circuit open after {self._failures} consecutive failures; "
                f"next probe in {self.retry_in():.0f} s",
                service=self.service,
                retry_in=self.retry_in(),
            )
        self._probing = True
        return True

    async def call(self, operation: Callable[[], Awaitable[T]]) -> T:
        """Run `operation` unless the circuit is open (then raise `CircuitOpen` without calling)."""
        probe = self._admit()
        try:
            result = await operation()
        except BaseException as exc:
            if probe:
                self._probing = False
            if self._is_failure(exc):
                self._failures += 1
                if probe or self._failures >= self.failure_threshold:
                    # A failed probe re-opens for a full period.
                    self._opened_at = self._clock()
            raise
        if probe:
            self._probing = False
        self._failures = 0
        self._opened_at = None
        return result
