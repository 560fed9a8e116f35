"""Read throughput of the upstream client: every ERP customer and CRM account through the real
connectors, requests counted against the minimum, then again under injected faults (exactly once?).

    .venv/bin/python bench/read_throughput.py            # 100,000 rows each, 3 rounds: 5-8 min
    .venv/bin/python bench/read_throughput.py --quick    # 2,000 rows, small pages: a smoke run

The exit status is 1 when a run without faults needed more requests than ⌈rows / page size⌉, or when
any run (with or without faults) did not deliver every record exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import resource
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` and `gateway` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._servers import SimulatorProcess, Target, benchmark_data, in_process_target
from gateway.config import Settings
from gateway.errors import UpstreamError
from gateway.upstream.crm import CrmConnector
from gateway.upstream.erp import ErpConnector
from gateway.upstream.factory import build_crm_connector, build_erp_connector

SERVICES = ("erp", "crm")


@dataclass(frozen=True)
class BenchConfig:
    rows: int = 100_000
    seed: int = 42
    erp_page_size: int = 20_000  # Business Central's maximum
    crm_page_size: int = 5_000  # Dataverse's maximum
    fault_rate: float = 0.1
    fault_seed: int = 2625  # every kind fires on both services (docs/benchmarks.md)
    fault_kinds: tuple[str, ...] = ("429", "503", "drop")
    retry_after_seconds: int = 1
    timeout_seconds: float = 30.0
    # How long a "timeout" fault holds the request on the server; must exceed timeout_seconds.
    fault_hold_seconds: float = 0.0
    max_retries: int = 10
    backoff_base_seconds: float = 0.05
    backoff_max_seconds: float = 0.5
    in_process: bool = False
    repeat: int = 3
    services: tuple[str, ...] = SERVICES

    def page_size(self, service: str) -> int:
        return self.erp_page_size if service == "erp" else self.crm_page_size


@dataclass
class RunResult:
    service: str
    entity_set: str
    transport: str
    faults: bool
    rows: int
    page_size: int
    minimum: int
    """⌈rows / page size⌉: the fewest GETs that can carry every row."""
    records: int = 0
    unique_ids: int = 0
    pages: int = 0
    read_requests: int = 0
    """Requests to the entity set the server counted during the read (retries included)."""
    empty_last_page: bool = False
    setup_requests: int = 0
    """Other API requests before the read (ERP: resolving the company id)."""
    token_requests: int = 0
    client_requests: int = 0
    client_retries: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    injected: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    client_cpu_seconds: float = 0.0
    """CPU time of this (the client's) process during the read; the simulator's runs elsewhere."""
    server_peak_rss_kib: int | None = None
    error: str | None = None
    seconds_each: list[float] = field(default_factory=list)
    """Every round's time; `seconds` is their median."""
    inconsistent_rounds: int = 0

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0

    @property
    def exactly_once(self) -> bool:
        return self.error is None and self.records == self.rows and self.unique_ids == self.rows

    @property
    def at_minimum(self) -> bool:
        return self.read_requests == self.minimum

    @property
    def ok(self) -> bool:
        if not self.exactly_once or self.inconsistent_rounds:
            return False
        if not self.faults:
            return self.at_minimum and self.client_requests == self.minimum
        # Every extra request must be the retry of an injected fault, nothing else. The client's
        # count is used: an in-process request cut off by the client's timeout never reaches the
        # server's statistics.
        return self.client_requests - self.minimum == sum(self.injected.values())

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            records_per_second=round(self.records_per_second, 1),
            exactly_once=self.exactly_once,
            at_minimum=self.at_minimum,
            ok=self.ok,
        )
        return data


# ----------------------------------------------------------------------------------- measuring


def _settings(target: Target, config: BenchConfig) -> Settings:
    common: dict[str, Any] = {
        "upstream_timeout_seconds": config.timeout_seconds,
        "upstream_max_retries": config.max_retries,
        "upstream_backoff_base_seconds": config.backoff_base_seconds,
        "upstream_backoff_max_seconds": config.backoff_max_seconds,
    }
    if target.kind == "erp":
        return Settings(
            erp_base_url=target.root,
            erp_tenant=target.tenant,
            erp_environment=target.environment,
            erp_token_url=target.token_url,
            erp_client_id=target.client_id,
            erp_client_secret=target.client_secret,
            erp_page_size=config.erp_page_size,
            **common,
        )
    return Settings(
        crm_base_url=target.root,
        crm_token_url=target.token_url,
        crm_client_id=target.client_id,
        crm_client_secret=target.client_secret,
        crm_page_size=config.crm_page_size,
        **common,
    )


