"""Synchronization benchmark: a full sync of a large demo data set through the real engine, upstream
requests beside the minimum, peak memory, then incremental rounds (echo, idle, 100 changes) in two
modes: polling only (no BC webhook subscription), then the designed mode (issue 3 §4), with our BC
subscriptions in place and BC's notifications delivered to the gateway's own receiver (its app served
by uvicorn on loopback, bench/_sync_webhooks.py) before each round: first round, idle, 100 changes,
and a shipment plus a renamed unit (sets polled only when BC notifies them).
The idle goal (≤ 1 request per mapping-direction) applies to the designed mode; polling mode's extra
polls are reported beside it.

    .venv/bin/python bench/sync.py            # 20,000 customers, 5,000 items (~50,000 price lines)
    .venv/bin/python bench/sync.py --quick    # 500 customers, 100 items: a smoke run
    .venv/bin/python bench/sync.py --polling-only   # without the designed mode's rounds

Both simulators run in child processes over loopback HTTP; the store is a fresh SQLite file (or
--database-url, which must point at an empty database). The exit status is 1 when a correctness
check fails (a run failed, an idle round wrote, a change did not arrive, an ERP edit was not notified);
missed performance goals only print "goal missed" lines.
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
from bench._sync_model import SERVICES, BenchConfig, Result, Round, WebhookMode
from bench._sync_report import as_dict, format_report, stall_dict
from bench._sync_rounds import arrived, change_customers, change_gated_sets, gated_arrived, run_round
from bench._sync_servers import DemoSimulatorProcess, SyncTarget
from bench._sync_usage import detail_of, diff, stats, usage_of
from bench._sync_webhooks import Receiver, notified_ids, serve_receiver, summarize
from bench.read_throughput import machine
from gateway.config import Settings, load_settings
from gateway.services.sync_control import SyncControl
from gateway.store.engine import create_engine, session_factory
from gateway.store.migrate import upgrade_engine
from gateway.store.tables import Coupling, JobError
from gateway.sync import catalog
from gateway.sync.deletion_check import DeletionCheck
from gateway.sync.deletion_requests import checked_sets
from gateway.sync.engine import SyncEngine
from gateway.sync.loop_watch import LoopWatch
from gateway.sync.pricing_mirror import PRICING_SETS
from gateway.sync.subscriptions import SubscriptionManager
from gateway.upstream.crm import CrmConnector
from gateway.upstream.erp import ErpConnector
from gateway.upstream.factory import build_crm_connector, build_erp_connector

__all__ = ["BenchConfig", "Result", "as_dict", "format_report", "main", "run_benchmark"]


ECHO_OF_CHANGES = "after the round with changes (its own writes)"
ECHO_OF_LAST = "after the last round (its own writes)"
# Seconds the ERP simulator waits before it notifies a change on its own: far beyond any run.
WEBHOOK_TIMER_OFF = 86_400.0


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
        _missing(result, missing)
        if config.webhooks:
            async with serve_receiver(settings) as receiver:
                await _webhook_rounds(
                    config,
                    result,
                    receiver,
                    sessions=sessions,
                    engine=engine,
                    erp=erp,
                    editors=editors,
                    entries=entries,
                    targets=targets,
                    meters=meters,
                )
        _goals(result)
    finally:
        await control.aclose()
        for connector in (erp, crm, *editors):
            await connector.aclose()
        await db.dispose()
    return result


def _missing(result: Result, missing: list[str]) -> None:
    result.problems += missing[:10]
    if len(missing) > 10:
        result.problems.append(f"... and {len(missing) - 10} more changes that did not arrive")


async def _deliver(targets: dict[str, SyncTarget], receiver: Receiver, result: Result) -> dict[str, Any]:
    """BC's notifications of everything logged so far, sent now (BC sends them ~30 s after a change;
    the simulator's own timer is set far out so that none lands inside a round), and what our receiver
    got since the previous call."""
    sent = await targets["erp"].target.control("webhooks", {})
    if sent.get("failed") or sent.get("removed"):
        result.problems.append(f"BC could not deliver its notifications to our receiver: {sent}")
    got = summarize(receiver.since_last())
    if got["refused"]:
        result.problems.append(f"our receiver refused {got['refused']} deliveries")
    return got


async def _webhook_rounds(
    config: BenchConfig,
    result: Result,
    receiver: Receiver,
    *,
    sessions: Any,
    engine: SyncEngine,
    erp: ErpConnector,
    editors: tuple[ErpConnector, CrmConnector],
    entries: list[tuple[str, str, float]],
    targets: dict[str, SyncTarget],
    meters: dict[str, MeteredTransport],
) -> None:
    """The designed mode (issue 3 §4): the subscription manager's pass puts our BC subscriptions in
    place (as `gateway worker` does, with the bench's connector), the deletion checks the new
    subscriptions ask for run once (as the scheduler would at once), then the rounds: the first
    (sees the polling round's writes), idle, and 100 more changes, each after BC delivered what it
    logged; ERP edits must reach the receiver as notifications and every change the other side. Last,
    a round after changes in the sets whose polls only BC's notifications trigger (a shipment, a
    renamed unit of measure), which must arrive too."""
    mode = result.webhook_mode = WebhookMode(receiver=receiver.url)
    manager = SubscriptionManager(
        sessions=sessions,
        erp=erp,
        notification_url=receiver.url,
        client_state=receiver.client_state,
        holder="bench/subscriptions",
        recheck_seconds=0.0,  # the next pass is due at once: the bench measures an idle one below
    )
    before = await stats(targets)
    t0 = time.perf_counter()
    passed = await manager.run_once()
    mode.subscribe_seconds = time.perf_counter() - t0
    mode.subscribe_requests = detail_of(diff(await stats(targets), before))
    if passed is None or not passed.ok or not passed.created:
        result.problems.append(f"the subscription pass did not put our subscriptions in place: {passed}")
        return
    mode.subscribed = sorted(passed.created)
    checks = DeletionCheck(sessions=sessions, erp=erp)
    async with sessions() as session:
        checked = sorted(checked_sets(await catalog.load_mappings(session)))

    async def deletion_checks() -> dict[str, int]:
        made_by: dict[str, int] = {}
        for entity_set in checked:
            before = await stats(targets)
            summary = await checks.run(entity_set=entity_set)
            made = diff(await stats(targets), before)
            made_by[entity_set] = sum(sum(c.values()) for c in made.values())
            if summary is not None and (summary.status != "success" or summary.counts.get("deleted")):
                result.problems.append(f"deletion check of {entity_set}: {summary.status} {summary.message}")
        return made_by

    mode.deletion_checks = await deletion_checks()
    mode.notifications["subscribing"] = summarize(receiver.since_last())

    async def notified_round(name: str) -> Round:
        notices = await _deliver(targets, receiver, result)
        done = await run_round(name, engine, entries, targets, meters, mode="webhooks")
        done.notifications = notices
        result.rounds.append(done)
        return done

    first = await notified_round("first incremental with subscriptions (sees the previous round's writes)")
    idle = await notified_round("idle incremental (nothing changed)")
    # What else the designed mode's scheduler does while idle: each set's deletion check (no request
    # while our subscription covers the set and nobody asked) and the subscription pass (a listing).
    mode.idle_deletion_checks = await deletion_checks()
    before = await stats(targets)
    again = await manager.run_once()
    mode.idle_pass_requests = detail_of(diff(await stats(targets), before))
    if again is None or not again.ok or again.created or again.recreated or again.renewed:
        result.problems.append(f"webhooks: the idle subscription pass changed something: {again}")
    for done in (first, idle):
        if done.writes:
            result.problems.append(f"webhooks: {done.name} wrote {done.writes} times")
    edits = await change_customers(sessions=sessions, editors=editors, count=config.changes, series=1)
    mode.changed = len(edits)
    changed = await notified_round(f"incremental after {len(edits)} changes")
    erp_edits = {erp_id.lower() for side, erp_id, _crm, _phone in edits if side == "erp"}
    named = notified_ids(receiver.log, "customers")
    mode.notified_edits = len(erp_edits & named)
    if erp_edits - named:
        result.problems.append(f"webhooks: {len(erp_edits - named)} ERP edits were never notified")
    woken = (changed.notifications or {}).get("woken", {})
    if erp_edits and "CUSTOMER erp_to_crm" not in woken:
        result.problems.append(
            f"webhooks: the ERP edits' notifications did not wake CUSTOMER erp_to_crm: {woken}"
        )
    missing = await arrived(edits, editors)
    mode.arrived = len(edits) - len(missing)
    _missing(result, [f"webhooks: {m}" for m in missing])
    mode.notifications[ECHO_OF_CHANGES] = await _deliver(targets, receiver, result)
    # The sets whose polls wait for BC: a shipment and a renamed unit arrive only through a notice
    # (or the 5-minute fallback poll, which is not due here).
    shipped, units = await change_gated_sets(sessions=sessions, erp=editors[0], target=targets["erp"])
    mode.gated_changes = len(shipped) + len(units)
    gated = await notified_round("incremental after a BC shipment and a renamed unit")
    woken = (gated.notifications or {}).get("woken", {})
    for wanted in ("SALES ORDER crm_to_erp", "ERP PRICING erp_to_crm"):
        if wanted not in woken:
            result.problems.append(f"webhooks: the gated sets' notifications did not wake {wanted}: {woken}")
    missing = await gated_arrived(sessions=sessions, crm=editors[1], shipped=shipped, units=units)
    mode.gated_arrived = mode.gated_changes - len(missing)
    _missing(result, [f"webhooks: {m}" for m in missing])
    mode.notifications[ECHO_OF_LAST] = await _deliver(targets, receiver, result)


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
    """The full sync within 1% of the minimum; the idle round at most one request per
    mapping-direction in the designed mode (BC webhooks), or in polling mode when it is the only one
    measured (--polling-only). Polling mode's extra polls beside it are reported, not goals."""
    for usage in result.usage:
        if usage.minimum and usage.total > usage.minimum * 1.01:
            result.goals_missed.append(
                f"{usage.service}: {usage.total} requests, {usage.total / usage.minimum:.2f}x the minimum "
                f"{usage.minimum} (goal: within 1%)"
            )
    designed = result.webhook_mode
    if designed is not None:
        for entity_set, made in designed.idle_deletion_checks.items():
            if made:
                result.goals_missed.append(
                    f"webhooks: idle deletion check of {entity_set}: {made} requests (goal: none)"
                )
        if sum(designed.idle_pass_requests.values()) > 1:
            result.goals_missed.append(
                f"webhooks: idle subscription pass: {designed.idle_pass_requests} (goal ≤ 1)"
            )
    idle = {r.mode: r for r in result.rounds if r.name.startswith("idle")}
    goal_mode = "webhooks" if "webhooks" in idle else "polling"
    for mode, round_ in idle.items():
        for run in round_.runs:
            if run.requests <= 1:
                continue
            line = f"idle {run.mapping} {run.direction}: {run.requests} requests (goal ≤ 1): {run.detail}"
            if mode == goal_mode:
                result.goals_missed.append(f"{mode}: {line}")
            else:
                result.notes.append(f"{mode} mode (no BC subscription): {line}")


def run_benchmark(config: BenchConfig) -> Result:
    processes = {
        s: DemoSimulatorProcess(
            s,
            customers=config.customers,
            items=config.items,
            seed=config.seed,
            # The bench sends BC's notifications itself between rounds (`_deliver`): none on a timer.
            webhook_delay=WEBHOOK_TIMER_OFF if s == "erp" else None,
        )
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
    parser.add_argument(
        "--polling-only",
        action="store_true",
        help="skip the rounds with BC webhook subscriptions (the designed mode); the idle goal then "
        "applies to the polling round",
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
        "webhooks": False if args.polling_only else None,
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
