"""The /_sim control API: statistics, reset to the seed's data, seeded faults and added latency."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gateway.simulators import create_crm_simulator, create_erp_simulator

from .conftest import BC_API, BC_SCOPE, CRM_API, CRM_SCOPE, Clock, authed_client, options
from .fixtures import ACCOUNT_1, COMPANY

SIM = "https://sim.test/_sim"


async def test_stats_count_by_method_set_and_status() -> None:
    app = create_erp_simulator(options())
    async with await authed_client(app, BC_SCOPE, BC_API) as bc:
        await bc.get(f"companies({COMPANY})/customers")
        await bc.get(f"companies({COMPANY})/customers?$filter=bad%20bad")
        await bc.post(f"companies({COMPANY})/items", json={"number": "X1"})
        await bc.get(
            f"companies({COMPANY})/salesOrders(00000000-0000-4000-8000-000000000001)/salesOrderLines"
        )
        stats = (await bc.get(f"{SIM}/stats")).json()
    assert stats["total"] == 4
    assert stats["byMethod"] == {"GET": 3, "POST": 1}
    assert stats["byEntitySet"] == {"customers": 2, "items": 1, "salesOrderLines": 1}
    assert stats["byStatus"] == {"200": 1, "400": 1, "201": 1, "404": 1}
    assert {"method": "POST", "entitySet": "items", "status": 201, "count": 1} in stats["requests"]
    assert stats["tokensIssued"] == 1


async def test_reset_restores_seed_data_and_zeroes_counters() -> None:
    clock = Clock()
    app = create_crm_simulator(options(clock=clock))
    async with await authed_client(app, CRM_SCOPE, CRM_API) as dv:
        original = (await dv.get(f"accounts({ACCOUNT_1})")).json()
        clock.now += 61.5  # the reset happens minutes later: seconds and minutes both roll over
        await dv.patch(f"accounts({ACCOUNT_1})", json={"name": "Changed"})
        await dv.post("accounts", json={"name": "Extra"})
        assert (await dv.post(f"{SIM}/reset")).json() == {"reset": True}
        stats = (await dv.get(f"{SIM}/stats")).json()
        assert stats["total"] == 0
        again = (await dv.get(f"accounts({ACCOUNT_1})")).json()
        assert again == original
        assert (await dv.get("accounts/$count")).text == "2"


@pytest.mark.parametrize(
    ("factory", "scope", "base", "path"),
    [
        (create_crm_simulator, CRM_SCOPE, CRM_API, "accounts"),
        (create_erp_simulator, BC_SCOPE, BC_API, f"companies({COMPANY})/items"),
    ],
    ids=["crm", "erp"],
)
async def test_rows_seeded_without_stamps_keep_the_seed_time_across_resets(
    factory: Any, scope: str, base: str, path: str
) -> None:
    """The fixture's accounts and items carry no modifiedon / lastModifiedDateTime: they are stamped
    with the time the simulator was created, on every reset too; writes after a reset still sort
    after them (later stamps), so a reader polling by watermark sees those."""
    clock = Clock()
    app = factory(options(clock=clock))
    stamp = "modifiedon" if factory is create_crm_simulator else "lastModifiedDateTime"
    async with await authed_client(app, scope, base) as client:
        seeded = (await client.get(path)).json()["value"]
        assert {row[stamp][:19] for row in seeded} == {"2030-03-17T17:46:40"}  # the clock at creation
        for step in (1.2, 1800.0):  # a second and half an hour later, each reset gives the same rows
            clock.now += step
            assert (await client.post(f"{SIM}/reset")).status_code == 200
            assert (await client.get(path)).json()["value"] == seeded
        key = "accountid" if factory is create_crm_simulator else "id"
        first = seeded[0][key]
        changed = {"name": "Later"} if factory is create_crm_simulator else {"displayName": "Later"}
        etag = {"If-Match": "*"}
        assert (await client.patch(f"{path}({first})", json=changed, headers=etag)).status_code in (200, 204)
        written = (await client.get(f"{path}({first})")).json()
        assert written[stamp] > max(row[stamp] for row in seeded)
        assert written[stamp][:19] == "2030-03-17T18:16:41"


async def _statuses(client: httpx.AsyncClient, url: str, n: int) -> list[int]:
    return [(await client.get(url)).status_code for _ in range(n)]


async def test_faults_follow_the_seed() -> None:
    runs = []
    for _ in range(2):
        app = create_erp_simulator(options())
        async with await authed_client(app, BC_SCOPE, BC_API) as bc:
            config = await bc.post(f"{SIM}/faults", json={"rate": 0.3, "seed": 7, "kinds": ["429", "503"]})
            assert config.status_code == 200
            statuses = await _statuses(bc, "companies", 60)
            stats = (await bc.get(f"{SIM}/stats")).json()
            runs.append(statuses)
            injected = stats["faults"]["injected"]
            assert injected.get("429", 0) == statuses.count(429)
            assert injected.get("503", 0) == statuses.count(503)
    assert runs[0] == runs[1]
    faulty = 60 - runs[0].count(200)
    assert 8 <= faulty <= 30  # 30% of 60, give or take the seed's luck
    assert set(runs[0]) == {200, 429, 503}


async def test_fault_429_carries_retry_after_and_rate_zero_turns_off() -> None:
    app = create_crm_simulator(options())
    async with await authed_client(app, CRM_SCOPE, CRM_API) as dv:
        await dv.post(f"{SIM}/faults", json={"rate": 1, "seed": 1, "kinds": ["429"], "retryAfterSeconds": 3})
        throttled = await dv.get("accounts")
        assert throttled.status_code == 429
        assert throttled.headers["Retry-After"] == "3"
        assert set(throttled.json()["error"]) == {"code", "message"}
        await dv.post(f"{SIM}/faults", json={"rate": 0})
        assert await _statuses(dv, "accounts", 5) == [200] * 5
        assert (await dv.post(f"{SIM}/faults", json={"rate": 2})).status_code == 400
        assert (await dv.post(f"{SIM}/faults", json={"rate": 0.1, "kinds": ["fire"]})).status_code == 400


async def test_latency_setting() -> None:
    app = create_erp_simulator(options())
    async with await authed_client(app, BC_SCOPE, BC_API) as bc:
        assert (await bc.post(f"{SIM}/latency", json={"ms": 30})).json() == {"ms": 30.0}
        assert (await bc.get(f"{SIM}/stats")).json()["latencyMs"] == 30.0
        assert (await bc.get("companies")).status_code == 200
        assert (await bc.post(f"{SIM}/latency", json={"ms": -1})).status_code == 400


async def test_info_names_the_urls() -> None:
    app = create_erp_simulator(options())
    async with await authed_client(app, BC_SCOPE, BC_API) as bc:
        info = (await bc.get(f"{SIM}/info")).json()
    assert info["companyId"] == COMPANY
    assert info["apiPath"] == BC_API
    assert info["loadWarnings"] == []


async def test_drop_in_process_raises_the_network_error() -> None:
    app = create_crm_simulator(options())
    async with await authed_client(app, CRM_SCOPE, CRM_API) as dv:
        await dv.post(f"{SIM}/faults", json={"rate": 1, "seed": 1, "kinds": ["drop"]})
        with pytest.raises(httpx.RemoteProtocolError):
            await dv.get("accounts")
        await dv.post(f"{SIM}/faults", json={"rate": 0})
        assert (await dv.get("accounts")).status_code == 200
