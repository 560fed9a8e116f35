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
import resource
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` and `gateway` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from sqlmodel import select

from bench._servers import Target
from bench._sync_meter import MeteredTransport
from bench._sync_model import SERVICES, BenchConfig, Result
from bench._sync_report import as_dict, format_report, stall_dict
from bench._sync_rounds import arrived, change_customers, run_round
from bench._sync_servers import DemoSimulatorProcess, SyncTarget
from bench._sync_usage import diff, stats, usage_of
from bench.read_throughput import machine
from gateway.config import Settings, load_settings
from gateway.services.sync_control import SyncControl
from gateway.store.engine import create_engine, session_factory
from gateway.store.migrate import upgrade_engine
from gateway.store.tables import Coupling, JobError
from gateway.sync import catalog
from gateway.sync.engine import SyncEngine
from gateway.sync.loop_watch import LoopWatch
from gateway.sync.pricing_mirror import PRICING_SETS
from gateway.upstream.factory import build_crm_connector, build_erp_connector

__all__ = ["BenchConfig", "Result", "as_dict", "format_report", "main", "run_benchmark"]


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


async def measure(config: BenchConfig, targets: dict[str, SyncTarget], workdir: Path) -> Result:
    result = Result(config=asdict(config))
    url = config.database_url or f"sqlite+aiosqlite:///{workdir / 'store.db'}"
    db = create_engine(url)
    await upgrade_engine(db)
    settings = _settings(config, targets["erp"].target, targets["crm"].target, url)
    journal: list[tuple[str, dict[str, int]]] = []
    meters = {s: MeteredTransport(httpx.AsyncHTTPTransport(), name=s, journal=journal) for s in SERVICES}
    erp = build_erp_connector(settings, transport=meters["erp"])
    crm = build_crm_connector(settings, transport=meters["crm"])
    editors = (build_erp_connector(settings), build_crm_connector(settings))
    sessions = session_factory(db)
    engine = SyncEngine(sessions=sessions, erp=erp, crm=crm)
    # As the app: GATEWAY_LEASE_TTL_SECONDS applies (on a starved machine 15 s can lapse mid-run).
    control = SyncControl(
        sessions=sessions, engine=engine, concurrency=config.concurrency, lease_ttl=settings.lease_ttl_seconds
    )
    try:
        await control.ensure_defaults()
        # ---- full synchronization, as the admin API starts it
        before = await stats(targets)
        ops_before = {s: Counter(m.operations) for s, m in meters.items()}
        carried_before = {s: Counter(m.batches_by_set) for s, m in meters.items()}
        read_batches_before = {s: m.read_batches for s, m in meters.items()}
        started, cpu = time.perf_counter(), time.process_time()
        async with LoopWatch(threshold=config.stall_threshold) as watch:
            await control.start_full_sync()
            summaries = await control.wait_full_sync()
        result.stall_threshold = config.stall_threshold
        result.stalls = [stall_dict(s) for s in watch.stalls]
        result.full_seconds = time.perf_counter() - started
        result.full_cpu_seconds = time.process_time() - cpu
        made = diff(await stats(targets), before)
        result.full_batches = list(journal)  # before the rounds add theirs
        result.rss_kib["bench process after full sync"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        result.summaries = summaries
        for service in SERVICES:
            ops = meters[service].operations - ops_before[service]
            usage = usage_of(
                service=service,
                counts=made[service],
                operations=ops,
                batches_by_set=meters[service].batches_by_set - carried_before[service],
                read_batches=meters[service].read_batches - read_batches_before[service],
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
        echo = await run_round(
            "first incremental (sees the full sync's own writes)", engine, entries, targets, meters
        )
        idle = await run_round("idle incremental (nothing changed)", engine, entries, targets, meters)
        result.rounds += [echo, idle]
        if idle.writes:
            result.problems.append(f"the idle round wrote {idle.writes} times")
        for run in echo.runs:
            if run.writes:
                result.problems.append(f"echo: {run.mapping} {run.direction} wrote {run.writes} times")
        edits = await change_customers(sessions=sessions, editors=editors, count=config.changes)
        result.changed = len(edits)
        if len(edits) < config.changes:
            result.problems.append(f"only {len(edits)} coupled customers to change, not {config.changes}")
        changed = await run_round(f"incremental after {len(edits)} changes", engine, entries, targets, meters)
        result.rounds.append(changed)
        missing = await arrived(edits, editors)
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
    parser.add_argument(
        "--stall-threshold",
        type=float,
        help="report event-loop stalls of the full sync longer than this (s, default 1)",
    )
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument(
        "--batch-log",
        type=Path,
        help="write the full sync's write $batches here in the order sent, one line each: the service, "
        "its operations, and their count per method and entity set",
    )
    args = parser.parse_args(argv)
    config = BenchConfig(**QUICK) if args.quick else BenchConfig()
    changes = {
        "customers": args.customers,
        "items": args.items,
        "seed": args.seed,
        "changes": args.changes,
        "concurrency": args.concurrency,
        "database_url": args.database_url,
        "stall_threshold": args.stall_threshold,
    }
    config = replace(config, **{k: v for k, v in changes.items() if v is not None})
    return config, args


def main(argv: Sequence[str] | None = None) -> int:
    config, args = parse_args(argv)
    info = machine()
    result = run_benchmark(config)
    print(format_report(result, config, info), flush=True)
    if args.batch_log:
        lines = [f"{service} {sum(ops.values())} {ops}\n" for service, ops in result.full_batches]
        args.batch_log.write_text("".join(lines))
    if args.json:
        payload = {"config": asdict(config), "machine": info, "result": as_dict(result)}
        args.json.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
