"""The base of the sync engine's parts: the store, both connectors, the mirror reader, and how a
run records counters and errors; the parts (pairs, creates) name what they need from each other."""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping, Sequence

from gateway.domain import BatchResult, Side, UpstreamRecord
from gateway.errors import GatewayError
from gateway.store import job_errors, jobs, sync_state
from gateway.store.engine import SessionFactory, StoreSession, read_sessions_of
from gateway.store.job_errors import FailedRecord
from gateway.store.sync_tables import MirrorRecord
from gateway.store.tables import (
    ErrorAction,
)
from gateway.sync.mirroring import MirrorReader
from gateway.sync.model import DeletionPolicy
from gateway.sync.retries import RetryGate
from gateway.sync.runstate import (
    Pair,
    RunState,
)
from gateway.upstream.crm import CrmConnector
from gateway.upstream.erp import ErpConnector
from gateway.upstream.writes import Write

RECORDS_PER_TURN = 200
"""Records a synchronous loop (mapping, matching) handles between two turns of the event loop: a
few milliseconds of CPU, so the task renewing a run's leases runs on time on a loaded machine."""


class EngineCore(abc.ABC):
    """State and bookkeeping shared by the engine's parts."""

    def __init__(
        self, *, sessions: SessionFactory, erp: ErpConnector, crm: CrmConnector, chunk_size: int = 1000
    ) -> None:
        self.sessions = sessions
        # Loads read without the write lock (on SQLite a session of `sessions` begins IMMEDIATE).
        self.reads = read_sessions_of(sessions)
        self.erp = erp
        self.crm = crm
        self.chunk_size = chunk_size
        self.reader = MirrorReader(sessions=sessions, erp=erp, crm=crm)
        self.retries = RetryGate()
        self._local_currency: str | None = None
        self._company_known = False  # SyncEngine._company_read

    async def _flush(self, session: StoreSession, run: RunState) -> None:
        """Counters and errors gathered since the last commit, written in the caller's transaction:
        a statement per job for the counters, and for the errors one UPDATE closing those of the
        records that synchronized since (only those that had open errors when the run started) or
        failed anew, then one INSERT of the new ones, whatever the number of records."""
        for job_id, bucket in run.counts.items():
            await jobs.add_job_counts(session, job_id=job_id, **bucket)
        run.counts.clear()
        settled = [(e, c) for e, c in run.resolved if e in run.open_ids or c in run.open_ids]
        failed = [(error.erp_id, error.crm_id) for error in run.errors]
        await sync_state.resolve_record_errors(session, mapping=run.mapping.name, records=settled + failed)
        await job_errors.add_job_errors(session, mapping=run.mapping.name, records=run.errors)
        run.resolved.clear()
        run.errors.clear()

    def _fail(
        self,
        run: RunState,
        *,
        reason: str,
        erp_id: str | None = None,
        crm_id: str | None = None,
        erp_key: str | None = None,
        crm_key: str | None = None,
        field: str | None = None,
        cause: Sequence[str] = (),
        actions: Iterable[ErrorAction] = (ErrorAction.RETRY, ErrorAction.IGNORE),
        direction: str | None = None,
        counter: str = "failed",
        transient: bool = False,
    ) -> None:
        """`transient`: the upstream's state, not the record, made it fail (see is_transient)."""
        direction = direction if direction in run.jobs else run.primary
        run.count(counter, direction=direction)
        run.transient = run.transient or transient
        run.errors.append(
            FailedRecord(
                job_id=run.jobs[direction],
                reason=reason,
                erp_id=erp_id,
                crm_id=crm_id,
                erp_key=erp_key,
                crm_key=crm_key,
                field=field,
                cause=list(cause) or [reason],
                actions=[a.value for a in actions],
            )
        )

    @abc.abstractmethod
    async def _sync_pairs(self, run: RunState, pairs: list[Pair], *, force: Side | None = None) -> None:
        """Bring coupled pairs up to date (gateway.sync.pairs)."""

    @abc.abstractmethod
    def _record_failure(
        self, run: RunState, pair: Pair, exc: GatewayError, *, transient: bool | None = None
    ) -> None:
        """Log a pair that could not be synchronized (gateway.sync.pairs)."""

    @abc.abstractmethod
    async def _send(
        self, run: RunState, side: Side, writes: list[Write]
    ) -> list[BatchResult | BaseException]:
        """Send writes in batches (gateway.sync.pairs)."""

    @abc.abstractmethod
    async def _created_in_crm(
        self,
        run: RunState,
        writes: list[tuple[MirrorRecord, str, Write]],
        results: list[BatchResult | BaseException],
    ) -> None:
        """Mirror and couple the records CRM upserts created (gateway.sync.creates)."""

    @abc.abstractmethod
    async def _created_in_erp(
        self,
        run: RunState,
        posted: list[tuple[MirrorRecord, str, Write]],
        results: list[BatchResult | BaseException],
        *,
        found: Sequence[tuple[MirrorRecord, UpstreamRecord]] = (),
    ) -> None:
        """Couple the records ERP creates made, then their follow-ups (gateway.sync.creates)."""

    @abc.abstractmethod
    async def _deleted(
        self, run: RunState, pairs: list[Pair], *, policy: DeletionPolicy | None = None
    ) -> None:
        """Apply the deletion policy to pairs with a side gone (gateway.sync.creates)."""

    @abc.abstractmethod
    async def _create_in_erp(
        self, run: RunState, records: list[MirrorRecord], *, numbers: Mapping[str, str] | None = None
    ) -> None:
        """Create ERP records from CRM records (gateway.sync.creates)."""
