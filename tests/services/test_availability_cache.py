"""How availability uses the cache itself: coalesced reads (one multi_get per event-loop turn) and
what happens when the cache is down (answers come from the ERP, nothing fails).
Cache commands are counted with an aiocache plugin; the outage is a Redis URL nobody listens on."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal as D
from typing import Any

from aiocache.base import BaseCache
from aiocache.plugins import BasePlugin

from gateway.cache import create_cache
from gateway.domain import Availability
from gateway.services.availability import AvailabilityService
from gateway.services.availability_reads import BatchedReads, DecodedValues


class Counting(BasePlugin):  # type: ignore[misc]  # aiocache is untyped
    """Counts cache commands; can make a command fail the way a broken backend would."""

    def __init__(self) -> None:
        self.multi_gets: list[int] = []
        self.fail_reads = False
        self.fail_writes = False

    async def pre_multi_get(self, client: BaseCache, keys: Sequence[str], *args: Any, **kwargs: Any) -> None:
        self.multi_gets.append(len(keys))
        if self.fail_reads:
            raise ConnectionError("cache down")

    async def pre_multi_set(self, client: BaseCache, *args: Any, **kwargs: Any) -> None:
        if self.fail_writes:
            raise ConnectionError("cache down")


def counted_cache() -> tuple[BaseCache, Counting]:
    cache = create_cache("memory://", namespace="test-availability-cache")
    plugin = Counting()
    cache.plugins = [plugin]
    return cache, plugin


class Source:
    def __init__(self) -> None:
        self.calls = 0

    async def availability(
        self, item_numbers: Sequence[str], *, location_codes: Sequence[str] | None = None
    ) -> list[Availability]:
        self.calls += 1
        return [
            Availability(
                item_number=number,
                location_code="MAIN",
                unit_of_measure_code="PCS",
                inventory=D(5),
                qty_on_sales_orders=D(1),
                qty_on_purchase_orders=D(0),
                available_quantity=D(4),
                projected_available_quantity=D(4),
                as_of=datetime(2026, 11, 25, tzinfo=UTC),
            )
            for number in item_numbers
        ]


async def test_reads_in_one_turn_become_one_multi_get() -> None:
    cache, plugin = counted_cache()
    await cache.set("a", 1)
    reads = BatchedReads(cache)
    results = await asyncio.gather(*(reads.get_many(["a", "b"]) for _ in range(1000)))
    assert plugin.multi_gets == [2]
    assert all(result == [1, None] for result in results)
    assert await reads.get_many(["a"]) == [1]
    assert plugin.multi_gets == [2, 1]


async def test_a_read_error_reaches_every_reader_and_a_cancelled_reader_harms_none() -> None:
    cache, plugin = counted_cache()
    reads = BatchedReads(cache)
    plugin.fail_reads = True
    outcomes = await asyncio.gather(*(reads.get_many(["a"]) for _ in range(3)), return_exceptions=True)
    assert all(isinstance(o, ConnectionError) for o in outcomes)
    plugin.fail_reads = False
    await cache.set("a", 1)
    first = asyncio.create_task(reads.get_many(["a"]))
    second = asyncio.create_task(reads.get_many(["a"]))
    await asyncio.sleep(0)
    first.cancel()
    assert await second == [1]
    assert plugin.multi_gets == [1, 1]


async def test_1000_fresh_hits_cost_one_cache_read_and_no_call() -> None:
    cache, plugin = counted_cache()
    source = Source()
    service = AvailabilityService(source=source, cache=cache)
    await service.get(["1000"])
    reads_before = len(plugin.multi_gets)
    await asyncio.gather(*(service.get(["1000"]) for _ in range(1000)))
    assert len(plugin.multi_gets) - reads_before == 1
    assert source.calls == 1


async def test_cache_write_failures_still_answer_from_the_erp() -> None:
    cache, plugin = counted_cache()
    plugin.fail_writes = True
    source = Source()
    service = AvailabilityService(source=source, cache=cache)
    answers = await service.get(["1000", "2000"])
    assert [a.availability.item_number for a in answers] == ["1000", "2000"]
    assert source.calls == 1


async def test_with_redis_down_answers_come_from_the_erp() -> None:
    # Same service code as with a healthy Redis, pointed at a port nobody listens on.
    cache = create_cache("redis://127.0.0.1:1/15", namespace="test-availability-down")
    source = Source()
    service = AvailabilityService(source=source, cache=cache)
    answers = await asyncio.gather(*(service.get(["1000"]) for _ in range(50)))
    assert all(len(answer) == 1 and not answer[0].stale for answer in answers)
    assert source.calls == 1  # in-process single flight still holds
    await service.aclose()
    await cache.close()


def test_each_stored_value_is_decoded_once_and_the_oldest_goes_past_the_bound() -> None:
    decoded: list[bytes] = []

    def loads(value: bytes | None) -> object:
        if value is None:
            return None
        decoded.append(value)
        return {"v": value}

    values = DecodedValues(loads, max_entries=2)
    first = values(b"a")
    assert values(b"a") is first
    assert values(b"ab"[:1]) is first  # equal bytes, another object (as Redis returns them)
    assert values(None) is None and values(None) is None  # a miss is never remembered
    values(b"b")
    values(b"c")  # a third value: b"a", the oldest, goes
    values(b"a")
    assert decoded == [b"a", b"b", b"c", b"a"]
    assert values.decoded == 4


class ChangingStock(Source):
    """A source whose stock changes on every call."""

    async def availability(
        self, item_numbers: Sequence[str], *, location_codes: Sequence[str] | None = None
    ) -> list[Availability]:
        rows = await super().availability(item_numbers, location_codes=location_codes)
        return [dataclasses.replace(row, inventory=D(self.calls)) for row in rows]


async def test_a_refetched_entry_is_decoded_anew_and_hits_are_not_decoded() -> None:
    cache, _ = counted_cache()
    now = [1000.0]
    source = ChangingStock()
    service = AvailabilityService(source=source, cache=cache, fresh_seconds=10, clock=lambda: now[0])
    await service.get(["1000"])  # fetched and stored
    hits = [await service.get(["1000"]) for _ in range(50)]
    assert {a[0].availability.inventory for a in hits} == {D(1)}
    assert service.entries_decoded == 1
    now[0] += 11  # stale: served once more, refreshed in the background
    assert (await service.get(["1000"]))[0].availability.inventory == D(1)
    await service.drain()
    refreshed = await service.get(["1000"])
    assert refreshed[0].availability.inventory == D(2) and not refreshed[0].stale
    assert service.entries_decoded == 2
    assert source.calls == 2
