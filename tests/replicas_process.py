"""`gateway run --workers N` as a real process tree, for tests/test_cli_workers.py and bench/api.py
(its `gateway xN` target): a redis-server's command line, the settings that point the replicas at
the demo simulators, the wait for every uvicorn worker, and the items the ERP simulator stocks."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from gateway.demo import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_ENVIRONMENT, DEMO_TENANT

ERP_SCOPE = "https://api.businesscentral.dynamics.com/.default"


def redis_command(binary: str, port: int) -> list[str]:
    """A redis-server of the caller's own on loopback `port`, in memory only (no snapshot, no log
    file): no other run's availability entries in it, nothing left behind."""
    return [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]


def replica_env(*, erp_root: str, crm_root: str, cache_url: str) -> dict[str, str]:
    """The GATEWAY_* settings replicas need beyond a store: the shared Redis cache, and both
    simulators (`gateway simulate erp|crm`) with the demo's tenant and credentials."""
    return {
        "GATEWAY_CACHE_URL": cache_url,
        "GATEWAY_ERP_BASE_URL": erp_root,
        "GATEWAY_ERP_TENANT": DEMO_TENANT,
        "GATEWAY_ERP_ENVIRONMENT": DEMO_ENVIRONMENT,
        "GATEWAY_ERP_TOKEN_URL": f"{erp_root}/{DEMO_TENANT}/oauth2/v2.0/token",
        "GATEWAY_ERP_CLIENT_ID": DEMO_CLIENT_ID,
        "GATEWAY_ERP_CLIENT_SECRET": DEMO_CLIENT_SECRET,
        "GATEWAY_CRM_BASE_URL": crm_root,
        "GATEWAY_CRM_TOKEN_URL": f"{crm_root}/{DEMO_TENANT}/oauth2/v2.0/token",
        "GATEWAY_CRM_CLIENT_ID": DEMO_CLIENT_ID,
        "GATEWAY_CRM_CLIENT_SECRET": DEMO_CLIENT_SECRET,
        "GATEWAY_CRM_SCOPE": f"{crm_root}/.default",
    }


def _cmdline(proc: Path) -> bytes:
    try:
        return (proc / "cmdline").read_bytes()
    except OSError:
        return b""


def worker_pids(pid: int) -> list[int]:
    """uvicorn's worker processes under `gateway run --workers` (process id `pid`)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # uvicorn's workers, not multiprocessing's resource tracker (also a child)
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid and b"spawn_main" in _cmdline(entry):
                found.append(int(entry.name))
    return found


def _socket_inodes(pid: int) -> set[int]:
    """The inodes of the sockets process `pid` holds open (its /proc/PID/fd links `socket:[INODE]`)."""
    inodes = set()
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:  # exited meanwhile
        return inodes
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[len("socket:[") : -1]))
    return inodes


def _tcp_sockets(port: int, state: str) -> dict[int, int]:
    """Socket inode -> remote port of every TCP socket in `state` (/proc/net/tcp's hex code: 01
    ESTABLISHED, 0A LISTEN) whose local port is `port`, from /proc/net/tcp and tcp6."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], int(fields[9])
            if fields[3] == state and int(local.rsplit(":", 1)[1], 16) == port:
                found[inode] = int(remote.rsplit(":", 1)[1], 16)
    return found


def connections_by_worker(pid: int, port: int) -> dict[int, set[int]]:
    """Which worker of `gateway run --workers` (process id `pid`) holds each connection accepted on
    `port`: worker process id -> the clients' (remote) ports. Read from /proc as `ss -tnp` does, so
    nothing in the gateway reveals its process ids. Linux only."""
    established = _tcp_sockets(port, "01")
    return {
        worker: {established[inode] for inode in _socket_inodes(worker) if inode in established}
        for worker in worker_pids(pid)
    }


def listening_workers(pid: int, port: int) -> int:
    """How many workers of `gateway run --workers` (process id `pid`) hold a listening socket on
    `port`. A worker's own SO_REUSEPORT socket listens only once the worker has started its app,
    and until then the kernel hands it no connection."""
    listening = set(_tcp_sockets(port, "0A"))
    return sum(1 for worker in worker_pids(pid) if _socket_inodes(worker) & listening)


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def wait_for_replicas(
    pid: int, workers: int, base: str, *, deadline: float, check_alive: Callable[[], None]
) -> None:
    """Until all `workers` worker processes of `gateway run` (process id `pid`) exist, listen on
    `base`'s port, and `base` answers /healthz: one worker answering does not mean all have started
    (the kernel hands connections to whichever listens). `check_alive` raises if the process has
    exited."""
    port = urlsplit(base).port
    assert port is not None, base
    while (
        len(worker_pids(pid)) < workers
        or listening_workers(pid, port) < workers
        or not answers(f"{base}/healthz")
    ):
        check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"gateway run --workers {workers} did not answer with all its workers in time")
        time.sleep(0.2)


def erp_stocked_items(erp_root: str) -> set[str]:
    """The item numbers the ERP simulator holds availability rows for (its seeded stock), asked of
    it directly. An item the sync created in the ERP from a Sales-only product has none."""
    company = httpx.get(f"{erp_root}/_sim/info", timeout=10).raise_for_status().json()["companyId"]
    token = httpx.post(
        f"{erp_root}/{DEMO_TENANT}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
            "scope": ERP_SCOPE,
        },
        timeout=10,
    )
    headers = {"Authorization": f"Bearer {token.raise_for_status().json()['access_token']}"}
    url: str | None = (
        f"{erp_root}/v2.0/{DEMO_TENANT}/{DEMO_ENVIRONMENT}/api/bcgateway/integration/v1.0"
        f"/companies({company})/itemAvailabilities?$select=itemNumber"
    )
    numbers: set[str] = set()
    while url:
        page = httpx.get(url, headers=headers, timeout=120).raise_for_status().json()
        numbers.update(row["itemNumber"] for row in page["value"])
        url = page.get("@odata.nextLink")
    return numbers
