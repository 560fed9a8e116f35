"""Short per-key locks that let one gateway process fetch a cold or stale cache key while the
others wait for the value: a no-op within one process, `SET NX PX` when the cache is Redis.

Why not aiocache's `RedLock`: its waiters block on a class-level `asyncio.Event` that only exists
in the process holding the lock; in any other process the lookup raises `KeyError`, which it treats
as "released", so it excludes nothing across processes. It also locks one key per round trip.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection
from typing import Any, Protocol

from aiocache.backends.redis import RedisBackend
from aiocache.base import BaseCache

log = logging.getLogger(__name__)

# Delete the lock only if it still holds our token: a lock that expired and was taken by another
# process must not be released by us.
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


class KeyLocks(Protocol):
    """Try-locks over many keys at once; a lock lapses by itself after the lease."""

    async def acquire(self, keys: Collection[str]) -> set[str]:
        """Take every free lock among `keys` without waiting; return the keys now held."""
        ...

    async def release(self, keys: Collection[str]) -> None: ...


class ProcessLocks:
    """One process only: in-process single flight (one future per key) already excludes."""

    async def acquire(self, keys: Collection[str]) -> set[str]:
        return set(keys)

    async def release(self, keys: Collection[str]) -> None:
        return None


class RedisLocks:
    """Cross-process try-locks: `SET lock:<key> <token> NX PX <lease>` in one pipeline.

    The lease bounds the damage when the holder dies: after it, another process takes over.
    """

    def __init__(self, cache: RedisBackend, *, lease_seconds: float) -> None:
        self._cache = cache
        self._client: Any = cache.client
        self._lease_ms = max(1, int(lease_seconds * 1000))
        self._held: dict[str, str] = {}

    def _name(self, key: str) -> str:
        return str(self._cache.build_key(f"lock:{key}"))

    async def acquire(self, keys: Collection[str]) -> set[str]:
        if not keys:
            return set()
        ordered = list(keys)
        tokens = {key: uuid.uuid4().hex for key in ordered}
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for key in ordered:
                    pipe.set(self._name(key), tokens[key], nx=True, px=self._lease_ms)
                results = await pipe.execute()
        except Exception as exc:
            # Fail open: without Redis each process still fetches a key only once at a time.
            log.warning("availability locks not available: %s: %s", type(exc).__name__, exc)
            return set(ordered)
        won = {key for key, ok in zip(ordered, results, strict=True) if ok}
        for key in won:
            self._held[key] = tokens[key]
        return won

    async def release(self, keys: Collection[str]) -> None:
        held = [(key, self._held.pop(key)) for key in keys if key in self._held]
        if not held:
            return
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for key, token in held:
                    pipe.eval(_RELEASE, 1, self._name(key), token)
                await pipe.execute()
        except Exception as exc:  # the lease ends the lock anyway
            log.warning("availability locks not released: %s: %s", type(exc).__name__, exc)


def locks_for(cache: BaseCache, *, lease_seconds: float) -> KeyLocks:
    """Cross-process locks when the cache is shared (Redis), none needed for the memory cache."""
    if isinstance(cache, RedisBackend):
        return RedisLocks(cache, lease_seconds=lease_seconds)
    return ProcessLocks()
