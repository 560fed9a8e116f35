"""API latency and throughput of the gateway's read path (GraphQL customers, a 20-line quote,
availability) under 30 ms of upstream latency, side by side with GraphQL Mesh's OData handler.

    .venv/bin/python bench/api.py                                  # 20,000 customers / 5,000 items
    .venv/bin/python bench/api.py --customers 2000 --items 500     # smaller demo data, same scenarios
    .venv/bin/python bench/api.py --quick --no-mesh                # a smoke run (counts, not speed)
    .venv/bin/python bench/api.py --workers 1                      # only the one-process gateway
    .venv/bin/python bench/api.py --no-mesh --workers 1 --scenario "availability 1 (hit)"   # one row kind

After the demo's first full sync the measured gateway runs with its scheduler off; it is measured as
one process (target `gateway`), then as `gateway run --workers N` web-only replicas sharing a Redis
cache (target `gateway xN`, default N=2, needs redis-server).

The exit status is 1 when a request failed or answered wrongly, or a read that should come from the
store or cache (everything but an availability miss) called upstream.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

if __package__ in (None, ""):  # run as a script: make `bench`, `gateway` and `tests` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._api_gateway import DemoGateway, simulator_snapshot, tree_cpu_seconds, upstream_delta
from bench._api_http import LeanClient, Reply
from bench._api_load import LoadResult, Send, run_load
from bench.read_throughput import machine

CUSTOMERS_QUERY = (
    "query($first: Int!) { customers(first: $first) { edges { node { number name"
    " salesperson { name } currency { code } defaultPriceList { code } } } } }"
)
# The closest read Mesh can make in one request: its OData handler cannot follow our navigation, so
# it returns the customers' codes (salesperson, currency) instead of the related records.
MESH_QUERY = (
    "query($top: Int!) { customers(queryOptions: {top: $top})"
    " { number displayName salespersonCode currencyCode } }"
)
PAGE = 50
QUOTE_LINES = 20
# Scenarios read from the store or a warm cache: any upstream request during them is a failure.
CACHED = ("graphql customers", "quote 20 lines", "availability 1 (hit)", "availability batch")
SCENARIOS = (
    "graphql customers",
    "quote 20 lines",
    "availability 1 (hit)",
    "availability 1 (miss)",
    "availability batch",
)


@dataclass(frozen=True)
class BenchConfig:
    customers: int = 20_000
    items: int = 5_000
    seed: int = 42
    latency_ms: float = 30.0
    concurrencies: tuple[int, ...] = (1, 10, 50)
    requests: int = 300
    max_seconds: float = 15.0
    batch_items: int = 200
    mesh: bool = True
    workers: int = 2  # 1: only the one-process gateway
    scenarios: tuple[str, ...] = SCENARIOS  # the gateway's rows measured (Mesh's row is --no-mesh)
    sync_timeout_seconds: float = 3600.0

    @property
    def gateway_targets(self) -> int:
        return 1 if self.workers <= 1 else 2


@dataclass
class Fixtures:
    """What the scenarios ask for, read from the gateway after its sync."""

    customer: str
    items: list[str]
    hit_item: str
    batch: list[str]
    miss_pool: list[str]


@dataclass
class BenchRun:
    config: BenchConfig
    results: list[LoadResult] = field(default_factory=list)
    sync_seconds: float = 0.0
    sync_status: dict[str, Any] = field(default_factory=dict)  # GET /api/v1/admin/sync/full after it
    mesh_error: str | None = None
    info: dict[str, str] = field(default_factory=dict)

    def failures(self) -> list[str]:
        problems = [
            f"{r.target} {r.scenario} x{r.concurrency}: {dict(r.statuses)}, {r.wrong_answers} wrong;"
            f" first: {r.first_wrong}"
            for r in self.results
            if not r.ok
        ]
        problems += [
            f"{r.scenario} x{r.concurrency}: {r.upstream_requests} upstream requests"
            for r in self.results
            if r.target.startswith("gateway") and r.scenario in CACHED and r.upstream_requests
        ]
        return problems


# ------------------------------------------------------------------------------------ fixtures


async def _fixtures(client: httpx.AsyncClient, config: BenchConfig, stocked: set[str]) -> Fixtures:
    """Customers and items read from the gateway; items only those the ERP holds stock rows for."""
    numbers: list[str] = []
    after: str | None = None
    while True:
        params = {"first": "200", **({"after": after} if after else {})}
        page = (await client.get("/api/v1/items", params=params)).raise_for_status().json()
        numbers += [
            i["number"]
            for i in page["items"]
            if i["type"] == "Inventory" and not i["blocked"] and i["number"] in stocked
        ]
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
    customer = await _first_numbered_customer(client)
    batch = numbers[1 : 1 + config.batch_items]
    if len(numbers) < 2 + config.batch_items:
        raise RuntimeError(f"{len(numbers)} stocked items: too few for a batch of {config.batch_items}")
    return Fixtures(
        customer=customer,
        items=numbers,
        hit_item=numbers[0],
        batch=batch,
        miss_pool=numbers[1 + config.batch_items :],
    )


async def _first_numbered_customer(client: httpx.AsyncClient) -> str:
    """The first customer that has an ERP number (CRM-only accounts have none yet)."""
    after: str | None = None
    while True:
        params = {"first": "200", **({"after": after} if after else {})}
        page = (await client.get("/api/v1/customers", params=params)).raise_for_status().json()
        numbered = [c["number"] for c in page["items"] if c.get("number")]
        if numbered:
            return str(numbered[0])
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            raise RuntimeError("no customer with a number: did the CUSTOMER sync fail? (see the sync line)")


# ----------------------------------------------------------------------------------- scenarios


def _scenarios(fx: Fixtures, config: BenchConfig) -> dict[str, Send]:
    quote_body = {
        "customerNumber": fx.customer,
        "lines": [{"itemNumber": n, "quantity": 1 + i % 7} for i, n in enumerate(fx.items[:QUOTE_LINES])],
    }
    misses = iter(fx.miss_pool)  # shared by every row: each miss asks for an item never asked
    page = {"query": CUSTOMERS_QUERY, "variables": {"first": PAGE}}

    async def customers(client: LeanClient, index: int) -> tuple[Reply, bool]:
        response = await client.post("/graphql", json=page)
        if response.status_code != 200:
            return response, False
        body = response.json()
        edges = (body.get("data") or {}).get("customers", {}).get("edges", [])
        return response, not body.get("errors") and len(edges) == min(PAGE, config.customers)

    async def quote(client: LeanClient, index: int) -> tuple[Reply, bool]:
        response = await client.post("/api/v1/prices/quote", json=quote_body)
        return response, response.status_code == 200 and len(response.json()["lines"]) == QUOTE_LINES

    def availability(numbers: Any) -> Send:
        async def send(client: LeanClient, index: int) -> tuple[Reply, bool]:
            asked = numbers() if callable(numbers) else numbers
            response = await client.get("/api/v1/availability", params={"items": ",".join(asked)})
            if response.status_code != 200:
                return response, False
            answered = {line["itemNumber"] for line in response.json()["items"]}
            return response, answered == set(asked)

        return send

    every = {
        "graphql customers": customers,
        "quote 20 lines": quote,
        "availability 1 (hit)": availability([fx.hit_item]),
        "availability 1 (miss)": availability(lambda: [next(misses)]),
        "availability batch": availability(fx.batch),
    }
    return {name: send for name, send in every.items() if name in config.scenarios}


def _miss_requests(fx: Fixtures, config: BenchConfig) -> int:
    """Each concurrency of each measured gateway gets its share of the never-asked items (a warm-up
    takes none)."""
    return min(config.requests, len(fx.miss_pool) // (len(config.concurrencies) * config.gateway_targets))


async def _read_fixtures(gateway: DemoGateway, config: BenchConfig, stocked: set[str]) -> Fixtures:
    headers = {"Authorization": f"Bearer {gateway.keys['admin']}"}
    async with httpx.AsyncClient(base_url=gateway.base, headers=headers, timeout=60) as client:
        return await _fixtures(client, config, stocked)


async def _measure_gateway(
    gateway: DemoGateway, config: BenchConfig, fx: Fixtures, scenarios: dict[str, Send], *, target: str
) -> list[LoadResult]:
    # The admin key: app keys may not quote, sales keys see only their own customers.
    headers = {"Authorization": f"Bearer {gateway.keys['admin']}"}
    results: list[LoadResult] = []
    async with LeanClient(gateway.base, headers=headers) as client:
        for name, send in scenarios.items():
            if name != "availability 1 (miss)":
                await _warm_up(client, name, send, parallel=max(config.concurrencies))
            count = _miss_requests(fx, config) if name == "availability 1 (miss)" else config.requests
            for concurrency in config.concurrencies:
                before = gateway.upstream_snapshot()
                with _cpu_meter(gateway.server_pids, gateway.upstream_pids) as cpu:
                    result = await run_load(
                        scenario=name,
                        target=target,
                        client=client,
                        send=send,
                        concurrency=concurrency,
                        requests=count,
                        max_seconds=config.max_seconds,
                    )
                result.server_cpu_seconds, result.upstream_cpu_seconds = cpu
                result.worker_connections = gateway.worker_connections()  # still open: keep-alive
                _count_upstream(result, before, gateway.upstream_snapshot())
                results.append(result)
    return results


async def _warm_up(client: LeanClient, name: str, send: Send, *, parallel: int) -> None:
    """3 requests one after another (the cache, first-call costs), then `parallel` at once: as many
    connections as the largest row opens, so that with several workers each has made its own
    first-call costs (e.g. its first quote reads the currency tables from the store once per process)."""
    replies = [await send(client, index) for index in range(3)]
    replies += await asyncio.gather(*(send(client, index) for index in range(parallel)))
    for response, correct in replies:
        if response.status_code != 200 or not correct:
            raise RuntimeError(f"{name}: warm-up answered {response.describe()}")


@contextlib.contextmanager
def _cpu_meter(server: list[int], upstream: list[int]) -> Iterator[list[float]]:
    """CPU seconds the server's and the upstreams' process trees use inside the block: a two-item
    list, filled when the block ends."""
    start = [tree_cpu_seconds(server), tree_cpu_seconds(upstream)]
    used = [0.0, 0.0]
    yield used
    used[:] = [tree_cpu_seconds(server) - start[0], tree_cpu_seconds(upstream) - start[1]]


def _count_upstream(result: LoadResult, before: Counter[str], after: Counter[str]) -> None:
    result.upstream_detail = upstream_delta(before, after)
    result.upstream_requests = sum(result.upstream_detail.values())


async def _measure_mesh(
    graphql_url: str,
    simulator_root: str,
    config: BenchConfig,
    *,
    server_pids: list[int],
    upstream_pids: list[int],
) -> list[LoadResult]:
    payload = {"query": MESH_QUERY, "variables": {"top": PAGE}}
    origin, path = _split_url(graphql_url)

    async def send(client: LeanClient, index: int) -> tuple[Reply, bool]:
        response = await client.post(path, json=payload)
        if response.status_code != 200:
            return response, False
        body = response.json()
        rows = (body.get("data") or {}).get("customers") or []
        return response, not body.get("errors") and len(rows) == min(PAGE, config.customers)

    results: list[LoadResult] = []
    async with LeanClient(origin) as client:
        for index in range(3):
            response, correct = await send(client, index)
            if not correct:
                raise RuntimeError(f"Mesh warm-up answered {response.describe()}")
        for concurrency in config.concurrencies:
            before = simulator_snapshot(simulator_root, prefix="erp")
            with _cpu_meter(server_pids, upstream_pids) as cpu:
                result = await run_load(
                    scenario="graphql customers",
                    target="mesh",
                    client=client,
                    send=send,
                    concurrency=concurrency,
                    requests=config.requests,
                    max_seconds=config.max_seconds,
                )
            result.server_cpu_seconds, result.upstream_cpu_seconds = cpu
            _count_upstream(result, before, simulator_snapshot(simulator_root, prefix="erp"))
            results.append(result)
    return results


def _split_url(url: str) -> tuple[str, str]:
    """`http://host:port/path` -> (`http://host:port`, `/path`)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}", parts.path or "/"


