"""Where the real PostgreSQL and Redis are, and whether a test may skip when they are absent.

Outside CI a missing server skips the test with a visible reason; with CI=true it fails.
"""

from __future__ import annotations

import os
import socket

import pytest

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def require_server(name: str, host: str, port: int) -> None:
    """Skip (or, in CI, fail) when the server is not listening."""
    if port_open(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if in_ci():
        pytest.fail(f"{message} (CI=true: this test must run)")
    pytest.skip(f"{message}; start it to run this test")
