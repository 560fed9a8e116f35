"""The circuit breaker on its own: when it opens, what it counts, how the half-open probe behaves.
Time is a fake clock; every assertion is about calls made or refused."""

from __future__ import annotations

import asyncio

import pytest

from gateway.errors import (
    CircuitOpen,
    UpstreamBadRequest,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from gateway.services.circuit import CircuitBreaker, CircuitState


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Upstream:
    def __init__(self) -> None:
        self.calls = 0
        self.error: Exception | None = None
        self.gate: asyncio.Event | None = None

    async def __call__(self) -> str:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        return "ok"


def breaker(clock: Clock, failures: int = 3) -> CircuitBreaker:
    return CircuitBreaker(service="erp", failure_threshold=failures, reset_seconds=30, clock=clock)


async def fail_times(b: CircuitBreaker, upstream: Upstream, n: int) -> None:
    for _ in range(n):
        with pytest.raises(UpstreamError) as info:
            await b.call(upstream)
        assert not isinstance(info.value, CircuitOpen)


async def test_opens_after_consecutive_failures_and_stops_calling() -> None:
    clock, upstream = Clock(), Upstream()
    b = breaker(clock)
    upstream.error = UpstreamUnavailable("down", service="erp")
    await fail_times(b, upstream, 2)
    assert b.state() is CircuitState.CLOSED
    await fail_times(b, upstream, 1)
    assert b.state() is CircuitState.OPEN
    with pytest.raises(CircuitOpen) as info:
        await b.call(upstream)
    assert upstream.calls == 3
    assert info.value.retry_in == 30
    clock.now += 29
    with pytest.raises(CircuitOpen):
        await b.call(upstream)
    assert upstream.calls == 3


async def test_a_success_resets_the_count() -> None:
    clock, upstream = Clock(), Upstream()
    b = breaker(clock)
    upstream.error = UpstreamTimeout("slow")
    await fail_times(b, upstream, 2)
    upstream.error = None
    assert await b.call(upstream) == "ok"
    upstream.error = UpstreamTimeout("slow")
    await fail_times(b, upstream, 2)
    assert b.state() is CircuitState.CLOSED
    assert b.consecutive_failures == 2


async def test_request_errors_do_not_open_the_circuit() -> None:
    clock, upstream = Clock(), Upstream()
    b = breaker(clock, failures=1)
    upstream.error = UpstreamBadRequest("bad filter", status=400)
    for _ in range(3):
        with pytest.raises(UpstreamBadRequest):
            await b.call(upstream)
    assert b.state() is CircuitState.CLOSED
    assert upstream.calls == 3


async def test_half_open_lets_one_probe_through_and_closes_on_success() -> None:
    clock, upstream = Clock(), Upstream()
    b = breaker(clock)
    upstream.error = UpstreamUnavailable("down")
    await fail_times(b, upstream, 3)
    clock.now += 30
    assert b.state() is CircuitState.HALF_OPEN
    upstream.error = None
    upstream.gate = asyncio.Event()
    probe = asyncio.create_task(b.call(upstream))
    await asyncio.sleep(0)
    assert upstream.calls == 4
    # While the probe is out, everyone else is refused without a call.
    with pytest.raises(CircuitOpen):
        await b.call(upstream)
    assert upstream.calls == 4
    upstream.gate.set()
    assert await probe == "ok"
    assert b.state() is CircuitState.CLOSED
    upstream.gate = None
    assert await b.call(upstream) == "ok"
    assert upstream.calls == 5


async def test_a_failed_probe_reopens_for_a_full_period() -> None:
    clock, upstream = Clock(), Upstream()
    b = breaker(clock)
    upstream.error = UpstreamUnavailable("down")
    await fail_times(b, upstream, 3)
    clock.now += 31
    await fail_times(b, upstream, 1)
    assert upstream.calls == 4
    assert b.state() is CircuitState.OPEN
    clock.now += 29
    with pytest.raises(CircuitOpen):
        await b.call(upstream)
    assert upstream.calls == 4
    clock.now += 1
    upstream.error = None
    assert await b.call(upstream) == "ok"
    assert upstream.calls == 5


async def test_a_cancelled_probe_frees_the_half_open_slot() -> None:
    clock, upstream = Clock(), Upstream()
    b = breaker(clock)
    upstream.error = UpstreamUnavailable("down")
    await fail_times(b, upstream, 3)
    clock.now += 30
    upstream.error = None
    upstream.gate = asyncio.Event()
    probe = asyncio.create_task(b.call(upstream))
    await asyncio.sleep(0)
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    upstream.gate = None
    assert await b.call(upstream) == "ok"
    assert b.state() is CircuitState.CLOSED
