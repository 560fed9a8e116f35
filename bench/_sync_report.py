"""The sync benchmark's text report and JSON form."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from bench._sync_model import BenchConfig, Result
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
