"""The `gateway` command as a user runs it: one-line configuration errors, keys, schema export,
and the demo end to end (a real process on free loopback ports, driven over HTTP)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.demo_process import running_demo, running_simulator

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


def test_keys_create_warns_of_a_salesperson_the_store_does_not_hold(tmp_path: Path) -> None:
    # Created anyway (a key may come before the first sync), but a typo ('jr', 'NOPE') would see no
    # customer under GATEWAY_SALES_SCOPE=own without a word: the command says so on stderr.
    import asyncio

    from gateway.simulators.demo_data import generate
    from gateway.store.engine import create_engine
    from tests.read_model_seed import seed_read_model

    env = _env(tmp_path)
    assert _run(["db", "upgrade"], env).returncode == 0
    unknown = _run(["keys", "create", "--role", "sales", "--salesperson", "NOPE"], env)
    assert unknown.returncode == 0, unknown.stderr
    assert unknown.stderr.startswith("warning: the store holds no salesperson 'NOPE'"), unknown.stderr
    assert re.fullmatch(r"\S{30,}", unknown.stdout.strip().splitlines()[-1])

    async def seeded() -> None:
        engine = create_engine(env["GATEWAY_DATABASE_URL"])
        try:
            await seed_read_model(engine)
        finally:
            await engine.dispose()

    asyncio.run(seeded())
    code = str(generate(seed=42, customers=60, items=40).erp["salespersonPurchasers"][0]["code"])
    known = _run(["keys", "create", "--role", "sales", "--salesperson", code], env)
    assert known.returncode == 0 and known.stderr == "", known.stderr
    assert _run(["keys", "create", "--role", "app"], env).stderr == ""


def test_keys_create_rejects_a_salesperson_on_an_admin_key(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert _run(["db", "upgrade"], env).returncode == 0
    result = _run(["keys", "create", "--role", "admin", "--salesperson", "JR"], env)
    assert result.returncode == 1
    assert "salesperson" in result.stderr and "Traceback" not in result.stderr


UPSTREAMS = {
    "GATEWAY_ERP_BASE_URL": "http://127.0.0.1:9/erp",
    "GATEWAY_ERP_TOKEN_URL": "http://127.0.0.1:9/token",
    "GATEWAY_ERP_CLIENT_ID": "id",
    "GATEWAY_ERP_CLIENT_SECRET": "erp-secret",
    "GATEWAY_CRM_BASE_URL": "http://127.0.0.1:9/crm",
    "GATEWAY_CRM_TOKEN_URL": "http://127.0.0.1:9/token",
    "GATEWAY_CRM_CLIENT_ID": "id",
    "GATEWAY_CRM_CLIENT_SECRET": "crm-secret",
}


@pytest.mark.slow
def test_an_unreachable_store_is_one_line_without_its_password(tmp_path: Path) -> None:
    # Nothing listens on this port: every command that needs the store says so in one line.
    url = f"postgresql+asyncpg://gw:pw-not-to-show@127.0.0.1:{_free_port()}/gateway"
    env = _env(tmp_path, GATEWAY_DATABASE_URL=url, **UPSTREAMS)
    for args in (
        ["db", "upgrade"],
        ["db", "current"],
        ["keys", "list"],
        ["keys", "create", "--role", "app"],
        ["run", "--port", str(_free_port())],
        # the demo serves its simulators on the next two ports unless told: name free ones, or a
        # busy neighbour of a free port ends the command (exit 2) before it reaches the store
        [
            "run",
            "--demo",
            *("--port", str(_free_port())),
            *("--erp-port", str(_free_port())),
            *("--crm-port", str(_free_port())),
        ],
    ):
        result = _run(args, env)
        assert result.returncode == 1, (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, (args, result.stderr)
        assert lines[0].startswith("gateway: cannot connect to the store (GATEWAY_DATABASE_URL) at ")
        assert "gw:***@127.0.0.1" in lines[0]
        assert "pw-not-to-show" not in result.stderr + result.stdout


def test_keys_on_a_store_never_migrated_ask_for_db_upgrade(tmp_path: Path) -> None:
    env = _env(tmp_path, **UPSTREAMS)
    for args in (["keys", "list"], ["keys", "create", "--role", "app"], ["run", "--port", str(_free_port())]):
        result = _run(args, env)
        assert result.returncode == 1, (args, result.stderr)
        assert result.stderr.strip() == "gateway: the store has no tables yet: run `gateway db upgrade` first"


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


def test_ctrl_c_stops_the_demo_quietly(tmp_path: Path) -> None:
    # uvicorn re-raises Ctrl-C as soon as the gateway's server stops, which cancelled the in-process
    # simulators' shutdown halfway: a traceback per simulator and click's "Aborted!".
    with running_demo(tmp_path) as (_base, _keys, output):
        pass
    printed = "".join(output)
    assert "Traceback" not in printed and "Aborted!" not in printed, printed


@pytest.mark.slow
def test_demo_options_for_external_simulators_are_checked_before_starting(tmp_path: Path) -> None:
    env = _env(tmp_path)
    cases = {
        ("run", "--erp-url", "http://127.0.0.1:9"): "--erp-url: only with --demo (otherwise set"
        " GATEWAY_ERP_BASE_URL)",
        ("run", "--demo", "--crm-url", "ftp://127.0.0.1:9"): "--crm-url: must be an http:// or https:// URL",
        ("run", "--demo", "--erp-url", "http://127.0.0.1:9", "--erp-port", "9"): "--erp-url: cannot be"
        " combined with --erp-port",
        (
            "run",
            "--demo",
            "--erp-url",
            "http://127.0.0.1:9",
            "--crm-url",
            "http://127.0.0.1:9",
            "--items",
            "50",
        ): ("--items: describes the demo data of simulators this process starts"),
    }
    for args, message in cases.items():
        result = _run(list(args), env)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"gateway: configuration error: {message}"), (
            args,
            result.stderr,
        )


def _wait_for_first_full_sync(base: str, admin_key: str, *, timeout: float = 120) -> None:
    headers = {"Authorization": f"Bearer {admin_key}"}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = httpx.get(f"{base}/api/v1/admin/sync/full", headers=headers, timeout=10).json()
        jobs = {line["mapping"]: line["jobs"] for line in status["lines"]}
        statuses = [job["status"] for job in jobs.get("CUSTOMER", {}).values()]
        all_jobs = [job["status"] for line in jobs.values() for job in line.values()]
        if statuses and "blank" not in statuses and "in process" not in all_jobs:
            return
        time.sleep(0.5)
    raise AssertionError(f"the first full sync did not finish in {timeout:.0f}s: {status}")


@pytest.mark.slow
def test_demo_runs_against_simulators_in_their_own_processes(tmp_path: Path) -> None:
    with (
        running_simulator("erp") as erp_url,
        running_simulator("crm") as crm_url,
        running_demo(tmp_path, erp_url=erp_url, crm_url=crm_url) as (base, keys, _output),
    ):
        _wait_for_first_full_sync(base, keys["admin"])
        query = "{customers(first: 100) {edges {node {number}}}}"
        answer = httpx.post(
            f"{base}/graphql",
            json={"query": query},
            headers={"Authorization": f"Bearer {keys['admin']}"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        numbers = [e["node"]["number"] for e in answer.json()["data"]["customers"]["edges"]]
        # the simulators' 20 ERP customers, all synced, besides CRM-only accounts (no number yet)
        assert len([n for n in numbers if n]) >= 20, numbers
        # The first full sync read both simulators over HTTP: the demo started none of its own.
        erp = httpx.get(f"{erp_url}/_sim/stats", timeout=10).json()
        crm = httpx.get(f"{crm_url}/_sim/stats", timeout=10).json()
        assert erp["byEntitySet"].get("customers", 0) >= 1 and erp["tokensIssued"] >= 1, erp
        assert crm["byEntitySet"].get("accounts", 0) >= 1 and crm["tokensIssued"] >= 1, crm
        # The demo's webhook wiring reaches the external ERP simulator too: its subscriptions were
        # created there (the handshake called back the demo's receiver over loopback).
        deadline = time.monotonic() + 60  # the first pass retries while the receiver starts listening
        while not _subscriptions_created(erp) and time.monotonic() < deadline:
            time.sleep(0.5)
            erp = httpx.get(f"{erp_url}/_sim/stats", timeout=10).json()
        assert _subscriptions_created(erp), erp["requests"]


def _subscriptions_created(stats: dict[str, Any]) -> int:
    return sum(
        row["count"]
        for row in stats["requests"]
        if (row["method"], row["entitySet"], row["status"]) == ("POST", "subscriptions", 201)
    )


def test_a_worker_without_upstreams_is_not_told_to_use_a_demo_it_lacks(tmp_path: Path) -> None:
    # `gateway worker --demo` does not exist: the hint says where the demo's syncer is instead.
    result = _run(["worker", "--once"], _env(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "gateway: configuration error: GATEWAY_ERP_BASE_URL: is required (a worker has no --demo: "
        "`gateway run --demo` syncs in its own process; for a worker against simulators see "
        "docs/admin.md, 'Workers beside the demo')"
    )


def test_worker_once_says_how_many_runs_failed_and_exits_1(tmp_path: Path) -> None:
    # Upstreams that refuse every connection: each run ends in error. The round used to print only
    # "ran N mapping-direction(s)" and exit 0, so cron never saw a wrong URL or a refused secret.
    closed = f"http://127.0.0.1:{_free_port()}"
    env = _env(
        tmp_path,
        GATEWAY_ERP_BASE_URL=closed,
        GATEWAY_ERP_TOKEN_URL=f"{closed}/t/oauth2/v2.0/token",
        GATEWAY_ERP_CLIENT_ID="c",
        GATEWAY_ERP_CLIENT_SECRET="never-printed-secret",
        GATEWAY_CRM_BASE_URL=closed,
        GATEWAY_CRM_TOKEN_URL=f"{closed}/t/oauth2/v2.0/token",
        GATEWAY_CRM_CLIENT_ID="c",
        GATEWAY_CRM_CLIENT_SECRET="never-printed-secret",
        GATEWAY_UPSTREAM_MAX_RETRIES="0",
    )
    result = _run(["worker", "--once"], env)
    assert result.returncode == 1, result.stdout + result.stderr
    summary = re.fullmatch(
        r"worker \S+: ran (\d+) mapping-direction\(s\), (\d+) failed"
        r" \(see GET /api/v1/admin/jobs\?status=error\)",
        result.stdout.strip().splitlines()[-1],
    )
    assert summary is not None, result.stdout
    assert 9 <= int(summary.group(2)) <= int(summary.group(1))
    assert "never-printed-secret" not in result.stdout + result.stderr
    # One line per failed run: an upstream error needs no traceback (one was ~23 lines a run).
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) <= int(summary.group(1)) + 2, result.stderr


def _full_sync_job(base: str, admin_key: str) -> str:
    """The CUSTOMER erp_to_crm job of the demo's first full synchronization, once it has ended."""
    headers = {"Authorization": f"Bearer {admin_key}"}
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        review = httpx.get(f"{base}/api/v1/admin/sync/full", headers=headers, timeout=10).json()
        line = next(x for x in review["lines"] if x["mapping"] == "CUSTOMER")
        if all(job["status"] in ("success", "error") for job in line["jobs"].values()):
            return str(line["jobs"]["erp_to_crm"]["jobId"])
        time.sleep(0.2)
    raise AssertionError("the demo's first full synchronization did not end")


