"""Runs the SAP CAP contract server (tests/contract/cap) as a child process on a free loopback port.

Without npm the CAP tests skip with a reason, except with CI=true, where they fail.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers import in_ci, port_open

CAP_DIR = Path(__file__).parent / "cap"
SERVICE_PATH = "/odata/v4/contract/"
START_TIMEOUT_SECONDS = 60.0


@dataclass
class CapServer:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def service_root(self) -> str:
        return f"http://127.0.0.1:{self.port}{SERVICE_PATH}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _unavailable(message: str) -> None:
    if in_ci():
        pytest.fail(f"{message} (CI=true: the CAP contract tests must run)")
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def ensure_installed() -> None:
    """Run install.sh (idempotent: instant when node_modules matches package-lock.json)."""
    if shutil.which("npm") is None:
        _unavailable("npm is not installed: cannot run the SAP CAP contract server")
    result = subprocess.run(
        ["bash", str(CAP_DIR / "install.sh")], capture_output=True, text=True, timeout=600, check=False
    )
    if result.returncode != 0:
        _unavailable(f"tests/contract/cap/install.sh failed:\n{result.stdout}\n{result.stderr}")


def start_cap_server(log_dir: Path) -> CapServer:
    ensure_installed()
    node = CAP_DIR / "node_modules" / ".bin" / "node"
    serve = CAP_DIR / "node_modules" / ".bin" / "cds-serve"
    port = _free_port()
    log_path = log_dir / "cap-server.log"
    env = {**os.environ, "PATH": f"{node.parent}{os.pathsep}{os.environ.get('PATH', '')}", "NODE_ENV": "test"}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(node), str(serve), "all", "--in-memory", "--port", str(port)],
            cwd=CAP_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    server = CapServer(process=process, port=port, log_path=log_path)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not port_open("127.0.0.1", port):
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            pytest.fail(f"the CAP server did not start; its log:\n{log_path.read_text(errors='replace')}")
        time.sleep(0.1)
    return server
