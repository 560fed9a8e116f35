"""The sync benchmark's text report and JSON form."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from bench._sync_model import BenchConfig, Result, Round
from bench.read_throughput import machine
from gateway.sync.loop_watch import Stall


def stall_dict(stall: Stall) -> dict[str, Any]:
    """A stall for the report: `where` is the innermost frames in gateway/ (the section that held
    the loop), innermost last; the whole stack is kept for the JSON."""
    return {
        "seconds": round(stall.seconds, 2),
        "cpu_seconds": round(stall.cpu_seconds, 2),
        "where": stall.where(),
        "stack": stall.stack,
    }


def _stall_lines(result: Result) -> list[str]:
    stalls = sorted(result.stalls, key=lambda s: -s["seconds"])
    lines = [
        f"event-loop stalls > {result.stall_threshold:g} s during the full sync: {len(stalls)}"
        + (f", longest {stalls[0]['seconds']:.2f} s" if stalls else "")
    ]
    for stall in stalls[:8]:
        lines.append(f"  {stall['seconds']:6.2f} s ({stall['cpu_seconds']:.2f} s CPU) at {stall['where']}")
    return lines


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


_MODES = {"polling": "polling only", "webhooks": "BC webhooks"}


def _first_webhooks(result: Result) -> Round | None:
    return next((r for r in result.rounds if r.mode == "webhooks"), None)


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _notified(got: dict[str, Any]) -> str:
    if not got["notifications"]:
        return f"nothing ({_plural(got['deliveries'], 'delivery', 'deliveries')})"
    by_set = ", ".join(f"{k} x{v}" for k, v in got["by_set"].items())
    woken = ", ".join(f"{k} x{v}" for k, v in got["woken"].items()) or "none"
    return (
        f"{got['notifications']} notifications in {_plural(got['deliveries'], 'delivery', 'deliveries')}"
        f" ({by_set}); woke {woken}" + (f"; {got['refused']} refused" if got["refused"] else "")
    )


def _webhook_lines(result: Result) -> list[str]:
    mode = result.webhook_mode
    assert mode is not None
    made = ", ".join(f"{k} x{v}" for k, v in mode.subscribe_requests.items())
    checks = " ".join(f"{s}={n}" for s, n in mode.deletion_checks.items())
    handshakes = mode.notifications.get("subscribing", {}).get("handshakes", 0)
    return [
        "",
        f"BC webhooks (designed mode): receiver {mode.receiver} (the gateway's app, uvicorn, loopback;"
        " BC's notifications sent before each round)",
        f"  subscription pass: {sum(mode.subscribe_requests.values())} requests ({made}),"
        f" {len(mode.subscribed)} subscriptions created, {handshakes} handshakes answered,"
        f" {mode.subscribe_seconds:.2f} s",
        f"  deletion checks the new subscriptions asked for (set=requests): {checks or 'none'}",
    ]


def _idle_extras(result: Result) -> list[str]:
    mode = result.webhook_mode
    if mode is None or not mode.idle_pass_requests:
        return []
    checks = " ".join(f"{s}={n}" for s, n in mode.idle_deletion_checks.items())
    made = ", ".join(f"{k} x{v}" for k, v in mode.idle_pass_requests.items())
    return [
        f"  after it, the scheduler's other idle work: deletion checks (set=requests) {checks or 'none'};"
        f" the next subscription pass (every 5 min) {sum(mode.idle_pass_requests.values())} request"
        f" ({made})",
    ]


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
        *_stall_lines(result),
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
        if (
            round_.mode == "webhooks"
            and result.webhook_mode is not None
            and round_ is _first_webhooks(result)
        ):
            lines += _webhook_lines(result)
        lines.append("")
        lines.append(
            f"[{_MODES[round_.mode]}] {round_.name}: {len(round_.runs)} mapping-directions,"
            f" {round_.requests} requests, {round_.writes} writes, {round_.seconds:.2f} s"
        )
        if round_.notifications is not None:
            lines.append(f"  BC notified before it: {_notified(round_.notifications)}")
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
        if round_.mode == "webhooks" and round_.name.startswith("idle"):
            lines += _idle_extras(result)
    mode = result.webhook_mode
    if mode is not None:
        for phase, got in mode.notifications.items():
            if phase != "subscribing":
                lines.append(f"BC notified {phase}: {_notified(got)}")
    lines.append("")
    lines.append(
        f"changes [{_MODES['polling']}]: {result.changed} edited"
        f" ({result.changed - result.changed // 2} ERP, {result.changed // 2} CRM),"
        f" {result.arrived} arrived on the other side"
    )
    if mode is not None:
        lines.append(
            f"changes [{_MODES['webhooks']}]: {mode.changed} edited ({mode.changed - mode.changed // 2} ERP,"
            f" {mode.changed // 2} CRM), {mode.notified_edits} ERP edits named by BC's notifications,"
            f" {mode.arrived} arrived on the other side"
        )
        lines.append(
            f"changes [{_MODES['webhooks']}] in sets polled only when BC notifies them: {mode.gated_changes}"
            f" (an order shipped, a unit of measure renamed), {mode.gated_arrived} arrived"
        )
    lines.append("ratios (this run):")
    lines.append(f"  full sync requests / minimum: {_ratio(total, minimum)}")
    for key in ("polling", "webhooks"):
        rounds = [r for r in result.rounds if r.mode == key]
        idle = next((r for r in rounds if r.name.startswith("idle")), None)
        last = next((r for r in rounds if r.name.endswith(" changes")), None)
        if idle is None or last is None:
            continue
        over = sum(1 for r in idle.runs if r.requests > 1)
        lines.append(
            f"  [{_MODES[key]}] idle round: {idle.requests / max(1, len(idle.runs)):.2f} requests per"
            f" mapping-direction ({idle.requests} for {len(idle.runs)}; {over} above 1)"
        )
        label = _MODES[key]
        if idle.seconds > 0:
            lines.append(
                f"  [{label}] round with changes / idle round:"
                f" {last.requests / max(1, idle.requests):.2f}x the requests,"
                f" {last.seconds / idle.seconds:.2f}x the time"
            )
        if result.full_seconds > 0:
            lines.append(
                f"  [{label}] round with changes / full sync:"
                f" {last.seconds / result.full_seconds:.4f}x the time"
            )
    lines.append(
        "peak RSS: "
        + ", ".join(f"{name} {kib / 1024:.0f} MiB" for name, kib in result.rss_kib.items() if kib)
    )
    lines += [f"goal missed: {g}" for g in result.goals_missed]
    lines += [f"beside the goal: {n}" for n in result.notes]
    lines += [f"CHECK FAILED: {p}" for p in result.problems]
    lines.append("result: " + ("ok" if result.ok else "FAILED"))
    return "\n".join(lines)


def as_dict(result: Result) -> dict[str, Any]:
    data = asdict(result)
    data["ok"] = result.ok
    data["records_read"] = result.records_read
    data["usage"] = [dict(asdict(u), total=u.total, minimum=u.minimum) for u in result.usage]
    data["rounds"] = [dict(asdict(r), requests=r.requests, writes=r.writes) for r in result.rounds]
    data["notes"] = list(result.notes)
    return data
