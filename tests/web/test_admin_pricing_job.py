"""ERP PRICING's jobs over the admin API: a full job counts done out of a total, the rows of the
pricing sets it read from BC (it finished "done 333/0" before: its total was never set)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.domain import Role
from gateway.sync.pricing_mirror import COMPANY_SET, ERP_PRICING, PRICING_SETS
from tests.gateway_harness import Harness, running_gateway

A = "/api/v1/admin"


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_gateway(f"sqlite+aiosqlite:///{tmp_path}/gw.db") as harness:
        yield harness


async def _bc_rows_of_pricing_sets(gw: Harness) -> int:
    """How many rows BC holds in the sets a full ERP PRICING run mirrors, counted by BC ($count)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gw.erp_sim), base_url="http://sim") as sim:
        info = (await sim.get("/_sim/info")).json()
        form = {
            "grant_type": "client_credentials",
            "client_id": gw.settings.erp_client_id,
            "client_secret": gw.settings.erp_client_secret.get_secret_value(),
            "scope": info["scope"],
        }
        token = (await sim.post(info["tokenPath"], data=form)).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        total = 0
        for entity_set, api, _keys in (*PRICING_SETS, COMPANY_SET):
            root = info["integrationPath"] if api == "integration" else info["apiPath"]
            url = f"{root}companies({info['companyId']})/{entity_set}/$count"
            counted = await sim.get(url, headers=headers)
            assert counted.status_code == 200, (entity_set, counted.text)
            total += int(counted.text)
    return total


async def _full_sync_jobs(gw: Harness) -> list[dict[str, Any]]:
    headers = gw.auth(Role.ADMIN)
    started = await gw.client.post(f"{A}/sync/full", json={"mappings": [ERP_PRICING]}, headers=headers)
    assert started.status_code == 202, started.text
    async with asyncio.timeout(120):  # the review is the only signal the admin API gives
        while (await gw.client.get(f"{A}/sync/full", headers=headers)).json()["running"]:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    listed = await gw.client.get(
        f"{A}/jobs", params={"mapping": ERP_PRICING, "type": "full"}, headers=headers
    )
    assert listed.status_code == 200, listed.text
    return list(listed.json()["items"])


async def test_erp_pricing_full_job_shows_done_out_of_the_rows_it_read(gw: Harness) -> None:
    rows = await _bc_rows_of_pricing_sets(gw)
    assert rows > 100  # 12 sets of the demo data: a count that cannot be met by accident

    (first,) = await _full_sync_jobs(gw)
    assert first["status"] == "success", first
    assert (first["counts"]["done"], first["total"]) == (rows, rows)
    assert first["counts"]["modified"] == rows  # all new to an empty mirror

    # Again: nothing new to the mirror, yet every row was read, so the job is still done/total.
    second, _first = await _full_sync_jobs(gw)  # newest first
    assert second["status"] == "success", second
    assert (second["counts"]["done"], second["total"], second["counts"]["modified"]) == (rows, rows, 0)
