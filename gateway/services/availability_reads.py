"""Coalesced cache reads: every key asked in the same event-loop turn is read with one `multi_get`.

A burst of 1,000 requests would otherwise be 1,000 concurrent Redis commands, which exceeds
redis-py's connection pool (100 by default since redis 8, failing with "Too many connections").

Values are decoded once per stored value (`DecodedValues`): the cache keeps pickles, and unpickling
an item's entry (its frozen rows, Decimals, datetimes) was a sixth of the CPU of a cached
availability answer, repeated for every request for the same unchanged entry.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from aiocache.base import BaseCache


class DecodedValues:
    """The cache serializer's `loads`, remembered per stored value (the exact bytes): the same bytes
    always decode to an equal value, so a value read again is the object decoded the first time.

    Only for values that are immutable all the way down (frozen dataclasses of tuples, str, Decimal,
    datetime): every reader shares the object. A changed entry is new bytes, decoded anew. At most
    `max_entries` values are kept; past that the oldest goes first (a read of it decodes again).
    """

    def __init__(self, loads: Callable[[Any], Any], *, max_entries: int = 2048) -> None:
        self._loads = loads
        self._max = max_entries
        self._values: dict[bytes, Any] = {}
        self.decoded = 0
        """How many values were decoded (not found here): for tests and operators."""

    def __call__(self, stored: Any) -> Any:
        if not isinstance(stored, bytes):  # None (a miss), or a backend that returns text
            return self._loads(stored)
        value = self._values.get(stored)
        if value is None:
            value = self._loads(stored)
            self.decoded += 1
            if len(self._values) >= self._max:
                del self._values[next(iter(self._values))]
            self._values[stored] = value
        return value


class BatchedReads:
    """A per-process read batcher in front of one cache (DataLoader-style, keyed by cache key).
    `loads`: how stored values are decoded (the cache serializer's by default)."""

    def __init__(self, cache: BaseCache, *, loads: Callable[[Any], Any] | None = None) -> None:
        self._cache = cache
        self._loads = loads
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
            values = await self._cache.multi_get(keys, loads_fn=self._loads)
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
