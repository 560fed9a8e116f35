"""Leases with fencing generations: which worker runs which mapping-direction, and since when.

Functions flush but never commit: the caller owns the transaction (`async with sessions.begin() as s:`).
Times come from the caller (`now=`), so workers and tests share one injectable clock.

A lease row is also the cluster-wide schedule of its mapping-direction: `due_at` says when the next
scheduled run is due (set on release), `requested_at` records a wake that has not been served yet.
A lease is *held* while `expires_at > now`; every successful acquire increments `generation`, so a
writer that still carries an older generation is refused by `check_fence` (raises `StaleLease`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, and_, case, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.errors import InvalidInput, StaleLease
from gateway.store.types import UTCDateTime, utcnow

# A free lease's expiry: long past, so "expired" needs no NULL handling.
NEVER = datetime(1970, 1, 1, tzinfo=UTC)


class Lease(SQLModel, table=True):
    """One named lease (e.g. "CUSTOMER:erp_to_crm"), its holder and its fencing generation."""

    __tablename__ = "lease"

    name: str = Field(primary_key=True)
    holder: str | None = Field(default=None, nullable=True)
    generation: int = Field(default=0, nullable=False)
    acquired_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    renewed_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    expires_at: datetime = Field(default=NEVER, sa_type=UTCDateTime, nullable=False)
    due_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    requested_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


@dataclass(frozen=True, slots=True)
class LeaseGrant:
    """What a successful acquire hands the runner: the generation to fence its writes with."""

    name: str
    holder: str
    generation: int
    expires_at: datetime


def _now(now: datetime | None) -> datetime:
    if now is None:
        return utcnow()
    if now.tzinfo is None:
        raise InvalidInput("now must be timezone-aware", field="now")
    return now


def _ttl(ttl: float) -> timedelta:
    if not ttl > 0:
        raise InvalidInput("a lease's ttl must be positive seconds", field="ttl")
    return timedelta(seconds=ttl)


def _name(name: str) -> str:
    if not name:
        raise InvalidInput("a lease needs a name", field="name")
    return name


def _is_due(now: datetime) -> ColumnElement[bool]:
    """Never scheduled, scheduled for now or earlier, or woken since the last acquire."""
    return or_(
        col(Lease.due_at).is_(None),
        col(Lease.due_at) <= now,
        and_(
            col(Lease.requested_at).is_not(None),
            or_(col(Lease.acquired_at).is_(None), col(Lease.requested_at) > col(Lease.acquired_at)),
        ),
    )


def _insert(session: AsyncSession) -> type[postgresql.Insert] | type[sqlite.Insert]:
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return postgresql.Insert if dialect == "postgresql" else sqlite.Insert


async def _insert_missing(session: AsyncSession, values: dict[str, object]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING: True when this call created the row."""
    insert_class = _insert(session)
    statement = insert_class(Lease).values(**values).on_conflict_do_nothing(index_elements=["name"])
    result = await session.exec(statement)
    return bool(result.rowcount)


