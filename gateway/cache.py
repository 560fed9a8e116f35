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

REDIS_POOL_SIZE = 50


def create_cache(url: str, *, namespace: str = "gateway") -> BaseCache:
    """Build the cache for `url` (`memory://` or `redis://host:port/db`)."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme not in {"memory", "redis", "rediss"}:
        raise ConfigurationError("GATEWAY_CACHE_URL", "must be memory:// or redis://HOST:PORT/DB")
    try:
        if parsed.scheme == "memory":
            cache: BaseCache = Cache.from_url(url)
            # A dict in this process answers without waiting, so aiocache's per-call timeout (5 s by
            # default) could never fire; it only cost each call a task and a timer (asyncio.wait_for),
            # about a sixth of the app's CPU for a cached availability answer (docs/benchmarks.md).
            cache.timeout = None
        else:
            cache = _redis_cache(parsed)
    except ConfigurationError:
        raise
    except Exception as exc:  # aiocache raises plain exceptions for a bad URL
        raise ConfigurationError("GATEWAY_CACHE_URL", f"cannot be used: {type(exc).__name__}") from None
    # Our values are our own frozen dataclasses; pickle keeps Decimal and datetime exact.
    cache.serializer = PickleSerializer()
    cache.namespace = namespace
    return cache


def _redis_cache(parsed: urllib.parse.ParseResult) -> BaseCache:
    from aiocache.backends.redis import RedisCache
    from redis.asyncio import BlockingConnectionPool

    path = parsed.path.strip("/") or "0"
    if not path.isdigit():
        raise ConfigurationError(
            "GATEWAY_CACHE_URL", "the path must be a database number, e.g. redis://host:6379/0"
        )
    query = dict(urllib.parse.parse_qsl(parsed.query))
    # A blocking pool makes a burst of callers wait for a free connection instead of failing
    # with "Too many connections" (redis-py's default pool raises past its maximum).
    return RedisCache(
        endpoint=parsed.hostname or "127.0.0.1",
        port=parsed.port or 6379,
        db=int(path),
        password=parsed.password,
        ssl=parsed.scheme == "rediss",
        pool_max_size=int(query.get("pool_max_size", REDIS_POOL_SIZE)),
        connection_pool_class=BlockingConnectionPool,
    )


async def cache_reachable(cache: BaseCache) -> tuple[bool, str | None]:
    """A round trip to the cache; `(False, reason)` when it does not answer."""
    try:
        await cache.set("__ping__", 1, ttl=5)
        value: Any = await cache.get("__ping__")
    except Exception as exc:  # any backend failure means "not ready"
        return False, type(exc).__name__
    return value == 1, None if value == 1 else "unexpected answer"
