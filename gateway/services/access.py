"""API keys and callers: who may call the gateway, and with which role.

Keys are stored hashed by `gateway.store.api_keys`; this service turns a presented key into a
`Principal`, and issues or revokes keys for the CLI. A verified key is remembered for
`cache_seconds` (GATEWAY_API_KEY_CACHE_SECONDS), so a request costs no store lookup: a key revoked
by another process is refused within that delay, one revoked through this service at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from gateway.domain import Principal, Role
from gateway.errors import InvalidInput
from gateway.store import api_keys, read_catalog
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


class VerifiedKeys:
    """Principals of keys found valid in the store, each until `seconds` after its lookup.

    Keyed by the key's hash (no plaintext kept); unknown keys are not remembered, so a new key
    works at once and guessing cannot fill the memory. At most `max_entries`: past that, expired
    entries go first, then the oldest.
    """

    def __init__(
        self, *, seconds: float, clock: Callable[[], float] = time.monotonic, max_entries: int = 10_000
    ) -> None:
        self.seconds = seconds
        self._clock = clock
        self._max = max_entries
        self._entries: dict[str, tuple[Principal, float]] = {}

    def get(self, key_hash: str) -> Principal | None:
        entry = self._entries.get(key_hash)
        if entry is None:
            return None
        if self._clock() >= entry[1]:
            del self._entries[key_hash]
            return None
        return entry[0]

    def put(self, key_hash: str, principal: Principal) -> None:
        if self.seconds <= 0:
            return
        now = self._clock()
        if len(self._entries) >= self._max:
            for stale in [h for h, (_, until) in self._entries.items() if until <= now]:
                del self._entries[stale]
            while len(self._entries) >= self._max:
                del self._entries[next(iter(self._entries))]
        self._entries[key_hash] = (principal, now + self.seconds)

    def forget(self, key_id: str) -> None:
        for stale in [h for h, (p, _) in self._entries.items() if p.key_id == key_id]:
            del self._entries[stale]


class AccessService:
    def __init__(
        self,
        *,
        sessions: SessionFactory,
        read_sessions: SessionFactory | None = None,
        cache_seconds: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        # Lookups only read: on SQLite a read session takes no write lock, so authenticating never
        # queues behind a sync transaction.
        self._read_sessions = read_sessions or sessions
        self._verified = VerifiedKeys(seconds=cache_seconds, clock=clock)

    async def authenticate(self, plaintext: str) -> Principal | None:
        """The caller a key belongs to, or None for an unknown or revoked key."""
        if not plaintext or len(plaintext) > 512 or not plaintext.startswith(api_keys.KEY_PREFIX):
            return None
        key_hash = api_keys.hash_key(plaintext)
        principal = self._verified.get(key_hash)
        if principal is not None:
            return principal
        async with self._read_sessions() as session:
            key = await api_keys.find_api_key(session, plaintext=plaintext)
        if key is None:
            return None
        principal = Principal(
            key_id=str(key.id),
            role=Role(key.role),
            name=key.name or "",
            salesperson_code=key.salesperson_code,
        )
        self._verified.put(key_hash, principal)
        return principal

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

    async def salesperson_known(self, code: str) -> bool:
        """Whether the store holds a salesperson with this code (from either side, as synchronized)."""
        async with self._sessions() as session:
            found = await read_catalog.records_by(session, kind="salespeople", column="number", values=[code])
        return code in found

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
        self._verified.forget(key_id)
