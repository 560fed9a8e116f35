"""Queries the sync engine needs beyond single couplings and jobs: every coupling of a mapping at
once, the records with open errors (retried first), and closing a record's open errors."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.store.tables import Coupling, CouplingState, ErrorStatus, JobError
from gateway.store.types import utcnow


async def mapping_couplings(session: AsyncSession, *, mapping: str) -> list[Coupling]:
    """Every coupling of one mapping (one query; the engine holds them for a run)."""
    return list((await session.exec(select(Coupling).where(col(Coupling.mapping) == mapping))).all())


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
    session: AsyncSession, *, mapping: str, erp_id: str | None, crm_id: str | None
) -> int:
    """Close the open errors of a record that has synchronized since (or failed anew)."""
    conditions = [col(JobError.mapping) == mapping, col(JobError.status) == ErrorStatus.OPEN.value]
    if erp_id and crm_id:
        conditions.append((col(JobError.erp_id) == erp_id) | (col(JobError.crm_id) == crm_id))
    elif erp_id:
        conditions.append(col(JobError.erp_id) == erp_id)
    elif crm_id:
        conditions.append(col(JobError.crm_id) == crm_id)
    else:
        return 0
    rows = (await session.exec(select(JobError).where(*conditions))).all()
    for error in rows:
        error.status = ErrorStatus.RESOLVED.value
        error.resolved_at = utcnow()
        session.add(error)
    await session.flush()
    return len(rows)
