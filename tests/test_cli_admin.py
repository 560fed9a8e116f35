"""The admin CLI against a gateway served by uvicorn on a loopback port (the simulators in-process):
sync full --wait, status, run, couple list/match/create/delete, errors list/action, and one-line
errors for an unreachable gateway or a refused key."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from click.testing import CliRunner, Result

from gateway.cli import main
from gateway.domain import Role
from tests.gateway_harness import Harness, running_gateway


@dataclass
class Served:
    harness: Harness
    url: str

    async def gateway(self, *args: str, role: Role = Role.ADMIN) -> Result:
        """`gateway ARGS --url … --key …` in a thread, so this loop keeps serving the requests."""
        argv = [*args, "--url", self.url, "--key", self.harness.keys[role]]
        return await asyncio.to_thread(CliRunner().invoke, main, argv, catch_exceptions=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    async with running_gateway(f"sqlite+aiosqlite:///{tmp_path}/gw.db") as harness:
        port = _free_port()
        # The harness already runs the app's lifespan; uvicorn only serves HTTP.
        server = uvicorn.Server(
            uvicorn.Config(harness.app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
        )
        task = asyncio.create_task(server.serve())
        async with asyncio.timeout(20):
            while not server.started:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        try:
            yield Served(harness, f"http://127.0.0.1:{port}")
        finally:
            server.should_exit = True
            await task


async def test_sync_couple_and_errors_commands(served: Served) -> None:
    status = await served.gateway("sync", "status")
    assert status.exit_code == 0 and status.output.startswith("idle\n")
    assert (
        "CUSTOMER\tno records\tdepends on SALESPEOPLE,CURRENCY,PRICE LIST"
        "\terp_to_crm=blank 0/0 crm_to_erp=blank 0/0"
    ) in status.output

    full = await served.gateway(
        "sync",
        "full",
        "--wait",
        "--poll",
        "0.05",
        *[a for m in ("SALESPEOPLE", "CURRENCY", "PRICE LIST", "CUSTOMER") for a in ("--mapping", m)],
    )
    # CUSTOMER ends in error (an ambiguous customer and an uncoupled salesperson): exit 1, lines shown.
    assert full.exit_code == 1, full.output
    assert "full synchronization started: SALESPEOPLE, CURRENCY, PRICE LIST, CUSTOMER" in full.output
    # A progress bar per mapping (rich), then one review line each.
    assert len(re.findall(r"^(SALESPEOPLE|CURRENCY|PRICE LIST|CUSTOMER) +━+", full.output, re.M)) == 4
    assert re.search(r"CURRENCY\t.*erp_to_crm=success (\d+)/\1", full.output), full.output
    assert re.search(r"CUSTOMER\t.*erp_to_crm=error \d+/\d+", full.output)

    run = await served.gateway("sync", "run", "CURRENCY", "--direction", "erp_to_crm")
    assert run.exit_code == 0 and run.output.startswith("CURRENCY\terp_to_crm\tsuccess\t")
    # A run that ends in error (the ambiguous customer again) exits 1, like `sync full --wait`.
    failed = await served.gateway("sync", "run", "CUSTOMER", "--direction", "erp_to_crm")
    assert failed.exit_code == 1 and failed.output.startswith("CUSTOMER\terp_to_crm\terror\t"), failed.output

    # A finished mapping's bar is full and counts done/total alike (it showed 0/1 for nothing to do).
    orders = await served.gateway("sync", "full", "--wait", "--poll", "0.05", "--mapping", "SALES ORDER")
    assert re.search(r"^SALES ORDER +━+ (\d+)/\1 +(success|error)", orders.output, re.M), orders.output

    couplings = await served.gateway("couple", "list", "--mapping", "CURRENCY")
    rows = [line.split("\t") for line in couplings.output.splitlines()]
    assert rows and {r[1] for r in rows} == {"CURRENCY"} and {r[6] for r in rows} == {"coupled"}
    limited = await served.gateway("couple", "list", "--mapping", "CURRENCY", "--limit", "1")
    assert len(limited.output.splitlines()) == 1

    match = await served.gateway("couple", "match", "CUSTOMER", "--field", "displayName=name")
    assert match.exit_code == 0 and "ambiguous\terp\t" in match.output
    assert re.search(r"\d+ pair\(s\), [1-9]\d* ambiguous, no match: \d+ ERP, \d+ CRM", match.output)
    # A dry run (the default) says that it coupled nothing.
    assert match.output.rstrip().endswith("(a dry run: nothing coupled; --apply couples them)"), match.output
    applied = await served.gateway("couple", "match", "CURRENCY", "--apply")
    assert applied.exit_code == 0 and applied.output.rstrip().endswith("(applied)"), applied.output
    bad_field = await served.gateway("couple", "match", "CUSTOMER", "--field", "displayName")
    assert bad_field.exit_code != 0 and "ERPFIELD=CRMFIELD" in bad_field.output
    unknown = await served.gateway("couple", "match", "CUSTOMER", "--field", "nosuch=name")
    assert unknown.exit_code != 0 and "'nosuch'" in unknown.output and "no match" not in unknown.output

    errors = await served.gateway("errors", "list", "--mapping", "CUSTOMER")
    lines = [line.split("\t") for line in errors.output.splitlines()]
    ambiguous = next(line for line in lines if "records match" in line[4])
    owner = next(line for line in lines if line[3] == "owner")

    # Couple the ambiguous customer's first candidate by hand, then uncouple it.
    report = await served.gateway("couple", "match", "CUSTOMER", "--field", "displayName=name", "--json")
    candidate = next(a for a in json.loads(report.output)["ambiguous"] if a["side"] == "erp")
    made = await served.gateway(
        "couple",
        "create",
        "CUSTOMER",
        "--erp-id",
        candidate["id"],
        "--crm-id",
        candidate["candidates"][0]["id"],
    )
    assert made.exit_code == 0, made.output
    coupling_id = re.match(r"coupling (\d+): ", made.output)
    assert coupling_id is not None
    again = await served.gateway(
        "couple",
        "create",
        "CUSTOMER",
        "--erp-id",
        candidate["id"],
        "--crm-id",
        candidate["candidates"][0]["id"],
        "--no-sync",
    )
    assert again.exit_code == 1 and again.output.startswith("gateway: POST /couplings failed (409)")
    assert (
        await served.gateway("couple", "delete", coupling_id.group(1))
    ).output == f"uncoupled {coupling_id.group(1)}\n"
    gone = await served.gateway("couple", "delete", coupling_id.group(1))
    assert gone.exit_code == 1 and "(404)" in gone.output

    # Retrying the owner error while salesperson RH is still uncoupled fails again: the retried
    # error is resolved (superseded) by a new one, which the line names; exit 1, not "resolved".
    retried = await served.gateway("errors", "action", "retry", owner[0])
    assert retried.exit_code == 1, retried.output
    failed_again = re.fullmatch(
        rf"{owner[0]}\tretry\tfailed again: error (\d+): owner: salesperson RH is not coupled to a user\n",
        retried.output,
    )
    assert failed_again is not None, retried.output
    owner = [failed_again.group(1), *owner[1:]]

    # The hand-made coupling settled the ambiguity; the owner error is still open.
    settled = await served.gateway("errors", "action", "ignore", ambiguous[0])
    assert settled.exit_code == 1 and settled.output.startswith(f"{ambiguous[0]}\tignore\tnot applied: ")
    ignored = await served.gateway("errors", "action", "ignore", owner[0])
    assert ignored.exit_code == 0 and ignored.output == f"{owner[0]}\tignore\tignored\n"
    remaining = await served.gateway("errors", "list", "--mapping", "CUSTOMER")
    assert owner[0] not in [line.split("\t")[0] for line in remaining.output.splitlines()]
    unknown = await served.gateway("errors", "action", "retry", "999999")
    assert unknown.exit_code == 1 and "not applied" in unknown.output


async def test_refused_keys_and_unreachable_gateways_are_one_line(served: Served) -> None:
    refused = await served.gateway("sync", "status", role=Role.SALES)
    assert refused.exit_code == 1
    assert (
        refused.output
        == "gateway: the gateway refused the key (403): the admin endpoints need an admin key\n"
    )
    wrong = await asyncio.to_thread(
        CliRunner().invoke, main, ["errors", "list", "--url", served.url, "--key", "gw_wrong"]
    )
    assert wrong.exit_code == 1 and wrong.output.startswith("gateway: the gateway refused the key (401)")
    nowhere = await asyncio.to_thread(
        CliRunner().invoke,
        main,
        ["sync", "status", "--url", f"http://127.0.0.1:{_free_port()}", "--key", "k"],
    )
    assert nowhere.exit_code == 1
    assert nowhere.output.startswith("gateway: cannot reach the gateway at http://127.0.0.1:")
    assert len(nowhere.output.splitlines()) == 1
    # Without --url: GATEWAY_URL, else the GATEWAY_HOST/GATEWAY_PORT the gateway was started with.
    port = served.url.rsplit(":", 1)[1]
    for env in ({"GATEWAY_URL": served.url}, {"GATEWAY_HOST": "127.0.0.1", "GATEWAY_PORT": port}):
        found = await asyncio.to_thread(
            CliRunner(env={"GATEWAY_URL": None, "GATEWAY_HOST": None, "GATEWAY_PORT": None, **env}).invoke,
            main,
            ["sync", "status", "--key", served.harness.keys[Role.ADMIN]],
        )
        assert found.exit_code == 0 and found.output.startswith("idle\n"), (env, found.output)
    no_key = await asyncio.to_thread(
        CliRunner(env={"GATEWAY_ADMIN_KEY": ""}).invoke, main, ["sync", "status", "--url", served.url]
    )
    assert no_key.exit_code == 1 and "GATEWAY_ADMIN_KEY" in no_key.output


def test_a_url_without_its_scheme_is_one_line_saying_so() -> None:
    # Not "cannot reach the gateway at 127.0.0.1:8700 (UnsupportedProtocol)".
    for env in ({}, {"GATEWAY_URL": "127.0.0.1:8700"}):
        args = ["sync", "status", "--key", "k"] + ([] if env else ["--url", "127.0.0.1:8700"])
        result = CliRunner(env=env).invoke(main, args)
        assert result.exit_code == 1
        assert result.output == (
            "gateway: the gateway URL '127.0.0.1:8700' (--url or GATEWAY_URL) must start with http://"
            " or https:// (e.g. http://127.0.0.1:8700)\n"
        )
