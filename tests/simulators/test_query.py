"""Query options on both simulators: $filter literals and functions, $select, $orderby, $top, $skip,
$count, /$count, $expand, and the error bodies for bad queries."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

from .fixtures import COMPANY, CUST_1, CUST_2, ITEM_1, ORDER_1

CUSTOMERS = f"companies({COMPANY})/customers"


def q(text: str) -> str:
    """Encode a query value the way a careful OData client does (%20, never '+')."""
    return quote(text, safe="$,'()/:")


async def numbers(client: httpx.AsyncClient, filter_text: str) -> list[str]:
    response = await client.get(f"{CUSTOMERS}?$filter={q(filter_text)}&$orderby=number")
    assert response.status_code == 200, response.text
    return [row["number"] for row in response.json()["value"]]


@pytest.mark.parametrize(
    ("filter_text", "expected"),
    [
        ("number eq 'C10000'", ["C10000"]),
        ("number ne 'C10000'", ["C20000", "C30000"]),
        ("balanceDue gt 100", ["C10000"]),
        ("balanceDue ge 99.99 and creditLimit lt 2000", ["C30000"]),
        ("creditLimit le 0 or city eq 'Zürich'", ["C10000", "C20000"]),
        ("not (city eq 'Atlanta')", ["C10000"]),
        ("number in ('C10000', 'C30000')", ["C10000", "C30000"]),
        ("number in ('C20000')", ["C20000"]),
        ("displayName in ('O''Brien & Sons') or balanceDue in (99.99)", ["C10000", "C30000"]),
        ("displayName eq 'x in (y)' or number in ('C10000')", ["C10000"]),
        ("contains(displayName, 'Sons')", ["C10000"]),
        ("contains(displayName, '100%')", ["C30000"]),
        ("startswith(displayName, 'Ad')", ["C20000"]),
        ("endswith(displayName, 'Research 100%')", ["C30000"]),
        ("displayName eq 'O''Brien & Sons'", ["C10000"]),
        ("city eq 'zürich'", ["C10000"]),
        ("number eq 'c10000'", ["C10000"]),  # BC/SQL Server compare case-insensitively
        (f"id eq {CUST_2}", ["C20000"]),
        (f"id eq {CUST_2.upper()}", ["C20000"]),
        ("taxLiable eq true", ["C10000", "C30000"]),
        ("blocked eq 'Ship'", ["C20000"]),
        ("lastModifiedDateTime gt 2026-02-01T00:00:00Z", ["C20000", "C30000"]),
        ("lastModifiedDateTime lt 2026-02-10T09:00:00+01:00", ["C10000"]),
        ("lastModifiedDateTime le 2026-02-10T07:00:00-01:00", ["C10000", "C20000"]),
    ],
)
async def test_bc_filter(bc: httpx.AsyncClient, filter_text: str, expected: list[str]) -> None:
    assert await numbers(bc, filter_text) == expected


async def test_date_literal_on_date_property(bc: httpx.AsyncClient) -> None:
    response = await bc.get(f"companies({COMPANY})/salesOrders?$filter={q('orderDate ge 2026-11-01')}")
    assert [o["id"] for o in response.json()["value"]] == [ORDER_1]
    response = await bc.get(f"companies({COMPANY})/salesOrders?$filter={q('orderDate gt 2026-11-01')}")
    assert response.json()["value"] == []


async def test_malformed_filter_is_400_with_odata_error(bc: httpx.AsyncClient, dv: httpx.AsyncClient) -> None:
    for client, url in ((bc, CUSTOMERS), (dv, "accounts")):
        for bad in ("number eq", "number eq 'unterminated", "(number eq 'x'", "number === 1"):
            response = await client.get(f"{url}?$filter={q(bad)}")
            assert response.status_code == 400, bad
            error = response.json()["error"]
            assert set(error) == {"code", "message"}
            assert error["message"]


async def test_plus_for_space_is_rejected_like_strict_servers(bc: httpx.AsyncClient) -> None:
    response = await bc.get(f"{CUSTOMERS}?$filter=number+eq+'C10000'")
    assert response.status_code == 400


async def test_unknown_property_is_400(bc: httpx.AsyncClient, dv: httpx.AsyncClient) -> None:
    for url in (
        f"{CUSTOMERS}?$filter={q('nope eq 1')}",
        f"{CUSTOMERS}?$select=number,nope",
        f"{CUSTOMERS}?$orderby=nope",
        f"{CUSTOMERS}?$filter={q('sim_company eq null')}",
    ):
        response = await bc.get(url)
        assert response.status_code == 400, url
        assert (
            "nope" in response.json()["error"]["message"]
            or "sim_company" in response.json()["error"]["message"]
        )
    response = await dv.get("accounts?$select=nope")
    assert response.status_code == 400


async def test_unknown_entity_set_is_404(bc: httpx.AsyncClient, dv: httpx.AsyncClient) -> None:
    response = await bc.get(f"companies({COMPANY})/vendorsX")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "BadRequest_NotFound"
    response = await dv.get("nothings")
    assert response.status_code == 404
    assert set(response.json()["error"]) == {"code", "message"}


async def test_select_orderby_top_skip_count(bc: httpx.AsyncClient) -> None:
    response = await bc.get(
        f"{CUSTOMERS}?$select=number,city&$orderby=city desc,number&$top=2&$skip=1&$count=true"
    )
    body = response.json()
    assert body["@odata.count"] == 3
    assert body["@odata.context"].endswith(f"$metadata#companies({COMPANY})/customers(number,city)")
    assert [(r["number"], r["city"]) for r in body["value"]] == [("C20000", "Atlanta"), ("C30000", "Atlanta")]
    assert set(body["value"][0]) == {"@odata.etag", "number", "city"}
    assert "@odata.nextLink" not in body


async def test_count_segment(bc: httpx.AsyncClient, dv: httpx.AsyncClient) -> None:
    response = await bc.get(f"{CUSTOMERS}/$count?$filter={q('city eq ' + chr(39) + 'Atlanta' + chr(39))}")
    assert response.status_code == 200
    assert response.text == "2"
    assert response.headers["content-type"].startswith("text/plain")
    assert (await dv.get("accounts/$count")).text == "2"


async def test_single_entity_and_missing_key(bc: httpx.AsyncClient) -> None:
    response = await bc.get(f"{CUSTOMERS}({CUST_1})?$select=number")
    body = response.json()
    assert body["number"] == "C10000"
    assert body["@odata.context"].endswith("customers(number)/$entity")
    assert response.headers["ETag"] == body["@odata.etag"]
    missing = await bc.get(f"{CUSTOMERS}(00000000-0000-4000-8000-00000000dead)")
    assert missing.status_code == 404
    bad_key = await bc.get(f"{CUSTOMERS}(not-a-guid)")
    assert bad_key.status_code == 400


async def test_expand_sales_order_lines(bc: httpx.AsyncClient) -> None:
    response = await bc.get(
        f"companies({COMPANY})/salesOrders?$expand=salesOrderLines($select=sequence,quantity)&$select=number"
    )
    order = response.json()["value"][0]
    assert order["number"] == "S-ORD101001"
    assert [(line["sequence"], line["quantity"]) for line in order["salesOrderLines"]] == [(10000, 2)]
    nested = await bc.get(f"companies({COMPANY})/salesOrders({ORDER_1})/salesOrderLines")
    assert nested.status_code == 200
    assert [line["itemId"] for line in nested.json()["value"]] == [ITEM_1]
    assert (await bc.get(f"companies({COMPANY})/salesOrders?$expand=nothing")).status_code == 400


async def test_dataverse_rejects_skip_and_always_returns_key(dv: httpx.AsyncClient) -> None:
    response = await dv.get("accounts?$skip=1")
    assert response.status_code == 400
    assert "$skip" in response.json()["error"]["message"]
    body = (await dv.get("accounts?$select=name&$orderby=name")).json()
    assert body["@odata.context"].endswith("$metadata#accounts(name)")
    assert [set(row) for row in body["value"]] == [{"@odata.etag", "accountid", "name"}] * 2
    assert body["value"][0]["@odata.etag"].startswith('W/"')


async def test_dataverse_filters_on_lookup_values_and_datetimes(dv: httpx.AsyncClient) -> None:
    from .fixtures import USER_1

    response = await dv.get(f"accounts?$filter={q(f'_ownerid_value eq {USER_1}')}&$select=accountnumber")
    assert [r["accountnumber"] for r in response.json()["value"]] == ["C10000"]
    response = await dv.get(
        f"accounts?$filter={q('modifiedon gt 2000-01-01T00:00:00Z and customertypecode eq 3')}"
    )
    assert len(response.json()["value"]) == 2
    stamp = response.json()["value"][0]["modifiedon"]
    assert stamp.endswith("Z") and "." not in stamp  # Dataverse writes whole seconds


async def test_unknown_query_option_is_400(bc: httpx.AsyncClient) -> None:
    assert (await bc.get(f"{CUSTOMERS}?$search=x")).status_code == 400
    assert (await bc.get(f"{CUSTOMERS}?$top=-1")).status_code == 400
    # Custom (non-$) parameters are ignored, as BC ignores e.g. ?tenant=...
    assert (await bc.get(f"{CUSTOMERS}?company=x")).status_code == 200


async def test_dataverse_expands_lookups_and_order_details(dv: httpx.AsyncClient) -> None:
    from .fixtures import ACCOUNT_1, USER_1

    account = (await dv.get(f"accounts({ACCOUNT_1})?$select=name&$expand=ownerid($select=fullname)")).json()
    assert account["ownerid"] == {
        "@odata.etag": account["ownerid"]["@odata.etag"],
        "systemuserid": USER_1,
        "fullname": "Alicia Thomber",
    }
    none = (await dv.get(f"accounts({ACCOUNT_1})?$expand=defaultpricelevelid")).json()
    assert none["defaultpricelevelid"] is None
    order = await dv.post(
        "salesorders",
        json={"name": "Deep", "order_details": [{"quantity": 2, "priceperunit": 5}]},
        headers={"Prefer": "return=representation"},
    )
    assert order.status_code == 201, order.text
    expanded = (await dv.get(f"salesorders({order.json()['salesorderid']})?$expand=order_details")).json()
    assert [d["quantity"] for d in expanded["order_details"]] == [2]
    assert (await dv.get("accounts?$expand=ownerid($top=1)")).status_code == 400
