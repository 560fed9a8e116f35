"""Server-driven paging: Prefer odata.maxpagesize, Preference-Applied, absolute nextLinks, the real
page limits, and 100,000 rows followed through nextLinks exactly once on each simulator."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from gateway.simulators import create_crm_simulator, create_erp_simulator

from .conftest import BC_API, BC_SCOPE, CRM_API, CRM_SCOPE, authed_client, options
from .fixtures import COMPANY

CUSTOMERS = f"companies({COMPANY})/customers"


async def follow(
    client: httpx.AsyncClient, url: str, headers: dict[str, str]
) -> tuple[list[Any], int, dict[str, Any]]:
    """Every row from url and its nextLinks, the number of pages, and the last page."""
    rows: list[Any] = []
    pages = 0
    while True:
        response = await client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        pages += 1
        rows.extend(body["value"])
        if "@odata.nextLink" not in body:
            return rows, pages, body
        url = body["@odata.nextLink"]
        assert url.startswith("https://sim.test/"), url


@pytest.fixture(scope="module")
def big_erp() -> Starlette:
    return create_erp_simulator(options(bulk_rows={"customers": 100_000}))


@pytest.fixture(scope="module")
def big_crm() -> Starlette:
    return create_crm_simulator(options(bulk_rows={"accounts": 100_000}))


async def test_bc_pages_100k_customers_exactly_once(big_erp: Starlette) -> None:
    client = await authed_client(big_erp, BC_SCOPE, BC_API)
    async with client:
        rows, pages, _ = await follow(client, f"{CUSTOMERS}?$select=id,number", {})
        ids = [row["id"] for row in rows]
        assert len(ids) == 100_003
        assert len(set(ids)) == len(ids)
        assert pages == 6  # 20,000 a page: the real service's limit
        first = await client.get(f"{CUSTOMERS}?$top=1&$count=true")
        assert first.json()["@odata.count"] == 100_003


async def test_dataverse_pages_100k_accounts_exactly_once(big_crm: Starlette) -> None:
    client = await authed_client(big_crm, CRM_SCOPE, CRM_API)
    async with client:
        rows, pages, _ = await follow(
            client, "accounts?$select=accountnumber", {"Prefer": "odata.maxpagesize=10000"}
        )
        ids = [row["accountid"] for row in rows]
        assert len(ids) == 100_002
        assert len(set(ids)) == len(ids)
        assert pages == 21  # asked 10,000, capped at Dataverse's 5,000
        counted = (await client.get("accounts?$count=true&$top=1")).json()
        assert counted["@odata.count"] == 5_000
        assert counted["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] is True
        assert (await client.get("accounts/$count")).text == "5000"


async def test_prefer_maxpagesize_and_preference_applied(bc: httpx.AsyncClient) -> None:
    response = await bc.get(CUSTOMERS, headers={"Prefer": "odata.maxpagesize=2"})
    assert response.headers["Preference-Applied"] == "odata.maxpagesize=2"
    body = response.json()
    assert len(body["value"]) == 2
    assert body["@odata.nextLink"].startswith(f"https://sim.test{BC_API}{CUSTOMERS}?")
    assert "$skiptoken=" in body["@odata.nextLink"]
    rest = await bc.get(body["@odata.nextLink"], headers={"Prefer": "odata.maxpagesize=2"})
    assert len(rest.json()["value"]) == 1
    assert "@odata.nextLink" not in rest.json()
    plain = await bc.get(CUSTOMERS)
    assert "Preference-Applied" not in plain.headers


async def test_paging_keeps_filter_orderby_and_top(bc: httpx.AsyncClient) -> None:
    prefer = {"Prefer": "odata.maxpagesize=1"}
    url = f"{CUSTOMERS}?$filter=balanceDue%20ge%200&$orderby=number%20desc&$select=number&$top=2"
    first = (await bc.get(url, headers=prefer)).json()
    assert [r["number"] for r in first["value"]] == ["C30000"]
    second = (await bc.get(first["@odata.nextLink"], headers=prefer)).json()
    assert [r["number"] for r in second["value"]] == ["C20000"]
    assert "@odata.nextLink" not in second  # $top=2 reached


async def test_max_page_size_option_and_bad_skiptoken() -> None:
    app = create_crm_simulator(options(max_page_size=1))
    client = await authed_client(app, CRM_SCOPE, CRM_API)
    async with client:
        rows, pages, _ = await follow(client, "accounts", {})
        assert (len(rows), pages) == (2, 2)
        bad = await client.get("accounts?$skiptoken=%%%")
        assert bad.status_code == 400


async def test_paging_over_a_composite_key(bci: httpx.AsyncClient) -> None:
    """itemAvailabilities is keyed by (itemNumber, locationCode); keyset paging must still be exact."""
    url = f"companies({COMPANY})/itemAvailabilities"
    rows, pages, _ = await follow(bci, url, {"Prefer": "odata.maxpagesize=1"})
    keys = [(r["itemNumber"], r["locationCode"]) for r in rows]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys) == 3
    assert pages == 3
