"""The in-process cache of verified API keys, over HTTP against a whole gateway: one store lookup
for many requests with the same key, revocation elsewhere honoured within the stated delay (on an
injected clock), revocation through this process at once, unknown keys never remembered."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from gateway.services.access import AccessService
from gateway.store.engine import count_queries, read_session_factory, session_factory
from tests.gateway_harness import Harness, running_gateway

CACHE_SECONDS = 5.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_gateway(f"sqlite+aiosqlite:///{tmp_path}/gw.db") as harness:
        yield harness


def _with_access(gw: Harness, *, clock: Clock, seconds: float = CACHE_SECONDS) -> AccessService:
    """The app's access service rebuilt with a clock the test moves."""
    engine = gw.app.state.engine
    access = AccessService(
        sessions=session_factory(engine),
        read_sessions=read_session_factory(engine),
        cache_seconds=seconds,
        clock=clock,
    )
    gw.app.state.services = dataclasses.replace(gw.app.state.services, access=access)
    return access


async def _status(gw: Harness, key: str) -> int:
    response = await gw.client.get("/api/v1/items?first=1", headers={"Authorization": f"Bearer {key}"})
    return response.status_code


def _key_lookups(statements: list[str]) -> int:
    return sum("FROM api_key" in s for s in statements)


async def test_many_requests_with_one_key_cost_one_lookup(gw: Harness) -> None:
    access = _with_access(gw, clock=Clock())
    key = (await access.issue(role="app", name="shop")).plaintext
    with count_queries(gw.app.state.engine) as counter:
        statuses = [await _status(gw, key) for _ in range(10)]
    assert statuses == [200] * 10
    assert _key_lookups(counter.statements) == 1


async def test_the_app_caches_keys_by_default(gw: Harness) -> None:
    assert gw.settings.api_key_cache_seconds == CACHE_SECONDS
    key = (await gw.app.state.services.access.issue(role="app")).plaintext
    with count_queries(gw.app.state.engine) as counter:
        assert [await _status(gw, key) for _ in range(3)] == [200] * 3
    # at most one more lookup if the (real) clock crossed the cache period between two requests
    assert _key_lookups(counter.statements) in (1, 2)


async def test_a_key_revoked_by_another_process_is_refused_within_the_delay(gw: Harness) -> None:
    clock = Clock()
    access = _with_access(gw, clock=clock)
    issued = await access.issue(role="sales", name="field rep")
    assert await _status(gw, issued.plaintext) == 200
    # `gateway keys revoke` runs in another process: its own service, so this one's cache is not told
    cli = AccessService(sessions=session_factory(gw.app.state.engine))
    await cli.revoke(key_id=issued.principal.key_id)
    clock.now += CACHE_SECONDS - 0.01
    assert await _status(gw, issued.plaintext) == 200  # still remembered: the stated delay
    clock.now += 0.01
    assert await _status(gw, issued.plaintext) == 401
    clock.now += 100
    assert await _status(gw, issued.plaintext) == 401


async def test_a_key_revoked_through_this_process_is_refused_at_once(gw: Harness) -> None:
    access = _with_access(gw, clock=Clock())
    issued = await access.issue(role="admin")
    assert await _status(gw, issued.plaintext) == 200
    await access.revoke(key_id=issued.principal.key_id)
    assert await _status(gw, issued.plaintext) == 401


async def test_unknown_keys_are_not_remembered_and_zero_turns_the_cache_off(gw: Harness) -> None:
    access = _with_access(gw, clock=Clock(), seconds=0)
    unknown = "gw_" + "x" * 43
    with count_queries(gw.app.state.engine) as counter:
        assert [await _status(gw, unknown) for _ in range(3)] == [401] * 3
    assert _key_lookups(counter.statements) == 3
    key = (await access.issue(role="app")).plaintext
    with count_queries(gw.app.state.engine) as counter:
        assert [await _status(gw, key) for _ in range(3)] == [200] * 3
    assert _key_lookups(counter.statements) == 3


async def test_a_key_lookup_takes_no_write_lock(gw: Harness) -> None:
    access = _with_access(gw, clock=Clock())
    key = (await access.issue(role="app")).plaintext
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    sync_engine = gw.app.state.engine.sync_engine
    event.listen(sync_engine, "before_cursor_execute", record)
    try:
        assert await _status(gw, key) == 200
    finally:
        event.remove(sync_engine, "before_cursor_execute", record)
    # a read session: a plain BEGIN, so a long sync transaction holding the write lock (SQLite)
    # never delays authentication
    assert any("FROM api_key" in s for s in sent)
    assert "BEGIN" in sent and not any("IMMEDIATE" in s.upper() for s in sent)
