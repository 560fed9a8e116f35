"""API keys and callers: who may call the gateway, and with which role.

Keys are stored hashed by `gateway.store.api_keys`; this service turns a presented key into a
`Principal`, and issues or revokes keys for the CLI.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from gateway.domain import Principal, Role
from gateway.errors import InvalidInput
from gateway.store import api_keys
from gateway.store.engine import SessionFactory


@dataclass(frozen=True, slots=True)
class IssuedKey:
    principal: Principal
    plaintext: str


@dataclass(frozen=True, slots=True)
class KeyInfo:
    key_id: str
    name: str
    prefix: str
    role: Role
    salesperson_code: str | None
    created_at: datetime
    revoked: bool


class AccessService:
    def __init__(self, *, sessions: SessionFactory) -> None:
        self._sessions = sessions

    async def authenticate(self, plaintext: str) -> Principal | None:
        """The caller a key belongs to, or None for an unknown or revoked key."""
        if not plaintext or len(plaintext) > 512:
            return None
        async with self._sessions() as session:
            key = await api_keys.find_api_key(session, plaintext=plaintext)
        if key is None:
            return None
        return Principal(
            key_id=str(key.id),
            role=Role(key.role),
            name=key.name or "",
            salesperson_code=key.salesperson_code,
        )

    async def issue(
        self, *, role: str, salesperson_code: str | None = None, name: str | None = None
    ) -> IssuedKey:
        try:
            parsed = Role(role)
        except ValueError:
            raise InvalidInput(
                f"role must be one of {', '.join(r.value for r in Role)}", field="role"
            ) from None
        if salesperson_code and parsed is not Role.SALES:
            raise InvalidInput("only a sales key may name a salesperson", field="salesperson")
        async with self._sessions() as session:
            key, plaintext = await api_keys.create_api_key(
                session, role=parsed.value, salesperson_code=salesperson_code or None, name=name
            )
            await session.commit()
        principal = Principal(
            key_id=str(key.id), role=parsed, name=key.name or "", salesperson_code=key.salesperson_code
        )
        return IssuedKey(principal=principal, plaintext=plaintext)

    async def list_keys(self) -> Sequence[KeyInfo]:
        async with self._sessions() as session:
            keys = await api_keys.list_api_keys(session)
        return [
            KeyInfo(
                key_id=str(k.id),
                name=k.name or "",
                prefix=k.prefix,
                role=Role(k.role),
                salesperson_code=k.salesperson_code,
                created_at=k.created_at,
                revoked=k.revoked_at is not None,
            )
            for k in keys
        ]

    async def revoke(self, *, key_id: str) -> None:
        async with self._sessions() as session:
            await api_keys.revoke_api_key(session, key_id=key_id)
            await session.commit()
