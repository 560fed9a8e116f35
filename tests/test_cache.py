"""The cache as the composition root builds it: memory by default, the real Redis at scale."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from gateway.cache import cache_reachable, create_cache
from gateway.errors import ConfigurationError


@pytest.fixture(params=["memory", "redis"])
def cache_url(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory://"
    return str(request.getfixturevalue("redis_url"))


async def test_round_trip_keeps_types(cache_url: str) -> None:
    from decimal import Decimal

    cache = create_cache(cache_url, namespace=f"test-{uuid.uuid4().hex}")
    try:
        await cache.set("k", {"qty": Decimal("1.50")}, ttl=10)
        assert await cache.get("k") == {"qty": Decimal("1.50")}
        assert await cache_reachable(cache) == (True, None)
    finally:
        await cache.clear()
        await cache.close()


async def test_a_burst_beyond_the_pool_waits_instead_of_failing(redis_url: str) -> None:
    cache = create_cache(redis_url + "?pool_max_size=5", namespace=f"test-{uuid.uuid4().hex}")
    try:
        await asyncio.gather(*(cache.set(f"k{i}", i, ttl=10) for i in range(300)))
        values = await asyncio.gather(*(cache.get(f"k{i}") for i in range(300)))
        assert values == list(range(300))
    finally:
        await cache.clear()
        await cache.close()


async def test_unreachable_redis_is_reported_not_raised() -> None:
    cache = create_cache("redis://127.0.0.1:1/0")
    try:
        ok, error = await cache_reachable(cache)
        assert ok is False and error
    finally:
        await cache.close()


@pytest.mark.parametrize("url", ["memcached://x", "redis://127.0.0.1:6379/abc"])
def test_bad_urls_name_the_setting(url: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        create_cache(url)
    assert info.value.setting == "GATEWAY_CACHE_URL"