def _counts(stats: dict[str, Any]) -> Counter[tuple[str, str, int]]:
    return Counter({(r["method"], r["entitySet"], r["status"]): r["count"] for r in stats["requests"]})


async def read_all(target: Target, config: BenchConfig, *, faults: bool) -> RunResult:
    """One full read of the target's entity set through a fresh connector."""
    settings = _settings(target, config)
    connector: ErpConnector | CrmConnector
    if target.kind == "erp":
        connector = build_erp_connector(settings, transport=target.transport)
    else:
        connector = build_crm_connector(settings, transport=target.transport)
    page_size = config.page_size(target.kind)
    result = RunResult(
        service=target.kind,
        entity_set=target.entity_set,
        transport=target.label,
        faults=faults,
        rows=target.rows,
        page_size=page_size,
        minimum=math.ceil(target.rows / page_size),
    )
    client = connector.client
    start = await target.control("stats")
    try:
        # Token and company id first, without faults: the read alone is measured and counted.
        if client.auth is not None:
            await client.auth.token()
        if isinstance(connector, ErpConnector):
            await connector.company_id()
        before = await target.control("stats")
        client_before = (client.stats.requests, client.stats.retries)
        if faults:
            await target.control("faults", _fault_body(config))
        ids: set[str] = set()
        started, cpu_started = time.perf_counter(), time.process_time()
        try:
            async for page in connector.pages(target.entity_set):
                result.pages += 1
                result.records += len(page)
                ids.update(record.id for record in page)
        except UpstreamError as exc:
            result.error = f"{type(exc).__name__}: {exc}"
        result.seconds = time.perf_counter() - started
        result.client_cpu_seconds = time.process_time() - cpu_started
        result.unique_ids = len(ids)
        after = await target.control("stats")  # before the faults are switched off: that resets them
        if after["faults"]["injected"].get("timeout"):
            # A request the client gave up on is still held by the server: let it finish and count.
            await asyncio.sleep(config.fault_hold_seconds)
            after = await target.control("stats")
        result.client_requests = client.stats.requests - client_before[0]
        result.client_retries = client.stats.retries - client_before[1]
    finally:
        if faults:
            await target.control("faults", {"rate": 0.0})
        await connector.aclose()
    read = _counts(after) - _counts(before)
    setup = _counts(before) - _counts(start)
    statuses: Counter[str] = Counter()
    for (_method, entity_set, status), count in read.items():
        if entity_set == target.entity_set:
            result.read_requests += count
            statuses["dropped" if status == 0 else str(status)] += count
    result.statuses = dict(sorted(statuses.items()))
    result.setup_requests = sum(setup.values())
    result.token_requests = int(after["tokensIssued"]) - int(start["tokensIssued"])
    result.injected = dict(after["faults"]["injected"]) if faults else {}
    # Answered requests beyond the pages with rows: the client fetched an empty last page.
    result.empty_last_page = result.client_requests - result.client_retries > result.pages
    return result


def _fault_body(config: BenchConfig) -> dict[str, Any]:
    body: dict[str, Any] = {
        "rate": config.fault_rate,
        "seed": config.fault_seed,
        "kinds": list(config.fault_kinds),
        "retryAfterSeconds": config.retry_after_seconds,
    }
    if "timeout" in config.fault_kinds:
        body["timeoutSeconds"] = config.fault_hold_seconds
    return body


async def _measure(targets: Sequence[Target], config: BenchConfig) -> list[RunResult]:
    """`config.repeat` rounds of (clean, faults) per target, interleaved so that load from anything
    else on the machine spreads over both; times are the median round, counts must agree in all."""
    results: list[RunResult] = []
    for target in targets:
        rounds: dict[bool, list[RunResult]] = {False: [], True: []}
        for _ in range(config.repeat):
            for faults in (False, True):
                rounds[faults].append(await read_all(target, config, faults=faults))
        results += [_combine(rounds[False]), _combine(rounds[True])]
    return results


def _counted(result: RunResult) -> tuple[Any, ...]:
    return (
        result.records,
        result.unique_ids,
        result.read_requests,
        result.client_requests,
        result.client_retries,
        result.statuses,
        result.injected,
        result.error,
    )


