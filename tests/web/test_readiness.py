"""`/readyz` over HTTP with the simulators failing (`POST /_sim/faults`): each upstream is asked once
per probe, without the retries the sync uses, and a stall is cut at GATEWAY_READINESS_TIMEOUT_SECONDS.
A 429 is reachable (ready, noted); a 503, a stall, a dropped connection are not ready. Attempts are
counted by the simulators' fault injector, which sees every API request that arrives."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from tests.gateway_harness import Harness, running_gateway


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[Harness]:
    # The sync's policy would retry 6 times, each attempt allowed 30 s: a probe must not inherit it.
    async with running_gateway(
        f"sqlite+aiosqlite:///{tmp_path}/gw.db",
        upstream_max_retries=6,
        upstream_timeout_seconds=30.0,
        readiness_timeout_seconds=0.3,
    ) as harness:
        yield harness


async def _faults(sim: Starlette, **body: Any) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim), base_url="http://sim") as control:
        response = await control.post("/_sim/faults", json={"rate": 1.0, "seed": 3, **body})
        assert response.status_code == 200, response.text


async def _injected(sim: Starlette) -> dict[str, int]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim), base_url="http://sim") as control:
        injected: dict[str, int] = (await control.get("/_sim/faults")).json()["injected"]
    return injected


@pytest.mark.parametrize(
    ("failing", "fault", "status", "ok", "said"),
    [
        ("erp", {"kinds": ["503"]}, 503, False, "UpstreamUnavailable"),
        ("erp", {"kinds": ["drop"]}, 503, False, "Upstream"),
        ("crm", {"kinds": ["timeout"], "timeoutSeconds": 120}, 503, False, "UpstreamTimeout"),
        # Reachable but throttled: still ready, with a note.
        ("erp", {"kinds": ["429"], "retryAfterSeconds": 30}, 200, True, "throttled"),
    ],
)
async def test_a_failing_upstream_is_asked_once_per_probe(
    gw: Harness, failing: str, fault: dict[str, Any], status: int, ok: bool, said: str
) -> None:
    sim, other = (gw.erp_sim, "crm") if failing == "erp" else (gw.crm_sim, "erp")
    await _faults(sim, **fault)
    response = await gw.client.get("/readyz")
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == ("ready" if ok else "not ready")
    check = body["checks"][failing]
    assert check["ok"] is ok and said in check["error" if not ok else "note"], check
    assert body["checks"][other] == {"ok": True}
    assert body["checks"]["store"] == {"ok": True} and body["checks"]["cache"] == {"ok": True}
    assert await _injected(sim) == {fault["kinds"][0]: 1}  # not 7: no retries, a stall cut short


async def test_probes_within_five_seconds_share_one_upstream_check(gw: Harness) -> None:
    await _faults(gw.erp_sim, kinds=["503"])
    statuses = [(await gw.client.get("/readyz")).status_code for _ in range(3)]
    assert statuses == [503, 503, 503]
    assert await _injected(gw.erp_sim) == {"503": 1}


async def test_a_healthy_probe_costs_one_request_per_upstream(gw: Harness) -> None:
    # No faults: the simulators' request statistics count what the probe sent.
    before = {name: await _api_requests(sim) for name, sim in (("erp", gw.erp_sim), ("crm", gw.crm_sim))}
    response = await gw.client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {name: {"ok": True} for name in ("store", "cache", "erp", "crm")}
    after = {name: await _api_requests(sim) for name, sim in (("erp", gw.erp_sim), ("crm", gw.crm_sim))}
    assert {name: after[name] - before[name] for name in after} == {"erp": 1, "crm": 1}


async def _api_requests(sim: Starlette) -> int:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim), base_url="http://sim") as control:
        stats = (await control.get("/_sim/stats")).json()
    return sum(row["count"] for row in stats["requests"] if row["entitySet"] != "token")


@pytest.mark.parametrize(
    ("fault", "said"),
    [
        ({"kinds": ["503"]}, "UpstreamUnavailable"),
        ({"kinds": ["timeout"], "timeoutSeconds": 120}, "UpstreamTimeout"),
    ],
)
async def test_graphql_upstreams_asks_a_failing_upstream_once(
    gw: Harness, fault: dict[str, Any], said: str
) -> None:
    # The `upstreams` field used the sync's policy: with the ERP down it answered after 6 retries
    # (10-20 s); it now checks as the probe does, one attempt within GATEWAY_READINESS_TIMEOUT_SECONDS.
    from gateway.domain import Role

    await _faults(gw.erp_sim, **fault)
    query = "{ upstreams { erp { reachable error } crm { reachable } } }"
    response = await gw.client.post("/graphql", json={"query": query}, headers=gw.auth(Role.APP))
    assert response.status_code == 200, response.text
    upstreams = response.json()["data"]["upstreams"]
    assert upstreams["erp"]["reachable"] is False and said in upstreams["erp"]["error"], upstreams
    assert upstreams["crm"]["reachable"] is True
    assert await _injected(gw.erp_sim) == {fault["kinds"][0]: 1}
