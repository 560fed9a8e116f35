"""The admin-API full synchronization over HTTP, as an admin starts it: both simulators with the demo
data set of a chosen size and `gateway run --demo` on a fresh SQLite file (bench/_api_gateway.py,
each in its own process), then `POST /api/v1/admin/sync/full` and `GET /api/v1/admin/sync/full`
polled until it stops running. Prints the elapsed time, the records the store mirrors per second,
and every full job's final status; exit 1 unless every job ended in success or error (an error is a
finished job: some demo records fail by design) and none lost its lease or stayed in process.

    .venv/bin/python bench/admin_full_sync.py                          # 20,000 customers, ~10-15 min
    .venv/bin/python bench/admin_full_sync.py --customers 2000 --items 500
    .venv/bin/python bench/admin_full_sync.py --scheduler              # the demo's scheduler runs too

By default the gateway runs without its in-process scheduler (GATEWAY_SCHEDULER_IN_PROCESS=false,
as `gateway run` beside `gateway worker` processes), so the admin's full sync is the first and only
sync on the store. With `--scheduler` the demo's scheduler runs in the same process: its own first
full sync runs at start (under the same leases), and the admin's full sync follows it once finished.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

if __package__ in (None, ""):  # run as a script: make `bench` and `gateway` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._api_gateway import DemoGateway
from bench.read_throughput import machine


def _admin(gateway: DemoGateway) -> dict[str, str]:
    return {"Authorization": f"Bearer {gateway.keys['admin']}"}


def _jobs_in_process(status: dict[str, Any]) -> int:
    return sum(
        1 for line in status["lines"] for job in line["jobs"].values() if job["status"] == "in process"
    )


def wait_done(gateway: DemoGateway, *, timeout: float, poll: float = 2.0) -> dict[str, Any]:
    """Poll GET /api/v1/admin/sync/full until the full sync no longer runs; returns the last status.
    A job still "in process" once it stopped is reported by the caller, not waited for."""
    started = time.monotonic()
    while True:
        try:
            response = httpx.get(
                f"{gateway.base}/api/v1/admin/sync/full", headers=_admin(gateway), timeout=60
            )
            if response.status_code == 200 and not response.json()["running"]:
                result: dict[str, Any] = response.json()
                return result
        except httpx.TransportError:
            pass
        gateway.check_alive()
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"the full sync did not finish in {timeout:.0f}s")
        time.sleep(poll)


def wait_idle_jobs(gateway: DemoGateway, *, timeout: float) -> None:
    """With the scheduler in-process: wait until its first full sync has finished (no job runs)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        response = httpx.get(
            f"{gateway.base}/api/v1/admin/jobs",
            params={"type": "full", "first": 200},
            headers=_admin(gateway),
        )
        items = response.raise_for_status().json()["items"]
        if items and all(job["status"] not in ("queued", "running") for job in items):
            return
        time.sleep(2.0)
    raise TimeoutError(f"the demo's first full sync did not finish in {timeout:.0f}s")


def full_jobs(gateway: DemoGateway) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{gateway.base}/api/v1/admin/jobs",
        params={"type": "full", "first": 500},
        headers=_admin(gateway),
        timeout=60,
    )
    items: list[dict[str, Any]] = response.raise_for_status().json()["items"]
    return sorted(items, key=lambda job: str(job["createdAt"]))


