"""Queries the sync engine needs beyond single couplings and jobs: every coupling of a mapping at
once (full runs), only those an incremental run touches and the records no coupling holds, the
records with open errors (retried first), and closing a record's open errors."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, func, update
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.domain import Side
from gateway.store.paced import all_scalars
from gateway.store.planner import id_criteria
from gateway.store.sync_tables import MirrorRecord
from gateway.store.tables import Coupling, CouplingState, ErrorStatus, JobError
from gateway.store.types import utcnow


async def mapping_couplings(session: AsyncSession, *, mapping: str) -> list[Coupling]:
    """Every coupling of one mapping in id order (one query; the engine holds them for a run). The
    order is the run's: it works through them in chunks, which must not depend on where the database
    happens to keep the rows (PostgreSQL moves an updated row to the end of its heap)."""
    statement = select(Coupling).where(col(Coupling.mapping) == mapping).order_by(col(Coupling.id))
    return await all_scalars(session, statement)


async def couplings_touching(
    session: AsyncSession, *, mapping: str, erp_ids: Iterable[str], crm_ids: Iterable[str]
) -> list[Coupling]:
    """The couplings of `mapping` that hold any of these ERP or CRM ids, in id order (as
    `mapping_couplings`): one statement per side on PostgreSQL, one per 500 ids on SQLite
    (gateway.store.planner); the statements' results are merged, so they are sorted here."""
    found: dict[int | None, Coupling] = {}
    for column, ids in (
        (col(Coupling.erp_id), sorted(set(erp_ids))),
        (col(Coupling.crm_id), sorted(set(crm_ids))),
    ):
        for criterion in id_criteria(session, column, ids, scope=[(col(Coupling.mapping), mapping)]):
            for coupling in await all_scalars(session, select(Coupling).where(criterion)):
                found[coupling.id] = coupling
    return [found[key] for key in sorted(found, key=lambda key: key or 0)]


async def settled_pairs(
    session: AsyncSession,
    *,
    mapping: str,
    side: Side,
    ids: Iterable[str],
    erp_entity: str,
    crm_entity: str,
    settled_under: str,
) -> list[tuple[str, str]]:
    """(ERP id, CRM id) of the couplings holding any of `ids` on `side` that are in step at both
    records' mirrored versions: coupled, not skipped, both mirror rows live, each row's ETag the
    one the pair last settled at (a NULL ETag matches nothing), and settled under the mapping
    fingerprint `settled_under` (the mapping the asking run loaded). Only ids come back, no objects: one
    statement per side on PostgreSQL, one per 500 ids on SQLite (gateway.store.planner)."""
    erp_row, crm_row = aliased(MirrorRecord), aliased(MirrorRecord)
    held = col(Coupling.erp_id) if Side(side) is Side.ERP else col(Coupling.crm_id)
    found: list[tuple[str, str]] = []
    for criterion in id_criteria(session, held, sorted(set(ids)), scope=[(col(Coupling.mapping), mapping)]):
        statement = (
            select(col(Coupling.erp_id), col(Coupling.crm_id))
            .join(erp_row, _row_of(erp_row, Side.ERP, erp_entity, col(Coupling.erp_id)))
            .join(crm_row, _row_of(crm_row, Side.CRM, crm_entity, col(Coupling.crm_id)))
            .where(
                criterion,
                col(Coupling.state) == CouplingState.COUPLED.value,
                col(Coupling.skipped).is_(False),
                col(erp_row.deleted).is_(False),
                col(crm_row.deleted).is_(False),
                col(erp_row.etag) == col(Coupling.erp_etag),
                col(crm_row.etag) == col(Coupling.crm_etag),
                col(Coupling.settled_under) == settled_under,
            )
        )
        found += [(erp_id, crm_id) for erp_id, crm_id in (await session.exec(statement)).all()]
    return found


def _row_of(row: Any, side: Side, entity_set: str, record_id: Any) -> Any:
    """The join condition of a mirror row alias to the record a coupling column names."""
    return and_(col(row.side) == side.value, col(row.entity_set) == entity_set, col(row.id) == record_id)


