"""The demo gateway for bench/api.py in child processes: `gateway simulate erp` and `gateway
simulate crm` (each its own process and event loop) and `gateway run --demo --erp-url --crm-url`
pointed at them; free loopback ports, the printed API keys, the first full sync waited for, then the
measured gateway: the demo restarted with its scheduler off, or `gateway run --workers N` (web-only
replicas sharing a `redis-server` cache); the simulators' `/_sim` latency and request counts.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from gateway.demo import DEMO_WEBHOOK_DELAY_SECONDS
from tests.replicas_process import (
    answers,
    connections_by_worker,
    erp_stocked_items,
    redis_command,
    replica_env,
    wait_for_replicas,
)

ROOT = Path(__file__).resolve().parents[1]
# The mappings a read scenario depends on: customers (with salesperson, currency, price list),
# items and their price list lines (quotes).
NEEDED_MAPPINGS = ("SALESPEOPLE", "CURRENCY", "PRICE LIST", "CUSTOMER", "ITEM-PRODUCT", "PRICE LIST LINE")
SIMULATORS = ("erp", "crm")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class _Child:
    """A child process whose output goes to a file: nobody reads a pipe after start-up, and a full
    pipe would block the child's event loop on its next log line (it did, at 2,000 customers)."""

    name: str
    process: subprocess.Popen[str]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # uvicorn shuts down cleanly
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _spawn(name: str, args: list[str], *, env: dict[str, str], log_path: Path) -> _Child:
    return _spawn_command(name, [sys.executable, "-m", "gateway.cli", *args], env=env, log_path=log_path)


