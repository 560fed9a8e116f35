"""The demo gateway for bench/api.py in three child processes: `gateway simulate erp` and
`gateway simulate crm` (each its own process and event loop) and `gateway run --demo --erp-url
--crm-url` pointed at them, its scheduler off; free loopback ports, the printed API keys, the full
sync started and waited for, and the simulators' `/_sim` latency and request counts.
"""

from __future__ import annotations

import os
import re
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

from gateway.demo import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_ENVIRONMENT,
    DEMO_TENANT,
    DEMO_WEBHOOK_DELAY_SECONDS,
)

ROOT = Path(__file__).resolve().parents[1]
# The mappings a read scenario depends on: customers (with salesperson, currency, price list),
# items and their price list lines (quotes).
NEEDED_MAPPINGS = ("SALESPEOPLE", "CURRENCY", "PRICE LIST", "CUSTOMER", "ITEM-PRODUCT", "PRICE LIST LINE")
SIMULATORS = ("erp", "crm")
ERP_SCOPE = "https://api.businesscentral.dynamics.com/.default"


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
    with log_path.open("w") as log:
        process = subprocess.Popen(  # the interpreter running us, with fixed arguments
            [sys.executable, "-m", "gateway.cli", *args],
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
        """The gateway's process (the one measured)."""
        return [c.process.pid for c in self._children if c.name == "gateway run --demo"]

    @property
    def upstream_pids(self) -> list[int]:
        """The simulators' processes."""
        return [c.process.pid for c in self._children if c.name.startswith("gateway simulate")]

    def start(self, *, timeout: float = 900.0) -> None:
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
            while not _answers(f"{root}/_sim/stats"):
                child.check_alive()
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{child.name} did not answer in {timeout:.0f}s")
                time.sleep(0.5)
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
        roots = self.simulator_roots
        gateway = _spawn(
            "gateway run --demo",
            ["run", "--demo", "--port", str(self.port), "--erp-url", roots["erp"], "--crm-url", roots["crm"]],
            env=env,
            log_path=self.work_dir / "gateway.log",
        )
        self._children.append(gateway)
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
        while not _answers(f"{self.base}/healthz"):  # the banner comes before the server listens
            gateway.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError("gateway run --demo did not answer /healthz:\n" + gateway.log())
            time.sleep(0.2)

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

    def pause_schedule(self) -> list[str]:
        """Disable every mapping (PATCH /api/v1/admin/mappings/{name} {"enabled": false}) once the
        demo's first full sync is done: its in-process scheduler then runs no incremental sync (each
        mapping-direction every 30 s) and no CRM poll (2 s), and the BC subscriptions are deleted;
        only the subscription manager's listing every 5 min remains (attributed if it lands in a
        row). The admin full sync (start_full_sync) failed at 20,000 customers (StaleLease, see
        docs/benchmarks.md), so the run uses the demo's own first full sync. Returns the mappings."""
        listing = httpx.get(f"{self.base}/api/v1/admin/mappings", headers=self._admin(), timeout=60)
        names = [m["name"] for m in listing.raise_for_status().json()["items"] if m["enabled"]]
        for name in names:
            httpx.patch(
                f"{self.base}/api/v1/admin/mappings/{name}",
                json={"enabled": False},
                headers=self._admin(),
                timeout=60,
            ).raise_for_status()
        return names

    def start_full_sync(self) -> None:
        """POST /api/v1/admin/sync/full: the same full synchronization the demo runs on its first
        start when its scheduler runs in-process (GATEWAY_SCHEDULER_IN_PROCESS, off here)."""
        httpx.post(
            f"{self.base}/api/v1/admin/sync/full", json={}, headers=self._admin(), timeout=60
        ).raise_for_status()

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
        root = self.simulator_roots["erp"]
        company = httpx.get(f"{root}/_sim/info", timeout=10).raise_for_status().json()["companyId"]
        token = httpx.post(
            f"{root}/{DEMO_TENANT}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": DEMO_CLIENT_ID,
                "client_secret": DEMO_CLIENT_SECRET,
                "scope": ERP_SCOPE,
            },
            timeout=10,
        )
        headers = {"Authorization": f"Bearer {token.raise_for_status().json()['access_token']}"}
        url: str | None = (
            f"{root}/v2.0/{DEMO_TENANT}/{DEMO_ENVIRONMENT}/api/bcgateway/integration/v1.0/companies({company})/itemAvailabilities"
            "?$select=itemNumber"
        )
        numbers: set[str] = set()
        while url:
            page = httpx.get(url, headers=headers, timeout=120).raise_for_status().json()
            numbers.update(row["itemNumber"] for row in page["value"])
            url = page.get("@odata.nextLink")
        return numbers

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


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


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
