"""Business Central writes: POST 201, PATCH/DELETE with If-Match (428 without, 412 stale, * allowed),
server-maintained lastModifiedDateTime, and availability following sales order lines."""

from __future__ import annotations

import httpx

from .fixtures import COMPANY, CUST_1, ITEM_1, ITEM_2, LOC_EAST, LOC_MAIN, ORDER_1

ROOT = f"companies({COMPANY})"


async def test_post_patch_delete_customer_with_etags(bc: httpx.AsyncClient) -> None:
    created = await bc.post(
        f"{ROOT}/customers", json={"number": "C90000", "displayName": "Fabrikam", "id": "x"}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["@odata.context"].endswith("/customers/$entity")
    assert body["lastModifiedDateTime"].endswith("Z")
    assert created.headers["Location"].endswith(f"{ROOT}/customers({body['id']})")
    url = f"{ROOT}/customers({body['id']})"

    no_match = await bc.patch(url, json={"city": "Oslo"})
    assert no_match.status_code == 428
    patched = await bc.patch(url, json={"city": "Oslo"}, headers={"If-Match": body["@odata.etag"]})
    assert patched.status_code == 200
    assert patched.json()["city"] == "Oslo"
    assert patched.json()["@odata.etag"] != body["@odata.etag"]
    assert patched.json()["lastModifiedDateTime"] > body["lastModifiedDateTime"]

    stale = await bc.patch(url, json={"city": "Bergen"}, headers={"If-Match": body["@odata.etag"]})
    assert stale.status_code == 412
    assert stale.json()["error"]["code"] == "Request_EntityChanged"
    star = await bc.patch(url, json={"city": "Bergen"}, headers={"If-Match": "*"})
    assert star.status_code == 200

    assert (await bc.delete(url)).status_code == 428
    assert (await bc.delete(url, headers={"If-Match": patched.json()["@odata.etag"]})).status_code == 412
    assert (await bc.delete(url, headers={"If-Match": star.json()["@odata.etag"]})).status_code == 204
    assert (await bc.get(url)).status_code == 404


async def test_write_validation(bc: httpx.AsyncClient) -> None:
    unknown = await bc.post(f"{ROOT}/customers", json={"number": "C1", "colour": "red"})
    assert unknown.status_code == 400
    assert "colour" in unknown.json()["error"]["message"]
    wrong_type = await bc.post(f"{ROOT}/customers", json={"number": "C1", "creditLimit": "lots"})
    assert wrong_type.status_code == 400
    not_json = await bc.post(f"{ROOT}/customers", content=b"{", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 400
    read_only = await bc.post("companies", json={"name": "X"})
    assert read_only.status_code == 405
    # Server-maintained fields are ignored on write.
    stamped = await bc.patch(
        f"{ROOT}/customers({CUST_1})",
        json={"lastModifiedDateTime": "2000-01-01T00:00:00Z"},
        headers={"If-Match": "*"},
    )
    assert stamped.json()["lastModifiedDateTime"] > "2026"


async def test_pricing_sets_accept_writes(bci: httpx.AsyncClient) -> None:
    line = await bci.post(
        f"{ROOT}/priceListLines",
        json={
            "priceListCode": "S00001",
            "lineNo": 20000,
            "assetType": "Item",
            "assetNo": "1900-S",
            "unitPrice": 180.5,
            "minimumQuantity": 10,
            "amountType": "Price",
            "startingDate": "0001-01-01",
        },
    )
    assert line.status_code == 201, line.text
    assert line.json()["startingDate"] == "0001-01-01"
    listed = await bci.get(f"{ROOT}/priceListLines?$filter=assetNo%20eq%20'1900-S'")
    assert [r["unitPrice"] for r in listed.json()["value"]] == [180.5]
    changed = await bci.patch(
        f"{ROOT}/priceListLines({line.json()['id']})", json={"unitPrice": 170}, headers={"If-Match": "*"}
    )
    assert changed.json()["unitPrice"] == 170


async def _availability(bci: httpx.AsyncClient, query: str) -> dict[tuple[str, str], dict[str, float]]:
    response = await bci.get(f"{ROOT}/itemAvailabilities?{query}")
    assert response.status_code == 200, response.text
    return {(r["itemNumber"], r["locationCode"]): r for r in response.json()["value"]}


async def test_availability_filters_and_formulas(bci: httpx.AsyncClient) -> None:
    rows = await _availability(bci, "$filter=itemNumber%20eq%20'1896-S'")
    assert set(rows) == {("1896-S", "MAIN"), ("1896-S", "EAST")}
    main = rows[("1896-S", "MAIN")]
    assert (main["inventory"], main["qtyOnSalesOrders"], main["qtyOnPurchaseOrders"]) == (7, 2, 3)
    assert main["availableQuantity"] == 5
    assert main["projectedAvailableQuantity"] == 8
    assert main["unitOfMeasureCode"] == "PCS"
    assert main["asOfDateTime"].endswith("Z")
    assert "@odata.etag" not in main
    both = await _availability(
        bci, "$filter=itemNumber%20in%20('1896-S','1900-S')%20and%20locationCode%20eq%20'MAIN'"
    )
    assert set(both) == {("1896-S", "MAIN"), ("1900-S", "MAIN")}
    assert (await bci.post(f"{ROOT}/itemAvailabilities", json={})).status_code == 405


async def test_sales_order_line_changes_qty_on_sales_orders(
    bc: httpx.AsyncClient, bci: httpx.AsyncClient
) -> None:
    lines = f"{ROOT}/salesOrders({ORDER_1})/salesOrderLines"
    added = await bc.post(
        lines,
        json={
            "sequence": 20000,
            "lineType": "Item",
            "itemId": ITEM_1,
            "lineObjectNumber": "1896-S",
            "quantity": 3,
            "unitOfMeasureCode": "BOX",
            "unitPrice": 4000,
            "locationId": LOC_EAST,
        },
    )
    assert added.status_code == 201, added.text
    assert added.json()["documentId"] == ORDER_1
    assert added.json()["amountExcludingTax"] == 12000
    rows = await _availability(bci, "$filter=itemNumber%20eq%20'1896-S'")
    # 3 boxes of 4 pieces at EAST.
    assert rows[("1896-S", "EAST")]["qtyOnSalesOrders"] == 12
    assert rows[("1896-S", "EAST")]["availableQuantity"] == -9
    assert rows[("1896-S", "MAIN")]["qtyOnSalesOrders"] == 2
    order = (await bc.get(f"{ROOT}/salesOrders({ORDER_1})")).json()
    assert order["totalAmountExcludingTax"] == 2001.6 + 12000

    second = await bc.post(
        f"{ROOT}/salesOrders",
        json={
            "number": "S-ORD2",
            "customerId": CUST_1,
            "salesOrderLines": [
                {
                    "sequence": 10000,
                    "lineType": "Item",
                    "itemId": ITEM_2,
                    "quantity": 2,
                    "locationId": LOC_MAIN,
                },
            ],
        },
    )
    assert second.status_code == 201, second.text
    rows = await _availability(bci, "$filter=itemNumber%20eq%20'1900-S'")
    assert rows[("1900-S", "MAIN")]["qtyOnSalesOrders"] == 3

    deleted = await bc.delete(f"{ROOT}/salesOrders({second.json()['id']})", headers={"If-Match": "*"})
    assert deleted.status_code == 204
    rows = await _availability(bci, "$filter=itemNumber%20eq%20'1900-S'")
    assert rows[("1900-S", "MAIN")]["qtyOnSalesOrders"] == 1


async def test_delta_read_by_last_modified(bc: httpx.AsyncClient) -> None:
    before = (await bc.get(f"{ROOT}/customers?$orderby=lastModifiedDateTime%20desc&$top=1")).json()["value"][
        0
    ]
    await bc.patch(f"{ROOT}/customers({CUST_1})", json={"city": "Basel"}, headers={"If-Match": "*"})
    mark = before["lastModifiedDateTime"]
    changed = await bc.get(
        f"{ROOT}/customers?$filter=lastModifiedDateTime%20gt%20{mark}&$orderby=lastModifiedDateTime"
    )
    assert [r["id"] for r in changed.json()["value"]] == [CUST_1]


async def test_number_series_and_unique_numbers(bc: httpx.AsyncClient) -> None:
    first = await bc.post(f"{ROOT}/customers", json={"displayName": "No number given"})
    assert first.json()["number"] == "C30010"  # fixtures end at C30000; the series steps by 10
    second = await bc.post(f"{ROOT}/customers", json={"displayName": "Another"})
    assert second.json()["number"] == "C30020"
    order = await bc.post(f"{ROOT}/salesOrders", json={"customerId": CUST_1})
    assert order.json()["number"] == "S-ORD101002"
    duplicate = await bc.post(f"{ROOT}/customers", json={"number": "C10000", "displayName": "Twin"})
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["code"] == "Internal_EntityWithSameKeyExists"
    clash = await bc.patch(
        f"{ROOT}/customers({first.json()['id']})", json={"number": "C10000"}, headers={"If-Match": "*"}
    )
    assert clash.status_code == 409


async def test_sim_stock_moves_inventory(bc: httpx.AsyncClient, bci: httpx.AsyncClient) -> None:
    response = await bc.post(
        "https://sim.test/_sim/stock",
        json=[
            {"itemNumber": "1896-S", "locationCode": "EAST", "inventory": 20, "qtyOnPurchaseOrders": 4},
            {"itemNumber": "1896-S", "locationCode": "WEST", "inventory": 1},
        ],
    )
    assert response.json() == {"updated": 2}
    rows = await _availability(bci, "$filter=itemNumber%20eq%20'1896-S'")
    assert rows[("1896-S", "EAST")]["projectedAvailableQuantity"] == 24
    assert rows[("1896-S", "WEST")]["inventory"] == 1
    item = (await bc.get(f"{ROOT}/items({ITEM_1})")).json()
    assert item["inventory"] == 7 + 20 + 1
    bad = await bc.post("https://sim.test/_sim/stock", json={"itemNumber": "nope", "inventory": 1})
    assert bad.status_code == 400
    assert (
        await bc.post("https://sim.test/_sim/stock", json={"itemNumber": "1896-S", "qtyOnSalesOrders": 1})
    ).status_code == 400


async def test_writes_sort_after_seeded_stamps_even_with_an_early_clock() -> None:
    from gateway.simulators import create_erp_simulator

    from .conftest import BC_API, BC_SCOPE, authed_client, options

    app = create_erp_simulator(options(clock=lambda: 1_700_000_000.0))  # 2023, before the fixtures' stamps
    async with await authed_client(app, BC_SCOPE, BC_API) as client:
        latest = max(
            row["lastModifiedDateTime"] for row in (await client.get(f"{ROOT}/customers")).json()["value"]
        )
        patched = await client.patch(
            f"{ROOT}/customers({CUST_1})", json={"city": "Ulm"}, headers={"If-Match": "*"}
        )
        assert patched.json()["lastModifiedDateTime"] > latest


async def test_sales_order_validation_fills_fields_like_bc(bc: httpx.AsyncClient) -> None:
    order = await bc.post(
        f"{ROOT}/salesOrders",
        json={
            "customerNumber": "C20000",
            "externalDocumentNumber": "ORD-1",
            "salesOrderLines": [
                {"lineObjectNumber": "1900-S", "quantity": 1},
                {"itemId": ITEM_1, "quantity": 2, "unitPrice": 900},
            ],
        },
    )
    assert order.status_code == 201, order.text
    body = order.json()
    assert (body["customerId"], body["customerName"], body["status"]) == (
        "c0000000-0000-4000-8000-000000000002",
        "Adatum Corporation",
        "Draft",
    )
    assert body["orderDate"] is not None
    lines = (await bc.get(f"{ROOT}/salesOrders({body['id']})/salesOrderLines?$orderby=sequence")).json()[
        "value"
    ]
    assert [
        (
            line["sequence"],
            line["itemId"],
            line["lineObjectNumber"],
            line["unitPrice"],
            line["unitOfMeasureCode"],
        )
        for line in lines
    ] == [(10000, ITEM_2, "1900-S", 192.8, "PCS"), (20000, ITEM_1, "1896-S", 900, "PCS")]
    assert lines[0]["description"] == "PARIS Guest Chair"
    missing = await bc.post(f"{ROOT}/salesOrders", json={"customerNumber": "NOPE"})
    assert missing.status_code == 400
    assert "does not exist" in missing.json()["error"]["message"]
    bad_line = await bc.post(
        f"{ROOT}/salesOrders({body['id']})/salesOrderLines", json={"lineObjectNumber": "NOPE"}
    )
    assert bad_line.status_code == 400
