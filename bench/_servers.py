"""Simulators for the benchmarks: demo data of an exact size, served by uvicorn in a child process on a
free loopback port (or in-process), and the `/_sim` control API to count requests and inject faults.

Run as `python -m bench._servers erp|crm --rows N --seed S`: prints one JSON line once it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import selectors
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
# The entity set each benchmark reads, per simulator.
ENTITY_SETS = {"erp": "customers", "crm": "accounts"}
MIN_ROWS = 20  # the demo data generator's own minimum of customers
# More items than the generator's minimum: generate(customers=100_000, items=20) runs out of price
# list timestamps (StopIteration in demo/pricelists.py); 100 items is safe and cheap.
ITEMS = 100
_PAD_NAMESPACE = uuid.UUID("b3f0c1e2-6a1d-4c53-9f1e-0be7a5c3d921")


# ------------------------------------------------------------------------------------------ data


def benchmark_data(*, rows: int, seed: int) -> Any:
    """Demo data with exactly `rows` ERP customers and `rows` CRM accounts, all of realistic shape.

    The generator makes about 0.53 accounts per customer; the rest are copies of its accounts with
    fresh deterministic ids and account numbers, so payload sizes match the demo's."""
    from gateway.simulators import demo_data

    if rows < MIN_ROWS:
        raise ValueError(f"rows must be at least {MIN_ROWS}")
    data = demo_data.generate(seed=seed, customers=rows, items=ITEMS)
    if len(data.erp["customers"]) != rows:
        raise RuntimeError(f"the generator made {len(data.erp['customers'])} customers, not {rows}")
    data.crm["accounts"] = padded_accounts(data.crm["accounts"], count=rows, seed=seed)
    return data


def padded_accounts(accounts: list[dict[str, Any]], *, count: int, seed: int) -> list[dict[str, Any]]:
    if not accounts:
        raise ValueError("the demo data has no accounts to copy")
    out = [dict(a) for a in accounts[:count]]
    version = max(int(a["versionnumber"]) for a in accounts)
    for index in range(len(out), count):
        clone = dict(accounts[index % len(accounts)])
        clone["accountid"] = str(uuid.uuid5(_PAD_NAMESPACE, f"{seed}:{index}"))
        clone["accountnumber"] = f"BENCH{index:07d}"
        version += 1
        clone["versionnumber"] = version
        out.append(clone)
    return out


def build_simulator(kind: str, data: Any) -> Any:
    from gateway.simulators import SimulatorOptions, create_crm_simulator, create_erp_simulator

    options = SimulatorOptions(demo_data=data, seed=data.seed)
    return create_erp_simulator(options) if kind == "erp" else create_crm_simulator(options)


# ------------------------------------------------------------------------------------- targets


@dataclass
class Target:
    """One simulator the benchmark reads from: over loopback HTTP (`transport` None) or in-process."""

    kind: str
    label: str
    root: str
    rows: int
    transport: httpx.AsyncBaseTransport | None = None
    tenant: str = "demo"
    environment: str = "production"
    client_id: str = "gateway-demo"
    client_secret: str = field(default="demo-secret", repr=False)

    @property
    def entity_set(self) -> str:
        return ENTITY_SETS[self.kind]

    @property
    def token_url(self) -> str:
        return f"{self.root}/{self.tenant}/oauth2/v2.0/token"

    async def control(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """GET (no body) or POST `/_sim/<path>`."""
        async with httpx.AsyncClient(transport=self.transport, base_url=self.root, timeout=60) as http:
            if body is None:
                response = await http.get(f"/_sim/{path}")
            else:
                response = await http.post(f"/_sim/{path}", json=body)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result


def in_process_target(kind: str, *, rows: int, seed: int, data: Any = None) -> Target:
    """The simulator as an ASGI app in this process, behind the gateway's in-process transport."""
    from gateway.upstream.transport import in_process_transport

    app = build_simulator(kind, data if data is not None else benchmark_data(rows=rows, seed=seed))
    return Target(
        kind=kind,
        label="in-process",
        root=f"http://{kind}.sim",
        rows=rows,
        transport=in_process_transport(app),
    )


class SimulatorProcess:
    """A child process serving one simulator with uvicorn on 127.0.0.1 (port chosen by the OS)."""

    def __init__(self, kind: str, *, rows: int, seed: int) -> None:
        self.kind = kind
        self.rows = rows
        self._process = subprocess.Popen(  # the interpreter running us, with fixed arguments
            [sys.executable, "-m", "bench._servers", kind, "--rows", str(rows), "--seed", str(seed)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.port = 0

    def _ready_line(self, timeout: float) -> dict[str, Any]:
        """The JSON line the child prints once it listens; raise if it exits or takes too long."""
        stdout = self._process.stdout
        assert stdout is not None
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            while not selector.select(timeout=0.5):
                if self._process.poll() is not None:
                    raise RuntimeError(f"the {self.kind} simulator exited with {self._process.returncode}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the {self.kind} simulator did not start in {timeout:.0f}s")
        line = stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.kind} simulator closed its output (exit {self._process.wait()})")
        ready: dict[str, Any] = json.loads(line)
        return ready

    def wait_ready(self, *, timeout: float = 300.0) -> Target:
        """Block until the child prints its ready line; raise if it exits or takes too long."""
        ready = self._ready_line(timeout)
        if ready.get("rows") != self.rows:
            raise RuntimeError(f"the {self.kind} simulator holds {ready.get('rows')} rows, not {self.rows}")
        self.port = int(ready["port"])
        return Target(
            kind=self.kind, label="loopback HTTP", root=f"http://127.0.0.1:{self.port}", rows=self.rows
        )

    def peak_rss_kib(self) -> int | None:
        """The child's peak resident set (VmHWM), while it still runs."""
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self._process.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return None

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()  # uvicorn shuts down cleanly on SIGTERM
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()


# -------------------------------------------------------------------------------------- child


class _QuietFaults(logging.Filter):
    """Injected faults are the point of the fault runs: keep uvicorn's tracebacks for them out of the
    output (drops; and requests held by a "timeout" fault that the client abandoned, which fail with
    ClientDisconnect when the simulator reads the body after the hold, see docs/benchmarks.md)."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is None:
            return True
        return "simulated connection drop" not in str(error) and type(error).__name__ != "ClientDisconnect"


async def _serve(kind: str, rows: int, seed: int) -> None:
    import uvicorn

    app = build_simulator(kind, benchmark_data(rows=rows, seed=seed))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    logging.getLogger("uvicorn.error").addFilter(_QuietFaults())
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
            return
        await asyncio.sleep(0.02)
    port = sock.getsockname()[1]
    print(json.dumps({"kind": kind, "port": port, "rows": rows, "pid": os.getpid()}), flush=True)
    await task


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=sorted(ENTITY_SETS))
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.kind, args.rows, args.seed))


if __name__ == "__main__":
    main()
