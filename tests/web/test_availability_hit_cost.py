"""What a cached availability answer costs the gateway, counted over HTTP against a whole gateway
(SQLite and PostgreSQL stores): after the first request (which looks the API key up and asks the
ERP), each further request for the same item makes no SQL statement and no upstream request,
decodes no cache entry again, starts one task (the batched cache read), and is matched by the first
route the router tries. The REST body is the one the generic serializer would give."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.routing import Match, Route
from starlette.types import Scope

from gateway.domain import Availability, AvailabilityAnswer, AvailabilityLine, Role
from gateway.simulators import SimulatorOptions
from gateway.simulators.demo_data import generate
from gateway.store.engine import count_queries
from gateway.web.pagination import to_json
from gateway.web.rest_availability import line_json
from tests.gateway_harness import Harness, running_gateway, simulator_requests
from tests.store.conftest import Databases

OPTIONS = SimulatorOptions(customers=20, items=20)
REQUESTS = 20


def _stocked_item() -> str:
    """An item with stock rows (as tests/web/test_rest_availability.py picks one: sold by the BOX)."""
    data = generate(seed=OPTIONS.seed, customers=OPTIONS.customers, items=OPTIONS.items)
    return next(str(u["itemNumber"]) for u in data.erp["itemUnitsOfMeasure"] if u["code"] == "BOX")


class Counted:
    """Route matches tried and tasks started while it counts (starlette's Route and asyncio's task
    factory, wrapped; the gateway's own code is not touched)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.matches = 0
        self.tasks = 0
        self.on = False
        original: Callable[[Route, Scope], tuple[Match, Scope]] = Route.matches

        def matches(route: Route, scope: Scope) -> tuple[Match, Scope]:
            self.matches += self.on
            return original(route, scope)

        monkeypatch.setattr(Route, "matches", matches)
        loop = asyncio.get_running_loop()
        previous = loop.get_task_factory()

        def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Future[Any]:
            self.tasks += self.on
            if previous is not None:
                return previous(loop, coro, **kwargs)
            return asyncio.Task(coro, loop=loop, **kwargs)

        loop.set_task_factory(factory)
        self._restore = lambda: loop.set_task_factory(previous)

    def close(self) -> None:
        self._restore()


async def _cached_answers_cost_nothing_again(gw: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    item = _stocked_item()
    headers = gw.auth(Role.APP)
    first = await gw.client.get("/api/v1/availability", params={"items": item}, headers=headers)
    assert first.status_code == 200 and first.json()["items"], first.text
    availability = gw.app.state.services.availability
    decoded = availability.entries_decoded
    upstream = await simulator_requests(gw.erp_sim, gw.crm_sim)
    counted = Counted(monkeypatch)
    try:
        with count_queries(gw.app.state.engine) as statements:
            counted.on = True
            answers = [
                await gw.client.get("/api/v1/availability", params={"items": item}, headers=headers)
                for _ in range(REQUESTS)
            ]
            counted.on = False
    finally:
        counted.close()
    assert [a.status_code for a in answers] == [200] * REQUESTS
    assert all(a.json()["items"][0]["itemNumber"] == item for a in answers)
    assert statements.count == 0, statements.statements
    assert await simulator_requests(gw.erp_sim, gw.crm_sim) == upstream
    assert availability.entries_decoded - decoded <= 1  # decoded once (the first read after the fetch)
    assert counted.matches == REQUESTS
    assert counted.tasks == REQUESTS


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_gateway(f"sqlite+aiosqlite:///{tmp_path}/gw.db", options=OPTIONS) as harness:
        yield harness


async def test_cached_answers_cost_no_statement_no_upstream_call_no_decoding(
    gw: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _cached_answers_cost_nothing_again(gw, monkeypatch)


@pytest.mark.postgres
async def test_the_same_on_postgresql(
    postgres_url: str, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    databases = Databases(tmp_path_factory.mktemp("avail-hit-pg"))
    url = await databases.postgres(postgres_url, migrated=False)
    try:
        async with running_gateway(url, options=OPTIONS) as harness:
            await _cached_answers_cost_nothing_again(harness, monkeypatch)
    finally:
        await databases.drop_all()


quantities = st.decimals(min_value=-(10**9), max_value=10**9, allow_nan=False, allow_infinity=False, places=5)


@given(
    quantities=st.lists(quantities, min_size=5, max_size=5),
    age=st.floats(min_value=0, max_value=10**6),
    stale=st.booleans(),
    unit=st.sampled_from(["PCS", "BOX", "pcs"]),
)
def test_the_rest_line_is_what_the_generic_serializer_gives(
    quantities: list[Decimal], age: float, stale: bool, unit: str
) -> None:
    row = Availability("1000-L", "EAST", unit, *quantities, as_of=datetime(2026, 11, 26, 6, 0, tzinfo=UTC))
    answer = AvailabilityAnswer(
        availability=row,
        as_of=datetime(2026, 11, 26, 6, 1, 2, 345678, tzinfo=UTC),
        age_seconds=age,
        stale=stale,
    )
    assert list(line_json(answer).items()) == list(to_json(AvailabilityLine.of(answer)).items())
