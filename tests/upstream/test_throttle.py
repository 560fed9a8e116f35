"""The shared request budget: after one client's 429, no client of the same identity sends anything
before the `Retry-After` has passed, in one process (one gate) and across processes (two gates on one
Redis). Time is the simulator's clock, moved forward by the gate's sleep instead of waited out.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from gateway.config import Settings
from gateway.errors import UpstreamThrottled
from gateway.upstream.client import ODataClient
from gateway.upstream.factory import build_crm_connector, build_erp_connector, build_throttle
from gateway.upstream.throttle import UpstreamThrottle
from tests.upstream.conftest import Sleeps, Upstream, fast_retry

IDENTITY = "erp|test|gateway-demo"


@dataclass
class MovingSleep:
    """The gate's sleep: notes how many API requests the simulator had seen when the wait began, then
    moves the simulator's clock (which the gate reads too) forward instead of waiting."""

    upstream: Upstream
    seen: list[tuple[float, int]] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.seen.append((seconds, len(self.upstream.transport.api())))
        self.upstream.clock.offset += seconds


def client(upstream: Upstream, gate: UpstreamThrottle | None, *, retries: int = 0) -> ODataClient:
    http = httpx.AsyncClient(transport=upstream.transport)
    upstream.https.append(http)
    return ODataClient(
        http,
        base_url=upstream.api_root,
        service="erp",
        auth=upstream.token_provider(http),
        retry=fast_retry(Sleeps(), max_retries=retries),
        throttle=gate,
        throttle_identity=IDENTITY,
    )


async def exhaust_window(upstream: Upstream, first: ODataClient, *, allowed: int = 3) -> float:
    """Let `allowed` requests through the simulator's window, then provoke one 429; its Retry-After."""
    await upstream.control("limits", {"requests": allowed, "windowSeconds": 300})
    for _ in range(allowed):
        await first.get("v2.0/companies")
    with pytest.raises(UpstreamThrottled) as info:
        await first.get("v2.0/companies")
    assert info.value.retry_after is not None and info.value.retry_after > 0
    return info.value.retry_after


async def stats(upstream: Upstream) -> dict[str, Any]:
    return await upstream.control("stats")


async def test_one_429_holds_every_client_of_the_process(erp_sim: Upstream) -> None:
    sleep = MovingSleep(erp_sim)
    gate = UpstreamThrottle(clock=erp_sim.clock, sleep=sleep)
    first, second = client(erp_sim, gate), client(erp_sim, gate)
    retry_after = await exhaust_window(erp_sim, first)
    sent_before = len(erp_sim.transport.api())

    body = await second.get("v2.0/companies")  # waits out the Retry-After, then succeeds

    assert body["value"]
    # The wait began before `second` sent anything, and lasted the whole Retry-After.
    assert sleep.seen == [(pytest.approx(retry_after, abs=1.0), sent_before)]
    assert len(erp_sim.transport.api()) == sent_before + 1
    assert (await stats(erp_sim))["throttled"] == 1  # only the one that found out
    assert gate.waits == 1 and gate.blocks == 1


async def test_without_a_shared_gate_the_second_client_is_throttled_too(erp_sim: Upstream) -> None:
    """The control: the same sequence with separate gates costs a second 429 (so the test above can fail)."""
    sleep = MovingSleep(erp_sim)
    first = client(erp_sim, UpstreamThrottle(clock=erp_sim.clock, sleep=sleep))
    second = client(erp_sim, UpstreamThrottle(clock=erp_sim.clock, sleep=sleep))
    await exhaust_window(erp_sim, first)
    with pytest.raises(UpstreamThrottled):
        await second.get("v2.0/companies")
    assert (await stats(erp_sim))["throttled"] == 2 and sleep.seen == []


async def test_a_retrying_client_waits_once_not_twice(erp_sim: Upstream) -> None:
    """The client's own retry sleeps the Retry-After; afterwards the gate is open and adds nothing."""
    sleep = MovingSleep(erp_sim)
    gate = UpstreamThrottle(clock=erp_sim.clock, sleep=sleep)
    http = httpx.AsyncClient(transport=erp_sim.transport)
    erp_sim.https.append(http)
    moving = fast_retry(Sleeps(), max_retries=2, sleep=sleep)
    retrying = ODataClient(
        http,
        base_url=erp_sim.api_root,
        service="erp",
        auth=erp_sim.token_provider(http),
        retry=moving,
        throttle=gate,
        throttle_identity=IDENTITY,
    )
    await erp_sim.control("limits", {"requests": 2, "windowSeconds": 300})
    for _ in range(3):
        await retrying.get("v2.0/companies")
    assert len(sleep.seen) == 1 and gate.waits == 0
    assert (await stats(erp_sim))["throttled"] == 1


