"""Dataverse sales order state: fulfilled only through the FulfillSalesOrder action, never by PATCHing
statecode; the action's change shows in change tracking and in the order's etag."""

from __future__ import annotations

import httpx

from .fixtures import ACCOUNT_1

TRACK = {"Prefer": "odata.track-changes"}


async def _submitted_order(dv: httpx.AsyncClient) -> str:
    created = await dv.post(
        "salesorders",
        json={
            "name": "Desk order",
            "ordernumber": "ORD-1",
            "customerid_account@odata.bind": f"/accounts({ACCOUNT_1})",
        },
    )
    assert created.status_code == 204, created.text
    order_id = created.headers["OData-EntityId"].rsplit("(", 1)[1].rstrip(")")
    assert (
        await dv.patch(f"salesorders({order_id})", json={"statecode": 1, "statuscode": 3})
    ).status_code == 204
    return order_id


def _fulfil(order_id: str, status: object = 100001) -> dict[str, object]:
    return {
        "OrderClose": {"subject": "Shipped", "salesorderid@odata.bind": f"/salesorders({order_id})"},
        "Status": status,
    }


async def test_an_order_is_fulfilled_by_the_action_not_by_an_update(dv: httpx.AsyncClient) -> None:
    order_id = await _submitted_order(dv)
    refused = await dv.patch(f"salesorders({order_id})", json={"statecode": 3, "statuscode": 100001})
    assert refused.status_code == 400 and "FulfillSalesOrder" in refused.json()["error"]["message"]
    assert (await dv.patch(f"salesorders({order_id})", json={"statecode": 4})).status_code == 400
    before = (await dv.get(f"salesorders({order_id})")).json()
    assert before["statecode"] == 1
    tracking = (await dv.get("salesorders?$select=statecode,statuscode", headers=TRACK)).json()

    done = await dv.post("FulfillSalesOrder", json=_fulfil(order_id))
    assert done.status_code == 204, done.text
    after = (await dv.get(f"salesorders({order_id})")).json()
    assert (after["statecode"], after["statuscode"]) == (3, 100001)
    assert after["@odata.etag"] != before["@odata.etag"] and after["modifiedon"] >= before["modifiedon"]
    changes = (await dv.get(tracking["@odata.deltaLink"])).json()["value"]
    assert [(c["salesorderid"], c["statecode"]) for c in changes] == [(order_id, 3)]

    again = await dv.post("FulfillSalesOrder", json=_fulfil(order_id))
    assert again.status_code == 400  # no longer open


async def test_bad_fulfil_requests(dv: httpx.AsyncClient) -> None:
    order_id = await _submitted_order(dv)
    assert (await dv.post("FulfillSalesOrder", json=_fulfil(order_id, status=3))).status_code == 400
    assert (await dv.post("FulfillSalesOrder", json=_fulfil(order_id, status=True))).status_code == 400
    assert (await dv.post("FulfillSalesOrder", json={"Status": 100001})).status_code == 400
    assert (await dv.post("FulfillSalesOrder", json=[1])).status_code == 400
    missing = await dv.post("FulfillSalesOrder", json=_fulfil("00000000-0000-4000-8000-0000000000ff"))
    assert missing.status_code == 404
    assert (await dv.get("FulfillSalesOrder")).status_code == 405
    assert (await dv.get(f"salesorders({order_id})")).json()["statecode"] == 1  # untouched
    assert "FulfillSalesOrder" in (await dv.get("$metadata")).text
