"""API keys: the plaintext is returned once, only its hash is stored, revoked keys stop working."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.domain import Role
from gateway.errors import InvalidInput, NotFound
from gateway.store.api_keys import (
    create_api_key,
    find_api_key,
    generate_key,
    get_api_key,
    list_api_keys,
    mark_api_key_used,
    revoke_api_key,
)


def test_generate_key_is_random_and_prefixed() -> None:
    keys = {generate_key(role="admin") for _ in range(50)}
    assert len(keys) == 50
    assert all(k.startswith("gw_") and len(k) >= 40 for k in keys)


def test_generate_key_rejects_an_unknown_role() -> None:
    with pytest.raises(InvalidInput) as caught:
        generate_key(role="root")
    assert caught.value.field == "role"


async def test_create_stores_only_the_hash(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as session:
        key, plaintext = await create_api_key(session, role=Role.SALES, salesperson_code="PS", name="Peter")
    assert key.role == "sales" and key.salesperson_code == "PS" and key.name == "Peter"
    assert key.key_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    assert plaintext.startswith(key.prefix) and len(key.prefix) < len(plaintext) // 3
    assert key.created_at.tzinfo is not None and key.revoked_at is None

    async with sessions() as session:
        rows = (await session.exec(text("SELECT * FROM api_key"))).mappings().all()  # type: ignore[call-overload]
    assert len(rows) == 1
    assert plaintext not in {str(v) for v in rows[0].values()}


async def test_find_by_plaintext(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as session:
        admin, admin_plain = await create_api_key(session, role="admin")
        app, app_plain = await create_api_key(session, role="app", name="shop")
    async with sessions() as session:
        found = await find_api_key(session, plaintext=admin_plain)
        assert found is not None and found.id == admin.id and found.role == "admin"
        found = await find_api_key(session, plaintext=app_plain)
        assert found is not None and found.id == app.id
        assert await find_api_key(session, plaintext=admin_plain + "x") is None
        assert await find_api_key(session, plaintext="gw_unknown") is None
        assert await find_api_key(session, plaintext="") is None


async def test_bad_role_writes_nothing(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        with pytest.raises(InvalidInput):
            await create_api_key(session, role="superuser")
        with pytest.raises(InvalidInput):
            await create_api_key(session, role="sales", salesperson_code="  ")
        await session.commit()
        assert await list_api_keys(session) == []


async def test_revoke_and_list(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as session:
        first, first_plain = await create_api_key(session, role="admin", name="a")
        await create_api_key(session, role="app", name="b")
    async with sessions.begin() as session:
        revoked = await revoke_api_key(session, key_id=first.id)
        assert revoked.revoked_at is not None
        again = await revoke_api_key(session, key_id=first.id)
        assert again.revoked_at == revoked.revoked_at
    async with sessions() as session:
        assert await find_api_key(session, plaintext=first_plain) is None
        assert [k.name for k in await list_api_keys(session)] == ["a", "b"]
        assert [k.name for k in await list_api_keys(session, include_revoked=False)] == ["b"]
        with pytest.raises(NotFound):
            await revoke_api_key(session, key_id="nope")
        with pytest.raises(NotFound):
            await get_api_key(session, key_id="nope")


async def test_mark_used_round_trips_an_aware_utc_time(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as session:
        key, _ = await create_api_key(session, role="app")
    moment = datetime(2026, 11, 25, 18, 30, 15, 123456, tzinfo=UTC)
    async with sessions.begin() as session:
        await mark_api_key_used(session, key_id=key.id, at=moment)
    async with sessions() as session:
        stored = await get_api_key(session, key_id=key.id)
    assert stored.last_used_at == moment
    assert stored.last_used_at is not None and stored.last_used_at.utcoffset() is not None
