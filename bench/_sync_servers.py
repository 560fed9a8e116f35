"""Simulators for the sync benchmark: the demo data set of a chosen size (customers, items) served by
uvicorn in a child process on a free loopback port, reporting every entity set's initial size.

Run as `python -m bench._sync_servers erp|crm --customers N --items M --seed S [--webhook-delay D]`:
prints one JSON line ({"kind", "port", "rows", "pid", "sizes"}) once it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
from dataclasses import dataclass, replace
from typing import Any

from bench._servers import ROOT, SimulatorProcess, Target, _QuietFaults


@dataclass
class SyncTarget:
    """A served simulator and the number of rows each of its entity sets held when it started."""

    target: Target
    sizes: dict[str, int]


class DemoSimulatorProcess(SimulatorProcess):
    """A child process serving one simulator over the unpadded demo data (customers, items, seed)."""

    def __init__(
        self, kind: str, *, customers: int, items: int, seed: int, webhook_delay: float | None = None
    ) -> None:
        self.kind = kind
        self.rows = customers
        argv = ["--customers", str(customers), "--items", str(items), "--seed", str(seed)]
        if webhook_delay is not None:
            argv += ["--webhook-delay", str(webhook_delay)]
        self._process = subprocess.Popen(  # the interpreter running us, with fixed arguments
            [sys.executable, "-m", "bench._sync_servers", kind, *argv],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.port = 0

    def wait_ready_sized(self, *, timeout: float = 600.0) -> SyncTarget:
        """Block until the child prints its ready line; raise if it exits or takes too long."""
        ready = self._ready_line(timeout)
        self.port = int(ready["port"])
        target = Target(
            kind=self.kind, label="loopback HTTP", root=f"http://127.0.0.1:{self.port}", rows=self.rows
        )
        return SyncTarget(target=target, sizes={str(k): int(v) for k, v in ready["sizes"].items()})


def demo(*, customers: int, items: int, seed: int) -> Any:
    from gateway.simulators import demo_data

    return demo_data.generate(seed=seed, customers=customers, items=items)


def set_sizes(tables: dict[str, Any]) -> dict[str, int]:
    """Rows per entity set of one side of the demo data (private helper tables start with "_")."""
    return {
        name: len(rows)
        for name, rows in tables.items()
        if isinstance(rows, list) and not name.startswith("_")
    }


async def _serve(kind: str, customers: int, items: int, seed: int, webhook_delay: float | None) -> None:
    import uvicorn

    from gateway.simulators import SimulatorOptions, create_crm_simulator, create_erp_simulator

    data = demo(customers=customers, items=items, seed=seed)
    sizes = set_sizes(data.erp if kind == "erp" else data.crm)
    options = SimulatorOptions(demo_data=data, seed=seed)
    if webhook_delay is not None:  # BC's wait before it notifies a change (the simulator's default 30 s)
        options = replace(options, webhook_delay_seconds=webhook_delay)
    app = create_erp_simulator(options) if kind == "erp" else create_crm_simulator(options)
    del data
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    logging.getLogger("uvicorn.error").addFilter(_QuietFaults())
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
            return
        await asyncio.sleep(0.02)
    ready = {
        "kind": kind,
        "port": sock.getsockname()[1],
        "rows": customers,
        "pid": os.getpid(),
        "sizes": sizes,
    }
    print(json.dumps(ready), flush=True)
    await task


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=["crm", "erp"])
    parser.add_argument("--customers", type=int, required=True)
    parser.add_argument("--items", type=int, required=True)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--webhook-delay", type=float, help="ERP: seconds before BC notifies a change")
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.kind, args.customers, args.items, args.seed, args.webhook_delay))


if __name__ == "__main__":
    main()