def mirror_rows(database: Path) -> dict[str, int]:
    """Rows the store mirrors per side and entity set (every record read, and those the sync created)."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        rows = connection.execute(
            "SELECT side, entity_set, count(*) FROM sync_mirror GROUP BY side, entity_set ORDER BY 1, 2"
        ).fetchall()
    return {f"{side} {entity_set}": int(count) for side, entity_set, count in rows}


def run(args: argparse.Namespace) -> int:
    info = machine()
    print(
        f"admin full sync: demo data seed {args.seed}, {args.customers:,} customers, {args.items:,} items; "
        f"store SQLite; scheduler {'in-process' if args.scheduler else 'off'}",
        flush=True,
    )
    print(f"machine: {info['cpus']} CPUs, {info['cpu']}, Python {info['python']}, {info['date']}", flush=True)
    env: dict[str, str] = {}
    if args.lease_ttl is not None:
        env["GATEWAY_LEASE_TTL_SECONDS"] = str(args.lease_ttl)
    with tempfile.TemporaryDirectory(prefix="bench-admin-full-") as tmp:
        work = Path(args.work_dir) if args.work_dir else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        gateway = DemoGateway(
            customers=args.customers, items=args.items, work_dir=work, seed=args.seed, gateway_env=env
        )
        try:
            gateway.start(scheduler=args.scheduler)
            if args.scheduler:
                wait_idle_jobs(gateway, timeout=args.timeout)
                print("the demo's first full sync has finished", flush=True)
            before = {job["id"] for job in full_jobs(gateway)}
            load_start = "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
            started = time.monotonic()
            response = httpx.post(
                f"{gateway.base}/api/v1/admin/sync/full", json={}, headers=_admin(gateway), timeout=120
            )
            if response.status_code >= 400:
                print(f"POST /api/v1/admin/sync/full: {response.status_code} {response.text}", flush=True)
                return 1
            status = wait_done(gateway, timeout=args.timeout)
            elapsed = time.monotonic() - started
            load_end = "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
            jobs = [job for job in full_jobs(gateway) if job["id"] not in before]
            rows = mirror_rows(work / "demo.db")
        finally:
            gateway.stop()
        logs = sorted(work.glob("gateway-*.log"), key=lambda path: path.stat().st_mtime)
        log_tail = logs[-1].read_text(errors="replace").splitlines()[-40:] if logs else []
    total_rows = sum(rows.values())
    print(f"load average (1/5/15 min) at start {load_start}, at end {load_end}")
    print(
        f"full sync: {elapsed:.1f} s elapsed; {total_rows:,} mirror rows at end "
        f"({total_rows / elapsed:.0f} records/s: every record read, and those the sync created)"
    )
    statuses = Counter(job["status"] for job in jobs)
    print(f"jobs: {len(jobs)} full jobs, by status {dict(sorted(statuses.items()))}")
    for job in jobs:
        counts = job["counts"]
        message = f" - {job['message'][:160]}" if job["message"] else ""
        print(
            f"  {job['mapping']:<16} {job['direction']:<11} {job['status']:<9} "
            f"done {counts['done']}/{job['total']} +{counts['inserted']} ~{counts['modified']} "
            f"failed {counts['failed']}{message}"
        )
    in_process = _jobs_in_process(status)
    lost = [job for job in jobs if job["message"] and "lost its lease" in job["message"]]
    unfinished = [job for job in jobs if job["status"] not in ("success", "error")]
    if args.json:
        payload = {"machine": info, "elapsed": elapsed, "rows": rows, "jobs": jobs, "status": status}
        Path(args.json).write_text(json.dumps(payload, indent=2, default=str) + "\n")
    ok = bool(jobs) and not lost and not unfinished and in_process == 0
    if not ok:
        print(f"lost leases: {len(lost)}; unfinished jobs: {len(unfinished)}; in process: {in_process}")
        print("gateway log (last 40 lines):\n" + "\n".join(log_tail))
    print(f"result: {'ok' if ok else 'FAILED'}")
    return 0 if ok else 1


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--items", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--scheduler", action="store_true", help="run the demo's in-process scheduler too")
    parser.add_argument("--lease-ttl", type=float, help="GATEWAY_LEASE_TTL_SECONDS for the gateway")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for the full sync")
    parser.add_argument("--work-dir", help="keep the store and the logs here (default: a temporary dir)")
    parser.add_argument("--json", help="also write the results as JSON here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
