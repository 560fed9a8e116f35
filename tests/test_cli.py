"""The `gateway` command as a user runs it: one-line configuration errors, keys, schema export,
and the demo end to end (a real process on free loopback ports, driven over HTTP)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.demo_process import running_demo

ROOT = Path(__file__).resolve().parents[1]
GATEWAY = [sys.executable, "-m", "gateway.cli"]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env["GATEWAY_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path}/cli.db"
    env.update(extra)
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*GATEWAY, *args], env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_misconfiguration_is_one_line_naming_the_setting(tmp_path: Path) -> None:
    result = _run(["run"], _env(tmp_path, GATEWAY_ERP_PAGE_SIZE="lots"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "GATEWAY_ERP_PAGE_SIZE" in lines[0], result.stderr


def test_run_without_upstreams_names_the_first_missing_setting(tmp_path: Path) -> None:
    result = _run(["run"], _env(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "gateway: configuration error: GATEWAY_ERP_BASE_URL: is required (or run with --demo)"
    )


def test_secret_never_printed_on_error(tmp_path: Path) -> None:
    env = _env(tmp_path, GATEWAY_ERP_CLIENT_SECRET="very-secret-value", GATEWAY_CRM_PAGE_SIZE="-1")
    result = _run(["run"], env)
    assert result.returncode == 2
    assert "very-secret-value" not in result.stderr + result.stdout


def test_keys_create_prints_the_key_alone_on_the_last_line(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert _run(["db", "upgrade"], env).returncode == 0
    result = _run(["keys", "create", "--role", "sales", "--salesperson", "JR"], env)
    assert result.returncode == 0, result.stderr
    key = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"\S{30,}", key)
    listed = _run(["keys", "list"], env)
    assert "sales" in listed.stdout and "JR" in listed.stdout and key not in listed.stdout


def test_keys_create_rejects_a_salesperson_on_an_admin_key(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert _run(["db", "upgrade"], env).returncode == 0
    result = _run(["keys", "create", "--role", "admin", "--salesperson", "JR"], env)
    assert result.returncode == 1
    assert "salesperson" in result.stderr and "Traceback" not in result.stderr


def test_committed_schema_matches_the_code() -> None:
    from schema.build import build_schema

    committed = (ROOT / "schema" / "schema.graphql").read_text()
    assert committed.strip() == build_schema().as_str().strip(), (
        "run `make schema` and commit schema/schema.graphql"
    )


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    with running_demo(tmp_path) as (base, keys, _output):
        yield base, keys


def test_demo_serves_graphql_with_a_key_and_401_without(demo: tuple[str, dict[str, str]]) -> None:
    base, keys = demo
    query = "{upstreams{erp{reachable company{displayName}}crm{reachable}}}"
    assert httpx.get(f"{base}/graphql", params={"query": query}, timeout=10).status_code == 401
    response = httpx.get(
        f"{base}/graphql",
        params={"query": query},
        headers={"Authorization": f"Bearer {keys['admin']}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]["upstreams"]
    assert data["erp"]["reachable"] and data["crm"]["reachable"]
    ready = httpx.get(f"{base}/readyz", timeout=10)
    assert ready.status_code == 200, ready.text
