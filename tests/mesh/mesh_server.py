"""Starts `gateway simulate erp|crm` and GraphQL Mesh's OData handler in front of it, both as child
processes on free loopback ports: a generic OData client that is not ours, for tests and benchmarks.

Without npm (or when tests/mesh/install.sh fails) `MeshUnavailable` is raised; `require_mesh` turns it
into a skip outside CI and a failure with CI=true.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest

from tests.servers import in_ci, port_open

MESH_DIR = Path(__file__).parent
START_TIMEOUT_SECONDS = 90.0
TENANT, ENVIRONMENT = "demo", "production"
CLIENT_ID, CLIENT_SECRET = "gateway-demo", "demo-secret"  # the simulators' documented demo identity
ERP_SCOPE = "https://api.businesscentral.dynamics.com/.default"
Kind = Literal["erp", "crm"]


class MeshUnavailable(RuntimeError):
    """npm is missing or the Mesh install failed: the caller decides between skip and failure."""


def require_mesh() -> None:
    """Install Mesh (instant when current); skip outside CI, fail with CI=true, when it cannot be had."""
    try:
        ensure_installed()
    except MeshUnavailable as exc:
        if in_ci():
            pytest.fail(f"{exc} (CI=true: the GraphQL Mesh tests must run)")
        pytest.skip(str(exc))


def ensure_installed() -> None:
    """Run install.sh (idempotent: a stamp makes it instant when node_modules matches the lock)."""
    if shutil.which("npm") is None:
        raise MeshUnavailable("npm is not installed: cannot run GraphQL Mesh's OData handler")
    result = subprocess.run(
        ["bash", str(MESH_DIR / "install.sh")], capture_output=True, text=True, timeout=900, check=False
    )
    if result.returncode != 0 or not (MESH_DIR / "node_modules" / ".bin" / "mesh").exists():
        raise MeshUnavailable(f"tests/mesh/install.sh failed:\n{result.stdout}\n{result.stderr}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class ChildProcess:
    """A server we started in its own process group, so stopping it also stops its children."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        # Only the group we created (start_new_session): mesh dev forks a worker of its own.
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def _spawn(argv: list[str], *, cwd: Path, env: dict[str, str], log_path: Path, port: int) -> ChildProcess:
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return ChildProcess(process=process, port=port, log_path=log_path)


def _wait(child: ChildProcess, ready: Any, what: str, timeout: float = START_TIMEOUT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if child.process.poll() is not None or time.monotonic() > deadline:
            child.stop()
            raise RuntimeError(f"{what} did not start; its log:\n{child.log()}")
        time.sleep(0.1)


@dataclass
class Simulator:
    """`gateway simulate KIND` on a loopback port, with the URLs a client needs."""

    kind: Kind
    child: ChildProcess
    root: str  # the base URL the command printed

    @property
    def service_root(self) -> str:
        if self.kind == "erp":
            return f"{self.root}/v2.0/{TENANT}/{ENVIRONMENT}/api/v2.0/"
        return f"{self.root}/api/data/v9.2/"

    def token(self) -> str:
        scope = ERP_SCOPE if self.kind == "erp" else f"{self.root}/.default"
        response = httpx.post(
            f"{self.root}/{TENANT}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "scope": scope,
            },
            timeout=10,
        )
        response.raise_for_status()
        return str(response.json()["access_token"])

    def info(self) -> dict[str, Any]:
        result: dict[str, Any] = httpx.get(f"{self.root}/_sim/info", timeout=10).json()
        return result


def start_simulator(
    kind: Kind, *, log_dir: Path, extra_args: tuple[str, ...] = (), timeout: float = START_TIMEOUT_SECONDS
) -> Simulator:
    """Run `gateway simulate KIND --port P` (the venv's console script) and wait for its base URL
    (`timeout`: generating large demo data takes a while, e.g. for bench/api.py)."""
    gateway = Path(sys.executable).parent / "gateway"
    port = free_port()
    log_path = log_dir / f"simulate-{kind}.log"
    child = _spawn(
        [str(gateway), "simulate", kind, "--host", "127.0.0.1", "--port", str(port), *extra_args],
        cwd=MESH_DIR,
        env=dict(os.environ),
        log_path=log_path,
        port=port,
    )

    def printed_base_url() -> bool:
        return "base URL: " in child.log() and port_open("127.0.0.1", port)

    _wait(child, printed_base_url, f"gateway simulate {kind}", timeout)
    line = next(ln for ln in child.log().splitlines() if ln.startswith("base URL: "))
    return Simulator(kind=kind, child=child, root=line.removeprefix("base URL: ").strip())


