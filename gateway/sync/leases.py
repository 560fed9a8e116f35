"""Holding several leases for one piece of work outside the scheduler (a full synchronization started
by an admin, a one-off run): all-or-nothing acquire, renewal in the background, release on exit.

    async with hold_leases(sessions, names=[...], holder=worker_id) as held:
        if held is None: ...                     # someone else runs one of them: try later
        await full_sync.run(fence_for=held.fence_for_mapping)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime

from gateway.errors import StaleLease
from gateway.store.engine import SessionFactory, StoreSession
from gateway.store.leases import LeaseGrant, release, renew
from gateway.store.types import utcnow
from gateway.sync.fencing import Fence, LeaseFence
from gateway.sync.orphans import take_lease

log = logging.getLogger(__name__)


class AllFences:
    """A fence over several leases: a writer that touches both directions of a mapping needs both."""

    __slots__ = ("fences",)

    def __init__(self, fences: Sequence[Fence]) -> None:
        self.fences = tuple(fences)

    def __repr__(self) -> str:
        return f"AllFences({list(self.fences)!r})"

    async def check(self, session: StoreSession) -> None:
        for fence in self.fences:
            await fence.check(session)


@dataclass
class HeldLeases:
    """Leases held together; `lost` is set when any of them could not be renewed."""

    grants: dict[str, LeaseGrant]
    clock: Callable[[], datetime]
    ttl: float | None = None
    """Each fence check renews its leases for this long (`LeaseFence`); None: only the renewal task."""
    lost: asyncio.Event = field(default_factory=asyncio.Event)

    def fence(self, *names: str) -> Fence:
        """The fence over the named leases (all of them when none are named)."""
        chosen = names or tuple(self.grants)
        return AllFences(
            [LeaseFence(n, self.grants[n].generation, clock=self.clock, ttl=self.ttl) for n in chosen]
        )

    def fence_for_mapping(self, mapping: str) -> Fence:
        """The fence over every held lease of `mapping` ("MAPPING:direction" names)."""
        return self.fence(*(n for n in self.grants if n.rsplit(":", 1)[0] == mapping))


async def _release_all(
    sessions: SessionFactory, grants: Sequence[LeaseGrant], *, holder: str, clock: Callable[[], datetime]
) -> None:
    for grant in grants:
        try:
            async with sessions.begin() as session:
                # Due at once: the scheduler's next incremental run follows up on what changed meanwhile.
                await release(
                    session, name=grant.name, holder=holder, generation=grant.generation, now=clock()
                )
        except Exception:  # it then expires by itself
            log.exception("could not release lease %s", grant.name)


async def renew_grants(
    sessions: SessionFactory,
    grants: Sequence[LeaseGrant],
    *,
    holder: str,
    ttl: float,
    clock: Callable[[], datetime],
) -> list[str]:
    """Extend every lease in `grants` in ONE write transaction; returns the names found lost.

    One transaction, not one per lease: on SQLite each write transaction queues for the write lock
    behind the run's own page transactions, so renewing a full sync's 12 leases one by one could
    take longer than their TTL (the admin full sync lost CUSTOMER:erp_to_crm at 20,000 customers).
    A renewal asked for in time counts even if it then waited for the store's write lock, and the
    new expiry counts from when it got the lock: one that waited 11 s behind a run's transaction
    extended the leases from before the wait, and the next renewal found them expired.
    The scheduler and `hold_leases` both renew through here."""
    lost: list[str] = []
    if not grants:
        return lost
    asked_at = clock()
    async with sessions.begin() as session:
        await session.connection()  # begins the transaction: on SQLite, waits for the write lock
        now = max(clock(), asked_at)
        for grant in grants:
            try:
                await renew(
                    session,
                    name=grant.name,
                    holder=holder,
                    generation=grant.generation,
                    ttl=ttl,
                    now=now,
                    asked_at=asked_at,
                )
            except StaleLease:  # its UPDATE changed nothing: the others still commit
                lost.append(grant.name)
    return lost


@asynccontextmanager
async def hold_leases(
    sessions: SessionFactory,
    *,
    names: Sequence[str],
    holder: str,
    ttl: float = 15.0,
    renew_every: float | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> AsyncIterator[HeldLeases | None]:
    """Acquire every lease in `names` (in sorted order) or none: yields None when any is held
    elsewhere. Jobs an earlier holder left unfinished under them are marked abandoned. While the
    block runs they are renewed every `renew_every` (default ttl/3).

    `holder` must not be a scheduler's worker id: a holder may re-take its own lease, which would
    fence out that scheduler's run (use e.g. f"{worker_id}/full")."""
    period = renew_every if renew_every is not None else ttl / 3
    grants: list[LeaseGrant] = []
    for name in sorted(set(names)):
        async with sessions.begin() as session:
            grant = await take_lease(session, name=name, holder=holder, ttl=ttl, now=clock())
        if grant is None:
            await _release_all(sessions, grants, holder=holder, clock=clock)
            yield None
            return
        grants.append(grant)
    held = HeldLeases({g.name: g for g in grants}, clock=clock, ttl=ttl)

    async def keep_alive() -> None:
        while True:
            await asyncio.sleep(period)
            try:
                lost = await renew_grants(sessions, grants, holder=holder, ttl=ttl, clock=clock)
            except Exception:  # a database hiccup: the TTL leaves room for the next attempt
                log.exception("could not renew the leases of %s", holder)
                continue
            for name in lost:
                log.warning("lease %s lost while held by %s", name, holder)
            if lost:
                held.lost.set()

    renewer = asyncio.create_task(keep_alive(), name=f"renew {holder}")
    try:
        yield held
    finally:
        renewer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewer
        await _release_all(sessions, grants, holder=holder, clock=clock)


__all__ = ["AllFences", "HeldLeases", "hold_leases", "renew_grants"]