def test_the_demo_refuses_a_store_that_synchronized_without_it(tmp_path: Path) -> None:
    # The demo empties a store its earlier run synchronized (its simulators start afresh), but it
    # honours GATEWAY_DATABASE_URL: left set to a real deployment's store, that store was emptied.
    import asyncio

    from gateway.store import jobs
    from gateway.store.engine import create_engine, session_factory

    env = _env(tmp_path)
    assert _run(["db", "upgrade"], env).returncode == 0

    async def a_sync_job() -> int:
        engine = create_engine(env["GATEWAY_DATABASE_URL"])
        try:
            async with session_factory(engine).begin() as session:
                await jobs.create_job(session, mapping="CUSTOMER", direction="erp_to_crm", type="sync")
            async with session_factory(engine)() as session:
                return len(await jobs.list_jobs(session))
        finally:
            await engine.dispose()

    assert asyncio.run(a_sync_job()) == 1
    result = _run(["run", "--demo", "--port", str(_free_port())], env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("gateway: configuration error: GATEWAY_DATABASE_URL: this store has"), (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    assert asyncio.run(a_sync_job()) == 2  # the first job is still there, untouched


@pytest.mark.slow
def test_a_second_demo_start_forgets_what_the_first_runs_simulators_held(tmp_path: Path) -> None:
    # The simulators' data lives in memory: on a second `make run` the store (./var/gateway.db)
    # still held the first run's couplings, to records the new simulators never had, and ran no
    # full synchronization: errors "the ERP record of this coupling was deleted", stale names.
    with running_demo(tmp_path) as (base, keys, output):
        first = _full_sync_job(base, keys["admin"])
        assert "was cleared" not in "".join(output)
    with running_demo(tmp_path) as (base, keys, output):
        second = _full_sync_job(base, keys["admin"])
        assert second != first  # a full synchronization ran again, from an empty store
        assert "the store's synchronization from the last demo run was cleared" in "".join(output)
        gone = httpx.get(
            f"{base}/api/v1/admin/jobs/{first}",
            headers={"Authorization": f"Bearer {keys['admin']}"},
            timeout=10,
        )
        assert gone.status_code == 404, gone.text
