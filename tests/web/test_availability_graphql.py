"""Live availability over GraphQL against a whole gateway: `availability(items, locations, unit)`
answers as REST does, `Item.availability` for a list of items costs one upstream call per chunk
(counted on the ERP simulator), an ERP outage is a clear error (not masked), bad input an error."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from gateway.domain import Role
from gateway.simulators import SimulatorOptions
from gateway.simulators.demo_data import generate
from tests.gateway_harness import Harness, running_gateway

OPTIONS = SimulatorOptions(customers=20, items=40)
DATA = generate(seed=OPTIONS.seed, customers=OPTIONS.customers, items=OPTIONS.items)
FIELDS = (
    "itemNumber locationCode unitOfMeasureCode inventory qtyOnSalesOrders qtyOnPurchaseOrders "
    "availableQuantity projectedAvailableQuantity asOf ageSeconds stale"
)
AVAILABILITY = f"""query($items: [String!]!, $locations: [String!], $unit: String) {{
  availability(items: $items, locations: $locations, unit: $unit) {{ {FIELDS} }}
}}"""
ITEMS = f"""query($first: Int!, $locations: [String!], $unit: String) {{
  items(first: $first) {{ nodes {{ number erpId
    availability(locations: $locations, unit: $unit) {{ {FIELDS} }} }} }}
}}"""
NUMBERS = {
    "inventory",
    "qtyOnSalesOrders",
    "qtyOnPurchaseOrders",
    "availableQuantity",
    "projectedAvailableQuantity",
}
CHUNK = 15

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def gw(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    path = tmp_path_factory.mktemp("availability-graphql") / "gw.db"
    async with running_gateway(
        f"sqlite+aiosqlite:///{path}", options=OPTIONS, seed_read_model=True, availability_chunk_size=CHUNK
    ) as harness:
        yield harness


async def _query(gw: Harness, query: str, role: Role = Role.APP, **variables: Any) -> Any:
    response = await gw.client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=gw.auth(role)
    )
    assert response.status_code == 200, response.text
    return response.json()


async def _data(gw: Harness, query: str, role: Role = Role.APP, **variables: Any) -> Any:
    body = await _query(gw, query, role, **variables)
    assert "errors" not in body, body["errors"]
    return body["data"]


async def _erp_calls(gw: Harness, entity_set: str = "itemAvailabilities") -> int:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gw.erp_sim), base_url="http://sim") as sim:
        stats = (await sim.get("/_sim/stats")).json()
    return int(stats["byEntitySet"].get(entity_set, 0))


def _comparable(line: dict[str, Any]) -> dict[str, Any]:
    """The figures, as Decimals (GraphQL strings, REST numbers); freshness fields left out."""
    return {
        k: Decimal(str(v)) if k in NUMBERS else v
        for k, v in line.items()
        if k not in ("asOf", "ageSeconds", "stale")
    }


def _boxed_item() -> str:
    return str(next(u["itemNumber"] for u in DATA.erp["itemUnitsOfMeasure"] if u["code"] == "BOX"))


@pytest.mark.parametrize(("locations", "unit"), [(None, None), (["EAST", "WEST"], None), (None, "BOX")])
async def test_availability_answers_as_rest_does(
    gw: Harness, locations: list[str] | None, unit: str | None
) -> None:
    items = [DATA.erp["items"][0]["number"], _boxed_item(), "NO-SUCH-ITEM"]
    if unit:
        items = [_boxed_item()]
    lines = (await _data(gw, AVAILABILITY, items=items, locations=locations, unit=unit))["availability"]
    params = {"items": ",".join(items)} | ({"locations": ",".join(locations)} if locations else {})
    params |= {"unit": unit} if unit else {}
    rest = await gw.client.get("/api/v1/availability", params=params, headers=gw.auth(Role.APP))
    assert rest.status_code == 200, rest.text
    assert lines, "the demo data has stock for these items"
    assert [_comparable(x) for x in lines] == [_comparable(x) for x in rest.json()["items"]]
    assert all(isinstance(x["ageSeconds"], float) and x["stale"] is False for x in lines)
    if locations:
        assert {x["locationCode"] for x in lines} <= set(locations)
    if unit:
        assert {x["unitOfMeasureCode"] for x in lines} == {unit}


async def test_item_availability_for_a_list_costs_one_call_per_chunk(gw: Harness) -> None:
    locations = ["MAIN", "SOUTH"]  # a filter no other test asks for: a cold cache
    before = await _erp_calls(gw)
    nodes = (await _data(gw, ITEMS, first=100, locations=locations))["items"]["nodes"]
    erp_items = [n for n in nodes if n["erpId"]]
    assert len(erp_items) == 40 and len(nodes) > 40  # Sales-only products have no ERP stock: []
    assert all(n["availability"] == [] for n in nodes if not n["erpId"])
    calls = await _erp_calls(gw) - before
    assert calls == -(-40 // CHUNK)  # 3, not 40: all items of the request in one service call
    for node in nodes:
        assert all(line["itemNumber"] == node["number"] for line in node["availability"])
        assert {line["locationCode"] for line in node["availability"]} <= set(locations)
    # the same for each item asked alone
    first = erp_items[0]
    alone = (await _data(gw, AVAILABILITY, items=[first["number"]], locations=locations))["availability"]
    assert [_comparable(x) for x in alone] == [_comparable(x) for x in first["availability"]]
    # fresh in the cache now: asking again costs nothing upstream
    before = await _erp_calls(gw)
    await _data(gw, ITEMS, first=100, locations=locations)
    assert await _erp_calls(gw) == before


async def test_item_availability_in_a_unit(gw: Harness) -> None:
    boxed = _boxed_item()
    query = """query($n: String!) {
      item(number: $n) { availability(unit: "BOX") { locationCode unitOfMeasureCode availableQuantity } } }"""
    lines = (await _data(gw, query, n=boxed))["item"]["availability"]
    rest = await gw.client.get(
        "/api/v1/availability", params={"items": boxed, "unit": "BOX"}, headers=gw.auth(Role.APP)
    )
    assert lines and {x["unitOfMeasureCode"] for x in lines} == {"BOX"}
    expected = [(x["locationCode"], Decimal(str(x["availableQuantity"]))) for x in rest.json()["items"]]
    assert [(x["locationCode"], Decimal(x["availableQuantity"])) for x in lines] == expected


@pytest.mark.parametrize(
    "variables",
    [
        {"items": []},
        {"items": [" "]},
        {"items": [f"I{i}" for i in range(501)]},
        {"items": ["A"], "locations": ["X" * 51]},
    ],
)
async def test_bad_arguments_are_errors_with_their_message(gw: Harness, variables: dict[str, Any]) -> None:
    body = await _query(gw, AVAILABILITY, **variables)
    assert body["data"] is None
    (error,) = body["errors"]
    assert "Internal error" not in error["message"]
    assert error["message"].split(":")[0] in ("items", "locations")


async def test_erp_down_without_a_cached_value_is_an_unavailable_error(tmp_path: Path) -> None:
    async with running_gateway(f"sqlite+aiosqlite:///{tmp_path}/gw.db", options=OPTIONS) as fresh:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=fresh.erp_sim), base_url="http://sim"
        ) as sim:
            await sim.post("/_sim/faults", json={"rate": 1.0, "seed": 1, "kinds": ["503"]})
        item = DATA.erp["items"][1]["number"]
        body = await _query(fresh, AVAILABILITY, items=[item])
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "UNAVAILABLE"
    assert item in error["message"]