def _combine(runs: list[RunResult]) -> RunResult:
    seconds = [run.seconds for run in runs]
    combined = replace(runs[0], seconds_each=seconds)
    combined.seconds = statistics.median(seconds)
    combined.client_cpu_seconds = statistics.median(run.client_cpu_seconds for run in runs)
    # Faults come from a seeded sequence restarted for each read, so every round must count alike.
    combined.inconsistent_rounds = sum(1 for run in runs if _counted(run) != _counted(runs[0]) or not run.ok)
    return combined


def run_benchmark(config: BenchConfig) -> list[RunResult]:
    """Serve each simulator in a child process (both start at once), read without and with faults;
    with `config.in_process` the same reads run again through the in-process transport."""
    processes = [SimulatorProcess(s, rows=config.rows, seed=config.seed) for s in config.services]
    try:
        targets = [process.wait_ready() for process in processes]
        results = asyncio.run(_measure(targets, config))
        peaks = {p.kind: p.peak_rss_kib() for p in processes}
        for result in results:
            result.server_peak_rss_kib = peaks.get(result.service)
    finally:
        for process in processes:
            process.stop()
    if config.in_process:
        data = benchmark_data(rows=config.rows, seed=config.seed)
        local = [in_process_target(s, rows=config.rows, seed=config.seed, data=data) for s in config.services]
        del data
        results += asyncio.run(_measure(local, config))
    return results


# ------------------------------------------------------------------------------------ reporting


def machine() -> dict[str, str]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": str(len(os.sched_getaffinity(0))),
        "cpu": model or "unknown",
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load": "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg()),
    }


def _faults_text(result: RunResult) -> str:
    if not result.faults:
        return "none"
    return " ".join(f"{kind}x{count}" for kind, count in sorted(result.injected.items())) or "0 hit"