@pytest.mark.redis
async def test_the_wait_is_shared_across_processes_through_redis(erp_sim: Upstream, redis_url: str) -> None:
    namespace = f"test-throttle-{uuid.uuid4().hex}"
    sleep = MovingSleep(erp_sim)
    # Two gates, as two processes would hold: they share nothing but Redis.
    gate_a = UpstreamThrottle(redis_url=redis_url, namespace=namespace, clock=erp_sim.clock, sleep=sleep)
    gate_b = UpstreamThrottle(redis_url=redis_url, namespace=namespace, clock=erp_sim.clock, sleep=sleep)
    try:
        first, second = client(erp_sim, gate_a), client(erp_sim, gate_b)
        retry_after = await exhaust_window(erp_sim, first)
        sent_before = len(erp_sim.transport.api())
        assert await gate_b.blocked_until(IDENTITY) == pytest.approx(erp_sim.clock() + retry_after, abs=1.0)

        await second.get("v2.0/companies")

        assert sleep.seen == [(pytest.approx(retry_after, abs=1.0), sent_before)]
        assert len(erp_sim.transport.api()) == sent_before + 1
        assert (await stats(erp_sim))["throttled"] == 1
        # Another identity is not held back by this one's 429.
        assert await gate_b.blocked_until("crm|other|client") == 0
    finally:
        await gate_a.aclose()
        await gate_b.aclose()


@pytest.mark.redis
async def test_a_shorter_wait_never_shortens_a_longer_one(redis_url: str) -> None:
    now = [1_000_000.0]
    namespace = f"test-throttle-{uuid.uuid4().hex}"
    gate_a = UpstreamThrottle(redis_url=redis_url, namespace=namespace, clock=lambda: now[0])
    gate_b = UpstreamThrottle(redis_url=redis_url, namespace=namespace, clock=lambda: now[0])
    try:
        await gate_a.block(IDENTITY, 120)
        await gate_b.block(IDENTITY, 5)
        assert await gate_b.blocked_until(IDENTITY) == pytest.approx(now[0] + 120)
        assert await gate_a.blocked_until(IDENTITY) == pytest.approx(now[0] + 120)
    finally:
        await gate_a.aclose()
        await gate_b.aclose()


async def test_a_redis_that_is_down_leaves_the_in_process_gate_working() -> None:
    now = [1_000_000.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    gate = UpstreamThrottle(redis_url="redis://127.0.0.1:1/0", clock=lambda: now[0], sleep=sleep)
    try:
        await gate.block(IDENTITY, 30)
        assert await gate.wait(IDENTITY) == pytest.approx(30)
        assert await gate.wait(IDENTITY) == 0
        assert slept == [pytest.approx(30)]
    finally:
        await gate.aclose()


def test_the_factory_shares_one_gate_per_identity() -> None:
    memory = Settings(erp_base_url="http://erp.test", crm_base_url="http://crm.test", erp_client_id="a")
    gate = build_throttle(memory)
    assert not gate.shared
    assert build_throttle(Settings(cache_url="redis://127.0.0.1:6379/15")).shared
    erp = build_erp_connector(memory, throttle=gate)
    crm = build_crm_connector(memory, throttle=gate)
    assert erp.client.throttle is gate and crm.client.throttle is gate
    assert erp.client.throttle_identity.startswith("erp|") and erp.client.throttle_identity.endswith("|a")
    assert crm.client.throttle_identity.startswith("crm|")
    assert build_erp_connector(memory).client.throttle is None


async def test_a_wait_longer_than_the_client_sits_out_fails_at_once(erp_sim: Upstream) -> None:
    """As with a 429 whose Retry-After exceeds the retry policy's limit: the caller hears at once."""
    sleep = MovingSleep(erp_sim)
    gate = UpstreamThrottle(clock=erp_sim.clock, sleep=sleep)
    second = client(erp_sim, gate, retries=3)
    await gate.block(IDENTITY, 600)
    with pytest.raises(UpstreamThrottled) as info:
        await second.get("v2.0/companies")
    assert info.value.retry_after == pytest.approx(600, abs=1)
    assert erp_sim.transport.api() == [] and sleep.seen == [] and gate.refusals == 1
