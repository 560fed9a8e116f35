"""Coalesced cache reads: every key asked in the same event-loop turn is read with one `multi_get`.

A burst of 1,000 requests would otherwise be 1,000 concurrent Redis commands, which exceeds
redis-py's connection pool (100 by default since redis 8, failing with "Too many connections").
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from aiocache.base import BaseCache


class BatchedReads:
    """A per-process read batcher in front of one cache (DataLoader-style, keyed by cache key)."""

    def __init__(self, cache: BaseCache) -> None:
        self._cache = cache
        self._batch: dict[str, asyncio.Future[Any]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def get_many(self, keys: Sequence[str]) -> list[Any]:
        """The cached value (or None) of each key, in order."""
        if not keys:
            return []
        loop = asyncio.get_running_loop()
        if not self._batch:
            loop.call_soon(self._flush)
        futures = []
        for key in keys:
            future = self._batch.get(key)
            if future is None:
                future = self._batch[key] = loop.create_future()
            futures.append(future)
        # Shielded: one cancelled reader must not cancel the shared read for the others.
        return list(await asyncio.gather(*(asyncio.shield(future) for future in futures)))

    def _flush(self) -> None:
        batch, self._batch = self._batch, {}
        task = asyncio.get_running_loop().create_task(self._read(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _read(self, batch: dict[str, asyncio.Future[Any]]) -> None:
        keys = list(batch)
        try:
            values = await self._cache.multi_get(keys)
        except Exception as exc:
            for future in batch.values():
                if not future.done():
                    future.set_exception(exc)
                    # Read by every waiter that is left; mark it so an all-cancelled batch stays quiet.
                    future.exception()
            return
        except BaseException:
            for future in batch.values():
                future.cancel()
            raise
        for key, value in zip(keys, values, strict=True):
            if not batch[key].done():
                batch[key].set_result(value)
