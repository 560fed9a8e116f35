"""The simulators over the real demo data generator: every seeded field reads back as generated,
availability starts at the seeded stock figures, and reset reproduces the same data."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from gateway.simulators import SimulatorOptions, create_crm_simulator, create_erp_simulator
from gateway.simulators.bc.model import api_sets, integration_sets
from gateway.simulators.demo_data import generate

from .conftest import BC_API, BC_INT, BC_SCOPE, CRM_API, CRM_SCOPE, authed_client


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, str) and isinstance(actual, str) and expected.endswith("Z") and "T" in expected:
        parse = lambda text: datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)  # noqa: E731
        return parse(expected) == parse(actual)
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return abs(float(expected) - float(actual)) < 1e-9
    return bool(expected == actual)


async def _all(client: httpx.AsyncClient, url: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    while url:
        body = (await client.get(url)).json()
        rows.extend(body["value"])
        url = body.get("@odata.nextLink", "")
    return rows


async def test_erp_reads_back_the_demo_data() -> None:
    data = generate(seed=42, customers=60, items=40)
    app = create_erp_simulator(SimulatorOptions())
    api_names = {s.name for s in api_sets()}
    int_names = {s.name for s in integration_sets()} - api_names
    async with (
        await authed_client(app, BC_SCOPE, BC_API) as bc,
        await authed_client(app, BC_SCOPE, BC_INT) as bci,
    ):
        info = (await bc.get("https://sim.test/_sim/info")).json()
        assert info["loadWarnings"] == []
        assert info["companyId"] == data.company_id
        for name, rows in data.erp.items():
            if name.startswith("_"):
                continue
            client = bci if name in int_names else bc
            url = name if name == "companies" else f"companies({data.company_id})/{name}"
            served = {row["id"]: row for row in await _all(client, url)}
            assert len(served) == len(rows), name
            for row in rows:
                got = served[row["id"]]
                for field, value in row.items():
                    assert _same(value, got[field]), (name, field, value, got[field])
        availability = {
            (r["itemNumber"], r["locationCode"]): r
            for r in await _all(bci, f"companies({data.company_id})/itemAvailabilities")
        }
        assert len(availability) == len(data.erp["_stock"])
        for stock in data.erp["_stock"]:
            got = availability[(stock["itemNumber"], stock["locationCode"])]
            for field in ("inventory", "qtyOnSalesOrders", "qtyOnPurchaseOrders"):
                assert _same(stock[field], got[field]), (stock, got)


async def test_crm_reads_back_the_demo_data() -> None:
    data = generate(seed=42, customers=60, items=40)
    app = create_crm_simulator(SimulatorOptions())
    async with await authed_client(app, CRM_SCOPE, CRM_API) as dv:
        assert (await dv.get("https://sim.test/_sim/info")).json()["loadWarnings"] == []
        for name, rows in data.crm.items():
            key = f"{name[:-1]}id" if name != "transactioncurrencies" else "transactioncurrencyid"
            served = {row[key]: row for row in await _all(dv, name)}
            assert len(served) >= len(rows), name
            for row in rows:
                got = served[row[key]]
                assert got["@odata.etag"] == f'W/"{row["versionnumber"]}"'
                for field, value in row.items():
                    assert _same(value, got[field]), (name, field, value, got[field])
        created = await dv.post(
            "accounts", json={"name": "After seed"}, headers={"Prefer": "return=representation"}
        )
        top = max(row["versionnumber"] for rows in data.crm.values() for row in rows)
        assert created.json()["versionnumber"] > top


@pytest.mark.parametrize(
    ("factory", "scope", "base", "path"),
    [
        (create_erp_simulator, BC_SCOPE, BC_API, "companies({company})/items"),
        (create_crm_simulator, CRM_SCOPE, CRM_API, "products"),
    ],
)
async def test_reset_reproduces_the_same_data(factory: Any, scope: str, base: str, path: str) -> None:
    app = factory(SimulatorOptions())
    async with await authed_client(app, scope, base) as client:
        info = (await client.get("https://sim.test/_sim/info")).json()
        url = path.format(company=info.get("companyId"))
        before = await _all(client, url)
        first = before[0]
        key = "id" if "id" in first else "productid"
        await client.delete(f"{url}({first[key]})", headers={"If-Match": "*"})
        assert len(await _all(client, url)) == len(before) - 1
        assert (await client.post("https://sim.test/_sim/reset")).status_code == 200
        assert await _all(client, url) == before


def test_one_items_availability_is_found_by_index_not_by_scanning_the_company() -> None:
    """The availability view joins order lines to units of measure and stock to items by item
    number: each join is an index search (scanning every unit per order line made one item's
    availability take seconds at 20,000 customers)."""
    from gateway.simulators.erp import build_erp_store

    options = SimulatorOptions(customers=60, items=40)
    store = build_erp_store(options, generate(seed=42, customers=60, items=40).erp, seeded_at=options.clock())
    plan = [
        str(row[3])
        for row in store.conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT * FROM itemAvailabilities WHERE itemNumber = '1896-S'"
        )
    ]
    units = [step for step in plan if step.startswith(("SEARCH u ", "SCAN u"))]
    items = [step for step in plan if step.startswith(("SEARCH i ", "SCAN i"))]
    assert units == ["SEARCH u USING INDEX ix_sim_availability_units (itemNumber=? AND code=?) LEFT-JOIN"], (
        plan
    )
    assert "SEARCH i USING INDEX ix_sim_availability_items (number=?) LEFT-JOIN" in items, plan
