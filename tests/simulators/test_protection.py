"""Service protection per client identity: the sliding window answers 429 with Retry-After, the
concurrency cap (BC queues, Dataverse rejects), and limits changed at runtime via /_sim/limits."""

from __future__ import annotations

import asyncio

import httpx

from gateway.simulators import create_crm_simulator, create_erp_simulator

from .conftest import BC_API, BC_SCOPE, CRM_API, CRM_SCOPE, Clock, authed_client, options, token
from .fixtures import COMPANY


async def test_sliding_window_429_with_retry_after() -> None:
    clock = Clock()
    app = create_erp_simulator(options(rate_limit_requests=3, rate_limit_window_seconds=10, clock=clock))
    async with await authed_client(app, BC_SCOPE, BC_API) as bc:
        statuses = []
        for _ in range(3):
            statuses.append((await bc.get("companies")).status_code)
            clock.now += 1
        throttled = await bc.get("companies")
        assert statuses == [200, 200, 200]
        assert throttled.status_code == 429
        assert throttled.headers["Retry-After"] == "7"  # asked at t+3; the first request leaves at t+10
        assert throttled.json()["error"]["code"] == "Application_TooManyRequests"
        clock.now += 7
        assert (await bc.get("companies")).status_code == 200
        stats = (await bc.get("https://sim.test/_sim/stats")).json()
        assert stats["throttled"] == 1
        assert stats["byStatus"]["429"] == 1


async def test_limits_are_per_client() -> None:
    app = create_crm_simulator(options(rate_limit_requests=2, extra_clients={"second-app": "s3cret"}))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://sim.test"
    ) as client:
        first = {"Authorization": f"Bearer {await token(client, CRM_SCOPE)}"}
        second = {
            "Authorization": "Bearer "
            + await token(client, CRM_SCOPE, client_id="second-app", secret="s3cret")
        }
        codes = [(await client.get(f"{CRM_API}accounts", headers=first)).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        assert (await client.get(f"{CRM_API}accounts", headers=second)).status_code == 200
        # Dataverse: requests sent while throttled still count, so hammering extends the wait.
        again = await client.get(f"{CRM_API}accounts", headers=first)
        assert again.status_code == 429
        assert int(again.headers["Retry-After"]) >= 1


async def test_dataverse_rejects_beyond_concurrency() -> None:
    app = create_crm_simulator(options(max_concurrency=2))
    async with await authed_client(app, CRM_SCOPE, CRM_API) as dv:
        await dv.post("https://sim.test/_sim/latency", json={"ms": 200})
        results = await asyncio.gather(*(dv.get("accounts") for _ in range(5)))
        codes = sorted(r.status_code for r in results)
        assert codes == [200, 200, 429, 429, 429]


async def test_bc_queues_beyond_concurrency_then_rejects() -> None:
    app = create_erp_simulator(options(max_concurrency=1, queue_size=2))
    async with await authed_client(app, BC_SCOPE, BC_API) as bc:
        await bc.post("https://sim.test/_sim/latency", json={"ms": 100})
        results = await asyncio.gather(*(bc.get(f"companies({COMPANY})/customers") for _ in range(5)))
        codes = sorted(r.status_code for r in results)
        assert codes == [200, 200, 200, 429, 429]


async def test_limits_change_at_runtime() -> None:
    app = create_erp_simulator(options())
    async with await authed_client(app, BC_SCOPE, BC_API) as bc:
        limits = (await bc.get("https://sim.test/_sim/limits")).json()
        assert limits == {
            "requests": 6000,
            "windowSeconds": 300.0,
            "concurrency": 5,
            "queue": 95,
            "maxPageSize": 20000,
        }
        changed = await bc.post("https://sim.test/_sim/limits", json={"requests": 1, "maxPageSize": 2})
        assert changed.json()["requests"] == 1
        page = await bc.get(f"companies({COMPANY})/customers")
        assert len(page.json()["value"]) == 2
        assert (await bc.get("companies")).status_code == 429
        assert (await bc.post("https://sim.test/_sim/limits", json={"requests": 0})).status_code == 400
