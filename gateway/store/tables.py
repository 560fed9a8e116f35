"""Table models of the coupling store: couplings, sync jobs, job errors and API keys.

Every schema change here needs a new migration in gateway/store/migrations/versions/ (a test compares them).
"""

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from gateway.store.types import UTCDateTime, utcnow


def new_id() -> str:
    return str(uuid.uuid4())


class CouplingState(enum.StrEnum):
    COUPLED = "coupled"
    ERROR = "error"  # the last synchronization of this pair failed; a job error says why
    CONFLICT = "conflict"  # both sides changed the same field and the policy wants an admin
    SKIPPED = "skipped"  # an admin chose to leave this pair alone
    ORPHANED = "orphaned"  # the record on one side was deleted


class SyncResult(enum.StrEnum):
    SUCCESS = "success"
    FAILED = "failed"
    SKIPPED = "skipped"
    UNCHANGED = "unchanged"


class Direction(enum.StrEnum):
    ERP_TO_CRM = "erp_to_crm"
    CRM_TO_ERP = "crm_to_erp"


class JobType(enum.StrEnum):
    SYNC = "sync"
    FULL = "full"
    COUPLING = "coupling"
    UNCOUPLING = "uncoupling"
    DELETION_CHECK = "deletion_check"  # an ERP set's ids read to find deletions no notice told of


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    ERROR = "error"
    CANCELLED = "cancelled"
    ABANDONED = "abandoned"
    """Its worker stopped mid-run (killed, or its run cancelled); another worker took the lease over."""


class ErrorAction(enum.StrEnum):
    RETRY = "retry"
    FORCE_ERP = "force-erp"
    FORCE_CRM = "force-crm"
    RESTORE = "restore"
    UNCOUPLE = "uncouple"
    IGNORE = "ignore"


class ErrorStatus(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    IGNORED = "ignored"


def _utc(*, nullable: bool, index: bool = False) -> Any:
    """A timezone-aware UTC timestamp column (see gateway.store.types.UTCDateTime)."""
    if nullable:
        return Field(default=None, sa_type=UTCDateTime, nullable=True, index=index)
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=index)


class Coupling(SQLModel, table=True):
    """One ERP record paired with one CRM record under one mapping, and what was last agreed."""

    __tablename__ = "coupling"
    __table_args__ = (
        # A record is never coupled twice within a mapping, on either side.
        UniqueConstraint("mapping", "erp_id", name="uq_coupling_mapping_erp_id"),
        UniqueConstraint("mapping", "crm_id", name="uq_coupling_mapping_crm_id"),
        Index("ix_coupling_mapping_erp_key", "mapping", "erp_key"),
        Index("ix_coupling_mapping_crm_key", "mapping", "crm_key"),
        Index("ix_coupling_mapping_state", "mapping", "state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    mapping: str = Field(nullable=False)
    erp_id: str = Field(nullable=False)
    crm_id: str = Field(nullable=False)
    erp_key: str | None = Field(default=None, nullable=True)
    crm_key: str | None = Field(default=None, nullable=True)
    state: str = Field(default=CouplingState.COUPLED.value, nullable=False)
    erp_modified_at: datetime | None = _utc(nullable=True)
    crm_modified_at: datetime | None = _utc(nullable=True)
    # The ETag each record had when the pair last settled (None: not known). A record read back with
    # this ETag on both sides, the pair in step, is not compared again (gateway.sync.reconciling).
    erp_etag: str | None = Field(default=None, nullable=True)
    crm_etag: str | None = Field(default=None, nullable=True)
    # The fingerprint of the mapping definition the pair settled under at those ETags
    # (gateway.sync.model.fingerprint): only a run of a mapping with this fingerprint skips the pair.
    settled_under: str | None = Field(default=None, nullable=True)
    erp_last_result: str | None = Field(default=None, nullable=True)
    erp_last_message: str | None = Field(default=None, nullable=True)
    crm_last_result: str | None = Field(default=None, nullable=True)
    crm_last_message: str | None = Field(default=None, nullable=True)
    skipped: bool = Field(default=False, nullable=False)
    # field -> value as last written/agreed on both sides: echo suppression and three-way merge.
    last_synced: dict[str, Any] = Field(default_factory=dict, sa_type=JSON, nullable=False)
    created_at: datetime = _utc(nullable=False)
    updated_at: datetime = _utc(nullable=False)


class SyncJob(SQLModel, table=True):
    """One run of one mapping in one direction, with its counters."""

    __tablename__ = "sync_job"
    __table_args__ = (Index("ix_sync_job_mapping_created_at", "mapping", "created_at"),)

    id: str = Field(default_factory=new_id, primary_key=True)
    mapping: str = Field(nullable=False)
    direction: str = Field(nullable=False)
    type: str = Field(nullable=False)
    status: str = Field(default=JobStatus.QUEUED.value, nullable=False, index=True)
    created_at: datetime = _utc(nullable=False)
    started_at: datetime | None = _utc(nullable=True)
    finished_at: datetime | None = _utc(nullable=True)
    inserted: int = Field(default=0, nullable=False)
    modified: int = Field(default=0, nullable=False)
    deleted: int = Field(default=0, nullable=False)
    unchanged: int = Field(default=0, nullable=False)
    skipped: int = Field(default=0, nullable=False)
    failed: int = Field(default=0, nullable=False)
    coupled: int = Field(default=0, nullable=False)
    uncoupled: int = Field(default=0, nullable=False)
    total: int = Field(default=0, nullable=False)
    done: int = Field(default=0, nullable=False)
    message: str | None = Field(default=None, nullable=True)


class JobError(SQLModel, table=True):
    """One record that failed in a job: both sides, the field, the cause chain, what an admin can do."""

    __tablename__ = "job_error"
    __table_args__ = (Index("ix_job_error_mapping_status", "mapping", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(foreign_key="sync_job.id", ondelete="CASCADE", nullable=False, index=True)
    mapping: str = Field(nullable=False)
    erp_id: str | None = Field(default=None, nullable=True, index=True)
    crm_id: str | None = Field(default=None, nullable=True, index=True)
    erp_key: str | None = Field(default=None, nullable=True)
    crm_key: str | None = Field(default=None, nullable=True)
    field: str | None = Field(default=None, nullable=True)
    reason: str = Field(nullable=False)
    cause: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    actions: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    status: str = Field(default=ErrorStatus.OPEN.value, nullable=False)
    created_at: datetime = _utc(nullable=False)
    resolved_at: datetime | None = _utc(nullable=True)


class ApiKey(SQLModel, table=True):
    """A client's API key: only its SHA-256 and a short prefix are kept, never the key itself."""

    __tablename__ = "api_key"

    id: str = Field(default_factory=new_id, primary_key=True)
    name: str | None = Field(default=None, nullable=True)
    prefix: str = Field(nullable=False)
    key_hash: str = Field(nullable=False, unique=True, index=True)
    role: str = Field(nullable=False)
    salesperson_code: str | None = Field(default=None, nullable=True)
    created_at: datetime = _utc(nullable=False)
    revoked_at: datetime | None = _utc(nullable=True)
    last_used_at: datetime | None = _utc(nullable=True)
