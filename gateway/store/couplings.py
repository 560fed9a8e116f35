"""Couplings: which ERP record is paired with which CRM record per mapping, and what was last agreed.

Functions flush but never commit: the caller owns the transaction (`async with sessions.begin() as s:`).
"""

from __future__ import annotations

import asyncio
import enum
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.domain import Side
from gateway.errors import DuplicateCoupling, InvalidInput, NotFound
from gateway.store.paced import ROWS_PER_TURN
from gateway.store.planner import id_criteria
from gateway.store.tables import Coupling, CouplingState, SyncResult
from gateway.store.types import utcnow

MAX_PAGE = 1000


class _Unset(enum.Enum):
    UNSET = enum.auto()


UNSET = _Unset.UNSET


def normalize_id(value: str, *, field: str = "id") -> str:
    """Record ids are GUIDs on both sides; store the canonical lowercase form so case never duplicates."""
    stripped = value.strip() if isinstance(value, str) else ""
    if not stripped:
        raise InvalidInput(f"{field} must be a non-empty string", field=field)
    try:
        return str(uuid.UUID(stripped))
    except ValueError:
        return stripped  # not a GUID (e.g. a test fixture or a code-keyed entity): keep it verbatim


def _state(value: CouplingState | str) -> str:
    try:
        return CouplingState(value).value
    except ValueError:
        raise InvalidInput(f"unknown coupling state {value!r}", field="state") from None


def _result(value: SyncResult | str | None, field: str) -> str | None:
    if value is None:
        return None
    try:
        return SyncResult(value).value
    except ValueError:
        raise InvalidInput(f"unknown sync result {value!r}", field=field) from None


def _side(value: Side | str) -> Side:
    try:
        return Side(value)
    except ValueError:
        raise InvalidInput(f"side must be 'erp' or 'crm', not {value!r}", field="side") from None


async def create_coupling(
    session: AsyncSession,
    *,
    mapping: str,
    erp_id: str,
    crm_id: str,
    erp_key: str | None = None,
    crm_key: str | None = None,
    state: CouplingState | str = CouplingState.COUPLED,
    last_synced: Mapping[str, Any] | None = None,
    erp_modified_at: datetime | None = None,
    crm_modified_at: datetime | None = None,
) -> Coupling:
    """Couple two records; DuplicateCoupling, writing nothing, if either is already coupled in `mapping`."""
    if not mapping:
        raise InvalidInput("mapping must not be empty", field="mapping")
    coupling = Coupling(
        mapping=mapping,
        erp_id=normalize_id(erp_id, field="erp_id"),
        crm_id=normalize_id(crm_id, field="crm_id"),
        erp_key=erp_key,
        crm_key=crm_key,
        state=_state(state),
        last_synced=dict(last_synced or {}),
        erp_modified_at=erp_modified_at,
        crm_modified_at=crm_modified_at,
    )
    try:
        # A savepoint: a unique violation undoes only this insert, and the caller's transaction goes on.
        async with session.begin_nested():
            session.add(coupling)
            await session.flush()
    except IntegrityError as exc:
        raise await _duplicate(session, coupling) from exc
    return coupling


_INSERTED = (
    "mapping",
    "erp_id",
    "crm_id",
    "erp_key",
    "crm_key",
    "state",
    "skipped",
    "last_synced",
    "erp_modified_at",
    "crm_modified_at",
    "erp_etag",
    "crm_etag",
    "settled_under",
    "created_at",
    "updated_at",
)


@dataclass(frozen=True, slots=True)
class NewCoupling:
    """One coupling for `create_couplings` (the arguments of `create_coupling`)."""

    erp_id: str
    crm_id: str
    erp_key: str | None = None
    crm_key: str | None = None
    state: CouplingState | str = CouplingState.COUPLED
    last_synced: Mapping[str, Any] | None = None
    erp_modified_at: datetime | None = None
    crm_modified_at: datetime | None = None
    erp_etag: str | None = None
    """The records' ETags in the state `last_synced` holds (created together: in step)."""
    crm_etag: str | None = None
    settled_under: str | None = None
    """The fingerprint of the mapping the ETags are in step under (gateway.sync.model.fingerprint)."""


