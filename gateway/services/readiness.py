"""Readiness: can this instance serve? The store answers, the cache answers, both upstreams answer.

A readiness probe must answer within the orchestrator's timeout (Kubernetes' default is 1 s), so every
check is bounded by `timeout_seconds` and the four run concurrently. Each upstream is asked one small
read (`ping`) with a single attempt: no retries, no backoff (`policy.call_budget`). An upstream that
answers 429 is reachable but throttled: still ready (reads come from the store; the sync engine waits
its Retry-After out), noted in the check. Any other failure (no answer in time, 5xx, a refused token)
is not ready. Upstream checks are remembered for `ttl_seconds`, and concurrent probes share one check,
so probes cost the upstreams at most one request each per period.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from gateway.errors import GatewayError, UpstreamThrottled
from gateway.upstream.policy import within_budget

Probe = Callable[[], Awaitable[tuple[bool, str | None]]]


class Pingable(Protocol):
    async def ping(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    error: str | None = None
    note: str | None = None
    """Said of a check that passed but is worth knowing (an upstream throttling us)."""


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    checks: tuple[Check, ...]


def _describe(exc: GatewayError) -> str:
    return f"{type(exc).__name__}: {exc}"


class ReadinessService:
    def __init__(
        self,
        *,
        store: Probe,
        cache: Probe,
        erp: Pingable,
        crm: Pingable,
        timeout_seconds: float = 2.0,
        ttl_seconds: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")
        self._probes = {"store": store, "cache": cache}
        self._upstreams = {"erp": erp, "crm": crm}
        self.timeout_seconds = timeout_seconds
        self._ttl = ttl_seconds
        self._monotonic = monotonic
        self._remembered: dict[str, tuple[float, Check]] = {}
        self._locks = {name: asyncio.Lock() for name in self._upstreams}

    async def check(self) -> Readiness:
        checks = await asyncio.gather(
            *(self._probe(name, probe) for name, probe in self._probes.items()),
            *(self._upstream(name) for name in self._upstreams),
        )
        return Readiness(ready=all(c.ok for c in checks), checks=tuple(checks))

    async def _probe(self, name: str, probe: Probe) -> Check:
        try:
            async with asyncio.timeout(self.timeout_seconds):
                ok, error = await probe()
        except TimeoutError:
            return Check(name, False, f"did not answer within {self.timeout_seconds:g}s")
        return Check(name, ok, error)

    async def _upstream(self, name: str) -> Check:
        async with self._locks[name]:  # concurrent probes share one check
            remembered = self._remembered.get(name)
            if remembered is not None and self._monotonic() - remembered[0] < self._ttl:
                return remembered[1]
            check = await self._ping(name, self._upstreams[name])
            self._remembered[name] = (self._monotonic(), check)
            return check

    async def _ping(self, name: str, upstream: Pingable) -> Check:
        try:
            # The budget bounds token fetch, throttle wait and the request; its backstop anything else.
            async with within_budget(max_retries=0, seconds=self.timeout_seconds):
                await upstream.ping()
        except UpstreamThrottled as exc:
            return Check(name, True, note=f"reachable but throttled: {_describe(exc)}")
        except GatewayError as exc:
            return Check(name, False, _describe(exc))
        except TimeoutError:
            return Check(name, False, f"did not answer within {self.timeout_seconds:g}s")
        return Check(name, True)
