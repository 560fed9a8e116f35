"""The Dockerfile's HEALTHCHECK asks the port the gateway serves on (GATEWAY_PORT), not a fixed 8000:
its command is run as Docker runs it (`/bin/sh -c`) against the gateway's app served by uvicorn."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

import uvicorn

from gateway.app import create_app
from gateway.config import load_settings
from tests.uvicorn_server import serving

ROOT = Path(__file__).resolve().parents[1]


def _healthcheck_command() -> str:
    lines = [
        line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("HEALTHCHECK")
    ]
    assert len(lines) == 1, lines
    _, command = lines[0].split(" CMD ", 1)
    return command


async def _run(command: str, port: int) -> int:
    env = {
        **os.environ,
        "GATEWAY_PORT": str(port),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    process = await asyncio.create_subprocess_shell(
        command, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    return await process.wait()


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_healthcheck_follows_gateway_port(tmp_path: Path) -> None:
    command = _healthcheck_command()
    assert "8000/healthz" not in command
    app = create_app(load_settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/gw.db"))
    config = uvicorn.Config(app, lifespan="off", log_level="warning")
    async with serving(config) as root:
        port = int(root.rsplit(":", 1)[1])
        assert port != 8000
        assert await _run(command, port) == 0
    assert await _run(command, _closed_port()) != 0
