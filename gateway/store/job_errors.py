"""The record errors sync jobs log: one row per failed record, with both sides' ids and keys, the
field, the cause chain and what an admin may do; listed, counted, resolved or ignored.

Functions flush but never commit: the caller owns the transaction (`async with sessions.begin() as s:`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import ColumnElement, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.errors import InvalidInput, NotFound
from gateway.store.couplings import normalize_id
from gateway.store.jobs import _choice, _limit, get_job
from gateway.store.tables import ErrorAction, ErrorStatus, JobError
from gateway.store.types import utcnow


def _strings(values: Iterable[str], field: str) -> list[str]:
    if isinstance(values, str):
        raise InvalidInput(f"{field} must be a list of strings, not one string", field=field)
    result = list(values)
    if not all(isinstance(v, str) for v in result):
        raise InvalidInput(f"{field} must be a list of strings", field=field)
    return result


async def add_job_error(
    session: AsyncSession,
    *,
    job_id: str,
    mapping: str,
    reason: str,
    erp_id: str | None = None,
    crm_id: str | None = None,
    erp_key: str | None = None,
    crm_key: str | None = None,
    field: str | None = None,
    cause: Iterable[str] = (),
    actions: Iterable[ErrorAction | str] = (),
) -> JobError:
    """Log a failed record on a job: `cause` is the chain, outermost first; `actions` what an admin may do."""
    if not reason:
        raise InvalidInput("reason must not be empty", field="reason")
    await get_job(session, job_id=job_id)  # NotFound rather than a foreign-key error from the driver
    error = JobError(
        job_id=job_id,
        mapping=mapping,
        reason=reason,
        erp_id=normalize_id(erp_id, field="erp_id") if erp_id is not None else None,
        crm_id=normalize_id(crm_id, field="crm_id") if crm_id is not None else None,
        erp_key=erp_key,
        crm_key=crm_key,
        field=field,
        cause=_strings(cause, "cause"),
        actions=list(dict.fromkeys(_choice(ErrorAction, a, "actions").value for a in actions)),
    )
    session.add(error)
    await session.flush()
    return error


async def get_job_error(session: AsyncSession, *, error_id: int) -> JobError:
    error = await session.get(JobError, error_id)
    if error is None:
        raise NotFound(f"no job error with id {error_id}")
    return error


async def list_job_errors(
    session: AsyncSession,
    *,
    mapping: str | None = None,
    job_id: str | None = None,
    record_id: str | None = None,
    status: ErrorStatus | str | None = None,
    after_id: int | None = None,
    limit: int = 100,
) -> Sequence[JobError]:
    """Errors in id order; `record_id` matches the record on either side. Keyset pages via `after_id`."""
    conditions: list[ColumnElement[bool]] = []
    if mapping is not None:
        conditions.append(col(JobError.mapping) == mapping)
    if job_id is not None:
        conditions.append(col(JobError.job_id) == job_id)
    if record_id is not None:
        normalized = normalize_id(record_id, field="record_id")
        conditions.append(or_(col(JobError.erp_id) == normalized, col(JobError.crm_id) == normalized))
    if status is not None:
        conditions.append(col(JobError.status) == _choice(ErrorStatus, status, "status").value)
    if after_id is not None:
        conditions.append(col(JobError.id) > after_id)
    statement = select(JobError).where(*conditions).order_by(col(JobError.id)).limit(_limit(limit))
    return (await session.exec(statement)).all()


async def count_job_errors(
    session: AsyncSession,
    *,
    mapping: str | None = None,
    job_id: str | None = None,
    status: ErrorStatus | str | None = None,
) -> int:
    conditions: list[ColumnElement[bool]] = []
    if mapping is not None:
        conditions.append(col(JobError.mapping) == mapping)
    if job_id is not None:
        conditions.append(col(JobError.job_id) == job_id)
    if status is not None:
        conditions.append(col(JobError.status) == _choice(ErrorStatus, status, "status").value)
    statement = select(func.count()).select_from(JobError).where(*conditions)
    return int((await session.exec(statement)).one())


async def set_job_error_status(
    session: AsyncSession, *, error_id: int, status: ErrorStatus | str
) -> JobError:
    """Resolve, ignore or reopen an error; `resolved_at` is set on leaving `open`, cleared on reopening."""
    checked = _choice(ErrorStatus, status, "status")
    error = await get_job_error(session, error_id=error_id)
    if checked is ErrorStatus.OPEN:
        error.resolved_at = None
    elif error.status != checked.value or error.resolved_at is None:
        error.resolved_at = utcnow()
    error.status = checked.value
    session.add(error)
    await session.flush()
    return error