async def create_couplings(
    session: AsyncSession, *, mapping: str, new: Sequence[NewCoupling]
) -> list[Coupling]:
    """Couple many pairs of `mapping` with one executemany INSERT (and one SELECT of their ids, per
    500 on SQLite) instead of a savepoint and an INSERT each: on SQLite each statement is a hop to the
    driver's thread while the write lock is held, and 1,000 couplings one by one held it for 9 s
    under load. On a clash nothing is written and the first clashing pair raises
    DuplicateCoupling, as `create_coupling` would."""
    if not mapping:
        raise InvalidInput("mapping must not be empty", field="mapping")
    couplings: list[Coupling] = []
    for start in range(0, len(new), ROWS_PER_TURN):
        if start:
            # Building 1,000 validated models is ~0.3 s of CPU: the lease renewal gets a turn.
            await asyncio.sleep(0)
        couplings += [
            Coupling(
                mapping=mapping,
                erp_id=normalize_id(n.erp_id, field="erp_id"),
                crm_id=normalize_id(n.crm_id, field="crm_id"),
                erp_key=n.erp_key,
                crm_key=n.crm_key,
                state=_state(n.state),
                last_synced=dict(n.last_synced or {}),
                erp_modified_at=n.erp_modified_at,
                crm_modified_at=n.crm_modified_at,
                erp_etag=n.erp_etag,
                crm_etag=n.crm_etag,
                settled_under=n.settled_under,
            )
            for n in new[start : start + ROWS_PER_TURN]
        ]
    if not couplings:
        return []
    rows = [{column: getattr(c, column) for column in _INSERTED} for c in couplings]
    try:
        async with session.begin_nested():
            await session.exec(insert(Coupling), params=rows)  # one executemany
    except IntegrityError:
        # The failure path only: find the pair that clashed, one by one in a savepoint rolled back
        # whatever happens (a clash among `new` themselves is found the same way).
        async with session.begin_nested():
            for coupling in couplings:
                await create_coupling(
                    session, mapping=mapping, erp_id=coupling.erp_id, crm_id=coupling.crm_id
                )
            raise
    ids: dict[str, int] = {}
    erp_ids = [c.erp_id for c in couplings]
    scope = [(col(Coupling.mapping), mapping)]
    for criterion in id_criteria(session, col(Coupling.erp_id), erp_ids, scope=scope):
        found = await session.exec(select(col(Coupling.erp_id), col(Coupling.id)).where(criterion))
        ids.update((erp_id, coupling_id) for erp_id, coupling_id in found.all() if coupling_id is not None)
    for coupling in couplings:
        coupling.id = ids[coupling.erp_id]
    return couplings


async def _duplicate(session: AsyncSession, attempted: Coupling) -> DuplicateCoupling:
    """Name the side that clashed (only runs on the failure path, so the happy path costs one INSERT)."""
    for side, record_id in ((Side.ERP, attempted.erp_id), (Side.CRM, attempted.crm_id)):
        if side is Side.ERP:
            existing = await find_coupling(session, mapping=attempted.mapping, erp_id=record_id)
        else:
            existing = await find_coupling(session, mapping=attempted.mapping, crm_id=record_id)
        if existing is not None:
            other = existing.crm_id if side is Side.ERP else existing.erp_id
            return DuplicateCoupling(
                f"{side.value.upper()} record {record_id} is already coupled in {attempted.mapping} "
                f"(coupling {existing.id}, paired with {other})",
                mapping=attempted.mapping,
                side=side.value,
                record_id=record_id,
            )
    # The clashing row was deleted in between; still report the clash rather than a raw driver error.
    return DuplicateCoupling(
        f"coupling {attempted.erp_id} ⇄ {attempted.crm_id} clashed with a concurrent write "
        f"in {attempted.mapping}",
        mapping=attempted.mapping,
        side="",
        record_id=attempted.erp_id,
    )


