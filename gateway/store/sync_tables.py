"""Table models of the sync engine: mappings and field mappings (as data), the mirror of both
upstreams, watermarks per mapping and direction, and ERP create intents."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index
from sqlmodel import Field, SQLModel

from gateway.store.types import UTCDateTime, utcnow


def _utc(*, nullable: bool) -> Any:
    if nullable:
        return Field(default=None, sa_type=UTCDateTime, nullable=True)
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class SyncMapping(SQLModel, table=True):
    """An integration table mapping; `definition` holds its rules (see gateway.sync.model)."""

    __tablename__ = "sync_mapping"

    name: str = Field(primary_key=True)
    position: int = Field(default=0, nullable=False)
    erp_entity: str = Field(nullable=False)
    crm_entity: str = Field(nullable=False)
    direction: str = Field(nullable=False)
    enabled: bool = Field(default=True, nullable=False)
    interval_seconds: int = Field(default=30, nullable=False)
    conflict_policy: str = Field(nullable=False)
    deletion_policy: str = Field(nullable=False)
    definition: dict[str, Any] = Field(default_factory=dict, sa_type=JSON, nullable=False)
    updated_at: datetime = _utc(nullable=False)


class SyncFieldMapping(SQLModel, table=True):
    """One field pair of a mapping, in order; `definition` holds constants, value maps, lookups."""

    __tablename__ = "sync_field_mapping"
    __table_args__ = (Index("ix_sync_field_mapping_mapping_position", "mapping", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    mapping: str = Field(foreign_key="sync_mapping.name", ondelete="CASCADE", nullable=False)
    position: int = Field(nullable=False)
    erp_field: str | None = Field(default=None, nullable=True)
    crm_field: str | None = Field(default=None, nullable=True)
    direction: str = Field(nullable=False)
    enabled: bool = Field(default=True, nullable=False)
    definition: dict[str, Any] = Field(default_factory=dict, sa_type=JSON, nullable=False)


class MirrorRecord(SQLModel, table=True):
    """The last known state of one upstream record; the engine reconciles from these rows."""

    __tablename__ = "sync_mirror"
    # No index beyond the primary key: see migration 0008 (why ix_sync_mirror_set_key went).

    side: str = Field(primary_key=True, max_length=3)
    entity_set: str = Field(primary_key=True)
    id: str = Field(primary_key=True)
    key: str | None = Field(default=None, nullable=True)
    values: dict[str, Any] = Field(default_factory=dict, sa_type=JSON, nullable=False)
    etag: str | None = Field(default=None, nullable=True)
    modified_at: datetime | None = _utc(nullable=True)
    deleted: bool = Field(default=False, nullable=False)
    generation: str | None = Field(default=None, nullable=True)
    """Which full read saw the row last: rows a finished full read did not see were deleted."""
    mirrored_at: datetime = _utc(nullable=False)


class SyncWatermark(SQLModel, table=True):
    """How far one mapping has read one side's changes: a modified-on watermark or a delta link."""

    __tablename__ = "sync_watermark"

    mapping: str = Field(primary_key=True)
    direction: str = Field(primary_key=True)
    watermark: datetime | None = _utc(nullable=True)
    signpost: datetime | None = _utc(nullable=True)
    delta_link: str | None = Field(default=None, nullable=True)
    polled_at: datetime | None = _utc(nullable=True)
    """When the last poll that runs make only when due (gateway.sync.erp_polls) started."""
    updated_at: datetime = _utc(nullable=False)


class SyncIntent(SQLModel, table=True):
    """An ERP record about to be created from a CRM record, recorded before the POST so that a
    crash between the write and the coupling is recovered by a lookup by `erp_number`."""

    __tablename__ = "sync_intent"

    mapping: str = Field(primary_key=True)
    crm_id: str = Field(primary_key=True)
    erp_number: str = Field(nullable=False)
    created_at: datetime = _utc(nullable=False)


class SyncDeletionHint(SQLModel, table=True):
    """A BC webhook said this ERP record of a mapping's entity set was deleted. The mapping's next
    erp_to_crm run checks it (an incremental read by `lastModifiedDateTime` never sees deletions)
    and, when BC confirms (its read no longer lists it), applies the deletion policy; then the hint goes."""

    __tablename__ = "sync_deletion_hint"

    mapping: str = Field(primary_key=True)
    erp_id: str = Field(primary_key=True)
    noticed_at: datetime = _utc(nullable=False)


class SyncErpWatch(SQLModel, table=True):
    """What we know of one ERP entity set's BC webhook subscription: when the subscription manager
    last saw ours in place (None: it failed, or no mapping wants it any more) and when BC last
    notified a change. A run that may skip its ERP poll while notifications cover the set reads it."""

    __tablename__ = "sync_erp_watch"

    entity_set: str = Field(primary_key=True)
    verified_at: datetime | None = _utc(nullable=True)
    notified_at: datetime | None = _utc(nullable=True)
