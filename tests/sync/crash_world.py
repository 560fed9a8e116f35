"""The crash test's world: both simulators served by `gateway simulate` in long-lived child processes,
a worker process (tests/sync/crash_worker.py) killed with SIGKILL at a chosen point, and snapshots.

A point is a threshold on a counter: GETs or `$batch` POSTs the simulators answered (counted by the
worker's own transport, as `/_sim/stats` counts them), or coupling rows committed in the SQLite store
(watched from outside the worker).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import select

from gateway.config import Settings, load_settings
from gateway.store.engine import create_engine, session_factory
from gateway.store.tables import Coupling, SyncJob
from gateway.sync.pricing_mirror import PRICING_SETS
from gateway.sync.runstate import crm_id_for
from gateway.upstream.factory import build_crm_connector, build_erp_connector
from tests.demo_process import ROOT, free_port
from tests.sync.crash_worker import KILL_AT

TENANT, ENVIRONMENT, CLIENT, SECRET = "demo", "production", "gateway-demo", "demo-secret"
# Every worker process of the test has this id, as a restarted `gateway worker` keeps GATEWAY_WORKER_ID.
WORKER_ID = "crash-worker"
# Small pages give the run many page reads (each one a commit point of the mirror) on small data.
PAGE_SIZE = 10
# Per-request latency on the simulators: spaces the coupling commits, so the store's poller sees
# every commit before the next one lands.
LATENCY_MS = 8
POLL_SECONDS = 0.003
LEASE_TTL_SECONDS = 120

# Every entity set the full sync reads or writes, per side (the sets of the demo company).
ERP_SETS = (
    "customers",
    "items",
    "salespersonPurchasers",
    "currencies",
    "salesOrders",
    *(name for name, _api, _keys in PRICING_SETS),
)
CRM_SETS = (
    "accounts",
    "products",
    "pricelevels",
    "productpricelevels",
    "uoms",
    "uomschedules",
    "transactioncurrencies",
    "systemusers",
    "salesorders",
    "salesorderdetails",
)
CRM_KEYS = {
    "accounts": "accountid",
    "products": "productid",
    "pricelevels": "pricelevelid",
    "productpricelevels": "productpricelevelid",
    "uoms": "uomid",
    "uomschedules": "uomscheduleid",
    "transactioncurrencies": "transactioncurrencyid",
    "systemusers": "systemuserid",
    "salesorders": "salesorderid",
    "salesorderdetails": "salesorderdetailid",
}
# The business key each record is known by (duplicates are counted on these).
BUSINESS_KEYS: dict[tuple[str, str], tuple[str, ...]] = {
    ("erp", "customers"): ("number",),
    ("erp", "items"): ("number",),
    ("erp", "salespersonPurchasers"): ("code",),
    ("erp", "currencies"): ("code",),
    ("erp", "salesOrders"): ("number",),
    **{("erp", name): keys for name, _api, keys in PRICING_SETS},
    ("crm", "accounts"): ("accountnumber",),
    ("crm", "products"): ("productnumber",),
    ("crm", "pricelevels"): ("name",),
    ("crm", "uomschedules"): ("name",),
    ("crm", "transactioncurrencies"): ("isocurrencycode",),
}
# Maintained by the services, not by the sync: differ between two identical runs.
VOLATILE = {
    "lastModifiedDateTime",
    "modifiedon",
    "createdon",
    "versionnumber",
    "@odata.etag",
    "overriddencreatedon",
}


def _is_volatile(field: str) -> bool:
    return field in VOLATILE or field.startswith("@") or "@OData" in field or "@odata" in field


class SimulatorPair:
    """`gateway simulate erp` and `gateway simulate crm` on free loopback ports."""

    def __init__(self, *, customers: int, items: int) -> None:
        self.ports = {"erp": free_port(), "crm": free_port()}
        self.processes = {
            side: subprocess.Popen(  # the interpreter running us, with fixed arguments
                [
                    *(sys.executable, "-m", "gateway.cli", "simulate", side, "--port", str(port)),
                    *("--customers", str(customers), "--items", str(items)),
                ],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for side, port in self.ports.items()
        }

    def root(self, side: str) -> str:
        return f"http://127.0.0.1:{self.ports[side]}"

    async def wait_ready(self, *, seconds: float = 120.0) -> None:
        deadline = time.monotonic() + seconds
        async with httpx.AsyncClient(timeout=5) as http:
            for side in self.ports:
                while True:
                    if self.processes[side].poll() is not None:
                        raise RuntimeError(f"the {side} simulator exited ({self.processes[side].returncode})")
                    try:
                        if (await http.get(f"{self.root(side)}/_sim/info")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"the {side} simulator did not start")
                    await asyncio.sleep(0.1)

    async def reset(self) -> None:
        """Fresh demo data and zeroed counters on both, with the crash test's page size and latency."""
        await self._control(
            ("reset", {}), ("limits", {"maxPageSize": PAGE_SIZE}), ("latency", {"ms": LATENCY_MS})
        )

    async def unhurried(self) -> None:
        """Big pages and no latency: for reading the snapshots."""
        await self._control(("limits", {"maxPageSize": 5000}), ("latency", {"ms": 0}))

    async def _control(self, *calls: tuple[str, dict[str, Any]]) -> None:
        async with httpx.AsyncClient(timeout=30) as http:
            for side in self.ports:
                for path, body in calls:
                    (await http.post(f"{self.root(side)}/_sim/{path}", json=body)).raise_for_status()

    async def counters(self, http: httpx.AsyncClient) -> dict[str, int]:
        """GETs and `$batch` POSTs both simulators answered since the last reset."""
        gets = batches = 0
        for side in self.ports:
            stats = (await http.get(f"{self.root(side)}/_sim/stats")).json()
            gets += int(stats["byMethod"].get("GET", 0))
            batches += sum(r["count"] for r in stats["requests"] if r["entitySet"] == "$batch")
        return {"gets": gets, "batches": batches}

    def settings(self, database_url: str) -> Settings:
        erp, crm = self.root("erp"), self.root("crm")
        return load_settings(
            database_url=database_url,
            erp_base_url=erp,
            erp_tenant=TENANT,
            erp_environment=ENVIRONMENT,
            erp_token_url=f"{erp}/{TENANT}/oauth2/v2.0/token",
            erp_client_id=CLIENT,
            erp_client_secret=SECRET,
            crm_base_url=crm,
            crm_token_url=f"{crm}/{TENANT}/oauth2/v2.0/token",
            crm_client_id=CLIENT,
            crm_client_secret=SECRET,
        )

    def environment(self, database_url: str) -> dict[str, str]:
        erp, crm = self.root("erp"), self.root("crm")
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        env.update(
            GATEWAY_DATABASE_URL=database_url,
            GATEWAY_ERP_BASE_URL=erp,
            GATEWAY_ERP_TENANT=TENANT,
            GATEWAY_ERP_ENVIRONMENT=ENVIRONMENT,
            GATEWAY_ERP_TOKEN_URL=f"{erp}/{TENANT}/oauth2/v2.0/token",
            GATEWAY_ERP_CLIENT_ID=CLIENT,
            GATEWAY_ERP_CLIENT_SECRET=SECRET,
            GATEWAY_CRM_BASE_URL=crm,
            GATEWAY_CRM_TOKEN_URL=f"{crm}/{TENANT}/oauth2/v2.0/token",
            GATEWAY_CRM_CLIENT_ID=CLIENT,
            GATEWAY_CRM_CLIENT_SECRET=SECRET,
            GATEWAY_LOG_LEVEL="WARNING",
            GATEWAY_WORKER_ID=WORKER_ID,
            # A restart takes its leases back at once whatever the TTL (same worker id), so a long
            # one costs nothing; the default 15 s lapsed in two runs of the loaded baseline
            # (StaleLease, the worker exiting before its kill point) when the machine stalled.
            GATEWAY_LEASE_TTL_SECONDS=str(LEASE_TTL_SECONDS),
        )
        return env

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass(frozen=True)
class KillPoint:
    """Kill the worker once `counter` ("gets", "batches" or "couplings") reaches `at`."""

    counter: str
    at: int

    def __str__(self) -> str:
        return f"{self.counter}>={self.at}"


