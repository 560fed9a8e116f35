"""What one sync run carries (its mapping, jobs, counters, pending errors) and the pure helpers the
engine's parts share: deterministic ids and numbers, record descriptions, error chains."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.domain import BatchResult, Side, UpstreamRecord
from gateway.errors import GatewayError, RecordError, RetriableUpstreamError
from gateway.store import couplings as couplings_store
from gateway.store.job_errors import FailedRecord
from gateway.store.sync_tables import MirrorRecord
from gateway.store.tables import (
    Coupling,
    JobType,
)
from gateway.sync.fencing import Fence
from gateway.sync.model import MappingDirection, TableMapping, fingerprint
from gateway.sync.values import LookupTable
from gateway.upstream.crm import primary_key
from gateway.upstream.writes import Write

SALES_ORDER = "SALES ORDER"
CRM_ID_NAMESPACE = uuid.UUID("5b1f3f6e-9d0c-4c52-8a51-6a0f4c1e7d21")
"""uuid5 namespace of the ids CRM records created from ERP records get (stable across releases)."""
COUNTERS = (
    "inserted",
    "modified",
    "deleted",
    "unchanged",
    "skipped",
    "failed",
    "coupled",
    "uncoupled",
    "done",
)


def crm_id_for(mapping: str, erp_id: str) -> str:
    """The id a CRM record created from ERP record `erp_id` gets: the same on every attempt."""
    return str(uuid.uuid5(CRM_ID_NAMESPACE, f"{mapping}|{couplings_store.normalize_id(erp_id)}"))


def erp_number_for(mapping: TableMapping, crm_id: str, crm_values: Mapping[str, Any]) -> str:
    """The number an ERP record created from a CRM record gets: the CRM key when it has one."""
    if mapping.crm_key_fields:
        own = crm_values.get(mapping.crm_key_fields[0])
        if isinstance(own, str) and own.strip():
            return own.strip()[:20]
    digest = uuid.uuid5(CRM_ID_NAMESPACE, f"{mapping.name}|{crm_id}").hex[:8].upper()
    return f"{mapping.erp_number_prefix or 'X'}{digest}"[:20]


@dataclass
class RunSummary:
    """What a run did: its job rows and their counters (summed over directions)."""

    mapping: str
    direction: str
    type: str
    job_ids: list[str]
    status: str
    counts: dict[str, int]
    message: str | None = None
    created_on: list[str] = field(default_factory=list)
    """The sides ("erp", "crm") this run created records on."""


@dataclass
class Pair:
    coupling: Coupling
    erp: MirrorRecord | None
    crm: MirrorRecord | None


@dataclass(frozen=True, slots=True)
class Agreed:
    """A pair found in step or brought in step: the values both sides now hold, and the ETags of
    the records that hold them (after our writes), stored on the coupling when it settles."""

    pair: Pair
    erp_values: dict[str, Any]
    crm_values: dict[str, Any]
    erp_etag: str | None
    crm_etag: str | None


@dataclass
class HeldWrites:
    """Pair updates a reconciling run holds back until they fill whole `$batch`es: pairs come in
    chunks (commits stay short), and a chunk sending its few updates alone left a partly filled
    batch behind each time (ITEM-PRODUCT's second pass at 5,000 items: 499 updates in 2 batches)."""

    pairs: list[Pair] = field(default_factory=list)
    """Pairs with writes not sent or not yet processed, in the order they came."""
    writes: dict[Side, list[tuple[Pair, Write]]] = field(default_factory=lambda: {Side.ERP: [], Side.CRM: []})
    """Writes not sent yet, per side."""
    answers: dict[Side, dict[int, tuple[Write, BatchResult | BaseException]]] = field(
        default_factory=lambda: {Side.ERP: {}, Side.CRM: {}}
    )
    """Results of sent writes (by `id(pair)`) whose pair still waits for its other side's."""
    sending: set[int] = field(default_factory=set)
    """Pairs whose writes are in a `$batch` on its way: creates filling that batch bring their own
    pairs' updates here meanwhile, and those must not take these pairs as answered."""

    def waiting(self) -> set[int]:
        return self.sending | {id(pair) for side in self.writes.values() for pair, _ in side}


@dataclass
class RunState:
    mapping: TableMapping
    fence: Fence
    jobs: dict[str, str]
    lookups: LookupTable
    primary: str
    job_type: str = JobType.SYNC.value
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    errors: list[FailedRecord] = field(default_factory=list)
    resolved: set[tuple[str | None, str | None]] = field(default_factory=set)
    open_ids: set[str] = field(default_factory=set)
    """Records with open errors when the run started: only these need resolving on success."""
    crm_filler: list[tuple[MirrorRecord, str, Write]] = field(default_factory=list)
    """CRM creates (record, CRM id, upsert) planned for later in the run: until then they fill the
    room left in the last `$batch` of the run's other CRM writes (see PairsPart._send)."""
    erp_filler: list[tuple[MirrorRecord, str, Write]] = field(default_factory=list)
    """The same for ERP creates (record, number, POST) whose intents are already committed."""
    transient: bool = False
    """A record failed for a reason on the upstream's side (throttled, unavailable, timed out): its
    retry is worth trying soon (gateway.sync.retries)."""
    held: HeldWrites | None = None
    """While the run reconciles (ReconcilingPart._reconcile), pair updates wait here for full
    batches; None: every update is sent at once (an admin action on one pair)."""
    lookups_loaded: bool = True
    """False while `lookups` is an empty table an incremental run loads once it has work (see
    SyncEngine._need_lookups): an idle run never loads the couplings its lookups go through."""
    settled_under: str = field(init=False)
    """The fingerprint of `mapping` as the run loaded it: stored with the ETags of every pair the run
    settles, and the only one under which it takes pairs for in step (an admin may change the
    mapping while the run goes; see gateway.sync.model.fingerprint)."""

    def __post_init__(self) -> None:
        self.settled_under = fingerprint(self.mapping)

    def count(self, name: str, amount: int = 1, *, direction: str | None = None) -> None:
        job = self.jobs.get(direction or self.primary) or self.jobs[self.primary]
        bucket = self.counts.setdefault(job, {})
        bucket[name] = bucket.get(name, 0) + amount


def job_direction(target: Side) -> str:
    return "erp_to_crm" if target is Side.CRM else "crm_to_erp"


# ---------------------------------------------------------------------------------- helpers


READ_ONLY_ERP = frozenset({"inventory", "balanceDue", "number", "code"})
"""ERP fields a create must not send (BC computes them, or the engine chooses them)."""


def seed_from_crm(table: TableMapping, values: dict[str, Any], crm: Mapping[str, Any]) -> None:
    """A record created in the ERP from CRM also starts with the CRM's values of one-way ERP → CRM
    fields, where they copy plainly; otherwise the first update would blank them in CRM."""
    for fm in table.fields:
        if (
            fm.enabled
            and fm.direction is MappingDirection.ERP_TO_CRM
            and fm.erp_field
            and fm.crm_field
            and "+" not in fm.erp_field
            and fm.lookup is None
            and fm.value_map is None
            and fm.erp_field not in READ_ONLY_ERP
        ):
            value = crm.get(fm.crm_field)
            if value is not None:
                values.setdefault(fm.erp_field, value)


def mirror_record(side: Side, record: UpstreamRecord) -> MirrorRecord:
    return MirrorRecord(
        side=side.value,
        entity_set=record.entity_set,
        id=couplings_store.normalize_id(record.id),
        values=dict(record.values),
        etag=record.etag,
        modified_at=record.modified_at,
    )


def live(record: MirrorRecord | None) -> MirrorRecord | None:
    return None if record is None or record.deleted else record


def describe(table: TableMapping, record: MirrorRecord) -> str:
    values = record.values
    for name in ("displayName", "name", "fullname", "code", "number"):
        if values.get(name):
            label = str(values[name])
            return f"{record.key} {label}" if record.key and record.key != label else label
    return record.key or record.id


def error_chain(exc: BaseException) -> list[str]:
    chain: list[str] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 10:
        chain.append(str(current) or type(current).__name__)
        current = current.__cause__
    return chain


TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
"""Statuses of an operation inside a `$batch` that say the service, not the record, failed."""


def is_transient(outcome: BaseException | BatchResult) -> bool:
    """Whether a write failed because of the upstream's state rather than the record's content: an
    exception whose chain holds a RetriableUpstreamError, or a `$batch` answer with such a status."""
    if isinstance(outcome, BatchResult):
        return outcome.status in TRANSIENT_STATUSES
    seen: BaseException | None = outcome
    while seen is not None:
        if isinstance(seen, RetriableUpstreamError):
            return True
        seen = seen.__cause__
    return False


def as_record_error(exc: BaseException) -> GatewayError:
    if isinstance(exc, GatewayError):
        return exc
    error = RecordError(str(exc))
    error.__cause__ = exc
    return error


def batch_message(side: Side, result: BatchResult) -> str:
    detail = result.error_message or result.error_code or "no detail"
    return f"{side.value.upper()} refused the write with {result.status}: {detail}"


def record_from(
    side: Side,
    table: TableMapping,
    write: Write,
    result: BatchResult,
    pair: Pair | None,
    *,
    record_id: str | None = None,
) -> UpstreamRecord:
    """The record as written: the service's representation when it sent one, else ours merged in."""
    entity = table.erp_entity if side is Side.ERP else table.crm_entity
    body = dict(result.body or {})
    if body:
        key = "id" if side is Side.ERP else primary_key(entity)
        from gateway.upstream.records import to_record

        return to_record(
            body,
            entity_set=entity,
            key=key,
            modified="lastModifiedDateTime" if side is Side.ERP else "modifiedon",
            service=side.value,
        )
    before = (pair.erp if side is Side.ERP else pair.crm) if pair else None
    values = dict(before.values) if before else {}
    values.update(write.values or {})
    return UpstreamRecord(entity, record_id or (before.id if before else ""), values, result.etag, None)