# --------------------------------------------------------------------------------------- running


def _start_mesh(config: BenchConfig, log_dir: Path) -> Any:
    from tests.mesh.mesh_server import start_stack

    args = ("--customers", str(config.customers), "--items", str(config.items), "--seed", str(config.seed))
    # Its simulator generates the same demo data as the gateway's two, at the same time: allow for it.
    return start_stack("erp", log_dir=log_dir, simulator_args=args, simulator_timeout=900)


def run_benchmark(config: BenchConfig) -> BenchRun:
    """Start the demo gateway and its simulators (and Mesh over its own ERP simulator, at the same
    time), run the full sync and wait for it, set the upstream latency, then measure every scenario."""
    run = BenchRun(config=config, info=machine())
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp, ThreadPoolExecutor(max_workers=1) as pool:
        work = Path(tmp)
        mesh_future: Future[Any] | None = pool.submit(_start_mesh, config, work) if config.mesh else None
        gateway = DemoGateway(customers=config.customers, items=config.items, work_dir=work, seed=config.seed)
        stack = None
        try:
            gateway.start()  # the demo runs its first full sync on start (in-process scheduler)
            run.sync_seconds = gateway.wait_synced(timeout=config.sync_timeout_seconds)
            run.sync_status = gateway.full_sync_status()
            print(
                f"full sync finished in {run.sync_seconds:.0f}s: {_sync_summary(run.sync_status)}", flush=True
            )
            # Measured: the same demo on the same store with its scheduler off (no background sync).
            gateway.restart_without_scheduler()
            gateway.wait_quiet()
            stocked = gateway.erp_stocked_items()
            gateway.set_latency(config.latency_ms)
            fx = asyncio.run(_read_fixtures(gateway, config, stocked))
            scenarios = _scenarios(fx, config)
            run.results += asyncio.run(_measure_gateway(gateway, config, fx, scenarios, target="gateway"))
            if config.workers > 1:
                gateway.start_replicas(config.workers)
                gateway.wait_quiet()
                target = f"gateway x{config.workers}"
                run.results += asyncio.run(_measure_gateway(gateway, config, fx, scenarios, target=target))
            if mesh_future is not None:
                try:
                    stack = mesh_future.result()
                except Exception as exc:  # reported; the gateway's figures still stand
                    run.mesh_error = f"{type(exc).__name__}: {str(exc)[:300]}"
                if stack is not None:
                    root = stack.simulator.root
                    httpx.post(
                        f"{root}/_sim/latency", json={"ms": config.latency_ms}, timeout=10
                    ).raise_for_status()
                    run.results += asyncio.run(
                        _measure_mesh(
                            stack.mesh.graphql_url,
                            root,
                            config,
                            server_pids=[stack.mesh.child.process.pid],
                            upstream_pids=[stack.simulator.child.process.pid],
                        )
                    )
        finally:
            gateway.stop()
            if mesh_future is not None and stack is None:
                with contextlib.suppress(Exception):
                    stack = mesh_future.result()
            if stack is not None:
                stack.stop()
    return run


