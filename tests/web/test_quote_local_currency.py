"""The local currency of quotes comes from the store, where ERP PRICING keeps BC's companyInformation:
a fresh gateway process (here a new app over the same store) answers its first quote with no request
to BC or Sales (each process used to ask BC on its first quote), and a store that lacks it gets it
from the next ERP PRICING poll, once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from gateway.app import create_app
from gateway.domain import Role
from gateway.simulators import SimulatorOptions
from gateway.upstream.transport import in_process_transport
from tests.gateway_harness import GATEWAY_ROOT, Harness, running_gateway

A = "/api/v1/admin"
QUOTE = "/api/v1/prices/quote"
OPTIONS = SimulatorOptions(customers=20, items=20)
BODY = {"customerNumber": "C10070", "currencyCode": "USD", "lines": [{"itemNumber": "1028-A", "quantity": 2}]}


async def _stats(sim: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim), base_url="http://sim") as client:
        stats: dict[str, Any] = (await client.get("/_sim/stats")).json()
    return stats


async def _requests(gw: Harness) -> tuple[int, int]:
    """Every request each simulator answered so far, token requests included: (BC, Sales)."""
    counts = []
    for sim in (gw.erp_sim, gw.crm_sim):
        stats = await _stats(sim)
        counts.append(int(stats["total"]) + int(stats["tokensIssued"]))
    return counts[0], counts[1]


@asynccontextmanager
async def _fresh_app(gw: Harness) -> AsyncIterator[httpx.AsyncClient]:
    """Another gateway app (as another worker process would be) over the same store and simulators."""
    app = create_app(
        gw.settings,
        erp_transport=in_process_transport(gw.erp_sim),
        crm_transport=in_process_transport(gw.crm_sim),
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=GATEWAY_ROOT) as client,
    ):
        yield client


async def test_a_fresh_app_answers_its_first_quote_with_no_upstream_request(tmp_path: Path) -> None:
    async with running_gateway(f"sqlite+aiosqlite:///{tmp_path}/gw.db", options=OPTIONS) as gw:
        admin = gw.auth(Role.ADMIN)
        started = await gw.client.post(f"{A}/sync/full", json={}, headers=admin)
        assert started.status_code == 202, started.text
        async with asyncio.timeout(300):
            while (await gw.client.get(f"{A}/sync/full", headers=admin)).json()["running"]:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        before = await _requests(gw)
        async with _fresh_app(gw) as client:
            answer = await client.post(QUOTE, json=BODY, headers=admin)
            assert answer.status_code == 200, answer.text
            assert answer.json()["currencyCode"] == "USD"
            assert await _requests(gw) == before  # start-up and first quote: nothing asked upstream
            again = await client.post(QUOTE, json={**BODY, "currencyCode": None}, headers=admin)
            assert again.status_code == 200 and again.json()["currencyCode"] == "EUR", again.text
        assert await _requests(gw) == before


async def test_a_store_without_it_gets_it_from_the_next_erp_pricing_poll_once(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/gw.db"
    async with running_gateway(url, options=OPTIONS, seed_read_model=True) as gw:
        async with gw.app.state.engine.begin() as conn:
            await conn.execute(text("DELETE FROM rm_company"))  # as a store from before rm_company
        admin = gw.auth(Role.ADMIN)
        refused = await gw.client.post(QUOTE, json=BODY, headers=admin)
        assert refused.status_code == 503 and "local currency" in refused.json()["detail"], refused.text
        graphql = await gw.client.post(
            "/graphql",
            json={"query": 'query { price(customer: "C10070", item: "1028-A", quantity: 2) { __typename } }'},
            headers=admin,
        )
        (error,) = graphql.json()["errors"]  # said as it is, not masked as an internal error
        assert "local currency is not synchronized yet" in error["message"], error
        assert await _requests(gw) == (0, 0)  # and it asked nobody

        engine = gw.app.state.services.sync.engine
        for _ in range(3):
            summary = await engine.run(mapping="ERP PRICING", direction="erp_to_crm")
            assert summary.status == "success", summary
        stats = await _stats(gw.erp_sim)
        assert stats["byEntitySet"].get("companyInformation") == 1  # the first poll only
        answer = await gw.client.post(QUOTE, json=BODY, headers=admin)
        assert answer.status_code == 200 and answer.json()["currencyCode"] == "USD", answer.text