def format_report(results: Sequence[RunResult], config: BenchConfig, info: dict[str, str]) -> str:
    lines = [
        f"read throughput: {config.rows:,} rows per service, seed {config.seed}",
        f"machine: {info['cpus']} CPUs, {info['cpu']}, Python {info['python']}, {info['date']}",
        f"load average (1/5/15 min) at start {info['load']}, at end {machine()['load']}",
        f"faults: rate {config.fault_rate:g}, seed {config.fault_seed}, kinds {','.join(config.fault_kinds)},"
        f" Retry-After {config.retry_after_seconds}s; client timeout {config.timeout_seconds:g}s,"
        f" retries ≤ {config.max_retries}, backoff {config.backoff_base_seconds:g}-"
        f"{config.backoff_max_seconds:g}s",
        f"rounds: {config.repeat} per scenario, clean and faulty interleaved; times are the median round",
        "",
    ]
    header = (
        "service",
        "transport",
        "faults",
        "page",
        "minimum",
        "requests",
        "retries",
        "records",
        "unique",
        "once",
        "seconds",
        "client CPU s",
        "records/s",
        "check",
    )
    rows = [header]
    for r in results:
        rows.append(
            (
                f"{r.service} {r.entity_set}",
                r.transport,
                _faults_text(r),
                f"{r.page_size:,}",
                str(r.minimum),
                str(r.read_requests),
                str(r.client_retries),
                f"{r.records:,}",
                f"{r.unique_ids:,}",
                "yes" if r.exactly_once else "NO",
                f"{r.seconds:.2f}",
                f"{r.client_cpu_seconds:.2f}",
                f"{r.records_per_second:,.0f}",
                "ok" if r.ok else "FAIL",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    numeric = set(range(3, len(header) - 1)) - {9}
    for row in rows:
        cells = [
            c.rjust(w) if i in numeric else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    lines.append("")
    for r in results:
        notes = [f"statuses {r.statuses}", f"token requests {r.token_requests}"]
        if len(r.seconds_each) > 1:
            notes.append("rounds " + " ".join(f"{t:.2f}s" for t in r.seconds_each))
        if r.inconsistent_rounds:
            notes.append(f"{r.inconsistent_rounds} ROUNDS COUNTED DIFFERENTLY OR FAILED")
        notes.append(f"setup requests {r.setup_requests}, client counted {r.client_requests}")
        if r.read_requests != r.client_requests:
            notes.append(f"the server counted {r.read_requests} of them")
        if r.empty_last_page:
            notes.append("fetched an EMPTY LAST PAGE")
        if r.server_peak_rss_kib:
            notes.append(f"server peak RSS {r.server_peak_rss_kib / 1024:.0f} MiB")
        if r.error:
            notes.append(f"ERROR {r.error}")
        label = f"{r.service} {r.transport}{' faults' if r.faults else ''}:"
        lines.append(f"{label} " + "; ".join(notes))
    lines.append("")
    lines += _ratios(results)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    lines.append(f"client process peak RSS: {rss / 1024:.0f} MiB")
    return "\n".join(lines)


def _ratios(results: Sequence[RunResult]) -> list[str]:
    by = {(r.service, r.transport, r.faults): r for r in results}
    out = ["ratios (this run):"]
    for (service, transport, faults), r in by.items():
        clean = by.get((service, transport, False))
        if faults and clean and clean.records_per_second > 0:
            speed = r.records_per_second / clean.records_per_second
            out.append(
                f"  {service} {transport}: with faults {speed:.2f}x the records/s, "
                f"{r.client_requests / r.minimum:.2f}x the minimum requests"
            )
        loop = by.get((service, "loopback HTTP", False))
        if transport == "in-process" and not faults and loop and loop.records_per_second > 0:
            out.append(
                f"  {service}: in-process {r.records_per_second / loop.records_per_second:.2f}x "
                "the records/s of loopback HTTP"
            )
    erp = by.get(("erp", "loopback HTTP", False))
    crm = by.get(("crm", "loopback HTTP", False))
    if erp and crm and crm.records_per_second > 0:
        out.append(
            f"  loopback HTTP: erp/crm records/s {erp.records_per_second / crm.records_per_second:.2f}"
        )
    return out


# ----------------------------------------------------------------------------------------- main

QUICK: dict[str, Any] = {
    "rows": 2_000,
    "erp_page_size": 250,
    "crm_page_size": 100,
    "retry_after_seconds": 0,
    "repeat": 1,
}


def parse_args(argv: Sequence[str] | None) -> tuple[BenchConfig, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument(
        "--quick", action="store_true", help="2,000 rows, pages of 250/100, Retry-After 0, 1 round"
    )
    parser.add_argument("--rows", type=int, help="rows per service (default 100,000)")
    parser.add_argument("--erp-page-size", type=int)
    parser.add_argument("--crm-page-size", type=int)
    parser.add_argument("--fault-rate", type=float)
    parser.add_argument("--fault-seed", type=int)
    parser.add_argument("--kinds", help="comma-separated fault kinds (429,503,drop,timeout)")
    parser.add_argument("--retry-after", type=int, help="Retry-After seconds on injected 429s")
    parser.add_argument("--timeout", type=float, help="client timeout in seconds (default 30)")
    parser.add_argument("--fault-hold", type=float, help="seconds a 'timeout' fault holds a request")
    parser.add_argument("--services", help="erp,crm (default both)")
    parser.add_argument("--repeat", type=int, help="rounds per scenario; times are the median (default 3)")
    parser.add_argument(
        "--in-process", action="store_true", help="also read through the in-process transport"
    )
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    config = BenchConfig(**QUICK) if args.quick else BenchConfig()
    changes: dict[str, Any] = {
        "rows": args.rows,
        "erp_page_size": args.erp_page_size,
        "crm_page_size": args.crm_page_size,
        "fault_rate": args.fault_rate,
        "fault_seed": args.fault_seed,
        "fault_kinds": tuple(args.kinds.split(",")) if args.kinds else None,
        "retry_after_seconds": args.retry_after,
        "timeout_seconds": args.timeout,
        "fault_hold_seconds": args.fault_hold,
        "services": tuple(args.services.split(",")) if args.services else None,
        "repeat": args.repeat,
        "in_process": args.in_process or None,
    }
    config = replace(config, **{k: v for k, v in changes.items() if v is not None})
    if "timeout" in config.fault_kinds and config.fault_hold_seconds <= config.timeout_seconds:
        parser.error("with 'timeout' faults, --fault-hold must exceed the client --timeout")
    if config.repeat < 1:
        parser.error("--repeat must be at least 1")
    if unknown := set(config.services) - set(SERVICES):
        parser.error(f"unknown services {sorted(unknown)}")
    return config, args


def main(argv: Sequence[str] | None = None) -> int:
    config, args = parse_args(argv)
    info = machine()
    results = run_benchmark(config)
    print(format_report(results, config, info))
    if args.json:
        payload = {"config": asdict(config), "machine": info, "results": [r.as_dict() for r in results]}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
