"""`gateway run --demo` as a real process on free loopback ports, for tests that drive it like a user."""

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env["GATEWAY_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path}/demo.db"
    env.update(extra)
    return env


@contextmanager
def running_demo(
    tmp_path: Path, *, customers: int = 20, items: int = 20, **env: str
) -> Iterator[tuple[str, dict[str, str], list[str]]]:
    """Yields the gateway's base URL, the printed key per role, and the lines printed so far."""
    port, erp_port, crm_port = free_port(), free_port(), free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "run",
            "--demo",
            "--port",
            str(port),
            "--erp-port",
            str(erp_port),
            "--crm-port",
            str(crm_port),
            "--customers",
            str(customers),
            "--items",
            str(items),
        ],
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
        assert f"127.0.0.1:{erp_port}/v2.0/" in text and f"127.0.0.1:{crm_port}/api/data/v9.2/" in text
        yield base, keys, output
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()
