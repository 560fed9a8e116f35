"""The sync benchmark's data: its configuration, the requests of the full sync beside the minimum,
the incremental rounds, and the result `bench/sync.py` reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SERVICES = ("erp", "crm")


@dataclass(frozen=True)
class BenchConfig:
    customers: int = 20_000
    items: int = 5_000
    seed: int = 42
    erp_page_size: int = 20_000  # the Settings defaults (the services' maxima)
    crm_page_size: int = 5_000
    erp_batch_size: int = 100
    crm_batch_size: int = 1_000
    concurrency: int = 2  # SyncControl's default, as the app runs it
    changes: int = 100  # half ERP customers, half CRM accounts
    database_url: str | None = None
    stall_threshold: float = 1.0  # event-loop stalls longer than this are reported (LoopWatch)
    webhooks: bool = True  # after the polling-only rounds, the rounds with BC webhook subscriptions

    def page(self, service: str) -> int:
        return self.erp_page_size if service == "erp" else self.crm_page_size

    def batch(self, service: str) -> int:
        return self.erp_batch_size if service == "erp" else self.crm_batch_size


@dataclass
class Usage:
    """Requests one phase sent to one service, classified, beside the minimum."""

    service: str
    reads: int = 0
    read_minimum: int = 0
    batches: int = 0
    batch_minimum: int = 0
    other: int = 0
    other_minimum: int = 0
    records_read: int = 0
    operations: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    sets_read: dict[str, list[int]] = field(default_factory=dict)
    """entity set → [N, page size, minimum GETs, GETs made]."""
    sets_written: dict[str, list[int]] = field(default_factory=dict)
    """entity set → [operations in batches, batch limit, minimum batches, batches carrying the set]."""
    other_detail: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.reads + self.batches + self.other

    @property
    def minimum(self) -> int:
        return self.read_minimum + self.batch_minimum + self.other_minimum


@dataclass
class EntryRun:
    mapping: str
    direction: str
    requests: int
    writes: int
    seconds: float
    detail: dict[str, int]
    status: str
    counts: dict[str, int]


@dataclass
class Round:
    name: str
    seconds: float
    runs: list[EntryRun]
    mode: str = "polling"
    """"polling" (no BC subscription: every ERP set is polled every run) or "webhooks" (ours in place)."""
    notifications: dict[str, Any] | None = None
    """Webhooks mode: what BC delivered to our receiver just before the round
    (bench._sync_webhooks.summarize)."""

    @property
    def requests(self) -> int:
        return sum(r.requests for r in self.runs)

    @property
    def writes(self) -> int:
        return sum(r.writes for r in self.runs)


@dataclass
class WebhookMode:
    """The designed mode's set-up and what BC notified (bench._sync_webhooks)."""

    receiver: str = ""
    subscribed: list[str] = field(default_factory=list)
    """Resources our subscription pass created."""
    subscribe_requests: dict[str, int] = field(default_factory=dict)
    """The pass's requests, "service METHOD set" -> count."""
    subscribe_seconds: float = 0.0
    deletion_checks: dict[str, int] = field(default_factory=dict)
    """Entity set -> requests of the deletion check the new subscription asked for."""
    idle_deletion_checks: dict[str, int] = field(default_factory=dict)
    """Entity set -> requests of its deletion check run after the idle round (none asked for)."""
    idle_pass_requests: dict[str, int] = field(default_factory=dict)
    """The next subscription pass's requests after the idle round (nothing to change)."""
    notifications: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Deliveries outside the rounds: "subscribing" (handshakes), and BC's notices of a round's own
    writes after it."""
    changed: int = 0
    arrived: int = 0
    notified_edits: int = 0
    """ERP edits of the round with changes that a notification named."""
    gated_changes: int = 0
    """Changes in sets polled only when BC notifies them (a shipment, a renamed unit)."""
    gated_arrived: int = 0


@dataclass
class Result:
    config: dict[str, Any]
    full_seconds: float = 0.0
    full_cpu_seconds: float = 0.0
    usage: list[Usage] = field(default_factory=list)
    summaries: list[dict[str, Any]] = field(default_factory=list)
    couplings: int = 0
    rounds: list[Round] = field(default_factory=list)
    changed: int = 0
    arrived: int = 0
    problems: list[str] = field(default_factory=list)
    goals_missed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Reported beside the goals: polling mode's extra idle polls when the designed mode is measured."""
    rss_kib: dict[str, int | None] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    """Open record errors after the full sync: "mapping: reason" → count (the demo data's traps)."""
    full_batches: list[tuple[str, dict[str, int]]] = field(default_factory=list)
    """The full sync's write `$batch`es in the order sent: service, operations per "METHOD set"."""
    stall_threshold: float = 1.0
    webhook_mode: WebhookMode | None = None
    stalls: list[dict[str, Any]] = field(default_factory=list)
    """Event-loop stalls longer than `stall_threshold` during the full sync (`LoopWatch`):
    seconds, cpu_seconds, where (our innermost frames), stack."""

    @property
    def records_read(self) -> int:
        return sum(u.records_read for u in self.usage)

    @property
    def records_per_second(self) -> float:
        return self.records_read / self.full_seconds if self.full_seconds > 0 else 0.0

    @property
    def ok(self) -> bool:
        return not self.problems