# ------------------------------------------------------------------------------------- reporting


def format_report(run: BenchRun) -> str:
    config, info = run.config, run.info
    lines = [
        f"API read path: {config.customers:,} customers, {config.items:,} items (demo seed {config.seed}),"
        f" {config.latency_ms:g} ms upstream latency on every simulator request",
        f"machine: {info['cpus']} CPUs, {info['cpu']}, Python {info['python']}, {info['date']}",
        f"load average (1/5/15 min) at start {info['load']}, at end {machine()['load']}",
        "processes: gateway run --demo --erp-url --crm-url | gateway simulate erp | gateway simulate crm"
        " | this load generator (lean HTTP/1.1 keep-alive client, bench/_api_http.py)"
        + (" | Mesh (mesh dev + its own gateway simulate erp)" if config.mesh else ""),
        f"the demo's first full sync (before the latency was set): {run.sync_seconds:.0f}s; then the demo"
        " restarted on the same store with GATEWAY_SCHEDULER_IN_PROCESS=false (no sync, ERP PRICING poll,"
        " CRM poll or subscription pass while measuring) and the simulators quiet for 3s",
        "targets: gateway = that one process (in-process cache); "
        + (
            f"gateway x{config.workers} = `gateway run --workers {config.workers}` on the same store"
            " and port,"
            " scheduler off, GATEWAY_CACHE_URL=redis:// of a redis-server of its own (its CPU counted as"
            " the server's)"
            if config.workers > 1
            else "no multi-process rows (--workers 1)"
        ),
        f"full sync jobs (status done/total, records erp/crm): {_sync_summary(run.sync_status)}",
        f"up to {config.requests} requests or {config.max_seconds:g}s per row, after 3 warm-up requests"
        f" and {max(config.concurrencies)} at once;"
        " cpu: CPU ms per request used by the server's processes (gateway, or Mesh's mesh dev), by the"
        " simulators it reads (upstream) and by this load generator (load);"
        " conns/worker: `gateway xN`'s keep-alive connections held by each worker at the row's end",
        "",
    ]
    header = (
        "target",
        "scenario",
        "clients",
        "requests",
        "p50 ms",
        "p99 ms",
        "req/s",
        "upstream/req",
        "cpu",
        "upstream cpu",
        "load cpu",
        "conns/worker",
        "check",
    )
    rows = [header]
    for r in run.results:
        rows.append(
            (
                r.target,
                r.scenario,
                str(r.concurrency),
                str(r.requests),
                f"{r.percentile_ms(50):.1f}",
                f"{r.percentile_ms(99):.1f}",
                f"{r.requests_per_second:,.0f}",
                f"{r.upstream_per_request:.2f}",
                f"{r.cpu_ms_per_request(r.server_cpu_seconds):.2f}",
                f"{r.cpu_ms_per_request(r.upstream_cpu_seconds):.2f}",
                f"{r.cpu_ms_per_request(r.load_cpu_seconds):.2f}",
                "/".join(map(str, r.worker_connections)) or "-",
                "ok" if r.ok else "FAIL " + ",".join(f"{k}x{v}" for k, v in r.statuses.items()),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        cells = [
            c.rjust(w) if 2 <= i <= 11 else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    lines += ["", *_upstream_detail(run), *_comparison(run), *_goals(run)]
    return "\n".join(lines)


def _sync_summary(status: dict[str, Any]) -> str:
    parts = []
    for line in status.get("lines", []):
        jobs = ", ".join(
            f"{direction} {job['status']} {job['done']}/{job['total']}"
            for direction, job in line["jobs"].items()
        )
        records = line["records"]
        parts.append(f"{line['mapping']} ({jobs}; {records['erp']}/{records['crm']})")
    return "; ".join(parts) or "unknown"


def _upstream_detail(run: BenchRun) -> list[str]:
    """Per row, what the simulators counted (simulator, method, entity set, status; tokens issued)."""
    called = [r for r in run.results if r.upstream_detail]
    if not called:
        return ["upstream requests during the rows: none", ""]
    lines = ["upstream requests during the rows (simulator method entity-set status: count):"]
    for r in called:
        what = ", ".join(f"{key}: {count}" for key, count in r.upstream_detail.items())
        lines.append(f"  {r.target} {r.scenario} x{r.concurrency}: {what}")
    return [*lines, ""]


def _find(run: BenchRun, target: str, scenario: str, concurrency: int) -> LoadResult | None:
    return next(
        (r for r in run.results if (r.target, r.scenario, r.concurrency) == (target, scenario, concurrency)),
        None,
    )


def _comparison(run: BenchRun) -> list[str]:
    if not run.config.mesh:
        return ["Mesh: not run (--no-mesh)", ""]
    if run.mesh_error:
        return [f"Mesh: could not start: {run.mesh_error}", ""]
    lines = ["gateway vs Mesh, first 50 customers (Mesh: codes only, see docs/benchmarks.md):"]
    for c in run.config.concurrencies:
        ours, theirs = (
            _find(run, "gateway", "graphql customers", c),
            _find(run, "mesh", "graphql customers", c),
        )
        if ours is None or theirs is None or not ours.requests_per_second:
            continue
        lines.append(
            f"  {c:>3} clients: p50 {ours.percentile_ms(50):.1f} vs {theirs.percentile_ms(50):.1f} ms"
            f" ({theirs.percentile_ms(50) / ours.percentile_ms(50):.1f}x),"
            f" p99 {ours.percentile_ms(99):.1f} vs {theirs.percentile_ms(99):.1f} ms,"
            f" {ours.requests_per_second:,.0f} vs {theirs.requests_per_second:,.0f} req/s"
            f" ({ours.requests_per_second / max(theirs.requests_per_second, 1e-9):.1f}x)"
        )
    return [*lines, ""]


def _goals(run: BenchRun) -> list[str]:
    ours = [r for r in run.results if r.target.startswith("gateway")]
    cached = [r for r in ours if r.scenario in CACHED]
    no_upstream = bool(cached) and all(r.upstream_requests == 0 for r in cached)
    hits = [r for r in ours if r.scenario == "availability 1 (hit)"]
    worst_hit = max((r.percentile_ms(99) for r in hits), default=float("nan"))
    best_hit = {  # per concurrency, the better of the measured gateways (one process or replicas)
        c: min(r.percentile_ms(99) for r in hits if r.concurrency == c)
        for c in sorted({r.concurrency for r in hits})
    }
    faster = [
        (o, m)
        for c in run.config.concurrencies
        if (o := _find(run, "gateway", "graphql customers", c))
        and (m := _find(run, "mesh", "graphql customers", c))
    ]
    lines = [f"goal: no upstream call on the read path: {'met' if no_upstream else 'NOT met'}"]
    if hits:
        lines += [
            f"goal: cached availability p99 < 5 ms: {'met' if worst_hit < 5 else 'NOT met'}"
            " in every row (p99 by target and clients: "
            + ", ".join(f"{r.target} {r.concurrency}: {r.percentile_ms(99):.1f} ms" for r in hits)
            + ")",
            "  met at clients (by one of the measured gateways): "
            + (", ".join(str(c) for c, p99 in best_hit.items() if p99 < 5) or "none"),
        ]
    else:  # --scenario left the cached availability rows out
        lines.append("goal: cached availability p99 < 5 ms: not measured")
    if faster:
        met = all(
            o.percentile_ms(50) < m.percentile_ms(50)
            and o.percentile_ms(99) < m.percentile_ms(99)
            and o.requests_per_second > m.requests_per_second
            for o, m in faster
        )
        lines.append(
            f"goal: unified read faster than Mesh at every concurrency (p50, p99 and req/s):"
            f" {'met' if met else 'NOT met'}"
        )
    else:
        lines.append("goal: unified read faster than Mesh: not measured")
    failures = run.failures()
    lines += [f"FAILED: {problem}" for problem in failures] or [
        "every request answered 200 with the expected body"
    ]
    return lines


def parse_args(argv: Sequence[str] | None) -> BenchConfig:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=None)
    parser.add_argument("--items", type=int, default=None)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--latency-ms", type=float, default=30.0)
    parser.add_argument("--requests", type=int, default=None, help="per scenario and concurrency")
    parser.add_argument("--max-seconds", type=float, default=15.0, help="per scenario and concurrency")
    parser.add_argument("--concurrency", type=int, action="append", help="repeatable [1, 10, 50]")
    parser.add_argument("--no-mesh", action="store_true", help="skip the GraphQL Mesh comparison")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="also measure `gateway run --workers N` with a Redis cache [2; --quick: 1]; 1: skip",
    )
    parser.add_argument(
        "--quick", action="store_true", help="120 customers/items, 20 requests, 1 and 10 clients"
    )
    parser.add_argument(
        "--scenario", action="append", choices=SCENARIOS, help="only these gateway rows (repeatable) [all]"
    )
    args = parser.parse_args(argv)
    quick = args.quick
    return BenchConfig(
        customers=args.customers or (120 if quick else 20_000),
        items=args.items or (120 if quick else 5_000),
        seed=args.seed,
        latency_ms=args.latency_ms,
        concurrencies=tuple(args.concurrency or ((1, 10) if quick else (1, 10, 50))),
        requests=args.requests or (20 if quick else 300),
        max_seconds=args.max_seconds,
        batch_items=50 if quick else 200,
        mesh=not args.no_mesh,
        workers=args.workers if args.workers is not None else (1 if quick else 2),
        scenarios=tuple(args.scenario or SCENARIOS),
    )


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_args(argv)
    started = time.monotonic()
    run = run_benchmark(config)
    print(format_report(run))
    print(f"\n(total {time.monotonic() - started:.0f}s)")
    return 1 if run.failures() else 0


if __name__ == "__main__":
    sys.exit(main())