async def uncoupled_records(
    session: AsyncSession, *, mapping: str, side: Side, entity_set: str
) -> dict[str, MirrorRecord]:
    """The live mirror rows of one entity set that no coupling of `mapping` holds on `side` (the
    candidates of match-based coupling and creates), in one anti-join."""
    coupled_id = col(Coupling.erp_id) if Side(side) is Side.ERP else col(Coupling.crm_id)
    holder = select(Coupling.id).where(col(Coupling.mapping) == mapping, coupled_id == col(MirrorRecord.id))
    statement = select(MirrorRecord).where(
        col(MirrorRecord.side) == Side(side).value,
        col(MirrorRecord.entity_set) == entity_set,
        col(MirrorRecord.deleted).is_(False),
        ~holder.exists(),
    )
    return {row.id: row for row in await all_scalars(session, statement)}


async def failed_record_ids(session: AsyncSession, *, mapping: str) -> tuple[set[str], set[str]]:
    """ERP and CRM ids of records whose last synchronization failed: couplings in error, open errors."""
    statement = select(Coupling.erp_id, Coupling.crm_id).where(
        col(Coupling.mapping) == mapping, col(Coupling.state) == CouplingState.ERROR.value
    )
    erp_ids: set[str] = set()
    crm_ids: set[str] = set()
    for erp_id, crm_id in (await session.exec(statement)).all():
        erp_ids.add(erp_id)
        crm_ids.add(crm_id)
    errors = select(JobError.erp_id, JobError.crm_id).where(
        col(JobError.mapping) == mapping, col(JobError.status) == ErrorStatus.OPEN.value
    )
    for erp_id_, crm_id_ in (await session.exec(errors)).all():
        if erp_id_:
            erp_ids.add(erp_id_)
        if crm_id_:
            crm_ids.add(crm_id_)
    return erp_ids, crm_ids


async def resolve_record_errors(
    session: AsyncSession, *, mapping: str, records: Iterable[tuple[str | None, str | None]]
) -> int:
    """Close the open errors of records that have synchronized since (or failed anew): per (ERP id,
    CRM id), those naming either id (an id None or empty matches nothing). One UPDATE per side (per
    500 ids on SQLite), not a lookup and an UPDATE per record: a run resolves up to a thousand
    records per commit, and each lookup scanned every open error of the mapping. Returns how many
    were closed."""
    erp_ids: dict[str, None] = {}
    crm_ids: dict[str, None] = {}
    for erp_id, crm_id in records:
        if erp_id:
            erp_ids[erp_id] = None
        if crm_id:
            crm_ids[crm_id] = None
    scope = [(col(JobError.mapping), mapping), (col(JobError.status), ErrorStatus.OPEN.value)]
    now = utcnow()
    closed = 0
    for column, ids in ((col(JobError.erp_id), list(erp_ids)), (col(JobError.crm_id), list(crm_ids))):
        for criterion in id_criteria(session, column, ids, scope=scope):
            result = await session.exec(
                update(JobError)
                .where(criterion)
                .values(status=ErrorStatus.RESOLVED.value, resolved_at=now)
                # Sync runs never hold job errors in their sessions: nothing loaded to refresh.
                .execution_options(synchronize_session=False)
            )
            closed += result.rowcount
    return closed


async def coupling_versions(session: AsyncSession, *, mappings: Iterable[str]) -> dict[str, tuple[int, int]]:
    """Per mapping, (couplings, highest coupling id): one grouped query, nothing loaded. A coupling
    made or removed changes it (gateway.sync.retries)."""
    names = sorted(set(mappings))
    if not names:
        return {}
    statement = (
        select(col(Coupling.mapping), func.count(), func.max(col(Coupling.id)))
        .where(col(Coupling.mapping).in_(names))
        .group_by(col(Coupling.mapping))
    )
    found = {name: (int(count), int(top or 0)) for name, count, top in (await session.exec(statement)).all()}
    return {name: found.get(name, (0, 0)) for name in names}


async def mirror_version(session: AsyncSession, *, side: Side, entity_set: str) -> tuple[int, str]:
    """(live rows, when one was last mirrored) of one mirrored entity set: one query."""
    statement = select(func.count(), func.max(col(MirrorRecord.mirrored_at))).where(
        col(MirrorRecord.side) == side.value,
        col(MirrorRecord.entity_set) == entity_set,
        col(MirrorRecord.deleted).is_(False),
    )
    count, last = (await session.exec(statement)).one()
    return int(count), str(last)