def _reader(store: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=2)


def _couplings_in(db: sqlite3.Connection) -> int:
    try:  # each statement reads the newest commit (WAL; no transaction held between looks)
        return int(db.execute("SELECT count(*) FROM coupling").fetchone()[0])
    except sqlite3.OperationalError:  # the worker holds the write lock; look again next time
        return -1


def coupling_count(store: Path) -> int:
    with contextlib.closing(_reader(store)) as db:
        return _couplings_in(db)


class Zygote:
    """tests/sync/crash_zygote.py as a child process: forks a worker per `spawn`, reaps it on `wait`.

    Synchronous on purpose: it outlives the event loop of each test, and every call returns at once
    except `wait`, which blocks only while a worker runs to its end (nothing else is due meanwhile)."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(  # the interpreter running us, with fixed arguments
            [sys.executable, "-m", "tests.sync.crash_zygote"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._answer()  # its ready line: the imports are done

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return self._answer()

    def _answer(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the worker fork server exited ({self.process.wait()})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def spawn(self, env: dict[str, str], log: Path) -> int:
        return int(self._ask({"env": env, "log": str(log)})["pid"])

    def wait(self, pid: int) -> int:
        """The worker's exit: its code, or minus the signal that ended it (like Popen.returncode)."""
        status = int(self._ask({"wait": pid})["status"])
        return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)

    def stop(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def _exited(pid: int) -> bool:
    """True once the worker is a zombie (exited, not yet reaped by the fork server) or gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in {"Z", "X"}


async def run_to_end(zygote: Zygote, sims: SimulatorPair, store: Path) -> str:
    """One worker process from start to exit; returns its output, raising when it failed."""
    log = store.with_suffix(".log")
    code = zygote.wait(zygote.spawn(sims.environment(_url(store)), log))
    text = log.read_text()
    if code != 0:
        raise AssertionError(f"the worker exited with {code}:\n{text[-4000:]}")
    return text


async def run_and_kill(zygote: Zygote, sims: SimulatorPair, store: Path, point: KillPoint) -> dict[str, int]:
    """Start a worker that is SIGKILLed when `point` is reached; returns the counters after the kill.

    A page-read or `$batch` point is counted by the worker itself (tests/sync/crash_worker.py), which
    kills its own process on that answer; a coupling point is watched here, in the store file.
    Raises when the worker exits on its own first (the point was past the end of the run)."""
    env = sims.environment(_url(store))
    if point.counter != "couplings":
        env[KILL_AT] = f"{point.counter}:{point.at}"
    log = store.with_suffix(".log")
    pid = zygote.spawn(env, log)
    if point.counter == "couplings":
        # One connection for the whole watch: opening one per look cost 0.56 ms of CPU (and ~6 ms
        # of wall time at load 15) some 300 times a second, beside the worker it watches; 3 µs so.
        with contextlib.closing(_reader(store)) as db:
            while not _exited(pid):  # a worker that ended on its own fails the check below
                if _couplings_in(db) >= point.at:
                    os.kill(pid, signal.SIGKILL)
                    break
                await asyncio.sleep(POLL_SECONDS)
    code = zygote.wait(pid)
    if code != -signal.SIGKILL:
        tail = log.read_text()[-4000:]
        raise AssertionError(f"the worker exited with {code} before the kill at {point}:\n{tail}")
    async with httpx.AsyncClient(timeout=5) as http:
        seen = await sims.counters(http)
    seen["couplings"] = coupling_count(store)
    return seen


def _url(store: Path) -> str:
    return f"sqlite+aiosqlite:///{store}"


# ------------------------------------------------------------------------------------- snapshots


async def _read_all(sims: SimulatorPair) -> dict[tuple[str, str], list[dict[str, Any]]]:
    settings = sims.settings("sqlite+aiosqlite://")
    erp, crm = build_erp_connector(settings), build_crm_connector(settings)
    integration = {name for name, api, _ in PRICING_SETS if api == "integration"}
    rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
    try:
        for name in ERP_SETS:
            api = "integration" if name in integration else "v2.0"
            rows[("erp", name)] = [
                {**r.values, "id": r.id}
                async for page in erp.pages(name, api=api)  # type: ignore[arg-type]
                for r in page
            ]
        for name in CRM_SETS:
            rows[("crm", name)] = [{**r.values} async for page in crm.pages(name) for r in page]
    finally:
        await erp.aclose()
        await crm.aclose()
    return rows


def _own_id(side: str, name: str) -> str:
    return "id" if side == "erp" else CRM_KEYS[name]


def canonical(rows: dict[tuple[str, str], list[dict[str, Any]]]) -> dict[tuple[str, str], list[str]]:
    """Every record as a sorted repr without service-maintained fields, its own id replaced by its
    business key and every reference to another record's id replaced by that record's label: ids BC
    assigns to records the sync created differ between runs; what the sync wrote must not."""
    labels: dict[str, str] = {}
    for (side, name), records in rows.items():
        keys = BUSINESS_KEYS.get((side, name))
        for record in records:
            own = record.get(_own_id(side, name))
            if isinstance(own, str) and keys and all(record.get(k) is not None for k in keys):
                # The first set wins: BC's customerPricing rows share their customer's id.
                labels.setdefault(own, f"{side}:{name}:" + "/".join(str(record.get(k)) for k in keys))
    out: dict[tuple[str, str], list[str]] = {}
    for (side, name), records in rows.items():
        own_field = _own_id(side, name)
        items = []
        for record in records:
            own = record.get(own_field)
            fields = {
                k: labels.get(v, v) if isinstance(v, str) else v
                for k, v in record.items()
                if not _is_volatile(k) and k != own_field
            }
            if own not in labels:  # keyless set: a record is what it holds; keep a derived id visible
                fields["(id)"] = own
            items.append(repr(sorted(fields.items(), key=lambda kv: kv[0])))
        out[(side, name)] = sorted(items)
    return out


def duplicates(rows: dict[tuple[str, str], list[dict[str, Any]]]) -> dict[tuple[str, str], list[str]]:
    """Business keys held by more than one record, per entity set that has one."""
    found: dict[tuple[str, str], list[str]] = {}
    for (side, name), records in rows.items():
        keys = BUSINESS_KEYS.get((side, name))
        if not keys:
            continue
        seen: dict[str, int] = {}
        for record in records:
            if any(record.get(k) is None for k in keys):  # not a record this key identifies
                continue
            label = "/".join(str(record.get(k)) for k in keys)
            seen[label] = seen.get(label, 0) + 1
        twice = sorted(label for label, n in seen.items() if n > 1)
        if twice:
            found[(side, name)] = twice
    return found


async def upstream_snapshot(sims: SimulatorPair) -> dict[tuple[str, str], list[dict[str, Any]]]:
    await sims.unhurried()
    return await _read_all(sims)


async def job_rows(store: Path) -> list[tuple[str, str, str, str, str | None]]:
    """(mapping, direction, type, status, message) of every job in the store."""
    engine = create_engine(f"sqlite+aiosqlite:///{store}")
    try:
        async with session_factory(engine)() as session:
            jobs = (await session.exec(select(SyncJob))).all()
    finally:
        await engine.dispose()
    return [(j.mapping, j.direction, j.type, j.status, j.message) for j in jobs]


async def coupling_rows(store: Path) -> list[tuple[str, str, str, str | None, str]]:
    """(mapping, erp_id, crm_id, erp_key, crm_id_kind) for every coupling in the store."""
    engine = create_engine(f"sqlite+aiosqlite:///{store}")
    try:
        async with session_factory(engine)() as session:
            couplings = (await session.exec(select(Coupling))).all()
    finally:
        await engine.dispose()
    return [
        (
            c.mapping,
            c.erp_id,
            c.crm_id,
            c.erp_key,
            "derived" if c.crm_id == crm_id_for(c.mapping, c.erp_id) else "existing",
        )
        for c in couplings
    ]
