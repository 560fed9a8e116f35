"""`gateway run --demo` as a child process for bench/api.py: free loopback ports, the printed API
keys, waiting for its first full sync, and the simulators' `/_sim` latency and request counts.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
# The mappings a read scenario depends on: customers (with salesperson, currency, price list),
# items and their price list lines (quotes).
NEEDED_MAPPINGS = ("SALESPEOPLE", "CURRENCY", "PRICE LIST", "CUSTOMER", "ITEM-PRODUCT", "PRICE LIST LINE")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class DemoGateway:
    """The demo gateway and its two simulators, all served by one child process."""

    customers: int
    items: int
    work_dir: Path
    seed: int = 42
    port: int = field(default_factory=free_port)
    erp_port: int = field(default_factory=free_port)
    crm_port: int = field(default_factory=free_port)
    keys: dict[str, str] = field(default_factory=dict)
    output: list[str] = field(default_factory=list)
    _process: subprocess.Popen[str] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def simulator_roots(self) -> dict[str, str]:
        return {"erp": f"http://127.0.0.1:{self.erp_port}", "crm": f"http://127.0.0.1:{self.crm_port}"}

    def start(self, *, timeout: float = 120.0) -> None:
        """Start the process and read its banner until every role's key is printed."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        env.update(
            GATEWAY_DATABASE_URL=f"sqlite+aiosqlite:///{self.work_dir}/demo.db",
            GATEWAY_LOG_LEVEL="WARNING",
            # After the first full sync nothing else may call upstream: the counts are the read path's.
            GATEWAY_SYNC_INTERVAL_SECONDS="86400",
            # A warmed availability answer stays fresh for the whole run (a "hit" is a real hit).
            GATEWAY_AVAILABILITY_FRESH_SECONDS="3600",
            GATEWAY_AVAILABILITY_MAX_STALE_SECONDS="7200",
        )
        argv = [sys.executable, "-m", "gateway.cli", "run", "--demo", "--port", str(self.port)]
        argv += ["--erp-port", str(self.erp_port), "--crm-port", str(self.crm_port), "--seed", str(self.seed)]
        argv += ["--customers", str(self.customers), "--items", str(self.items)]
        # Output goes to a file, not a pipe: nobody reads a pipe after the banner, and a full pipe
        # would block the gateway's event loop on its next log line (it did, at 2,000 customers).
        log_path = self.work_dir / "gateway.log"
        with log_path.open("w") as log:
            self._process = subprocess.Popen(  # the interpreter running us, with fixed arguments
                argv, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, text=True
            )
        deadline = time.monotonic() + timeout
        while len(self.keys) < 3:
            if time.monotonic() > deadline or self._process.poll() is not None:
                raise RuntimeError("gateway run --demo did not print its keys:\n" + "".join(self.output))
            time.sleep(0.2)
            self.output = log_path.read_text(errors="replace").splitlines(keepends=True)
            for line in self.output:
                match = re.match(r"\s+(admin|sales|app)\s+(\S+)$", line)
                if match:
                    self.keys[match.group(1)] = match.group(2)

    def wait_synced(self, *, timeout: float) -> float:
        """Poll GET /api/v1/admin/sync/full until the first full sync has finished every mapping the
        reads need (no job in process, each finished with success or error); returns the seconds waited."""
        started = time.monotonic()
        headers = {"Authorization": f"Bearer {self.keys['admin']}"}
        while True:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError("gateway run --demo exited:\n" + "".join(self.output))
            try:
                status = httpx.get(f"{self.base}/api/v1/admin/sync/full", headers=headers, timeout=10)
                if status.status_code == 200 and _synced(status.json()):
                    return time.monotonic() - started
            except httpx.TransportError:
                pass
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"the first full sync did not finish in {timeout:.0f}s")
            time.sleep(1.0)

    def wait_quiet(self, *, quiet_seconds: float = 3.0, timeout: float = 120.0) -> None:
        """Wait until neither simulator counts a request for `quiet_seconds`: the full sync's last
        follow-ups (they came after its status showed finished) must not land in a measured row."""
        deadline = time.monotonic() + timeout
        last, since = self.upstream_requests(), time.monotonic()
        while time.monotonic() - since < quiet_seconds:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the simulators were never quiet for {quiet_seconds:g}s")
            time.sleep(0.5)
            now = self.upstream_requests()
            if now != last:
                last, since = now, time.monotonic()

    def set_latency(self, ms: float) -> None:
        for root in self.simulator_roots.values():
            httpx.post(f"{root}/_sim/latency", json={"ms": ms}, timeout=10).raise_for_status()

    def upstream_requests(self) -> int:
        """Requests both simulators have counted so far (tokens and every entity set)."""
        return sum(simulator_requests(root) for root in self.simulator_roots.values())

    def stop(self) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


def simulator_requests(root: str) -> int:
    stats: dict[str, Any] = httpx.get(f"{root}/_sim/stats", timeout=10).json()
    return int(stats["total"])


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
