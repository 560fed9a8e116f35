"""Posting a sales shipment in the BC simulator (`POST /_sim/ship`): lines ship, stock leaves the
location, `fullyShipped` turns true when nothing is outstanding; the API cannot write those fields."""

from __future__ import annotations

from typing import Any

import httpx

from .fixtures import COMPANY, ITEM_1, LINE_1, ORDER_1

ROOT = f"companies({COMPANY})"
SHIP = "https://sim.test/_sim/ship"
NUMBER = "S-ORD101001"  # ORDER_1: one line (sequence 10000) of 2 PCS of 1896-S from MAIN


async def _main_stock(bci: httpx.AsyncClient) -> dict[str, Any]:
    response = await bci.get(f"{ROOT}/itemAvailabilities?$filter=itemNumber%20eq%20'1896-S'")
    rows: list[dict[str, Any]] = response.json()["value"]
    return next(r for r in rows if r["locationCode"] == "MAIN")


async def test_the_api_cannot_ship_an_order(bc: httpx.AsyncClient) -> None:
    order = await bc.patch(
        f"{ROOT}/salesOrders({ORDER_1})", json={"fullyShipped": True}, headers={"If-Match": "*"}
    )
    assert order.status_code == 200 and not order.json()["fullyShipped"]  # read-only, as in BC
    line = await bc.patch(
        f"{ROOT}/salesOrders({ORDER_1})/salesOrderLines({LINE_1})",
        json={"shippedQuantity": 2},
        headers={"If-Match": "*"},
    )
    assert line.status_code == 200 and line.json()["shippedQuantity"] == 0


async def test_a_partial_then_a_final_shipment(bc: httpx.AsyncClient, bci: httpx.AsyncClient) -> None:
    before = (await bc.get(f"{ROOT}/salesOrders({ORDER_1})")).json()
    stock = await _main_stock(bci)
    assert (stock["inventory"], stock["qtyOnSalesOrders"], stock["availableQuantity"]) == (7, 2, 5)

    first = await bc.post(SHIP, json={"orderNumber": NUMBER, "lines": {"10000": 1}})
    assert first.json() == {"orderNumber": NUMBER, "shipped": {"10000": 1.0}, "fullyShipped": False}
    order = (await bc.get(f"{ROOT}/salesOrders({ORDER_1})")).json()
    assert order["fullyShipped"] is False
    assert order["lastModifiedDateTime"] > before["lastModifiedDateTime"]  # delta reads see it
    assert order["@odata.etag"] != before["@odata.etag"]
    line = (await bc.get(f"{ROOT}/salesOrders({ORDER_1})/salesOrderLines({LINE_1})")).json()
    assert line["shippedQuantity"] == 1
    stock = await _main_stock(bci)  # one left the shelf and the open quantity: available unchanged
    assert (stock["inventory"], stock["qtyOnSalesOrders"], stock["availableQuantity"]) == (6, 1, 5)
    assert (await bc.get(f"{ROOT}/items({ITEM_1})")).json()["inventory"] == 7 + 3 - 1  # MAIN + EAST - 1

    final = await bc.post(SHIP, json={"orderId": ORDER_1})  # whatever is outstanding
    assert final.json() == {"orderNumber": NUMBER, "shipped": {"10000": 1.0}, "fullyShipped": True}
    assert (await bc.get(f"{ROOT}/salesOrders({ORDER_1})")).json()["fullyShipped"] is True
    assert (await _main_stock(bci))["inventory"] == 5


async def test_bad_shipments_are_refused_and_change_nothing(bc: httpx.AsyncClient) -> None:
    for body in (
        {"orderNumber": "S-ORD999"},
        {"orderNumber": NUMBER, "lines": {"10000": 3}},
        {"orderNumber": NUMBER, "lines": {"10000": -1}},
        {"orderNumber": NUMBER, "lines": {"20000": 1}},
        {"orderNumber": NUMBER, "lines": {"x": 1}},
        {"lines": {"10000": 1}},
        {"orderNumber": NUMBER, "orderId": ORDER_1},
        {"orderId": "30000000-0000-4000-8000-00000000dead"},
        ["S-ORD101001"],
    ):
        response = await bc.post(SHIP, json=body)
        assert response.status_code == 400 and response.json()["error"], body
    assert (await bc.post(SHIP, content=b"{")).status_code == 400
    line = (await bc.get(f"{ROOT}/salesOrders({ORDER_1})/salesOrderLines({LINE_1})")).json()
    assert line["shippedQuantity"] == 0
