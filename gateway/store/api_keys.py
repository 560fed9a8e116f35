"""API keys: create (the plaintext is shown once), look up by plaintext, list, revoke.

Only the SHA-256 of a key is stored; the functions flush but never commit (the caller owns the transaction).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.domain import Role
from gateway.errors import InvalidInput, NotFound
from gateway.store.tables import ApiKey
from gateway.store.types import utcnow

KEY_PREFIX = "gw_"
# Shown in listings so an admin can tell keys apart: "gw_" plus 8 characters of the secret part.
DISPLAY_PREFIX_LENGTH = len(KEY_PREFIX) + 8


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise InvalidInput(f"unknown role {role!r}; expected one of {allowed}", field="role") from None


def hash_key(plaintext: str) -> str:
    # Keys carry 256 bits of randomness, so a fast unsalted hash is enough (no dictionary to attack).
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def generate_key(*, role: Role | str) -> str:
    """A new random key, e.g. "gw_3q…"; `role` is validated so a bad role fails before anything is made."""
    _role(role)
    return KEY_PREFIX + secrets.token_urlsafe(32)


async def create_api_key(
    session: AsyncSession,
    *,
    role: Role | str,
    salesperson_code: str | None = None,
    name: str | None = None,
) -> tuple[ApiKey, str]:
    """Store a new key and return it with its plaintext, which is never retrievable again."""
    checked = _role(role)
    if salesperson_code is not None and not salesperson_code.strip():
        raise InvalidInput("salesperson_code must not be blank", field="salesperson_code")
    plaintext = generate_key(role=checked)
    key = ApiKey(
        name=name,
        prefix=plaintext[:DISPLAY_PREFIX_LENGTH],
        key_hash=hash_key(plaintext),
        role=checked.value,
        salesperson_code=salesperson_code,
    )
    session.add(key)
    await session.flush()
    return key, plaintext


async def find_api_key(session: AsyncSession, *, plaintext: str) -> ApiKey | None:
    """The key with this plaintext, unless unknown or revoked."""
    if not plaintext.startswith(KEY_PREFIX):
        return None
    statement = select(ApiKey).where(ApiKey.key_hash == hash_key(plaintext), col(ApiKey.revoked_at).is_(None))
    return (await session.exec(statement)).first()


async def get_api_key(session: AsyncSession, *, key_id: str) -> ApiKey:
    key = await session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"no API key with id {key_id!r}")
    return key


async def list_api_keys(session: AsyncSession, *, include_revoked: bool = True) -> Sequence[ApiKey]:
    """Every key, oldest first (hashes included; callers show `prefix`, never `key_hash`)."""
    statement = select(ApiKey).order_by(col(ApiKey.created_at), col(ApiKey.id))
    if not include_revoked:
        statement = statement.where(col(ApiKey.revoked_at).is_(None))
    return (await session.exec(statement)).all()


async def revoke_api_key(session: AsyncSession, *, key_id: str) -> ApiKey:
    """Revoke a key (idempotent: revoking twice keeps the first time). NotFound for an unknown id."""
    key = await get_api_key(session, key_id=key_id)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.add(key)
        await session.flush()
    return key


async def mark_api_key_used(session: AsyncSession, *, key_id: str, at: datetime | None = None) -> None:
    """Remember when a key was last used (callers may throttle this; it is one UPDATE)."""
    key = await get_api_key(session, key_id=key_id)
    key.last_used_at = at or utcnow()
    session.add(key)
    await session.flush()