async def acquire(
    session: AsyncSession,
    *,
    name: str,
    holder: str,
    ttl: float,
    now: datetime | None = None,
    only_if_due: bool = False,
) -> LeaseGrant | None:
    """Take the lease when it is free (expired) or already ours; None when another holder has it.

    Every success increments the generation, so an older run of the same holder is fenced out too.
    With `only_if_due` the lease is taken only when its schedule says a run is due (see `_is_due`).
    One UPDATE decides (a concurrent taker re-checks the row after our commit on PostgreSQL; SQLite
    serialises writers), and a missing row is created with INSERT … ON CONFLICT DO NOTHING.
    """
    name, now = _name(name), _now(now)
    expires = now + _ttl(ttl)
    if not holder:
        raise InvalidInput("a lease holder needs an id", field="holder")
    conditions: list[ColumnElement[bool]] = [
        col(Lease.name) == name,
        or_(col(Lease.expires_at) <= now, col(Lease.holder) == holder),
    ]
    if only_if_due:
        conditions.append(_is_due(now))
    result = await session.exec(
        update(Lease)
        .where(*conditions)
        .values(
            holder=holder,
            generation=col(Lease.generation) + 1,
            acquired_at=now,
            renewed_at=now,
            expires_at=expires,
        )
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:
        values: dict[str, object] = {
            "name": name,
            "holder": holder,
            "generation": 1,
            "acquired_at": now,
            "renewed_at": now,
            "expires_at": expires,
        }
        if not await _insert_missing(session, values):
            return None  # held by another worker (or not due)
    lease = await _fresh(session, name=name)
    assert lease is not None and lease.holder == holder
    return LeaseGrant(name=name, holder=holder, generation=lease.generation, expires_at=lease.expires_at)


async def _fresh(session: AsyncSession, *, name: str, lock: str | None = None) -> Lease | None:
    statement = select(Lease).where(col(Lease.name) == name).execution_options(populate_existing=True)
    if lock == "share":
        statement = statement.with_for_update(read=True)
    elif lock == "update":
        statement = statement.with_for_update()
    return (await session.exec(statement)).first()


async def renew(
    session: AsyncSession,
    *,
    name: str,
    holder: str,
    generation: int,
    ttl: float,
    now: datetime | None = None,
    asked_at: datetime | None = None,
) -> datetime:
    """Extend a lease we still hold; returns the new expiry. Raises `StaleLease` when it expired or
    was taken over: once expired, a lease is lost even if nobody took it yet (the run must stop).

    `asked_at` (default `now`) is when the renewal was asked for: it counts as in time if the lease
    was unexpired then and nobody has taken it since (the generation is unchanged); the new expiry
    counts from `now`, when the transaction got the store (on SQLite it may have waited for the
    write lock, during which nobody else could take the lease either)."""
    name, now = _name(name), _now(now)
    asked_at = now if asked_at is None else _now(asked_at)
    expires = now + _ttl(ttl)
    result = await session.exec(
        update(Lease)
        .where(
            col(Lease.name) == name,
            col(Lease.holder) == holder,
            col(Lease.generation) == generation,
            col(Lease.expires_at) > asked_at,
        )
        .values(renewed_at=now, expires_at=expires)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:
        raise StaleLease(f"lease {name!r} generation {generation} is no longer held by {holder!r}")
    return expires


async def release(
    session: AsyncSession,
    *,
    name: str,
    holder: str,
    generation: int,
    next_due_at: datetime | None = None,
    now: datetime | None = None,
) -> bool:
    """Give the lease up and schedule the next run at `next_due_at` (None: due at once). A wake that
    arrived while we ran stays pending. False when we no longer held it.

    The expiry goes back to `NEVER`, not to `now`: a renewal that read its clock before this release
    but reaches the row after it (the scheduler queues for SQLite's write lock behind the run's own
    transactions) would otherwise find `expires_at > its now` and hold the released lease for a whole
    TTL, keeping the next woken run waiting (the demo's 15 s propagation outliers). `now` is only
    checked (timezone-aware), as for the other calls."""
    name = _name(name)
    _now(now)
    if next_due_at is not None and next_due_at.tzinfo is None:
        raise InvalidInput("next_due_at must be timezone-aware", field="next_due_at")
    result = await session.exec(
        update(Lease)
        .where(
            col(Lease.name) == name,
            col(Lease.holder) == holder,
            col(Lease.generation) == generation,
        )
        .values(expires_at=NEVER, due_at=next_due_at)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)


async def request_run(session: AsyncSession, *, name: str, now: datetime | None = None) -> None:
    """Ask for a run as soon as possible (a webhook or change feed woke us): any scheduler that sees
    the lease free takes it, even before `due_at`; a run in progress leaves the request pending."""
    name, now = _name(name), _now(now)
    result = await session.exec(
        update(Lease)
        .where(col(Lease.name) == name)
        .values(requested_at=now)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:
        await _insert_missing(session, {"name": name, "requested_at": now})


async def check_fence(
    session: AsyncSession,
    *,
    name: str,
    generation: int,
    now: datetime | None = None,
    extend_ttl: float | None = None,
) -> None:
    """Raise `StaleLease` unless lease `name` is still at `generation` and unexpired.

    Call it inside the writer's transaction, right before commit. On PostgreSQL the row is read
    FOR SHARE, so a takeover (an UPDATE of that row) waits until this transaction has committed:
    no takeover can slip in between the check and the commit. SQLite writers are serialised anyway.

    With `extend_ttl` the check also renews the lease (to now + extend_ttl, never shorter) in the
    same statement, an UPDATE that locks the row until the commit: a holder's commit is proof it is
    alive. On SQLite the holder's own write transactions hold the only write lock, so its renewal
    task's transaction waits behind them; renewing at each commit keeps a run that commits at least
    once per TTL from losing its lease to its own writes (the admin full sync lost
    'ERP PRICING:erp_to_crm' at 20,000 customers while its renewal waited 7.7 s behind a 9.4 s page).
    """
    name, now = _name(name), _now(now)
    if extend_ttl is not None:
        expires = now + _ttl(extend_ttl)
        result = await session.exec(
            update(Lease)
            .where(
                col(Lease.name) == name,
                col(Lease.generation) == generation,
                col(Lease.expires_at) > now,
            )
            .values(
                renewed_at=now,
                expires_at=case((col(Lease.expires_at) < expires, expires), else_=col(Lease.expires_at)),
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount:
            return
    lease = await _fresh(session, name=name, lock="share")
    if lease is None:
        raise StaleLease(f"lease {name!r} does not exist")
    if lease.generation != generation:
        raise StaleLease(
            f"lease {name!r} moved on to generation {lease.generation} (the writer has {generation})"
        )
    if lease.expires_at <= NEVER:
        raise StaleLease(f"lease {name!r} generation {generation} was released")
    if lease.expires_at <= now:
        raise StaleLease(f"lease {name!r} generation {generation} expired at {lease.expires_at.isoformat()}")


async def get_lease(session: AsyncSession, *, name: str) -> Lease | None:
    return await _fresh(session, name=_name(name))


async def list_leases(session: AsyncSession, *, names: Sequence[str] | None = None) -> Sequence[Lease]:
    """Every lease row (or those named), by name: for schedulers deciding what to try, and status pages."""
    statement = select(Lease).order_by(col(Lease.name)).execution_options(populate_existing=True)
    if names is not None:
        statement = statement.where(col(Lease.name).in_(list(names)))
    return (await session.exec(statement)).all()


def is_free(lease: Lease, *, now: datetime) -> bool:
    return lease.expires_at <= now


def is_due(lease: Lease, *, now: datetime) -> bool:
    """The Python twin of `_is_due`, for deciding which leases are worth an acquire."""
    if lease.due_at is None or lease.due_at <= now:
        return True
    return lease.requested_at is not None and (
        lease.acquired_at is None or lease.requested_at > lease.acquired_at
    )


__all__ = [
    "NEVER",
    "Lease",
    "LeaseGrant",
    "acquire",
    "check_fence",
    "get_lease",
    "is_due",
    "is_free",
    "list_leases",
    "release",
    "renew",
    "request_run",
]
