"""Synchronization benchmark: a full sync of a large demo data set through the real engine, upstream
requests beside the minimum, peak memory, then incremental rounds (echo, idle, 100 changes).

    .venv/bin/python bench/sync.py            # 20,000 customers, 5,000 items (~50,000 price lines)
    .venv/bin/python bench/sync.py --quick    # 500 customers, 100 items: a smoke run

Both simulators run in child processes over loopback HTTP; the store is a fresh SQLite file (or
--database-url, which must point at an empty database). The exit status is 1 when a correctness
check fails (a run failed, an idle round wrote, a change did not arrive); missed performance goals
only print "goal missed" lines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import resource
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` and `gateway` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from sqlmodel import select

from bench._servers import Target
from bench._sync_meter import MeteredTransport
from bench._sync_servers import DemoSimulatorProcess, SyncTarget
from bench.read_throughput import machine
from gateway.config import Settings, load_settings
from gateway.services.sync_control import SyncControl
from gateway.store.engine import create_engine, session_factory
from gateway.store.migrate import upgrade_engine
from gateway.store.tables import Coupling, CouplingState, JobError
from gateway.sync import catalog
from gateway.sync.engine import SyncEngine
from gateway.sync.pricing_mirror import PRICING_SETS
from gateway.upstream.crm import CrmConnector
from gateway.upstream.erp import ErpConnector
from gateway.upstream.factory import build_crm_connector, build_erp_connector

SERVICES = ("erp", "crm")
WRITE_METHODS = ("POST", "PATCH", "PUT", "DELETE")


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

    @property
    def requests(self) -> int:
        return sum(r.requests for r in self.runs)

    @property
    def writes(self) -> int:
        return sum(r.writes for r in self.runs)


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
    rss_kib: dict[str, int | None] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    """Open record errors after the full sync: "mapping: reason" → count (the demo data's traps)."""

    @property
    def records_read(self) -> int:
        return sum(u.records_read for u in self.usage)

    @property
    def records_per_second(self) -> float:
        return self.records_read / self.full_seconds if self.full_seconds > 0 else 0.0

    @property
    def ok(self) -> bool:
        return not self.problems


# ------------------------------------------------------------------------------------ plumbing


def _settings(config: BenchConfig, erp: Target, crm: Target, database_url: str) -> Settings:
    return load_settings(
        database_url=database_url,
        erp_base_url=erp.root,
        erp_tenant=erp.tenant,
        erp_environment=erp.environment,
        erp_token_url=erp.token_url,
        erp_client_id=erp.client_id,
        erp_client_secret=erp.client_secret,
        crm_base_url=crm.root,
        crm_token_url=crm.token_url,
        crm_client_id=crm.client_id,
        crm_client_secret=crm.client_secret,
        erp_page_size=config.erp_page_size,
        crm_page_size=config.crm_page_size,
        erp_batch_size=config.erp_batch_size,
        crm_batch_size=config.crm_batch_size,
        upstream_timeout_seconds=120.0,
    )


Key = tuple[str, str, int]


def _counts(stats: dict[str, Any]) -> Counter[Key]:
    return Counter({(r["method"], r["entitySet"], r["status"]): r["count"] for r in stats["requests"]})


async def _stats(targets: dict[str, SyncTarget]) -> dict[str, Counter[Key]]:
    return {s: _counts(await t.target.control("stats")) for s, t in targets.items()}


def _diff(after: dict[str, Counter[Key]], before: dict[str, Counter[Key]]) -> dict[str, Counter[Key]]:
    return {s: after[s] - before[s] for s in after}


def _writes(counts: Counter[Key]) -> int:
    return sum(n for (method, _s, _st), n in counts.items() if method in WRITE_METHODS)


def usage_of(
    *,
    service: str,
    counts: Counter[Key],
    operations: Counter[tuple[str, str]],
    batches_by_set: Counter[str],
    sizes: dict[str, int],
    config: BenchConfig,
) -> Usage:
    """Classify one service's requests of the full sync and compute the minimum:
    reads Σ over sets read max(1, ⌈N / page⌉) with N the set's rows when the run started;
    writes Σ over sets written ⌈n / batch limit⌉ with n the operations sent to the set in $batch
    bodies; other: 1 on the ERP (the GET of `companies` resolving the company id), 0 on the CRM."""
    usage = Usage(service=service, other_minimum=1 if service == "erp" else 0)
    page, limit = config.page(service), config.batch(service)
    statuses: Counter[str] = Counter()
    gets: Counter[str] = Counter()
    for (method, entity_set, status), n in counts.items():
        statuses["dropped" if status == 0 else str(status)] += n
        if entity_set == "$batch":
            usage.batches += n
        elif method == "GET" and entity_set in sizes and entity_set != "companies":
            gets[entity_set] += n
        else:
            usage.other += n
            usage.other_detail[f"{method} {entity_set}"] = (
                usage.other_detail.get(f"{method} {entity_set}", 0) + n
            )
    for entity_set, made in sorted(gets.items()):
        rows = sizes[entity_set]
        minimum = max(1, math.ceil(rows / page))
        usage.sets_read[entity_set] = [rows, page, minimum, made]
        usage.reads += made
        usage.read_minimum += minimum
        usage.records_read += rows
    per_set: Counter[str] = Counter()
    for (_method, entity_set), n in operations.items():
        per_set[entity_set] += n
    for entity_set, n in sorted(per_set.items()):
        minimum = math.ceil(n / limit)
        usage.sets_written[entity_set] = [n, limit, minimum, batches_by_set[entity_set]]
        usage.batch_minimum += minimum
        usage.operations += n
    usage.statuses = dict(sorted(statuses.items()))
    return usage


# ------------------------------------------------------------------------------------ measuring


async def _round(
    name: str,
    engine: SyncEngine,
    entries: Sequence[tuple[str, str, float]],
    targets: dict[str, SyncTarget],
) -> Round:
    """Every schedule entry once, one after the other, so each entry's requests are its own."""
    runs = []
    for mapping, direction, _interval in entries:
        before = await _stats(targets)
        t0 = time.perf_counter()
        summary = await engine.run(mapping=mapping, direction=direction)
        seconds = time.perf_counter() - t0
        made = _diff(await _stats(targets), before)
        detail: Counter[str] = Counter()
        for service, counts in made.items():
            for (method, entity_set, _status), n in counts.items():
                detail[f"{service} {method} {entity_set}"] += n
        runs.append(
            EntryRun(
                mapping=mapping,
                direction=direction,
                requests=sum(sum(c.values()) for c in made.values()),
                writes=sum(_writes(c) for c in made.values()),
                seconds=seconds,
                detail=dict(sorted(detail.items())),
                status=summary.status,
                counts=dict(summary.counts),
            )
        )
    # The round's time is the engine's: the /_sim/stats calls between entries are left out.
    return Round(name=name, seconds=sum(r.seconds for r in runs), runs=runs)


PHONE_FIELDS = {"erp": "phoneNumber", "crm": "telephone1"}


async def _change(
    *, sessions: Any, editors: tuple[ErpConnector, CrmConnector], count: int
) -> list[tuple[str, str, str, str]]:
    """Edit `count` coupled customers' phone numbers with PATCH + If-Match (the record's ETag): half
    on the ERP, half on the CRM. Returns (edited side, erp id, crm id, new phone)."""
    erp, crm = editors
    async with sessions() as session:
        rows = (
            await session.exec(
                select(Coupling).where(
                    Coupling.mapping == "CUSTOMER",
                    Coupling.state == CouplingState.COUPLED.value,
                    Coupling.skipped == False,  # noqa: E712
                )
            )
        ).all()
    chosen = sorted(rows, key=lambda c: c.erp_key or "")[:count]
    edits = []
    for index, coupling in enumerate(chosen):
        assert coupling.erp_id is not None and coupling.crm_id is not None
        if index % 2 == 0:
            phone = f"+1 555 {index:04d}"
            record = await erp.get("customers", coupling.erp_id)
            await erp.update("customers", coupling.erp_id, {"phoneNumber": phone}, etag=record.etag or "*")
            edits.append(("erp", coupling.erp_id, coupling.crm_id, phone))
        else:
            phone = f"+44 20 {index:04d}"
            account = await crm.get("accounts", coupling.crm_id)
            await crm.update("accounts", coupling.crm_id, {"telephone1": phone}, etag=account.etag or "*")
            edits.append(("crm", coupling.erp_id, coupling.crm_id, phone))
    return edits


async def _arrived(
    edits: list[tuple[str, str, str, str]], editors: tuple[ErpConnector, CrmConnector]
) -> list[str]:
    """The edits whose other side does not carry the new phone number."""
    erp, crm = editors
    missing = []
    for side, erp_id, crm_id, phone in edits:
        if side == "erp":
            other = (await crm.get("accounts", crm_id)).values.get("telephone1")
        else:
            other = (await erp.get("customers", erp_id)).values.get("phoneNumber")
        if other != phone:
            missing.append(f"{side} edit {phone!r} of customer {erp_id}: the other side has {other!r}")
    return missing


async def measure(config: BenchConfig, targets: dict[str, SyncTarget], workdir: Path) -> Result:
    result = Result(config=asdict(config))
    url = config.database_url or f"sqlite+aiosqlite:///{workdir / 'store.db'}"
    db = create_engine(url)
    await upgrade_engine(db)
    settings = _settings(config, targets["erp"].target, targets["crm"].target, url)
    meters = {s: MeteredTransport(httpx.AsyncHTTPTransport()) for s in SERVICES}
    erp = build_erp_connector(settings, transport=meters["erp"])
    crm = build_crm_connector(settings, transport=meters["crm"])
    editors = (build_erp_connector(settings), build_crm_connector(settings))
    sessions = session_factory(db)
    engine = SyncEngine(sessions=sessions, erp=erp, crm=crm)
    control = SyncControl(sessions=sessions, engine=engine, concurrency=config.concurrency)
    try:
        await control.ensure_defaults()
        # ---- full synchronization, as the admin API starts it
        before = await _stats(targets)
        ops_before = {s: Counter(m.operations) for s, m in meters.items()}
        carried_before = {s: Counter(m.batches_by_set) for s, m in meters.items()}
        started, cpu = time.perf_counter(), time.process_time()
        await control.start_full_sync()
        summaries = await control.wait_full_sync()
        result.full_seconds = time.perf_counter() - started
        result.full_cpu_seconds = time.process_time() - cpu
        made = _diff(await _stats(targets), before)
        result.rss_kib["bench process after full sync"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        result.summaries = summaries
        for service in SERVICES:
            ops = meters[service].operations - ops_before[service]
            usage = usage_of(
                service=service,
                counts=made[service],
                operations=ops,
                batches_by_set=meters[service].batches_by_set - carried_before[service],
                sizes=targets[service].sizes,
                config=config,
            )
            result.usage.append(usage)
        for summary in summaries:
            if summary["message"] is not None:  # the run stopped; failed records are listed, not fatal
                result.problems.append(
                    f"full sync of {summary['mapping']}: {summary['status']} {summary['message']}"
                )
        await _expected_reads(sessions, result)
        async with sessions() as session:
            result.couplings = len((await session.exec(select(Coupling))).all())
            reasons: Counter[str] = Counter(
                f"{e.mapping}: {e.reason}"[:120] for e in (await session.exec(select(JobError))).all()
            )
        result.errors = dict(reasons.most_common(8))
        # ---- incremental rounds over every schedule entry
        entries = await catalog.schedule_entries(sessions)
        echo = await _round("first incremental (sees the full sync's own writes)", engine, entries, targets)
        idle = await _round("idle incremental (nothing changed)", engine, entries, targets)
        result.rounds += [echo, idle]
        if idle.writes:
            result.problems.append(f"the idle round wrote {idle.writes} times")
        for run in echo.runs:
            if run.writes:
                result.problems.append(f"echo: {run.mapping} {run.direction} wrote {run.writes} times")
        edits = await _change(sessions=sessions, editors=editors, count=config.changes)
        result.changed = len(edits)
        if len(edits) < config.changes:
            result.problems.append(f"only {len(edits)} coupled customers to change, not {config.changes}")
        changed = await _round(f"incremental after {len(edits)} changes", engine, entries, targets)
        result.rounds.append(changed)
        missing = await _arrived(edits, editors)
        result.arrived = len(edits) - len(missing)
        result.problems += missing[:10]
        if len(missing) > 10:
            result.problems.append(f"... and {len(missing) - 10} more changes that did not arrive")
        _goals(result)
    finally:
        await control.aclose()
        for connector in (erp, crm, *editors):
            await connector.aclose()
        await db.dispose()
    return result


async def _expected_reads(sessions: Any, result: Result) -> None:
    """Every entity set of an enabled mapping (and the pricing sets) must have been read."""
    async with sessions() as session:
        mappings = [m for m in await catalog.load_mappings(session) if m.enabled]
    expected = {("erp", m.erp_entity) for m in mappings} | {("crm", m.crm_entity) for m in mappings}
    expected |= {("erp", name) for name, _api, _keys in PRICING_SETS}
    read = {(u.service, s) for u in result.usage for s in u.sets_read}
    for service, entity_set in sorted(expected - read):
        if entity_set:
            result.problems.append(f"{service} {entity_set} was never read")
    for usage in result.usage:
        for entity_set, (rows, _page, minimum, made) in usage.sets_read.items():
            if made < minimum:
                result.problems.append(
                    f"{usage.service} {entity_set}: {made} GETs cannot carry {rows} rows (sizes wrong?)"
                )


def _goals(result: Result) -> None:
    for usage in result.usage:
        if usage.minimum and usage.total > usage.minimum * 1.01:
            result.goals_missed.append(
                f"{usage.service}: {usage.total} requests, {usage.total / usage.minimum:.2f}x the minimum "
                f"{usage.minimum} (goal: within 1%)"
            )
    idle = next(r for r in result.rounds if r.name.startswith("idle"))
    for run in idle.runs:
        if run.requests > 1:
            result.goals_missed.append(
                f"idle {run.mapping} {run.direction}: {run.requests} requests (goal ≤ 1): {run.detail}"
            )


def run_benchmark(config: BenchConfig) -> Result:
    processes = {
        s: DemoSimulatorProcess(s, customers=config.customers, items=config.items, seed=config.seed)
        for s in SERVICES
    }
    try:
        targets = {s: p.wait_ready_sized() for s, p in processes.items()}
        with tempfile.TemporaryDirectory(prefix="bench-sync-") as workdir:
            result = asyncio.run(measure(config, targets, Path(workdir)))
        for service, process in processes.items():
            result.rss_kib[f"{service} simulator"] = process.peak_rss_kib()
    finally:
        for process in processes.values():
            process.stop()
    result.rss_kib["bench process"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return result


# ------------------------------------------------------------------------------------ reporting


def _table(rows: list[tuple[str, ...]], numeric: set[int]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            c.rjust(w) if i in numeric else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]


def _ratio(made: int, minimum: int) -> str:
    return f"{made / minimum:.3f}" if minimum else "-"


def format_report(result: Result, config: BenchConfig, info: dict[str, str]) -> str:
    database = (
        "PostgreSQL" if config.database_url and "postgres" in config.database_url else "SQLite (fresh file)"
    )
    lines = [
        f"sync benchmark: demo data seed {config.seed}, {config.customers:,} customers,"
        f" {config.items:,} items; store {database}",
        f"machine: {info['cpus']} CPUs, {info['cpu']}, Python {info['python']}, {info['date']}",
        f"load average (1/5/15 min) at start {info['load']}, at end {machine()['load']}",
        f"pages erp {config.erp_page_size:,} / crm {config.crm_page_size:,};"
        f" batches erp {config.erp_batch_size} / crm {config.crm_batch_size};"
        f" full sync concurrency {config.concurrency}",
        "",
        f"full sync: {result.full_seconds:.1f} s wall, {result.full_cpu_seconds:.1f} s CPU (bench process),"
        f" {result.records_read:,} records read, {result.records_per_second:,.0f} records/s;"
        f" {sum(u.operations for u in result.usage):,} records written; {result.couplings:,} couplings",
        "",
    ]
    rows: list[tuple[str, ...]] = [("service", "kind", "requests", "minimum", "ratio", "what N is")]
    for u in result.usage:
        rows.append(
            (
                u.service,
                "GET reads",
                str(u.reads),
                str(u.read_minimum),
                _ratio(u.reads, u.read_minimum),
                f"{u.records_read:,} rows in {len(u.sets_read)} sets, page {config.page(u.service):,}",
            )
        )
        rows.append(
            (
                u.service,
                "$batch writes",
                str(u.batches),
                str(u.batch_minimum),
                _ratio(u.batches, u.batch_minimum),
                f"{u.operations:,} operations, limit {config.batch(u.service)}",
            )
        )
        rows.append(
            (
                u.service,
                "other",
                str(u.other),
                str(u.other_minimum),
                _ratio(u.other, u.other_minimum),
                ", ".join(f"{k} x{v}" for k, v in sorted(u.other_detail.items())) or "-",
            )
        )
    total, minimum = sum(u.total for u in result.usage), sum(u.minimum for u in result.usage)
    rows.append(("both", "total", str(total), str(minimum), _ratio(total, minimum), ""))
    lines += _table(rows, {2, 3, 4})
    lines.append("")
    for u in result.usage:
        reads = " ".join(f"{s}={n}/{made}" for s, (n, _p, _m, made) in u.sets_read.items())
        lines.append(f"{u.service} reads (set=rows/GETs): {reads}")
        writes = " ".join(f"{s}={n}/{m}/{b}" for s, (n, _l, m, b) in u.sets_written.items()) or "none"
        lines.append(f"{u.service} writes (set=operations/minimum batches/batches carrying it): {writes}")
        lines.append(f"{u.service} statuses: {u.statuses}")
    lines.append("")
    lines.append(
        "full sync runs: "
        + "; ".join(
            f"{s['mapping']} +{s['counts'].get('inserted', 0)} ~{s['counts'].get('modified', 0)}"
            + (f" failed {s['counts']['failed']}" if s["counts"].get("failed") else "")
            for s in result.summaries
        )
    )
    lines.append(
        "(+ inserted, ~ modified; a run with failed records ends in status error, listed under errors)"
    )
    for reason, n in result.errors.items():
        lines.append(f"  open errors x{n}: {reason}")
    for round_ in result.rounds:
        lines.append("")
        lines.append(
            f"{round_.name}: {len(round_.runs)} mapping-directions, {round_.requests} requests,"
            f" {round_.writes} writes, {round_.seconds:.2f} s"
        )
        rows = [("mapping", "direction", "requests", "writes", "seconds", "changed", "requests made")]
        for r in round_.runs:
            changed = r.counts.get("modified", 0) + r.counts.get("inserted", 0)
            rows.append(
                (
                    r.mapping,
                    r.direction,
                    str(r.requests),
                    str(r.writes),
                    f"{r.seconds:.2f}",
                    str(changed),
                    ", ".join(f"{k} x{v}" for k, v in r.detail.items()),
                )
            )
        lines += ["  " + line for line in _table(rows, {2, 3, 4, 5})]
    lines.append("")
    lines.append(
        f"changes: {result.changed} edited ({result.changed - result.changed // 2} ERP, "
        f"{result.changed // 2} CRM), {result.arrived} arrived on the other side"
    )
    idle = next((r for r in result.rounds if r.name.startswith("idle")), None)
    last = result.rounds[-1] if result.rounds else None
    lines.append("ratios (this run):")
    lines.append(f"  full sync requests / minimum: {_ratio(total, minimum)}")
    if idle is not None:
        lines.append(
            f"  idle round: {idle.requests / max(1, len(idle.runs)):.2f} requests per mapping-direction"
        )
    if idle is not None and last is not None and idle.seconds > 0:
        lines.append(
            f"  round with changes / idle round: {last.requests / max(1, idle.requests):.2f}x the"
            f" requests, {last.seconds / idle.seconds:.2f}x the time"
        )
    if last is not None and result.full_seconds > 0:
        lines.append(f"  round with changes / full sync: {last.seconds / result.full_seconds:.4f}x the time")
    lines.append(
        "peak RSS: "
        + ", ".join(f"{name} {kib / 1024:.0f} MiB" for name, kib in result.rss_kib.items() if kib)
    )
    lines += [f"goal missed: {g}" for g in result.goals_missed]
    lines += [f"CHECK FAILED: {p}" for p in result.problems]
    lines.append("result: " + ("ok" if result.ok else "FAILED"))
    return "\n".join(lines)


def as_dict(result: Result) -> dict[str, Any]:
    data = asdict(result)
    data["ok"] = result.ok
    data["records_read"] = result.records_read
    data["usage"] = [dict(asdict(u), total=u.total, minimum=u.minimum) for u in result.usage]
    data["rounds"] = [dict(asdict(r), requests=r.requests, writes=r.writes) for r in result.rounds]
    return data


# ----------------------------------------------------------------------------------------- main

QUICK: dict[str, Any] = {"customers": 500, "items": 100}


def parse_args(argv: Sequence[str] | None) -> tuple[BenchConfig, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="500 customers, 100 items")
    parser.add_argument("--customers", type=int)
    parser.add_argument("--items", type=int)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--changes", type=int, help="records changed before the last round (default 100)")
    parser.add_argument(
        "--concurrency", type=int, help="mappings of one layer run at once (default 2, the app's)"
    )
    parser.add_argument(
        "--database-url", help="an EMPTY database (e.g. PostgreSQL); default a fresh SQLite file"
    )
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    config = BenchConfig(**QUICK) if args.quick else BenchConfig()
    changes = {
        "customers": args.customers,
        "items": args.items,
        "seed": args.seed,
        "changes": args.changes,
        "concurrency": args.concurrency,
        "database_url": args.database_url,
    }
    config = replace(config, **{k: v for k, v in changes.items() if v is not None})
    return config, args


def main(argv: Sequence[str] | None = None) -> int:
    config, args = parse_args(argv)
    info = machine()
    result = run_benchmark(config)
    print(format_report(result, config, info), flush=True)
    if args.json:
        payload = {"config": asdict(config), "machine": info, "result": as_dict(result)}
        args.json.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
