"""The record errors sync jobs log: one row per failed record, with both sides' ids and keys, the
field, the cause chain and what an admin may do; listed, counted, resolved or ignored.

Functions flush but never commit: the caller owns the transaction (`async with sessions.begin() as s:`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, insert, or_
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


@dataclass(frozen=True, slots=True)
class FailedRecord:
    """One record that failed in a job (`add_job_errors`): `cause` is the chain, outermost first;
    `actions` what an admin may do."""

    job_id: str
    reason: str
    erp_id: str | None = None
    crm_id: str | None = None
    erp_key: str | None = None
    crm_key: str | None = None
    field: str | None = None
    cause: Sequence[str] = ()
    actions: Sequence[ErrorAction | str] = ()


def _new_error(mapping: str, record: FailedRecord) -> JobError:
    """The row of a failed record, checked (not added to the session)."""
    if not record.reason:
        raise InvalidInput("reason must not be empty", field="reason")
    return JobError(
        job_id=record.job_id,
        mapping=mapping,
        reason=record.reason,
        erp_id=normalize_id(record.erp_id, field="erp_id") if record.erp_id is not None else None,
        crm_id=normalize_id(record.crm_id, field="crm_id") if record.crm_id is not None else None,
        erp_key=record.erp_key,
        crm_key=record.crm_key,
        field=record.field,
        cause=_strings(record.cause, "cause"),
        actions=list(dict.fromkeys(_choice(ErrorAction, a, "actions").value for a in record.actions)),
    )


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
    error = _new_error(
        mapping,
        FailedRecord(
            job_id=job_id,
            reason=reason,
            erp_id=erp_id,
            crm_id=crm_id,
            erp_key=erp_key,
            crm_key=crm_key,
            field=field,
            cause=cause if isinstance(cause, str) else list(cause),
            actions=list(actions),
        ),
    )
    await get_job(session, job_id=job_id)  # NotFound rather than a foreign-key error from the driver
    session.add(error)
    await session.flush()
    return error


async def add_job_errors(session: AsyncSession, *, mapping: str, records: Sequence[FailedRecord]) -> int:
    """Log many failed records of `mapping` in one executemany INSERT, each job looked up once: a
    sync run fails up to a thousand records per commit, and a lookup and an INSERT each were most
    of its statements.

    The list is taken in order, as `add_job_error` after closing the record's open errors
    (sync_state.resolve_record_errors) one by one would leave it: an error that a later one of the
    same record closes (the same ERP id, or the same CRM id) is stored resolved. Returns how many
    stay open."""
    rows = [_new_error(mapping, record) for record in records]
    if not rows:
        return 0
    for job_id in dict.fromkeys(record.job_id for record in records):
        await get_job(session, job_id=job_id)  # NotFound rather than a foreign-key error from the driver
    now = utcnow()
    later_erp: set[str] = set()
    later_crm: set[str] = set()
    opened = 0
    for row in reversed(rows):
        if row.erp_id in later_erp or row.crm_id in later_crm:
            row.status = ErrorStatus.RESOLVED.value
            row.resolved_at = now
        else:
            opened += 1
        # What the record's closing matches: its ids as stored (normalized), when given (empty
        # ones match nothing).
        if row.erp_id:
            later_erp.add(row.erp_id)
        if row.crm_id:
            later_crm.add(row.crm_id)
    # render_nulls: rows with a None in different columns stay one executemany (the ORM would
    # otherwise omit None values and split the rows into a statement per run of the same columns).
    statement = insert(JobError).execution_options(render_nulls=True)
    await session.exec(statement, params=[row.model_dump(exclude={"id"}) for row in rows])
    return opened


async def get_job_error(session: AsyncSession, *, error_id: int) -> JobError:
    error = await session.get(JobError, error_id)
    if error is None:
        raise NotFound(f"no job error with id {error_id}")
    return error


async def last_job_error_id(session: AsyncSession) -> int:
    """The highest error id so far (0 for none): errors opened later have higher ids."""
    found = (await session.exec(select(func.max(col(JobError.id))))).one()
    return int(found or 0)


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
