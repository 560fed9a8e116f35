"""The fence a sync run checks right before each commit of sync state: a `Fence` raises `StaleLease`
when this run no longer owns its mapping-direction, so a stalled worker can never overwrite a newer one.

The sync engine depends only on the `Fence` protocol; the scheduler hands it a `LeaseFence`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol, runtime_checkable

from gateway.store.engine import StoreSession
from gateway.store.leases import check_fence
from gateway.store.types import utcnow


@runtime_checkable
class Fence(Protocol):
    async def check(self, session: StoreSession) -> None:
        """Raise `gateway.errors.StaleLease` unless the caller still owns its lease; call it inside the
        transaction that is about to commit, as its last statement before the commit."""


class LeaseFence:
    """Checks lease `name` is still at `generation` (and unexpired) in the writer's own transaction.

    With `ttl` (the lease's TTL) each check also renews the lease for `ttl` from now: every commit
    of the run keeps its lease, whether or not its renewal task got the store's write lock in time
    (on SQLite it waits behind the run's own transactions; see `check_fence`)."""

    __slots__ = ("_clock", "generation", "name", "ttl")

    def __init__(
        self,
        name: str,
        generation: int,
        *,
        clock: Callable[[], datetime] = utcnow,
        ttl: float | None = None,
    ) -> None:
        self.name = name
        self.generation = generation
        self._clock = clock
        self.ttl = ttl

    def __repr__(self) -> str:
        return f"LeaseFence({self.name!r}, {self.generation})"

    async def check(self, session: StoreSession) -> None:
        await check_fence(
            session, name=self.name, generation=self.generation, now=self._clock(), extend_ttl=self.ttl
        )


class NoFence:
    """For runs outside any scheduler (a CLI one-off against a private database, tests): never refuses."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NoFence()"

    async def check(self, session: StoreSession) -> None:
        return None


__all__ = ["Fence", "LeaseFence", "NoFence"]
