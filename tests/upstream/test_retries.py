"""Retries: exponential backoff with full jitter, Retry-After honoured (seconds or HTTP-date), only
idempotent requests repeated after they may have reached the server, and the concurrency limit."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from gateway.errors import UpstreamNotFound, UpstreamThrottled, UpstreamTimeout, UpstreamUnavailable
from gateway.upstream.odata import Query, entity_path
from gateway.upstream.policy import RetryPolicy, parse_retry_after
from tests.upstream.conftest import Forward, Upstream, fast_retry

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_full_jitter_backoff_is_capped() -> None:
    top = RetryPolicy(backoff_base_seconds=0.5, backoff_max_seconds=4.0, random=lambda: 1.0)
    assert [top.backoff(n) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    bottom = RetryPolicy(backoff_base_seconds=0.5, backoff_max_seconds=4.0, random=lambda: 0.0)
    assert bottom.backoff(3) == 0.0
    assert top.delay(5, retry_after=12.0) == 12.0  # the server's word wins over the cap


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        (" 0 ", 0.0),
        ("1.5", 1.5),
        (format_datetime(NOW + timedelta(seconds=30), usegmt=True), 30.0),
        (format_datetime(NOW - timedelta(seconds=30), usegmt=True), 0.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == seconds


async def test_429_waits_retry_after_seconds_then_gives_up(erp_sim: Upstream) -> None:
    client = erp_sim.client(retry=fast_retry(erp_sim.sleeps, max_retries=3))
    await erp_sim.faults(rate=1.0, kinds=["429"], retryAfterSeconds=7)
    with pytest.raises(UpstreamThrottled) as caught:
        await client.get("v2.0/companies")
    assert caught.value.retry_after == 7.0
    assert erp_sim.sleeps.delays == [7.0, 7.0, 7.0]
    assert len(erp_sim.transport.api()) == 4
    assert (await erp_sim.control("stats"))["byStatus"] == {"429": 4}


async def test_retry_after_as_http_date(crm_sim: Upstream) -> None:
    retry = fast_retry(crm_sim.sleeps, now=lambda: NOW)
    client = crm_sim.client(retry=retry)
    throttled = 0

    async def throttle_twice(request: httpx.Request, forward: Forward) -> httpx.Response:
        nonlocal throttled
        if throttled < 2:
            throttled += 1
            date = format_datetime(NOW + timedelta(seconds=42), usegmt=True)
            return httpx.Response(429, json={"error": {"code": "0x80072321"}}, headers={"Retry-After": date})
        return await forward()

    crm_sim.transport.hook = throttle_twice
    body = await client.get("accounts")
    assert body["value"]
    assert crm_sim.sleeps.delays == [42.0, 42.0]
    assert len(crm_sim.transport.api()) == 3


async def test_a_retry_after_beyond_the_limit_is_not_waited(crm_sim: Upstream) -> None:
    client = crm_sim.client(retry=fast_retry(crm_sim.sleeps, max_retry_after_seconds=60))
    await crm_sim.faults(rate=1.0, kinds=["429"], retryAfterSeconds=600)
    with pytest.raises(UpstreamThrottled) as caught:
        await client.get("accounts")
    assert caught.value.retry_after == 600
    assert crm_sim.sleeps.delays == []
    assert len(crm_sim.transport.api()) == 1


async def test_503_is_retried_with_jittered_backoff_until_success(erp_sim: Upstream) -> None:
    retry = fast_retry(erp_sim.sleeps, max_retries=10, backoff_base_seconds=1.0, backoff_max_seconds=8.0)
    client = erp_sim.client(retry=retry)
    await erp_sim.faults(rate=0.5, kinds=["503"], seed=3)
    for _ in range(10):
        await client.get("v2.0/companies")
    injected = (await erp_sim.control("faults"))["injected"].get("503", 0)
    assert injected > 0
    assert len(erp_sim.transport.api()) == 10 + injected
    assert len(erp_sim.sleeps.delays) == injected == client.stats.retries
    assert all(0.0 <= delay <= 8.0 for delay in erp_sim.sleeps.delays)


@pytest.mark.parametrize("kind", ["503", "drop", "timeout"])
async def test_a_plain_post_is_not_repeated_once_it_may_have_arrived(crm_sim: Upstream, kind: str) -> None:
    client = crm_sim.client(timeout_seconds=0.2)
    await client.get("accounts", query=Query(top=1))
    await crm_sim.faults(rate=1.0, kinds=[kind], timeoutSeconds=30)
    with pytest.raises((UpstreamUnavailable, UpstreamTimeout)):
        await client.request("POST", "accounts", json_body={"name": "only once"})
    assert len(crm_sim.transport.api("POST")) == 1
    assert crm_sim.sleeps.delays == []


async def test_a_post_refused_with_429_is_repeated(crm_sim: Upstream) -> None:
    client = crm_sim.client()
    await crm_sim.faults(rate=0.5, kinds=["429"], seed=1, retryAfterSeconds=2)
    created = await client.request("POST", "accounts", json_body={"name": "after a 429"})
    assert created.status == 204 or created.status == 201
    posts = len(crm_sim.transport.api("POST"))
    assert posts == 1 + len(crm_sim.sleeps.delays)
    await crm_sim.faults(rate=0.0, kinds=["429"])
    found = await client.get("accounts", query=Query(filter="name eq 'after a 429'"))
    assert len(found["value"]) == 1  # a 429 means it was refused, so there is exactly one


@pytest.mark.parametrize("kind", ["503", "drop", "timeout"])
async def test_an_upsert_by_key_is_repeated(crm_sim: Upstream, kind: str) -> None:
    client = crm_sim.client(timeout_seconds=0.2)
    await client.get("accounts", query=Query(top=1))
    await crm_sim.faults(rate=0.6, kinds=[kind], seed=1, timeoutSeconds=30)  # seed 1: hit, hit, miss, …
    path = entity_path("accounts", {"accountnumber": f"UPSERT-{kind}"})
    for attempt in range(3):
        await client.request("PATCH", path, json_body={"name": f"v{attempt}"})
    await crm_sim.faults(rate=0.0, kinds=[kind])
    found = await client.get("accounts", query=Query(filter=f"accountnumber eq 'UPSERT-{kind}'"))
    assert [row["name"] for row in found["value"]] == ["v2"]
    assert len(crm_sim.transport.api("PATCH")) == 3 + len(crm_sim.sleeps.delays)
    assert crm_sim.sleeps.delays


async def test_concurrency_is_limited_per_upstream(erp_sim: Upstream) -> None:
    client = erp_sim.client(max_concurrency=3)
    await client.get("v2.0/companies")
    await erp_sim.control("latency", {"ms": 20})
    erp_sim.transport.peak = 0
    await asyncio.gather(*(client.get("v2.0/companies") for _ in range(12)))
    assert erp_sim.transport.peak == 3


async def test_a_delete_whose_answer_was_lost_is_not_reported_missing(crm_sim: Upstream) -> None:
    client = crm_sim.client()
    created = await client.request(
        "POST", "accounts", json_body={"name": "to delete"}, headers={"Prefer": "return=representation"}
    )
    path = entity_path("accounts", created.body["accountid"])
    await crm_sim.faults(rate=1.0, kinds=["drop"])  # the simulator deletes, then drops the connection
    dropped = 0

    async def drop_once(request: httpx.Request, forward: Forward) -> httpx.Response:
        nonlocal dropped
        if dropped == 0:
            dropped += 1
            return await forward()
        await crm_sim.faults(rate=0.0, kinds=["drop"])
        return await forward()

    crm_sim.transport.hook = drop_once
    response = await client.request("DELETE", path)
    assert response.status == 204
    assert len(crm_sim.transport.api("DELETE")) == 2
    rows = (await crm_sim.control("stats"))["requests"]
    deletes = sorted((r["status"], r["count"]) for r in rows if r["method"] == "DELETE")
    assert deletes == [(0, 1), (404, 1)]  # dropped after deleting, then the retry found it gone
    crm_sim.transport.hook = None
    with pytest.raises(UpstreamNotFound):  # a first-attempt 404 is still an error
        await client.request("DELETE", path)


async def test_retry_after_on_503_is_honoured_too(erp_sim: Upstream) -> None:
    client = erp_sim.client()
    answered = 0

    async def unavailable_once(request: httpx.Request, forward: Forward) -> httpx.Response:
        nonlocal answered
        answered += 1
        if answered == 1:
            return httpx.Response(503, json={"error": {"code": "Maintenance"}}, headers={"Retry-After": "11"})
        return await forward()

    erp_sim.transport.hook = unavailable_once
    await client.get("v2.0/companies")
    assert erp_sim.sleeps.delays == [11.0]
