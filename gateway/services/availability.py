"""Live item availability (DOMAIN.md §2.1 itemAvailabilities, §10): per item, location and unit,
fetched from the ERP in chunks, cached for seconds, served stale with its age while the ERP is down.

Per cache key (item number + location filter) a value is fresh for `fresh_seconds`, then served
stale while one background refresh runs (stale-while-revalidate) until `max_stale_seconds`; past
that a caller waits for the ERP, and if the ERP fails gets `AvailabilityUnavailable` saying how old
the last value is. Concurrent misses share one fetch: one future per key in a process, and with a
Redis cache one short lock per key across processes (see `availability_locks`). A circuit breaker
stops calling an ERP that keeps failing. Each fetch has a total deadline (`deadline_seconds`,
retries and waits for another process's fetch included, see `policy.call_budget`): a down or stalled
ERP costs a cold caller at most that before `AvailabilityUnavailable`. Answers, and the error with the
last values' ages, are built in `availability_answers`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote

from aiocache.base import BaseCache

from gateway.domain import Availability, AvailabilityAnswer
from gateway.errors import CircuitOpen, InvalidInput, UpstreamError, UpstreamTimeout
from gateway.services.availability_answers import AvailabilityAnswers
from gateway.services.availability_locks import KeyLocks, locks_for
from gateway.services.availability_reads import BatchedReads, DecodedValues
from gateway.services.availability_units import UnitLookup, UnitTable
from gateway.services.circuit import CircuitBreaker, CircuitState
from gateway.upstream.policy import call_budget, current_budget

__all__ = ["AvailabilityService", "AvailabilitySource", "CachedAvailability", "UnitLookup", "UnitTable"]

log = logging.getLogger(__name__)

# Bump when CachedAvailability changes shape, so a rolling deploy ignores the old entries.
KEY_PREFIX = "availability:v1"


class AvailabilitySource(Protocol):
    """Where live availability comes from: `gateway.upstream.erp.ErpConnector` in production."""

    async def availability(
        self, item_numbers: Sequence[str], *, location_codes: Sequence[str] | None = None
    ) -> list[Availability]: ...


@dataclass(frozen=True, slots=True)
class CachedAvailability:
    """One cache value: an item's rows in its base unit and when this gateway fetched them."""

    item_number: str
    rows: tuple[Availability, ...]
    fetched_at: float
    """Epoch seconds: shared by all processes, unlike a monotonic clock."""
    token: str
    """Unique per fetch, so a waiter can tell that a newer value has arrived."""


Outcome = CachedAvailability | Exception


