"""Profile of the gateway's read path: the three requests bench/api.py measures (GraphQL customers
page, 20-line quote, availability hit), per-request time in-process and through uvicorn, with a
cProfile (or pyinstrument) breakdown of where the time goes.

    .venv/bin/python bench/profile_read.py                      # 20,000 customers / 5,000 items
    .venv/bin/python bench/profile_read.py --profile cprofile   # plus the top functions per request
    .venv/bin/python bench/profile_read.py --uvicorn --loop uvloop --http httptools

The store is seeded once per (seed, customers, items) under --store-dir and reused. In-process, the
requests go through httpx.ASGITransport one after another (no HTTP server, no concurrency), and each
row also counts the SQL statements and upstream requests per request. "CPU ms" is the process's CPU
time per request (all threads; in-process this includes the test client), steadier than wall time on
a shared machine. With --uvicorn the gateway runs in a child process behind uvicorn on loopback and
the requests come from this process at each --concurrency ("CPU ms" is then the client's alone,
"server CPU" the gateway process's, from /proc, per request).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

if __package__ in (None, ""):  # run as a script: make `bench`, `gateway` and `tests` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._profile_app import (
    CUSTOMERS_QUERY,
    PAGE,
    QUOTE_LINES,
    Fixtures,
    StoreSpec,
    build,
    ensure_store,
    fixtures,
    running,
    upstream_requests,
)
from bench.read_throughput import machine
from gateway.serving import HTTP_PROTOCOL
from gateway.store.engine import count_queries

Send = Callable[[httpx.AsyncClient], Awaitable[bool]]
SCENARIOS = ("graphql customers", "quote 20 lines", "availability 1 (hit)")


def scenarios(fx: Fixtures) -> dict[str, Send]:
    quote_body = fx.quote_body()

    async def customers(client: httpx.AsyncClient) -> bool:
        r = await client.post("/graphql", json={"query": CUSTOMERS_QUERY, "variables": {"first": PAGE}})
        body = r.json()
        return (
            r.status_code == 200
            and not body.get("errors")
            and len(body["data"]["customers"]["edges"]) == PAGE
        )

    async def quote(client: httpx.AsyncClient) -> bool:
        r = await client.post("/api/v1/prices/quote", json=quote_body)
        return r.status_code == 200 and len(r.json()["lines"]) == QUOTE_LINES

    async def hit(client: httpx.AsyncClient) -> bool:
        r = await client.get("/api/v1/availability", params={"items": fx.hit_item})
        return r.status_code == 200 and bool(r.json()["items"])

    return dict(zip(SCENARIOS, (customers, quote, hit), strict=True))


@dataclass
class Row:
    scenario: str
    concurrency: int = 1
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    wrong: int = 0
    cpu_seconds: float = 0.0
    server_cpu_seconds: float | None = None
    statements: float | None = None
    upstream: float | None = None

    def ms(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered)) - 1))] * 1000

    @property
    def mean_ms(self) -> float:
        return sum(self.latencies) / len(self.latencies) * 1000

    def line(self) -> str:
        extra = f" {self.cpu_seconds / len(self.latencies) * 1000:7.2f}"
        if self.server_cpu_seconds is not None:
            extra += f" {self.server_cpu_seconds / len(self.latencies) * 1000:10.2f}"
        if self.statements is not None:
            extra += f"  {self.statements:7.2f}  {self.upstream:11.2f}"
        return (
            f"{self.scenario:22} {self.concurrency:7} {len(self.latencies):8} {self.ms(50):7.2f}"
            f" {self.ms(90):7.2f} {self.ms(99):7.2f} {self.mean_ms:7.2f}"
            f" {len(self.latencies) / self.seconds:7.0f} {'ok' if not self.wrong else 'WRONG':>6}{extra}"
        )


HEADER = (
    f"{'scenario':22} {'clients':>7} {'requests':>8} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7}"
    f" {'mean':>7} {'req/s':>7} {'check':>6} {'CPU ms':>7}"
)


async def drive(client: httpx.AsyncClient, send: Send, row: Row, requests: int) -> None:
    """`row.concurrency` workers send `requests` requests in all; each latency is send → body read."""
    remaining = requests

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            ok = await send(client)
            row.latencies.append(time.perf_counter() - started)
            row.wrong += not ok

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(row.concurrency)))
    row.seconds += time.perf_counter() - started
    row.cpu_seconds += time.process_time() - cpu


# ------------------------------------------------------------------------------- in-process


async def in_process(spec: StoreSpec, args: argparse.Namespace) -> None:
    async with running(spec) as built:
        transport = httpx.ASGITransport(app=built.app)
        headers = {"Authorization": f"Bearer {built.admin_key}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://gw", headers=headers) as client:
            fx = await fixtures(client)
            sends = scenarios(fx)
            print(f"in-process (httpx.ASGITransport), {args.requests} sequential requests per row")
            print(HEADER + f"  {'SQL/req':>7}  {'upstream/req':>11}")
            for name, send in sends.items():
                if args.scenario and name not in args.scenario:
                    continue
                for _ in range(args.warmup):
                    await send(client)
                row = Row(name)
                before = await upstream_requests(built)
                with count_queries(built.app.state.engine) as counter:
                    await drive(client, send, row, args.requests)
                row.statements = counter.count / args.requests
                row.upstream = (await upstream_requests(built) - before) / args.requests
                print(row.line(), flush=True)
            if args.profile != "none":
                for name, send in sends.items():
                    if args.scenario and name not in args.scenario:
                        continue
                    print(f"\n--- {args.profile}: {name}, {args.requests} requests ---")
                    print(await profile(client, send, args))


async def profile(client: httpx.AsyncClient, send: Send, args: argparse.Namespace) -> str:
    if args.profile == "pyinstrument":
        from pyinstrument import Profiler  # optional: pip install pyinstrument

        profiler = Profiler(async_mode="enabled", interval=0.0005)
        profiler.start()
        for _ in range(args.requests):
            await send(client)
        profiler.stop()
        return str(profiler.output_text(unicode=False, color=False, show_all=False))
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(args.requests):
        await send(client)
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.strip_dirs().sort_stats("tottime").print_stats(args.top)
    stats.sort_stats("cumulative").print_stats(args.top)
    return "\n".join(line for line in out.getvalue().splitlines() if line.strip())


# ------------------------------------------------------------------------------- uvicorn


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc), all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def serve(spec: StoreSpec, args: argparse.Namespace) -> None:
    import uvicorn

    built = await build(spec)
    config = uvicorn.Config(
        built.app,
        host="127.0.0.1",
        port=args.serve,
        loop=args.loop,
        http=HTTP_PROTOCOL if args.http == "gateway" else args.http,
        lifespan="on",
        access_log=False,
        log_level="warning",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    print(f"READY {built.admin_key}", flush=True)
    await task


async def through_uvicorn(spec: StoreSpec, args: argparse.Namespace) -> None:
    port = _free_port()
    command = [sys.executable, __file__, "--serve", str(port), "--loop", args.loop, "--http", args.http]
    command += ["--customers", str(spec.customers), "--items", str(spec.items), "--seed", str(spec.seed)]
    command += ["--store-dir", str(spec.directory)]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)  # noqa: ASYNC220
    try:
        assert child.stdout is not None
        line = await asyncio.to_thread(child.stdout.readline)
        if not line.startswith("READY "):
            raise RuntimeError(f"the gateway did not start: {line!r}")
        headers = {"Authorization": f"Bearer {line.split()[1]}"}
        limits = httpx.Limits(
            max_connections=max(args.concurrency), max_keepalive_connections=max(args.concurrency)
        )
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers=headers, limits=limits, timeout=60
        ) as client:
            fx = await fixtures(client)
            print(f"uvicorn (loop={args.loop}, http={args.http}) in a child process, loopback,", end=" ")
            print(f"{args.requests} requests per row")
            print(HEADER + f" {'server CPU':>10}")
            for name, send in scenarios(fx).items():
                if args.scenario and name not in args.scenario:
                    continue
                for concurrency in args.concurrency:
                    for _ in range(args.warmup):
                        await send(client)
                    row = Row(name, concurrency)
                    server_cpu = _cpu_seconds(child.pid)
                    await drive(client, send, row, args.requests)
                    row.server_cpu_seconds = _cpu_seconds(child.pid) - server_cpu
                    print(row.line(), flush=True)
    finally:
        child.terminate()
        child.wait(timeout=30)


# ------------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--customers", type=int, default=20_000)
    p.add_argument("--items", type=int, default=5_000)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--store-dir", type=Path, default=Path("var/profile"), help="where seeded stores are kept")
    p.add_argument("--requests", type=int, default=200, help="measured requests per row")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--scenario", action="append", choices=SCENARIOS, help="only these (repeatable)")
    p.add_argument("--profile", choices=("none", "cprofile", "pyinstrument"), default="none")
    p.add_argument("--top", type=int, default=25, help="functions listed per cProfile ordering")
    p.add_argument("--uvicorn", action="store_true", help="measure through uvicorn on loopback instead")
    p.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    p.add_argument(
        "--http", choices=("gateway", "h11", "httptools"), default="gateway", help="gateway: as `gateway run`"
    )
    p.add_argument("--concurrency", type=int, action="append", help="uvicorn clients (default 1, 10)")
    p.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # the child of --uvicorn
    args = p.parse_args(argv)
    args.concurrency = args.concurrency or [1, 10]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    spec = StoreSpec(args.customers, args.items, args.seed, args.store_dir.resolve())
    if args.serve:
        asyncio.run(serve(spec, args))
        return 0
    seeded = asyncio.run(ensure_store(spec))
    info = machine()
    print(f"read path profile: {spec.customers:,} customers, {spec.items:,} items (demo seed {spec.seed})")
    print(f"machine: {info['cpus']} CPUs, {info['cpu']}, Python {info['python']}, {info['date']}", end=", ")
    print(f"load {info['load']}")
    print(f"store: {spec.path} ({f'seeded in {seeded:.0f} s' if seeded else 'reused'}), pid {os.getpid()}")
    asyncio.run(through_uvicorn(spec, args) if args.uvicorn else in_process(spec, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
