"""`gateway run --workers N`: web-only replicas sharing one port and, through Redis, the availability
cache. A real process tree on loopback, against simulators in processes of their own; counts only."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from gateway.serving import REUSE_PORT
from tests.demo_process import clean_env, free_port, running_simulator
from tests.replicas_process import (
    connections_by_worker,
    erp_stocked_items,
    redis_command,
    replica_env,
    wait_for_replicas,
    worker_pids,
)
from tests.servers import in_ci

ROOT = Path(__file__).resolve().parents[1]
GATEWAY = [sys.executable, "-m", "gateway.cli"]


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*GATEWAY, *args], env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)


@pytest.mark.parametrize(
    ("args", "extra", "setting"),
    [
        (["--demo"], {}, "--workers"),
        ([], {}, "GATEWAY_CACHE_URL"),
        (
            [],
            {"GATEWAY_CACHE_URL": "redis://127.0.0.1:6379/0", "GATEWAY_SCHEDULER_IN_PROCESS": "true"},
            "GATEWAY_SCHEDULER_IN_PROCESS",
        ),
    ],
)
def test_several_workers_need_a_shared_cache_and_the_syncer_elsewhere(
    tmp_path: Path, args: list[str], extra: dict[str, str], setting: str
) -> None:
    result = _run(["run", "--workers", "2", *args], clean_env(tmp_path, **extra))
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"gateway: configuration error: {setting}: "), lines


@contextmanager
def _redis_server() -> Iterator[str]:
    """A redis-server of this test's own: no other test's availability entries in it."""
    binary = shutil.which("redis-server")
    if binary is None:
        if in_ci():
            pytest.fail("redis-server is not installed (CI=true: this test must run)")
        pytest.skip("redis-server is not installed")
    port = free_port()
    process = subprocess.Popen(redis_command(binary, port), stdout=subprocess.DEVNULL)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=20)


def _availability_reads(erp_url: str) -> int:
    stats = httpx.get(f"{erp_url}/_sim/stats", timeout=10).json()
    return int(stats["byEntitySet"].get("itemAvailabilities", 0))


@dataclass
class _Replicas:
    process: subprocess.Popen[str]
    base: str
    port: int
    key: str
    erp_url: str
    workers: list[int]


@contextmanager
def _replicas(tmp_path: Path) -> Iterator[_Replicas]:
    """`gateway run --workers 2` against simulators and a Redis of its own, all workers answering;
    stopped with Ctrl-C (SIGINT) after the block, which must end it cleanly: exit status 0, no
    traceback, no worker left."""
    with (
        _redis_server() as cache_url,
        running_simulator("erp") as erp_url,
        running_simulator("crm") as crm_url,
    ):
        env = clean_env(
            tmp_path,
            GATEWAY_LOG_LEVEL="WARNING",
            **replica_env(erp_root=erp_url, crm_root=crm_url, cache_url=cache_url),
        )
        assert _run(["db", "upgrade"], env).returncode == 0
        created = _run(["keys", "create", "--role", "app"], env)
        assert created.returncode == 0, created.stderr
        key = created.stdout.strip().splitlines()[-1]
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        process = subprocess.Popen(
            [*GATEWAY, "run", "--workers", "2", "--port", str(port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=ROOT,
        )

        def alive() -> None:
            assert process.poll() is None, process.communicate()[0]

        workers: list[int] = []
        try:
            wait_for_replicas(process.pid, 2, base, deadline=time.monotonic() + 90, check_alive=alive)
            workers = worker_pids(process.pid)
            assert len(workers) == 2, workers
            yield _Replicas(process, base, port, key, erp_url, workers)
        finally:
            process.send_signal(signal.SIGINT)
            try:
                output, _ = process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                output, _ = process.communicate()
        assert process.returncode == 0, output
        assert "Traceback" not in output, output
        assert all(not Path(f"/proc/{pid}").exists() for pid in workers)


@pytest.mark.slow
def test_two_workers_serve_one_port_and_share_the_availability_cache(tmp_path: Path) -> None:
    with _replicas(tmp_path) as replicas:
        item = min(erp_stocked_items(replicas.erp_url))
        before = _availability_reads(replicas.erp_url)
        answers = []
        for _ in range(12):  # a new connection each: the kernel hands them to either worker
            with httpx.Client(
                base_url=replicas.base, headers={"Authorization": f"Bearer {replicas.key}"}
            ) as client:
                response = client.get("/api/v1/availability", params={"items": item}, timeout=30)
            assert response.status_code == 200, response.text
            answers.append(response.json()["items"][0]["itemNumber"])
        assert answers == [item] * 12
        # One ERP read for twelve answers, whichever worker gave them: the cache is Redis's.
        assert _availability_reads(replicas.erp_url) - before == 1
        assert httpx.get(f"{replicas.base}/readyz", timeout=10).json()["checks"]["cache"]["ok"] is True


def _answer_healthz(conn: socket.socket) -> None:
    """One keep-alive GET /healthz on `conn`, its whole answer read (the connection stays open)."""
    conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n")
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = conn.recv(65536)
        assert chunk, "the gateway closed the connection"
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith("HTTP/1.1 200"), lines[0]
    length = next(
        int(line.split(":", 1)[1]) for line in lines[1:] if line.lower().startswith("content-length:")
    )
    while len(body) < length:
        chunk = conn.recv(65536)
        assert chunk, "the gateway closed the connection"
        body += chunk


# 100 connections and a bound of 25 per worker: if the kernel sent each connection to either worker
# at random, one worker would get fewer than 25 with probability 2 * P(Binomial(100, 1/2) <= 24)
# = 1.8e-7. With one shared socket, a burst like this one went 48/2 of 50 (docs/benchmarks.md).
CONNECTIONS = 100
AT_LEAST = 25


@pytest.mark.slow
@pytest.mark.skipif(not REUSE_PORT, reason="the kernel balances SO_REUSEPORT sockets on Linux only")
def test_two_workers_share_a_burst_of_keep_alive_connections(tmp_path: Path) -> None:
    with _replicas(tmp_path) as replicas, ExitStack() as stack:
        # All connected at once (the kernel completes each handshake before a worker accepts), then
        # each asks once and stays open, as a pool of keep-alive clients does.
        conns = [
            stack.enter_context(socket.create_connection(("127.0.0.1", replicas.port), timeout=30))
            for _ in range(CONNECTIONS)
        ]
        for conn in conns:
            _answer_healthz(conn)
        ours = {conn.getsockname()[1] for conn in conns}
        held = connections_by_worker(replicas.process.pid, replicas.port)
        assert set(held) == set(replicas.workers)
        counts = {worker: len(clients & ours) for worker, clients in held.items()}
        assert sum(counts.values()) == CONNECTIONS, counts  # each held by exactly one worker
        assert min(counts.values()) >= AT_LEAST, counts
