"""REST availability over HTTP against the in-process ERP simulator: shape, units, locations,
cache hits cost no upstream call, bad input is a 400 problem, an ERP outage past the stale age 503."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from gateway.domain import Role
from gateway.simulators import SimulatorOptions
from gateway.simulators.demo_data import generate
from tests.gateway_harness import Harness, running_gateway

OPTIONS = SimulatorOptions(customers=20, items=20)
DATA = generate(seed=OPTIONS.seed, customers=OPTIONS.customers, items=OPTIONS.items)
FIELDS = {
    "itemNumber",
    "locationCode",
    "unitOfMeasureCode",
    "inventory",
    "qtyOnSalesOrders",
    "qtyOnPurchaseOrders",
    "availableQuantity",
    "projectedAvailableQuantity",
    "asOf",
    "ageSeconds",
    "stale",
}


def _boxed_item() -> tuple[str, float]:
    for unit in DATA.erp["itemUnitsOfMeasure"]:
        if unit["code"] == "BOX":
            return unit["itemNumber"], float(unit["qtyPerUnitOfMeasure"])
    raise AssertionError("the demo data has an item sold by the BOX")


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_gateway(f"sqlite+aiosqlite:///{tmp_path}/gw.db", options=OPTIONS) as harness:
        yield harness


async def _sim_requests(sim: object, entity_set: str) -> int:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim), base_url="http://sim") as client:  # type: ignore[arg-type]
        stats = (await client.get("/_sim/stats")).json()
    return sum(v for k, v in _flatten(stats).items() if entity_set in k)


def _flatten(value: object, prefix: str = "") -> dict[str, int]:
    out: dict[str, int] = {}
    if isinstance(value, dict):
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}/{k}"))
    elif isinstance(value, int):
        out[prefix] = value
    return out


@pytest.mark.parametrize("role", list(Role))
async def test_availability_for_every_role(gw: Harness, role: Role) -> None:
    item, _ = _boxed_item()
    response = await gw.client.get("/api/v1/availability", params={"items": item}, headers=gw.auth(role))
    assert response.status_code == 200, response.text
    lines = response.json()["items"]
    assert lines and {line["itemNumber"] for line in lines} == {item}
    assert set(lines[0]) == FIELDS
    assert isinstance(lines[0]["inventory"], int | float)
    for line in lines:
        assert line["availableQuantity"] == line["inventory"] - line["qtyOnSalesOrders"]


async def test_unit_and_location_filters(gw: Harness) -> None:
    item, per_box = _boxed_item()
    base = (
        await gw.client.get("/api/v1/availability", params={"items": item}, headers=gw.auth(Role.SALES))
    ).json()
    location = base["items"][0]["locationCode"]
    boxed = await gw.client.get(
        "/api/v1/availability",
        params={"items": item, "locations": location, "unit": "BOX"},
        headers=gw.auth(Role.SALES),
    )
    assert boxed.status_code == 200, boxed.text
    [line] = boxed.json()["items"]
    assert line["unitOfMeasureCode"] == "BOX" and line["locationCode"] == location
    assert line["inventory"] == pytest.approx(base["items"][0]["inventory"] / per_box, abs=1e-5)


async def test_a_second_request_is_served_from_the_cache(gw: Harness) -> None:
    items = ",".join(i["number"] for i in DATA.erp["items"][:5])
    first = await gw.client.get("/api/v1/availability", params={"items": items}, headers=gw.auth(Role.APP))
    assert first.status_code == 200
    calls = await _sim_requests(gw.erp_sim, "itemAvailabilities")
    second = await gw.client.get("/api/v1/availability", params={"items": items}, headers=gw.auth(Role.APP))
    assert second.status_code == 200
    assert await _sim_requests(gw.erp_sim, "itemAvailabilities") == calls
    assert all(line["stale"] is False for line in second.json()["items"])


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "items"),
        ({"items": " , "}, "items"),
        ({"items": "X", "colour": "red"}, "colour"),
        ({"items": ",".join(f"I{i}" for i in range(501))}, "items"),
        ({"items": _boxed_item()[0], "unit": "NOPE"}, "unit"),
    ],
)
async def test_bad_input_is_a_400_problem(gw: Harness, params: dict[str, str], field: str) -> None:
    response = await gw.client.get("/api/v1/availability", params=params, headers=gw.auth(Role.APP))
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["field"] == field


async def test_items_given_twice_is_a_400_not_the_last_list_alone(gw: Harness) -> None:
    first, second = DATA.erp["items"][0]["number"], DATA.erp["items"][1]["number"]
    response = await gw.client.get(
        f"/api/v1/availability?items={first}&items={second}", headers=gw.auth(Role.APP)
    )
    assert response.status_code == 400, response.text
    assert response.json()["field"] == "items"
    assert response.json()["detail"] == "items may be given once (several values: one comma-separated list)"


async def test_unknown_items_have_no_lines(gw: Harness) -> None:
    response = await gw.client.get(
        "/api/v1/availability", params={"items": "NO-SUCH-ITEM"}, headers=gw.auth(Role.APP)
    )
    assert response.status_code == 200 and response.json() == {"items": []}


async def test_erp_down_without_a_cached_value_is_503(gw: Harness) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gw.erp_sim), base_url="http://sim") as sim:
        await sim.post("/_sim/faults", json={"rate": 1.0, "seed": 1, "kinds": ["503"]})
    item = DATA.erp["items"][1]["number"]
    response = await gw.client.get("/api/v1/availability", params={"items": item}, headers=gw.auth(Role.APP))
    assert response.status_code == 503, response.text
    assert item in response.json()["detail"]
    # The ERP's error is quoted once, not followed by a second "service=erp" of the outer error.
    assert response.json()["detail"].count("service=erp") == 1, response.json()["detail"]


async def test_a_stalled_erp_answers_a_cold_read_503_after_one_attempt(tmp_path: Path) -> None:
    # The production retry policy (6 retries, 30 s per attempt) inside a 0.3 s fetch deadline.
    async with running_gateway(
        f"sqlite+aiosqlite:///{tmp_path}/gw.db",
        options=OPTIONS,
        upstream_max_retries=6,
        upstream_timeout_seconds=30.0,
        availability_deadline_seconds=0.3,
    ) as gw:
        items = [DATA.erp["items"][2]["number"], DATA.erp["items"][3]["number"]]
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=gw.erp_sim), base_url="http://sim"
        ) as sim:
            stall = {"rate": 1.0, "seed": 1, "kinds": ["timeout"], "timeoutSeconds": 120}
            assert (await sim.post("/_sim/faults", json=stall)).status_code == 200
            response = await gw.client.get(
                "/api/v1/availability", params={"items": ",".join(items)}, headers=gw.auth(Role.APP)
            )
            injected = (await sim.get("/_sim/faults")).json()["injected"]
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert all(item in response.json()["detail"] for item in items)
    assert injected == {"timeout": 1}  # the company's resolution or the read itself, not retried