def _spawn_command(
    name: str, command: list[str], *, log_path: Path, env: dict[str, str] | None = None
) -> _Child:
    with log_path.open("w") as log:
        process = subprocess.Popen(  # the interpreter running us (or redis-server), fixed arguments
            command,
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
    return _Child(name=name, process=process, log_path=log_path)


@dataclass
class DemoGateway:
    """The demo gateway and its two simulators, each in a child process of its own."""

    customers: int
    items: int
    work_dir: Path
    seed: int = 42
    port: int = field(default_factory=free_port)
    simulator_ports: dict[str, int] = field(default_factory=lambda: {k: free_port() for k in SIMULATORS})
    keys: dict[str, str] = field(default_factory=dict)
    output: list[str] = field(default_factory=list)
    # Settings for the gateway's process on top of the bench's own (e.g. GATEWAY_LEASE_TTL_SECONDS).
    gateway_env: dict[str, str] = field(default_factory=dict)
    _children: list[_Child] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def simulator_roots(self) -> dict[str, str]:
        return {kind: f"http://127.0.0.1:{port}" for kind, port in self.simulator_ports.items()}

    @property
    def pids(self) -> dict[str, int]:
        return {child.name: child.process.pid for child in self._children}

    @property
    def server_pids(self) -> list[int]:
        """The measured gateway's processes: `gateway run` (with its workers), and Redis beside replicas."""
        return [c.process.pid for c in self._children if c.name.startswith(("gateway run", "redis-server"))]

    @property
    def upstream_pids(self) -> list[int]:
        """The simulators' processes."""
        return [c.process.pid for c in self._children if c.name.startswith("gateway simulate")]

    def worker_connections(self) -> tuple[int, ...]:
        """With `gateway run --workers N` measured: how many connections on the gateway's port each
        worker holds now (most first, from /proc); () when the measured gateway is one process."""
        replicas = [c for c in self._children if c.name.startswith("gateway run --workers")]
        if not replicas:
            return ()
        held = connections_by_worker(replicas[-1].process.pid, self.port)
        return tuple(sorted((len(clients) for clients in held.values()), reverse=True))

    def check_alive(self) -> None:
        """Raise (with its log's tail) if any child process has exited."""
        for child in self._children:
            child.check_alive()

    def start(self, *, timeout: float = 900.0, scheduler: bool = True) -> None:
        """Start both simulators (they generate the same demo data from the same seed), wait until
        they answer, then start the gateway against them and read its banner for every role's key."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        data = ["--seed", str(self.seed), "--customers", str(self.customers), "--items", str(self.items)]
        # As `run --demo` sets up its own ERP simulator (no subscription exists here: no scheduler).
        extra = {"erp": ["--webhook-delay-seconds", str(DEMO_WEBHOOK_DELAY_SECONDS)], "crm": []}
        for kind, port in self.simulator_ports.items():
            self._children.append(
                _spawn(
                    f"gateway simulate {kind}",
                    ["simulate", kind, "--port", str(port), *data, *extra[kind]],
                    env=env,
                    log_path=self.work_dir / f"simulate-{kind}.log",
                )
            )
        deadline = time.monotonic() + timeout
        for child, root in zip(self._children, self.simulator_roots.values(), strict=True):
            while not answers(f"{root}/_sim/stats"):
                child.check_alive()
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{child.name} did not answer in {timeout:.0f}s")
                time.sleep(0.5)
        self._start_demo(timeout=deadline - time.monotonic(), scheduler=scheduler)

    def _base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        env.update(
            GATEWAY_DATABASE_URL=f"sqlite+aiosqlite:///{self.work_dir}/demo.db",
            GATEWAY_LOG_LEVEL="WARNING",
            # A warmed availability answer stays fresh for the whole run (a "hit" is a real hit).
            GATEWAY_AVAILABILITY_FRESH_SECONDS="3600",
            GATEWAY_AVAILABILITY_MAX_STALE_SECONDS="7200",
            # No BC webhook subscriptions: their manager's 5-minute pass (deleting those of the
            # mappings disabled after the first full sync) landed in a measured row as upstream calls.
            GATEWAY_WEBHOOK_URL="",
        )
        env.update(self.gateway_env)
        return env

    def _start_demo(self, *, timeout: float, scheduler: bool = True) -> None:
        """`gateway run --demo` against the simulators; it prints a new key per role (the previous
        demo keys are revoked). `scheduler=False`: GATEWAY_SCHEDULER_IN_PROCESS=false."""
        env = self._base_env()
        if not scheduler:
            env["GATEWAY_SCHEDULER_IN_PROCESS"] = "false"
        roots = self.simulator_roots
        gateway = _spawn(
            "gateway run --demo",
            ["run", "--demo", "--port", str(self.port), "--erp-url", roots["erp"], "--crm-url", roots["crm"]],
            env=env,
            log_path=self.work_dir / f"gateway-{len(self._children)}.log",
        )
        self._children.append(gateway)
        deadline = time.monotonic() + timeout
        self.keys = {}
        while len(self.keys) < 3:
            gateway.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError("gateway run --demo did not print its keys:\n" + gateway.log())
            time.sleep(0.2)
            self.output = gateway.log().splitlines(keepends=True)
            for line in self.output:
                match = re.match(r"\s+(admin|sales|app)\s+(\S+)$", line)
                if match:
                    self.keys[match.group(1)] = match.group(2)
        self._wait_listening(gateway, deadline)

    def _wait_listening(self, gateway: _Child, deadline: float) -> None:
        while not answers(f"{self.base}/healthz"):  # the banner comes before the server listens
            gateway.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"{gateway.name} did not answer /healthz:\n" + gateway.log())
            time.sleep(0.2)

    def _stop_gateway(self) -> None:
        for child in [c for c in self._children if c.name.startswith(("gateway run", "redis-server"))]:
            child.stop()
            self._children.remove(child)

    def restart_without_scheduler(self, *, timeout: float = 300.0) -> None:
        """Stop the demo that ran the first full sync and start it again on the same store with its
        scheduler off: no incremental runs, no ERP PRICING poll, no CRM poll, no subscription pass,
        so every upstream request during a measured row is one the read path made."""
        self._stop_gateway()
        self._start_demo(timeout=timeout, scheduler=False)

    def start_replicas(self, workers: int, *, timeout: float = 300.0) -> None:
        """Replace the measured gateway by `gateway run --workers N` on the same store and port: N
        web-only processes (GATEWAY_SCHEDULER_IN_PROCESS=false, as beside a `gateway worker`
        syncer, which is not running here) sharing the availability cache and its single flight
        through a `redis-server` of their own. The last demo keys stay valid (only a demo start
        revokes them)."""
        redis_server = shutil.which("redis-server")
        if redis_server is None:
            raise RuntimeError("redis-server is not installed: run with --workers 1")
        self._stop_gateway()
        redis_port = free_port()
        redis = _spawn_command(
            "redis-server", redis_command(redis_server, redis_port), log_path=self.work_dir / "redis.log"
        )
        self._children.append(redis)
        roots = self.simulator_roots
        env = self._base_env()
        env.update(
            replica_env(
                erp_root=roots["erp"], crm_root=roots["crm"], cache_url=f"redis://127.0.0.1:{redis_port}/0"
            ),
            GATEWAY_SCHEDULER_IN_PROCESS="false",
        )
        replicas = _spawn(
            f"gateway run --workers {workers}",
            ["run", "--workers", str(workers), "--port", str(self.port)],
            env=env,
            log_path=self.work_dir / f"gateway-{len(self._children)}.log",
        )
        self._children.append(replicas)
        deadline = time.monotonic() + timeout
        try:
            wait_for_replicas(
                replicas.process.pid, workers, self.base, deadline=deadline, check_alive=replicas.check_alive
            )
        except TimeoutError as exc:
            raise RuntimeError(f"{exc}:\n{replicas.log()}") from None
        # Then until none uses CPU (start-up done), so no worker's start-up lands in a measured row.
        used = tree_cpu_seconds([replicas.process.pid])
        while True:
            time.sleep(1.0)
            replicas.check_alive()
            now = tree_cpu_seconds([replicas.process.pid])
            if now - used < 0.05 or time.monotonic() > deadline:
                break
            used = now

    def _admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys['admin']}"}

    def wait_synced(self, *, timeout: float) -> float:
        """Poll GET /api/v1/admin/sync/full until the full sync has finished every mapping the reads
        need (no job in process, each finished with success or error); returns the seconds waited."""
        started = time.monotonic()
        while True:
            for child in self._children:
                child.check_alive()
            try:
                status = httpx.get(f"{self.base}/api/v1/admin/sync/full", headers=self._admin(), timeout=10)
                if status.status_code == 200 and _synced(status.json()):
                    return time.monotonic() - started
            except httpx.TransportError:
                pass
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"the first full sync did not finish in {timeout:.0f}s")
            time.sleep(1.0)

    def full_sync_status(self) -> dict[str, Any]:
        """GET /api/v1/admin/sync/full: per mapping, each direction's latest full job and the records."""
        status = httpx.get(f"{self.base}/api/v1/admin/sync/full", headers=self._admin(), timeout=60)
        result: dict[str, Any] = status.raise_for_status().json()
        return result

    def wait_quiet(self, *, quiet_seconds: float = 3.0, timeout: float = 300.0) -> None:
        """Wait until neither simulator counts a request for `quiet_seconds`: a straggler of the
        full sync must not land in a measured row."""
        deadline = time.monotonic() + timeout
        last, since = self.upstream_requests(), time.monotonic()
        while time.monotonic() - since < quiet_seconds:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the simulators were never quiet for {quiet_seconds:g}s")
            time.sleep(0.5)
            now = self.upstream_requests()
            if now != last:
                last, since = now, time.monotonic()

    def erp_stocked_items(self) -> set[str]:
        """The item numbers the ERP simulator holds availability rows for (its seeded stock), asked
        of it directly before the measurement. An item the sync created in the ERP from a Sales-only
        product has none: its availability answer is rightly empty, so it makes no scenario."""
        return erp_stocked_items(self.simulator_roots["erp"])

    def set_latency(self, ms: float) -> None:
        for root in self.simulator_roots.values():
            httpx.post(f"{root}/_sim/latency", json={"ms": ms}, timeout=10).raise_for_status()

    def upstream_snapshot(self) -> Counter[str]:
        """Both simulators' request counters, by simulator, method, entity set and status
        (`erp GET items 200`), plus the tokens each issued (`erp token`)."""
        counts: Counter[str] = Counter()
        for kind, root in self.simulator_roots.items():
            counts.update(simulator_snapshot(root, prefix=kind))
        return counts

    def upstream_requests(self) -> int:
        return upstream_total(self.upstream_snapshot())

    def stop(self) -> None:
        for child in reversed(self._children):  # the gateway first, then the simulators it talks to
            child.stop()


def tree_cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU seconds used so far by these processes and their live descendants
    (`mesh dev` forks a worker), read from /proc/PID/stat."""
    clock_ticks = os.sysconf("SC_CLK_TCK")
    used: dict[int, float] = {}
    children: defaultdict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # exited meanwhile
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state, ppid, ... utime, stime
        pid = int(entry.name)
        used[pid] = (int(fields[11]) + int(fields[12])) / clock_ticks
        children[int(fields[1])].append(pid)
    total, todo, seen = 0.0, list(pids), set()
    while todo:
        pid = todo.pop()
        if pid not in seen:
            seen.add(pid)
            total += used.get(pid, 0.0)
            todo += children[pid]
    return total


def simulator_snapshot(root: str, *, prefix: str) -> Counter[str]:
    """One simulator's `/_sim/stats`: every (method, entity set, status) row and the tokens issued."""
    stats: dict[str, Any] = httpx.get(f"{root}/_sim/stats", timeout=10).raise_for_status().json()
    counts: Counter[str] = Counter()
    for row in stats["requests"]:
        counts[f"{prefix} {row['method']} {row['entitySet']} {row['status']}"] += int(row["count"])
    counts[f"{prefix} token"] = int(stats["tokensIssued"])
    return counts


def upstream_total(counts: Counter[str]) -> int:
    """Every counted request, token requests included."""
    return sum(counts.values())


def upstream_delta(before: Counter[str], after: Counter[str]) -> dict[str, int]:
    """What was called between two snapshots (only the rows that grew)."""
    return {key: after[key] - before[key] for key in sorted(after) if after[key] > before[key]}


def _synced(status: dict[str, Any]) -> bool:
    lines = {line["mapping"]: line for line in status["lines"]}
    jobs = [job for line in status["lines"] for job in line["jobs"].values()]
    if any(job["status"] == "in process" for job in jobs):
        return False
    for name in NEEDED_MAPPINGS:
        line = lines.get(name)
        if line is None or not line["jobs"]:
            return False
        # "error" is finished too: a few demo records fail to sync by design of the data.
        if any(job["status"] == "blank" for job in line["jobs"].values()):
            return False
    return True