def _unique(item_numbers: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for raw in item_numbers:
        number = raw.strip()
        if not number:
            raise InvalidInput("item numbers must not be empty", field="itemNumbers")
        seen.setdefault(number, None)
    return list(seen)


def _locations(location_codes: Sequence[str] | None) -> tuple[str, ...] | None:
    """Canonical location filter; None and an empty list both mean every location."""
    if not location_codes:
        return None
    return tuple(sorted({code.strip() for code in location_codes}))


class AvailabilityService(AvailabilityAnswers):
    """Answers `get()`; owns background refresh tasks (call `aclose()` on shutdown)."""

    def __init__(
        self,
        *,
        source: AvailabilitySource,
        cache: BaseCache,
        units: UnitLookup | None = None,
        fresh_seconds: float = 10.0,
        max_stale_seconds: float = 300.0,
        chunk_size: int = 50,
        breaker_failures: int = 5,
        breaker_reset_seconds: float = 30.0,
        lock_seconds: float = 15.0,
        poll_seconds: float = 0.05,
        deadline_seconds: float = 3.0,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if fresh_seconds < 0 or max_stale_seconds < fresh_seconds:
            raise ValueError("need 0 <= fresh_seconds <= max_stale_seconds")
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        if deadline_seconds <= 0:
            raise ValueError("deadline_seconds must be positive")
        self._source = source
        self._cache = cache
        self._units = units
        self.fresh_seconds = fresh_seconds
        self.max_stale_seconds = max_stale_seconds
        self.chunk_size = chunk_size
        self.deadline_seconds = deadline_seconds
        # Kept past max_stale so that the error can still say how old the last value was.
        self._retention = float(2 * max_stale_seconds + fresh_seconds + 1)
        self._poll = poll_seconds
        self._clock = clock
        self.breaker = CircuitBreaker(
            service="erp",
            failure_threshold=breaker_failures,
            reset_seconds=breaker_reset_seconds,
            clock=monotonic,
        )
        self._locks: KeyLocks = locks_for(cache, lease_seconds=lock_seconds)
        # Entries are frozen all the way down, so readers may share one decoded object per entry.
        self._decoded = DecodedValues(cache.serializer.loads)
        self._reads = BatchedReads(cache, loads=self._decoded)
        self._inflight: dict[str, asyncio.Future[Outcome]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # ----------------------------------------------------------------------------------------
    # The public side

    async def get(
        self,
        item_numbers: Sequence[str],
        *,
        location_codes: Sequence[str] | None = None,
        unit: str | None = None,
    ) -> list[AvailabilityAnswer]:
        """Availability of each item (one answer per item and location), in `unit` when given
        (else each item's base unit). Items the ERP does not know have no answers."""
        items = _unique(item_numbers)
        if not items:
            return []
        locations = _locations(location_codes)
        keys = {item: self._key(item, locations) for item in items}
        cached = await self._read(keys.values())
        now = self._clock()
        entries: dict[str, CachedAvailability] = {}
        load: dict[str, str | None] = {}
        refresh: dict[str, str | None] = {}
        for item in items:
            entry = cached[keys[item]]
            age = None if entry is None else now - entry.fetched_at
            if entry is None or age is None or age > self.max_stale_seconds:
                load[item] = None if entry is None else entry.token
                continue
            entries[item] = entry
            if age >= self.fresh_seconds:
                refresh[item] = entry.token
        if refresh and self.breaker.state() is not CircuitState.OPEN:
            self._start(refresh, locations)  # stale-while-revalidate: nobody waits for it
        if load:
            futures = self._start(load, locations)
            outcomes = await asyncio.shield(asyncio.gather(*futures.values()))
            failures: dict[str, UpstreamError] = {}
            for item, outcome in zip(futures, outcomes, strict=True):
                if isinstance(outcome, CachedAvailability):
                    entries[item] = outcome
                elif isinstance(outcome, UpstreamError):
                    failures[item] = outcome
                else:
                    raise outcome
            if failures:
                raise self._unavailable(failures, cached={i: cached[keys[i]] for i in failures}, now=now)
        return await self._answers(items, entries, unit=unit, now=self._clock())

    @property
    def entries_decoded(self) -> int:
        """Cache entries decoded (unpickled) so far: once per stored value, not per read."""
        return self._decoded.decoded

    async def drain(self) -> None:
        """Wait until the background refreshes started so far have finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        """Cancel background refreshes (lifespan shutdown)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # ----------------------------------------------------------------------------------------
    # Cache

    @staticmethod
    def _key(item: str, locations: tuple[str, ...] | None) -> str:
        where = "*" if locations is None else ",".join(quote(code, safe="") for code in locations)
        return f"{KEY_PREFIX}:{quote(item, safe='')}@{where}"

    async def _read(self, keys: Collection[str]) -> dict[str, CachedAvailability | None]:
        ordered = list(keys)
        try:
            values = await self._reads.get_many(ordered)
        except Exception as exc:  # a cache outage degrades to asking the ERP, it does not fail
            log.warning("availability cache not readable: %s: %s", type(exc).__name__, exc)
            return dict.fromkeys(ordered)
        return {
            key: value if isinstance(value, CachedAvailability) else None
            for key, value in zip(ordered, values, strict=True)
        }

    # ----------------------------------------------------------------------------------------
    # Single flight

    def _start(
        self, baseline: Mapping[str, str | None], locations: tuple[str, ...] | None
    ) -> dict[str, asyncio.Future[Outcome]]:
        """The future of a fetch for each item: joined when one is in flight, else started.
        `baseline` is each item's token as the caller saw it (None: no value)."""
        loop = asyncio.get_running_loop()
        futures: dict[str, asyncio.Future[Outcome]] = {}
        claimed: dict[str, str | None] = {}
        for item, token in baseline.items():
            key = self._key(item, locations)
            future = self._inflight.get(key)
            if future is None:
                future = loop.create_future()
                self._inflight[key] = future
                claimed[item] = token
            futures[item] = future
        if claimed:
            mine = {item: futures[item] for item in claimed}
            task = asyncio.create_task(self._fetch(claimed, locations, mine))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return futures

    def _settle(self, key: str, future: asyncio.Future[Outcome], outcome: Outcome) -> None:
        if self._inflight.get(key) is future:
            del self._inflight[key]
        if not future.done():
            future.set_result(outcome)

    async def _fetch(
        self,
        baseline: Mapping[str, str | None],
        locations: tuple[str, ...] | None,
        futures: Mapping[str, asyncio.Future[Outcome]],
    ) -> None:
        keys = {item: self._key(item, locations) for item in baseline}

        def settle(item: str, outcome: Outcome) -> None:
            self._settle(keys[item], futures[item], outcome)

        pending = set(baseline)
        loop = asyncio.get_running_loop()
        try:
            # Every ERP request of this fetch (the chunks' tasks inherit the budget) ends by the deadline.
            with call_budget(seconds=self.deadline_seconds) as budget:
                await self._fetch_within(
                    budget.deadline or loop.time(), locations, keys, pending, baseline, settle
                )
        except Exception as exc:
            log.exception("availability fetch failed unexpectedly")
            for item in baseline:
                settle(item, exc)
        finally:
            for item, future in futures.items():
                if not future.done():  # cancelled: waiters must not hang
                    future.cancel()
                if self._inflight.get(keys[item]) is future:
                    del self._inflight[keys[item]]

    async def _fetch_within(
        self,
        deadline: float,
        locations: tuple[str, ...] | None,
        keys: Mapping[str, str],
        pending: set[str],
        baseline: Mapping[str, str | None],
        settle: Callable[[str, Outcome], None],
    ) -> None:
        """Fetch (or wait for another process's fetch of) the `pending` items until `deadline`."""

        def arrived(item: str, entry: CachedAvailability | None) -> bool:
            return entry is not None and entry.token != baseline[item]

        loop = asyncio.get_running_loop()
        while pending:
            won = await self._locks.acquire([keys[item] for item in pending])
            mine = [item for item in baseline if item in pending and keys[item] in won]
            if mine:
                try:
                    # Another caller may have stored a value since ours read the cache.
                    current = await self._read([keys[item] for item in mine])
                    fetch = []
                    for item in mine:
                        entry = current[keys[item]]
                        if entry is not None and arrived(item, entry):
                            settle(item, entry)
                        else:
                            fetch.append(item)
                    await self._call(fetch, locations, keys, settle)
                finally:
                    await self._locks.release([keys[item] for item in mine])
                pending.difference_update(mine)
            if pending:
                # Another process holds these locks: wait for its value or its lock to lapse.
                await asyncio.sleep(self._poll)
                current = await self._read([keys[item] for item in pending])
                for item in list(pending):
                    entry = current[keys[item]]
                    if entry is not None and arrived(item, entry):
                        settle(item, entry)
                        pending.discard(item)
                if pending and loop.time() >= deadline:
                    # Another process still holds these items' locks: stop waiting for its value.
                    late = UpstreamTimeout(
                        f"availability not fetched within {self.deadline_seconds:g}s "
                        "(another process's fetch of these items has not finished)",
                        service="erp",
                    )
                    for item in pending:
                        settle(item, late)
                    pending.clear()

    async def _call(
        self,
        items: Sequence[str],
        locations: tuple[str, ...] | None,
        keys: Mapping[str, str],
        settle: Callable[[str, Outcome], None],
    ) -> None:
        """One upstream call per chunk of `chunk_size` items (`itemNumber in (...)`)."""
        chunks = [items[i : i + self.chunk_size] for i in range(0, len(items), self.chunk_size)]
        await asyncio.gather(*(self._call_chunk(chunk, locations, keys, settle) for chunk in chunks))

    async def _live(self, chunk: Sequence[str], locations: tuple[str, ...] | None) -> list[Availability]:
        """The source's answer by the fetch's deadline. The ERP connector's requests already end by
        it (`call_budget`); this bounds whatever else the source might wait on."""
        deadline = current_budget().deadline
        try:
            async with asyncio.timeout_at(deadline):
                return await self._source.availability(
                    list(chunk), location_codes=list(locations) if locations else None
                )
        except TimeoutError:
            raise UpstreamTimeout(
                f"availability not fetched within {self.deadline_seconds:g}s", service="erp"
            ) from None

    async def _call_chunk(
        self,
        chunk: Sequence[str],
        locations: tuple[str, ...] | None,
        keys: Mapping[str, str],
        settle: Callable[[str, Outcome], None],
    ) -> None:
        try:
            rows = await self.breaker.call(lambda: self._live(chunk, locations))
        except UpstreamError as exc:
            level = logging.DEBUG if isinstance(exc, CircuitOpen) else logging.WARNING
            log.log(level, "availability of %d item(s) not fetched: %s", len(chunk), exc)
            for item in chunk:
                settle(item, exc)
            return
        by_item: dict[str, list[Availability]] = {item.upper(): [] for item in chunk}
        for row in rows:
            bucket = by_item.get(row.item_number.upper())
            if bucket is not None:  # ignore rows we did not ask for
                bucket.append(row)
        now = self._clock()
        entries = {
            item: CachedAvailability(
                item_number=item,
                rows=tuple(sorted(by_item[item.upper()], key=lambda row: row.location_code)),
                fetched_at=now,
                token=uuid.uuid4().hex,
            )
            for item in chunk
        }
        try:
            await self._cache.multi_set(
                [(keys[item], entry) for item, entry in entries.items()], ttl=self._retention
            )
        except Exception as exc:  # a cache outage must not hide a good ERP answer
            log.warning("availability not cached: %s: %s", type(exc).__name__, exc)
        for item, entry in entries.items():
            settle(item, entry)
