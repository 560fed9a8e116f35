"""The availability service's cache logic, once on the in-memory cache and once on the real Redis:
upstream calls counted, ages from a fake clock, never wall-clock assertions.

The upstream here is a small double of the `AvailabilitySource` protocol that counts its calls; the
ERP connector + simulator version lives in test_availability_erp.py.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from aiocache.base import BaseCache

from gateway.cache import create_cache
from gateway.domain import Availability, ItemUnit
from gateway.errors import AvailabilityUnavailable, CircuitOpen, InvalidInput, UpstreamUnavailable
from gateway.services.availability import AvailabilityService, UnitTable
from gateway.services.circuit import CircuitState

ERP_STAMP = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class Clock:
    """Wall and monotonic time in one: tests move it by hand."""

    def __init__(self) -> None:
        self.now = 1_795_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class CountingSource:
    """Implements the AvailabilitySource protocol over a fixed stock; counts and can block or fail."""

    def __init__(self, *, locations: Sequence[str] = ("BLUE", "RED"), unknown: Sequence[str] = ()) -> None:
        self.calls: list[tuple[list[str], list[str] | None]] = []
        self.finished = 0
        self.locations = tuple(locations)
        self.unknown = set(unknown)
        self.inventory = D(100)
        self.error: Exception | None = None
        self.gate: asyncio.Event | None = None

    async def availability(
        self, item_numbers: Sequence[str], *, location_codes: Sequence[str] | None = None
    ) -> list[Availability]:
        self.calls.append((list(item_numbers), None if location_codes is None else list(location_codes)))
        try:
            if self.gate is not None:
                await self.gate.wait()
            if self.error is not None:
                raise self.error
            return [
                self._row(number, location)
                for number in item_numbers
                if number not in self.unknown
                for location in self.locations
                if location_codes is None or location in location_codes
            ]
        finally:
            self.finished += 1

    def _row(self, number: str, location: str) -> Availability:
        inventory, on_sales, on_purchase = self.inventory, D(40), D(20)
        return Availability(
            item_number=number,
            location_code=location,
            unit_of_measure_code="PCS",
            inventory=inventory,
            qty_on_sales_orders=on_sales,
            qty_on_purchase_orders=on_purchase,
            available_quantity=inventory - on_sales,
            projected_available_quantity=inventory + on_purchase - on_sales,
            as_of=ERP_STAMP,
        )


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def cache_factory(request: pytest.FixtureRequest) -> AsyncIterator[CacheFactory]:
    """Builds caches sharing one namespace (for Redis: "processes" sharing one server)."""
    namespace = f"test-availability-{uuid.uuid4().hex[:12]}"
    url = "memory://" if request.param == "memory" else request.getfixturevalue("redis_url")
    factory = CacheFactory(url, namespace)
    yield factory
    await factory.close()


class CacheFactory:
    def __init__(self, url: str, namespace: str) -> None:
        self.url = url
        self.namespace = namespace
        self.caches: list[BaseCache] = []

    @property
    def shared(self) -> bool:
        return self.url.startswith("redis")

    def __call__(self) -> BaseCache:
        cache = create_cache(self.url, namespace=self.namespace)
        self.caches.append(cache)
        return cache

    async def close(self) -> None:
        if self.caches and self.shared:
            await self.caches[0].clear(namespace=self.namespace)  # only our own keys in db 15
        for cache in self.caches:
            await cache.close()


UNITS = UnitTable(
    [
        ItemUnit(item_number="1000", code="PCS", qty_per_unit_of_measure=D(1)),
        ItemUnit(item_number="1000", code="BOX", qty_per_unit_of_measure=D(12)),
        ItemUnit(item_number="1000", code="PALLET", qty_per_unit_of_measure=D(480)),
        ItemUnit(item_number="2000", code="BOX", qty_per_unit_of_measure=D(8)),
    ]
)


def service(
    source: CountingSource, cache: BaseCache, clock: Clock, **overrides: object
) -> AvailabilityService:
    options: dict[str, object] = {"fresh_seconds": 10, "max_stale_seconds": 300, "chunk_size": 50}
    options.update(overrides)
    return AvailabilityService(
        source=source,
        cache=cache,
        units=UNITS,
        clock=clock,
        monotonic=clock,
        poll_seconds=0.01,
        **options,  # type: ignore[arg-type]
    )


async def until(condition: Callable[[], bool]) -> None:
    """Let background work run until `condition` holds (bounded; the assertion comes after)."""
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def source() -> CountingSource:
    return CountingSource()


@pytest.fixture
async def avail(
    source: CountingSource, cache_factory: CacheFactory, clock: Clock
) -> AsyncIterator[AvailabilityService]:
    svc = service(source, cache_factory(), clock)
    yield svc
    await svc.aclose()


async def test_a_fresh_hit_costs_no_upstream_call(
    avail: AvailabilityService, source: CountingSource, clock: Clock
) -> None:
    first = await avail.get(["1000"])
    assert len(source.calls) == 1
    assert [(a.availability.location_code, a.availability.available_quantity) for a in first] == [
        ("BLUE", D(60)),
        ("RED", D(60)),
    ]
    assert all(not a.stale and a.age_seconds == 0 for a in first)
    assert first[0].as_of == datetime.fromtimestamp(clock.now, UTC)
    assert first[0].availability.as_of == ERP_STAMP
    clock.advance(9.5)
    again = await avail.get(["1000"])
    assert len(source.calls) == 1
    assert [a.availability for a in again] == [a.availability for a in first]
    assert all(not a.stale and a.age_seconds == 9.5 for a in again)


async def test_1000_concurrent_gets_for_a_cold_item_make_one_call(
    avail: AvailabilityService, source: CountingSource
) -> None:
    answers = await asyncio.gather(*(avail.get(["1000"]) for _ in range(1000)))
    assert len(source.calls) == 1
    assert all(answer == answers[0] for answer in answers)
    assert len(answers[0]) == 2


async def test_200_items_cost_one_call_per_chunk(avail: AvailabilityService, source: CountingSource) -> None:
    items = [f"I{n:04d}" for n in range(200)]
    answers = await avail.get(items)
    assert len(source.calls) == math.ceil(200 / 50) == 4
    assert sorted(len(numbers) for numbers, _ in source.calls) == [50, 50, 50, 50]
    assert sorted(n for numbers, _ in source.calls for n in numbers) == items
    assert [a.availability.item_number for a in answers][::2] == items  # request order kept
    await avail.get(items)
    assert len(source.calls) == 4


async def test_only_the_misses_are_fetched(avail: AvailabilityService, source: CountingSource) -> None:
    await avail.get(["I0000", "I0001"])
    items = [f"I{n:04d}" for n in range(120)]
    await avail.get([*items, "I0005"])  # a duplicate is asked once
    assert len(source.calls) == 1 + math.ceil(118 / 50)
    assert sum(len(numbers) for numbers, _ in source.calls[1:]) == 118


async def test_overlapping_concurrent_lists_share_in_flight_items(
    avail: AvailabilityService, source: CountingSource
) -> None:
    source.gate = asyncio.Event()
    first = asyncio.create_task(avail.get([f"I{n:04d}" for n in range(0, 60)]))
    await asyncio.sleep(0.05)
    second = asyncio.create_task(avail.get([f"I{n:04d}" for n in range(30, 90)]))
    await asyncio.sleep(0.05)
    source.gate.set()
    await asyncio.gather(first, second)
    asked = [n for numbers, _ in source.calls for n in numbers]
    assert len(asked) == len(set(asked)) == 90


async def test_stale_while_revalidate_answers_at_once_and_refreshes_once(
    avail: AvailabilityService, source: CountingSource, clock: Clock
) -> None:
    await avail.get(["1000"])
    clock.advance(11)
    source.inventory = D(70)
    source.gate = asyncio.Event()  # the refresh cannot finish until we allow it
    answers = await asyncio.gather(*(avail.get(["1000"]) for _ in range(50)))
    assert all(a.stale and a.age_seconds == 11 for answer in answers for a in answer)
    assert all(a.availability.inventory == D(100) for answer in answers for a in answer)
    await until(lambda: len(source.calls) >= 2)
    assert len(source.calls) == 2
    assert source.finished == 1  # the refresh is still out: nobody waited for it
    source.gate.set()
    await avail.drain()
    assert len(source.calls) == 2
    fresh = await avail.get(["1000"])
    assert len(source.calls) == 2
    assert all(not a.stale and a.age_seconds == 0 for a in fresh)
    assert {a.availability.inventory for a in fresh} == {D(70)}


async def test_stale_if_error_serves_the_last_value_with_its_age(
    avail: AvailabilityService, source: CountingSource, clock: Clock
) -> None:
    await avail.get(["1000"])
    fetched = clock.now
    source.error = UpstreamUnavailable("ERP down", service="erp", status=503)
    for age in (60, 120, 300):
        clock.now = fetched + age
        answers = await avail.get(["1000"])
        await avail.drain()  # each stale read started one refresh, which failed
        assert all(a.stale and a.age_seconds == age for a in answers)
        assert {a.availability.inventory for a in answers} == {D(100)}
    assert len(source.calls) == 4
    assert avail.breaker.consecutive_failures == 3


async def test_past_the_maximum_age_the_error_says_how_old(
    avail: AvailabilityService, source: CountingSource, clock: Clock
) -> None:
    await avail.get(["1000"])
    clock.advance(301)
    source.error = UpstreamUnavailable("ERP down", service="erp", status=503)
    with pytest.raises(AvailabilityUnavailable) as info:
        await avail.get(["1000", "3000"])
    error = info.value
    assert error.ages == {"1000": 301.0, "3000": None}
    assert error.max_stale_seconds == 300
    assert "item 1000: last value 301 s old" in str(error)
    assert "item 3000: no cached value" in str(error)
    assert "300 s" in str(error)
    assert isinstance(error.__cause__, UpstreamUnavailable)
    assert len(source.calls) == 2
    # The ERP comes back: the same call answers fresh again.
    source.error = None
    answers = await avail.get(["1000"])
    assert all(not a.stale for a in answers)


async def test_the_breaker_stops_calls_and_probes_again(
    source: CountingSource, cache_factory: CacheFactory, clock: Clock
) -> None:
    avail = service(source, cache_factory(), clock, breaker_failures=3, breaker_reset_seconds=30)
    source.error = UpstreamUnavailable("ERP down", service="erp", status=503)
    for n in range(3):
        with pytest.raises(AvailabilityUnavailable):
            await avail.get([f"X{n}"])
    assert len(source.calls) == 3
    assert avail.breaker.state() is CircuitState.OPEN
    for n in range(10):
        with pytest.raises(AvailabilityUnavailable) as info:
            await avail.get([f"Y{n}"])
        assert isinstance(info.value.__cause__, CircuitOpen)
    assert len(source.calls) == 3
    clock.advance(30)
    assert avail.breaker.state() is CircuitState.HALF_OPEN
    source.error = None
    answers = await avail.get(["Y0"])
    assert len(source.calls) == 4 and len(answers) == 2
    assert avail.breaker.state() is CircuitState.CLOSED
    await avail.aclose()


async def test_an_open_breaker_still_serves_stale_values(
    source: CountingSource, cache_factory: CacheFactory, clock: Clock
) -> None:
    avail = service(source, cache_factory(), clock, breaker_failures=2, breaker_reset_seconds=60)
    await avail.get(["1000"])
    source.error = UpstreamUnavailable("ERP down", service="erp", status=503)
    for n in range(2):
        with pytest.raises(AvailabilityUnavailable):
            await avail.get([f"X{n}"])
    clock.advance(45)  # stale (past 10 s), the breaker still open (60 s)
    answers = await avail.get(["1000"])
    await avail.drain()
    assert all(a.stale and a.age_seconds == 45 for a in answers)
    assert len(source.calls) == 3  # the refresh was refused by the breaker, not sent
    await avail.aclose()


async def test_unit_conversion(avail: AvailabilityService, source: CountingSource) -> None:
    boxes = await avail.get(["1000"], unit="box")
    row = boxes[0].availability
    assert row.unit_of_measure_code == "BOX"
    # 100 / 12 = 8.333…, rounded to BC's 0.00001; 40 / 12; 20 / 12; 60 / 12 = 5; 80 / 12
    assert (row.inventory, row.qty_on_sales_orders, row.qty_on_purchase_orders) == (
        D("8.33333"),
        D("3.33333"),
        D("1.66667"),
    )
    assert (row.available_quantity, row.projected_available_quantity) == (D(5), D("6.66667"))
    pallets = await avail.get(["1000"], unit="PALLET")
    assert pallets[0].availability.inventory == D("0.20833")  # 100 / 480
    base = await avail.get(["1000"], unit="PCS")
    assert base[0].availability.inventory == D(100)
    assert len(source.calls) == 1  # conversion happens on the cached base-unit rows


async def test_an_unknown_unit_is_invalid_input(avail: AvailabilityService) -> None:
    with pytest.raises(InvalidInput) as info:
        await avail.get(["1000", "2000", "4000"], unit="PALLET")
    assert info.value.field == "unit"
    assert "2000, 4000" in str(info.value)
    with pytest.raises(InvalidInput):
        await avail.get(["1000"], unit=" ")
    with pytest.raises(InvalidInput):
        await avail.get(["1000", " "])


async def test_location_filters_are_passed_on_and_cached_apart(
    avail: AvailabilityService, source: CountingSource
) -> None:
    red = await avail.get(["1000"], location_codes=["RED"])
    assert [a.availability.location_code for a in red] == ["RED"]
    assert source.calls[-1] == (["1000"], ["RED"])
    everywhere = await avail.get(["1000"])
    assert len(everywhere) == 2
    await avail.get(["1000"], location_codes=["RED", "RED"])
    await avail.get(["1000"], location_codes=[])
    assert len(source.calls) == 2


async def test_unknown_items_have_no_answers_and_are_cached_too(
    cache_factory: CacheFactory, clock: Clock
) -> None:
    source = CountingSource(unknown=["NOPE"])
    avail = service(source, cache_factory(), clock)
    answers = await avail.get(["NOPE", "1000"])
    assert {a.availability.item_number for a in answers} == {"1000"}
    assert await avail.get(["NOPE"]) == []
    assert len(source.calls) == 1
    await avail.aclose()


async def test_a_cancelled_caller_does_not_cancel_the_shared_fetch(
    avail: AvailabilityService, source: CountingSource
) -> None:
    source.gate = asyncio.Event()
    leader = asyncio.create_task(avail.get(["1000"]))
    follower = asyncio.create_task(avail.get(["1000"]))
    await asyncio.sleep(0.05)
    leader.cancel()
    await asyncio.sleep(0)
    source.gate.set()
    assert len(await follower) == 2
    assert len(source.calls) == 1


@pytest.fixture
async def redis_factory(redis_url: str) -> AsyncIterator[CacheFactory]:
    factory = CacheFactory(redis_url, f"test-availability-{uuid.uuid4().hex[:12]}")
    yield factory
    await factory.close()


@pytest.mark.redis
async def test_processes_sharing_redis_make_one_call(
    source: CountingSource, redis_factory: CacheFactory, clock: Clock
) -> None:
    # Four services on four Redis connections stand for four gateway processes.
    services = [service(source, redis_factory(), clock) for _ in range(4)]
    source.gate = asyncio.Event()
    gets = [asyncio.create_task(services[n % 4].get(["1000", "2000"])) for n in range(1000)]
    await until(lambda: bool(source.calls))
    await asyncio.sleep(0.1)  # let the other three "processes" find the lock taken and wait
    source.gate.set()
    answers = await asyncio.gather(*gets)
    assert len(source.calls) == 1
    assert all(len(answer) == 4 for answer in answers)
    for svc in services:
        await svc.aclose()


@pytest.mark.redis
async def test_a_dead_lock_holder_is_taken_over_after_the_lease(
    source: CountingSource, redis_factory: CacheFactory, clock: Clock
) -> None:
    cache = redis_factory()
    avail = service(source, cache, clock, lock_seconds=0.3)
    # A "process" took the lock for item 1000 and died without writing a value or releasing.
    key = avail._key("1000", None)
    await cache.client.set(cache.build_key(f"lock:{key}"), "dead", px=300)
    answers = await avail.get(["1000", "2000"])
    assert len(answers) == 4
    assert sorted(n for numbers, _ in source.calls for n in numbers) == ["1000", "2000"]
    await avail.aclose()
