"""`gateway run --demo` as a real process on free loopback ports, for tests that drive it like a user;
`gateway simulate erp|crm` likewise, for a demo pointed at simulators in processes of their own."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
SIMULATE = [sys.executable, "-m", "gateway.cli", "simulate"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env["GATEWAY_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path}/demo.db"
    env.update(extra)
    return env


def _stop(process: subprocess.Popen[str], output: list[str] | None = None) -> None:
    """Ctrl-C, as a user stops it; what it prints until it exits is added to `output`."""
    process.send_signal(signal.SIGINT)
    try:
        rest, _ = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        rest, _ = process.communicate()
    if output is not None and rest:
        output.extend(rest.splitlines(keepends=True))


@contextmanager
def running_simulator(kind: str, *, customers: int = 20, items: int = 20) -> Iterator[str]:
    """`gateway simulate erp|crm` with the demo's defaults; yields its base URL once it answers."""
    port = free_port()
    process = subprocess.Popen(
        [*SIMULATE, kind, "--port", str(port), "--customers", str(customers), "--items", str(items)],
        env={k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")},
        stdout=subprocess.DEVNULL,  # its banner is not needed: the base URL is known
        text=True,
        cwd=ROOT,
    )
    root = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, f"gateway simulate {kind} exited with {process.returncode}"
            assert time.monotonic() < deadline, f"gateway simulate {kind} did not answer in 90 s"
            try:
                if httpx.get(f"{root}/_sim/stats", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield root
    finally:
        _stop(process)


@contextmanager
def running_demo(
    tmp_path: Path,
    *,
    customers: int = 20,
    items: int = 20,
    erp_url: str | None = None,
    crm_url: str | None = None,
    **env: str,
) -> Iterator[tuple[str, dict[str, str], list[str]]]:
    """Yields the gateway's base URL, the printed key per role, and the lines printed so far.
    With `erp_url` and `crm_url` the demo uses those simulators and starts none."""
    port, erp_port, crm_port = free_port(), free_port(), free_port()
    external = erp_url is not None and crm_url is not None
    if external:
        simulators = ["--erp-url", str(erp_url), "--crm-url", str(crm_url)]
        erp_api, crm_api = f"{erp_url}/v2.0/", f"{crm_url}/api/data/v9.2/"
    else:
        simulators = ["--erp-port", str(erp_port), "--crm-port", str(crm_port)]
        simulators += ["--customers", str(customers), "--items", str(items)]
        erp_api, crm_api = f"127.0.0.1:{erp_port}/v2.0/", f"127.0.0.1:{crm_port}/api/data/v9.2/"
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "run", "--demo", "--port", str(port), *simulators],
        env=clean_env(tmp_path, GATEWAY_LOG_LEVEL="WARNING", **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )
    assert process.stdout is not None
    output: list[str] = []
    keys: dict[str, str] = {}
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and len(keys) < 3:
            line = process.stdout.readline()
            if not line:
                break
            output.append(line)
            match = re.match(r"\s+(admin|sales|app)\s+(\S+)$", line)
            if match:
                keys[match.group(1)] = match.group(2)
        assert len(keys) == 3, "".join(output)
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        text = "".join(output)
        assert f"{base}/graphql" in text
        assert erp_api in text and crm_api in text
        yield base, keys, output
    finally:
        _stop(process, output)
