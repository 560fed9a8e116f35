"""The shared cache (aiocache): in-process memory by default, Redis at scale.

Built by the composition root from `GATEWAY_CACHE_URL`; services and the syncer receive it.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from aiocache import Cache
from aiocache.base import BaseCache
from aiocache.serializers import PickleSerializer

from gateway.errors import ConfigurationError


def create_cache(url: str, *, namespace: str = "gateway") -> BaseCache:
    """Build the cache for `url` (`memory://` or `redis://host:port/db`)."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme not in {"memory", "redis", "rediss"}:
        raise ConfigurationError("GATEWAY_CACHE_URL", "must be memory:// or redis://HOST:PORT/DB")
    try:
        cache: BaseCache = Cache.from_url(url)
    except Exception as exc:  # aiocache raises plain exceptions for a bad URL
        raise ConfigurationError("GATEWAY_CACHE_URL", f"cannot be used: {exc}") from None
    # Our values are our own frozen dataclasses; pickle keeps Decimal and datetime exact.
    cache.serializer = PickleSerializer()
    cache.namespace = namespace
    return cache


async def cache_reachable(cache: BaseCache) -> tuple[bool, str | None]:
    """A round trip to the cache; `(False, reason)` when it does not answer."""
    try:
        await cache.set("__ping__", 1, ttl=5)
        value: Any = await cache.get("__ping__")
    except Exception as exc:  # any backend failure means "not ready"
        return False, type(exc).__name__
    return value == 1, None if value == 1 else "unexpected answer"