async def get_coupling(session: AsyncSession, *, coupling_id: int) -> Coupling:
    coupling = await session.get(Coupling, coupling_id)
    if coupling is None:
        raise NotFound(f"no coupling with id {coupling_id}")
    return coupling


async def find_coupling(
    session: AsyncSession,
    *,
    mapping: str,
    erp_id: str | None = None,
    crm_id: str | None = None,
    erp_key: str | None = None,
    crm_key: str | None = None,
) -> Coupling | None:
    """The coupling of one record, looked up by exactly one of its id or key on either side."""
    candidates = (("erp_id", erp_id), ("crm_id", crm_id), ("erp_key", erp_key), ("crm_key", crm_key))
    given = {name: value for name, value in candidates if value is not None}
    if len(given) != 1:
        raise InvalidInput("give exactly one of erp_id, crm_id, erp_key, crm_key")
    ((name, value),) = given.items()
    if name.endswith("_id"):
        value = normalize_id(value, field=name)
    statement = (
        select(Coupling)
        .where(Coupling.mapping == mapping, getattr(Coupling, name) == value)
        .order_by(col(Coupling.id))
        .limit(1)
    )
    return (await session.exec(statement)).first()


async def couplings_by_ids(
    session: AsyncSession, *, mapping: str, side: Side | str, ids: Iterable[str]
) -> dict[str, Coupling]:
    """The couplings of many records of one side at once, keyed by that side's (normalized) id."""
    checked = _side(side)
    column = col(Coupling.erp_id) if checked is Side.ERP else col(Coupling.crm_id)
    wanted = list(dict.fromkeys(normalize_id(i) for i in ids))
    found: dict[str, Coupling] = {}
    for criterion in id_criteria(session, column, wanted, scope=[(col(Coupling.mapping), mapping)]):
        for coupling in (await session.exec(select(Coupling).where(criterion))).all():
            found[coupling.erp_id if checked is Side.ERP else coupling.crm_id] = coupling
    return found


def _filters(
    *,
    mapping: str | None,
    state: CouplingState | str | None,
    skipped: bool | None,
    record_id: str | None,
    key: str | None,
    erp_id: str | None,
    crm_id: str | None,
    erp_key: str | None,
    crm_key: str | None,
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if mapping is not None:
        conditions.append(col(Coupling.mapping) == mapping)
    if state is not None:
        conditions.append(col(Coupling.state) == _state(state))
    if skipped is not None:
        conditions.append(col(Coupling.skipped).is_(skipped))
    if record_id is not None:
        normalized = normalize_id(record_id, field="record_id")
        conditions.append(or_(col(Coupling.erp_id) == normalized, col(Coupling.crm_id) == normalized))
    if key is not None:
        conditions.append(or_(col(Coupling.erp_key) == key, col(Coupling.crm_key) == key))
    if erp_id is not None:
        conditions.append(col(Coupling.erp_id) == normalize_id(erp_id, field="erp_id"))
    if crm_id is not None:
        conditions.append(col(Coupling.crm_id) == normalize_id(crm_id, field="crm_id"))
    if erp_key is not None:
        conditions.append(col(Coupling.erp_key) == erp_key)
    if crm_key is not None:
        conditions.append(col(Coupling.crm_key) == crm_key)
    return conditions


async def list_couplings(
    session: AsyncSession,
    *,
    mapping: str | None = None,
    state: CouplingState | str | None = None,
    skipped: bool | None = None,
    record_id: str | None = None,
    key: str | None = None,
    erp_id: str | None = None,
    crm_id: str | None = None,
    erp_key: str | None = None,
    crm_key: str | None = None,
    after_id: int | None = None,
    limit: int = 100,
) -> Sequence[Coupling]:
    """Couplings in id order, filtered; `record_id`/`key` match either side.

    Keyset pagination: pass the last id of a page as `after_id` to get the next one (stable under inserts).
    """
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}", field="limit")
    conditions = _filters(
        mapping=mapping,
        state=state,
        skipped=skipped,
        record_id=record_id,
        key=key,
        erp_id=erp_id,
        crm_id=crm_id,
        erp_key=erp_key,
        crm_key=crm_key,
    )
    if after_id is not None:
        conditions.append(col(Coupling.id) > after_id)
    statement = select(Coupling).where(*conditions).order_by(col(Coupling.id)).limit(limit)
    return (await session.exec(statement)).all()