@dataclass
class Mesh:
    """`mesh dev` serving tests/mesh/KIND/.meshrc.yaml on a loopback port."""

    child: ChildProcess

    @property
    def graphql_url(self) -> str:
        return f"http://127.0.0.1:{self.child.port}/graphql"

    def query(
        self, query: str, variables: dict[str, Any] | None = None, *, headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """POST one GraphQL request; the whole response body ({"data", "errors"})."""
        response = httpx.post(
            self.graphql_url, json={"query": query, "variables": variables or {}}, headers=headers, timeout=30
        )
        result: dict[str, Any] = response.json()
        return result


def start_mesh(kind: Kind, *, odata_root: str, metadata_url: str, token: str, log_dir: Path) -> Mesh:
    """`mesh dev` over one OData service; the config reads the URLs and the token from the environment."""
    port = free_port()
    env = {
        **os.environ,
        "MESH_ODATA_ROOT": odata_root,
        "MESH_ODATA_METADATA": metadata_url,
        "MESH_ODATA_TOKEN": token,
        "NODE_NO_WARNINGS": "1",
    }
    child = _spawn(
        [str(MESH_DIR / "node_modules" / ".bin" / "mesh"), "dev", "--port", str(port)],
        cwd=MESH_DIR / kind,
        env=env,
        log_path=log_dir / f"mesh-{kind}.log",
        port=port,
    )
    mesh = Mesh(child=child)

    def answers() -> bool:
        if not port_open("127.0.0.1", port):
            return False
        try:
            return mesh.query("{ __typename }").get("data") == {"__typename": "Query"}
        except httpx.HTTPError:
            return False

    _wait(child, answers, f"GraphQL Mesh ({kind})")
    return mesh


@dataclass
class MeshStack:
    """A simulator, a token for it, and Mesh in front of it."""

    simulator: Simulator
    mesh: Mesh
    token: str
    odata_root: str  # where Mesh sends entity-set requests (company-scoped on the ERP)

    def stop(self) -> None:
        self.mesh.child.stop()
        self.simulator.child.stop()


def start_stack(
    kind: Kind,
    *,
    log_dir: Path,
    simulator_args: tuple[str, ...] = (),
    simulator_timeout: float = START_TIMEOUT_SECONDS,
) -> MeshStack:
    """Start `gateway simulate KIND` and Mesh over it (stop it with .stop()). Raises MeshUnavailable.

    On the ERP Mesh is pointed at the company-scoped root `…/api/v2.0/companies(<id>)/` (customers,
    items, … live there) and reads $metadata from the service root, where BC serves it.
    """
    ensure_installed()
    simulator = start_simulator(kind, log_dir=log_dir, extra_args=simulator_args, timeout=simulator_timeout)
    try:
        token = simulator.token()
        metadata_url = f"{simulator.service_root}$metadata"
        odata_root = simulator.service_root
        if kind == "erp":
            odata_root = f"{simulator.service_root}companies({simulator.info()['companyId']})/"
        mesh = start_mesh(
            kind, odata_root=odata_root, metadata_url=metadata_url, token=token, log_dir=log_dir
        )
    except BaseException:
        simulator.child.stop()
        raise
    return MeshStack(simulator=simulator, mesh=mesh, token=token, odata_root=odata_root)


@contextmanager
def mesh_over_simulators(
    kinds: tuple[Kind, ...], *, log_dir: Path, simulator_args: tuple[str, ...] = ()
) -> Iterator[dict[Kind, MeshStack]]:
    """Start one stack per kind side by side (Mesh takes ~10 s to start); stop them all on exit."""
    ensure_installed()  # once, before the threads: two concurrent `npm ci` would collide
    with ThreadPoolExecutor(max_workers=len(kinds)) as pool:
        futures = {
            kind: pool.submit(start_stack, kind, log_dir=log_dir, simulator_args=simulator_args)
            for kind in kinds
        }
    stacks = {kind: f.result() for kind, f in futures.items() if f.exception() is None}
    try:
        for future in futures.values():
            if (error := future.exception()) is not None:
                raise error
        yield stacks
    finally:
        for stack in stacks.values():
            stack.stop()
