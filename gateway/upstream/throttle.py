"""The shared upstream request budget: after a 429 with `Retry-After`, no request is sent for that
upstream identity (service + client id) until the wait is over, by anything in this process or, with
Redis, in any process sharing it.

One `UpstreamThrottle` per process (the composition root builds it, the factory hands it to both
connectors); `ODataClient` calls `wait()` right before each send and `block()` on a 429. Dataverse
extends the penalty for every request sent while it lasts, so honouring it everywhere is cheaper
than each job backing off on its own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from gateway.errors import UpstreamThrottled

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

# Keeps the larger of the stored and the new "blocked until" (epoch seconds), expiring with it, in one
# round trip, so two processes reporting a 429 at once never shorten each other's wait.
_BLOCK_SCRIPT = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local proposed = tonumber(ARGV[1])
if proposed > current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""


class RequestGate(Protocol):
    """What `ODataClient` needs from a throttle."""

    async def wait(self, identity: str, *, max_wait: float | None = None) -> float:
        """Return once a request for `identity` may be sent; the seconds it waited. A wait longer
        than `max_wait` is not sat out: `UpstreamThrottled` (with the remaining `retry_after`) instead."""
        ...

    async def block(self, identity: str, seconds: float) -> None:
        """No request for `identity` before `seconds` from now (a 429's `Retry-After`)."""
        ...


class UpstreamThrottle:
    """A gate per upstream identity: in-process always, shared through Redis when `redis_url` is set.

    `clock` is epoch seconds (processes compare it through Redis) and `sleep` waits; both are
    injectable so tests move time instead of waiting. A Redis that fails is logged and ignored: the
    in-process gate still holds, and the upstream's own 429s remain the final word.
    """

    def __init__(
        self,
        *,
        redis_url: str | None = None,
        namespace: str = "gateway:throttle",
        clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._namespace = namespace
        self._blocked: dict[str, float] = {}
        self._redis: Any = None
        if redis_url:
            import redis.asyncio as redis_asyncio  # only processes configured for Redis load it

            self._redis = redis_asyncio.Redis.from_url(redis_url)
        self._redis_failed = False
        self.waits = 0
        """How many requests had to wait (for stats and tests)."""
        self.blocks = 0
        self.refusals = 0
        """Requests refused at once because the wait was longer than they would sit out."""

    def __repr__(self) -> str:
        return f"UpstreamThrottle(shared={self._redis is not None}, blocked={sorted(self._blocked)})"

    @property
    def shared(self) -> bool:
        return self._redis is not None

    def _key(self, identity: str) -> str:
        return f"{self._namespace}:{identity}"

    def _redis_error(self, exc: Exception) -> None:
        if not self._redis_failed:
            log.warning("upstream throttle: Redis unavailable (%s); throttling in this process only", exc)
        self._redis_failed = True

    async def blocked_until(self, identity: str) -> float:
        """Epoch seconds before which nothing may be sent for `identity` (0: not blocked)."""
        until = self._blocked.get(identity, 0.0)
        if self._redis is not None:
            try:
                raw = await self._redis.get(self._key(identity))
            except Exception as exc:  # any Redis failure: fall back to the local gate
                self._redis_error(exc)
            else:
                self._redis_failed = False
                if raw is not None:
                    until = max(until, float(raw))
        return until

    async def wait(self, identity: str, *, max_wait: float | None = None) -> float:
        waited = 0.0
        counted = False
        # Loop: a 429 seen by someone else while we slept may have pushed the time further out.
        while True:
            now = self._clock()
            delay = await self.blocked_until(identity) - now
            if delay <= 0:
                if self._blocked.get(identity, now) < now:
                    del self._blocked[
                        identity
                    ]  # over: keep the map as small as the set of blocked identities
                return waited
            if max_wait is not None and delay > max_wait:
                self.refusals += 1
                raise UpstreamThrottled(
                    f"{identity} is throttled for {delay:.0f}s more (longer than {max_wait:g}s)",
                    retry_after=delay,
                    service=identity.split("|", 1)[0],
                    status=429,
                )
            if not counted:
                self.waits += 1
                counted = True
            log.debug("upstream throttle: %s blocked for %.2fs", identity, delay)
            await self._sleep(delay)
            waited += delay

    async def block(self, identity: str, seconds: float) -> None:
        if seconds <= 0:
            return
        until = self._clock() + seconds
        self.blocks += 1
        if until > self._blocked.get(identity, 0.0):
            self._blocked[identity] = until
        if self._redis is not None:
            try:
                # The key outlives the wait by a second, then Redis forgets it.
                await self._redis.eval(
                    _BLOCK_SCRIPT, 1, self._key(identity), repr(until), int(seconds * 1000) + 1000
                )
            except Exception as exc:  # see blocked_until
                self._redis_error(exc)
            else:
                self._redis_failed = False

    async def aclose(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()


__all__ = ["RequestGate", "UpstreamThrottle"]