async def count_couplings(
    session: AsyncSession, *, mapping: str | None = None, state: CouplingState | str | None = None
) -> int:
    conditions = _filters(
        mapping=mapping,
        state=state,
        skipped=None,
        record_id=None,
        key=None,
        erp_id=None,
        crm_id=None,
        erp_key=None,
        crm_key=None,
    )
    statement = select(func.count()).select_from(Coupling).where(*conditions)
    return int((await session.exec(statement)).one())


async def update_coupling(
    session: AsyncSession,
    *,
    coupling_id: int,
    state: CouplingState | str | _Unset = UNSET,
    skipped: bool | _Unset = UNSET,
    last_synced: Mapping[str, Any] | _Unset = UNSET,
    erp_key: str | _Unset | None = UNSET,
    crm_key: str | _Unset | None = UNSET,
    erp_modified_at: datetime | _Unset | None = UNSET,
    crm_modified_at: datetime | _Unset | None = UNSET,
    erp_last_result: SyncResult | str | _Unset | None = UNSET,
    erp_last_message: str | _Unset | None = UNSET,
    crm_last_result: SyncResult | str | _Unset | None = UNSET,
    crm_last_message: str | _Unset | None = UNSET,
) -> Coupling:
    """Change the given fields (others stay as they are) and bump `updated_at`. NotFound for an unknown id.

    `last_synced` replaces the whole field → value map: pass the merged map, not a delta.
    """
    coupling = await get_coupling(session, coupling_id=coupling_id)
    if not isinstance(state, _Unset):
        coupling.state = _state(state)
    if not isinstance(skipped, _Unset):
        coupling.skipped = skipped
    if not isinstance(last_synced, _Unset):
        # A new dict object: the JSON column only notices reassignment, not in-place mutation.
        coupling.last_synced = dict(last_synced)
        # Agreed values set without the records' versions: the pair is compared when next in scope.
        coupling.erp_etag = coupling.crm_etag = coupling.settled_under = None
    if not isinstance(erp_key, _Unset):
        coupling.erp_key = erp_key
    if not isinstance(crm_key, _Unset):
        coupling.crm_key = crm_key
    if not isinstance(erp_modified_at, _Unset):
        coupling.erp_modified_at = erp_modified_at
    if not isinstance(crm_modified_at, _Unset):
        coupling.crm_modified_at = crm_modified_at
    if not isinstance(erp_last_result, _Unset):
        coupling.erp_last_result = _result(erp_last_result, "erp_last_result")
    if not isinstance(erp_last_message, _Unset):
        coupling.erp_last_message = erp_last_message
    if not isinstance(crm_last_result, _Unset):
        coupling.crm_last_result = _result(crm_last_result, "crm_last_result")
    if not isinstance(crm_last_message, _Unset):
        coupling.crm_last_message = crm_last_message
    coupling.updated_at = utcnow()
    session.add(coupling)
    await session.flush()
    return coupling


async def delete_coupling(session: AsyncSession, *, coupling_id: int) -> bool:
    """Uncouple one pair; False when it did not exist (uncoupling is idempotent)."""
    # An ORM-enabled DELETE: objects already loaded in this session are marked deleted too.
    result = await session.exec(delete(Coupling).where(col(Coupling.id) == coupling_id))
    return bool(result.rowcount)


async def delete_couplings(session: AsyncSession, *, mapping: str) -> int:
    """Uncouple every pair of a mapping; returns how many were removed."""
    result = await session.exec(delete(Coupling).where(col(Coupling.mapping) == mapping))
    return int(result.rowcount)
