"""Records created in the CRM that the ERP does not have yet (no number) over HTTP: they come after
the numbered ones in `number` and `-number` orderings (REST and GraphQL alike, cursors crossing the
boundary mid-page and from its last numbered record), and REST looks them up by `crm:<GUID>` (or any
record by `erp:<GUID>`), with ETags, 304, problem+json and the sales scope as for numbers."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from gateway.domain import Role, Side, UpstreamRecord
from gateway.simulators import SimulatorOptions
from gateway.store.engine import session_factory
from gateway.store.read_projection import project_records
from tests.gateway_harness import Harness, running_gateway
from tests.store.conftest import Databases

pytestmark = pytest.mark.asyncio(loop_scope="module")
LINK = re.compile(r'^<(?P<url>[^>]+)>; rel="next"$')
UNNUMBERED_PRODUCTS = [str(uuid.UUID(int=0xC0FFEE + k)) for k in range(3)]


async def _add_unnumbered_products(gw: Harness) -> None:
    """Three products typed in Sales without a product number, projected as the sync would."""
    records = [
        UpstreamRecord(
            "products",
            product_id,
            {
                "productid": product_id,
                "productnumber": None,
                "name": f"Sales-made product {k}" if k else "",  # the first one has no name either
                "producttypecode": 1,
                "statecode": 0,
                "price": 10.0 + k,
                "modifiedon": "2026-11-20T10:00:00Z",
            },
        )
        for k, product_id in enumerate(UNNUMBERED_PRODUCTS)
    ]
    async with session_factory(gw.app.state.engine)() as session:
        await project_records(session, side=Side.CRM, entity_set="products", records=records)
        await session.commit()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def gw(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    path = tmp_path_factory.mktemp("crm-only") / "gw.db"
    async with running_gateway(
        f"sqlite+aiosqlite:///{path}",
        options=SimulatorOptions(customers=40, items=20),
        seed_read_model=True,
        sales_scope="own",
    ) as harness:
        await _add_unnumbered_products(harness)
        yield harness


async def _get(gw: Harness, url: str, role: Role = Role.APP, **kwargs: Any) -> Any:
    headers = {**gw.auth(role), **kwargs.pop("headers", {})}
    return await gw.client.get(url, headers=headers, **kwargs)


async def _walk(gw: Harness, url: str) -> list[list[dict[str, Any]]]:
    """Every page of a REST list, following the Link headers."""
    pages: list[list[dict[str, Any]]] = []
    next_url: str | None = url
    while next_url:
        response = await _get(gw, next_url)
        assert response.status_code == 200, response.text
        pages.append(response.json()["items"])
        link = response.headers.get("link")
        match = LINK.match(link) if link else None
        next_url = match["url"] if match else None
    return pages


def _ids(records: list[dict[str, Any]]) -> list[tuple[str | None, str | None]]:
    return [(r["erpId"], r["crmId"]) for r in records]


def _assert_blanks_last(records: list[dict[str, Any]], field: str, *, descending: bool) -> None:
    values = [r[field] for r in records]
    numbered = [v for v in values if v]
    assert numbered and len(numbered) < len(values), "both kinds must be there"
    assert values == sorted(numbered, reverse=descending) + [""] * (len(values) - len(numbered))
    assert len(set(_ids(records))) == len(records)


async def _check_customer_ordering(gw: Harness) -> None:
    """Customers in both directions: page walks of 7, and pages cut exactly at the boundary."""
    everything = (await _get(gw, "/api/v1/customers?first=200")).json()["items"]
    for order in ("number", "-number"):
        pages = await _walk(gw, f"/api/v1/customers?first=7&orderBy={order}")
        walked = [r for page in pages for r in page]
        _assert_blanks_last(walked, "number", descending=order.startswith("-"))
        assert sorted(_ids(walked), key=str) == sorted(_ids(everything), key=str)
        numbered = sum(1 for r in walked if r["number"])
        # a page that ends on the last numbered record, and one that ends just before it
        for before in (numbered, numbered - 1):
            first = (await _get(gw, f"/api/v1/customers?first={before}&orderBy={order}")).json()
            cursor = first["pageInfo"]["endCursor"]
            following = await _get(
                gw, "/api/v1/customers", params={"first": 3, "after": cursor, "orderBy": order}
            )
            assert following.status_code == 200, following.text
            assert _ids(first["items"] + following.json()["items"]) == _ids(walked[: before + 3])


async def test_customers_without_a_number_come_last_over_rest(gw: Harness) -> None:
    await _check_customer_ordering(gw)


async def test_graphql_pages_the_same_order_as_rest(gw: Harness) -> None:
    query = """query($after: String, $order: CatalogOrder) {
      customers(first: 6, after: $after, orderBy: $order) {
        totalCount pageInfo { hasNextPage endCursor } nodes { number erpId crmId } } }"""
    for order, rest_order in (("NUMBER", "number"), ("NUMBER_DESC", "-number")):
        seen: list[dict[str, Any]] = []
        after = None
        while True:
            response = await gw.client.post(
                "/graphql",
                json={"query": query, "variables": {"after": after, "order": order}},
                headers=gw.auth(Role.APP),
            )
            connection = response.json()["data"]["customers"]
            seen.extend(connection["nodes"])
            if not connection["pageInfo"]["hasNextPage"]:
                break
            after = connection["pageInfo"]["endCursor"]
        assert len(seen) == connection["totalCount"]
        _assert_blanks_last(seen, "number", descending=order.endswith("DESC"))
        rest = [
            r for page in await _walk(gw, f"/api/v1/customers?first=50&orderBy={rest_order}") for r in page
        ]
        assert _ids(seen) == _ids(rest)


async def test_items_without_a_number_come_last(gw: Harness) -> None:
    for order in ("number", "-number"):
        walked = [r for page in await _walk(gw, f"/api/v1/items?first=4&orderBy={order}") for r in page]
        _assert_blanks_last(walked, "number", descending=order.startswith("-"))
        assert [r["crmId"] for r in walked if not r["number"]] == sorted(
            UNNUMBERED_PRODUCTS, reverse=order.startswith("-")
        )
    for order in ("name", "-name"):  # a blank name comes last too
        walked = [r for page in await _walk(gw, f"/api/v1/items?first=4&orderBy={order}") for r in page]
        _assert_blanks_last(walked, "name", descending=order.startswith("-"))
        assert walked[-1]["crmId"] == UNNUMBERED_PRODUCTS[0]


async def test_a_crm_only_customer_is_found_by_its_crm_id(gw: Harness) -> None:
    listed = (await _get(gw, "/api/v1/customers?first=200&couplingState=crm_only")).json()["items"]
    account = next(c for c in listed if not c["number"])
    response = await _get(gw, f"/api/v1/customers/crm:{account['crmId']}")
    assert response.status_code == 200, response.text
    assert response.json() == account
    etag = response.headers["etag"]
    again = await _get(gw, f"/api/v1/customers/crm:{account['crmId']}", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    # prefix in any case, the GUID in any of its spellings
    shouting = await _get(gw, f"/api/v1/customers/CRM:{{{account['crmId'].upper()}}}")
    assert shouting.status_code == 200 and shouting.json() == account


async def test_a_coupled_customer_is_the_same_by_number_erp_id_and_crm_id(gw: Harness) -> None:
    listed = (await _get(gw, "/api/v1/customers?first=200&couplingState=coupled")).json()["items"]
    customer = listed[0]
    by_number = await _get(gw, f"/api/v1/customers/{customer['number']}")
    by_erp = await _get(gw, f"/api/v1/customers/erp:{customer['erpId']}")
    by_crm = await _get(gw, f"/api/v1/customers/crm:{customer['crmId']}")
    assert by_number.json() == by_erp.json() == by_crm.json() == customer
    assert by_number.headers["etag"] == by_erp.headers["etag"] == by_crm.headers["etag"]


async def test_items_and_price_lists_by_either_id(gw: Harness) -> None:
    item = await _get(gw, f"/api/v1/items/crm:{UNNUMBERED_PRODUCTS[1]}")
    assert item.status_code == 200, item.text
    body = item.json()
    assert body["number"] == "" and body["couplingState"] == "crm_only" and body["units"] == []
    numbered = (await _get(gw, "/api/v1/items?first=1")).json()["items"][0]
    by_erp = await _get(gw, f"/api/v1/items/erp:{numbered['erpId']}")
    assert by_erp.json() == (await _get(gw, f"/api/v1/items/{numbered['number']}")).json()
    assert by_erp.json()["units"]
    price_list = (await _get(gw, "/api/v1/price-lists/S00001?first=2")).json()
    by_id = await _get(gw, f"/api/v1/price-lists/erp:{price_list['erpId']}?first=2")
    assert by_id.json() == price_list
    crm_levels = (await _get(gw, "/api/v1/price-lists?couplingState=crm_only")).json()["items"]
    assert crm_levels
    level = await _get(gw, f"/api/v1/price-lists/crm:{crm_levels[0]['crmId']}")
    assert level.status_code == 200 and level.json()["crmId"] == crm_levels[0]["crmId"]


@pytest.mark.parametrize(
    ("url", "status", "field"),
    [
        ("/api/v1/customers/crm:not-a-guid", 400, "number"),
        ("/api/v1/customers/erp:", 400, "number"),
        ("/api/v1/items/CRM:12345", 400, "number"),
        ("/api/v1/price-lists/erp:xyz", 400, "code"),
        (f"/api/v1/customers/crm:{uuid.UUID(int=1)}", 404, None),
        (f"/api/v1/items/erp:{uuid.UUID(int=2)}", 404, None),
        (f"/api/v1/price-lists/crm:{uuid.UUID(int=3)}", 404, None),
    ],
)
async def test_bad_and_unknown_ids_are_problems(
    gw: Harness, url: str, status: int, field: str | None
) -> None:
    response = await _get(gw, url)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["detail"]
    if field is not None:
        assert body["field"] == field and "GUID" in body["detail"]


async def test_the_sales_scope_applies_to_lookups_by_id(gw: Harness) -> None:
    everyone = (await _get(gw, "/api/v1/customers?first=200", role=Role.ADMIN)).json()["items"]
    mine = next(c for c in everyone if c["salespersonCode"] and c["crmId"])
    other = next(
        c for c in everyone if c["salespersonCode"] not in (mine["salespersonCode"], "") and c["crmId"]
    )
    issued = await gw.app.state.services.access.issue(
        role="sales", salesperson_code=mine["salespersonCode"], name="own-ids"
    )
    headers = {"Authorization": f"Bearer {issued.plaintext}"}
    url = "/api/v1/customers/crm:{}"
    assert (await gw.client.get(url.format(other["crmId"]), headers=headers)).status_code == 404
    assert (await gw.client.get(url.format(mine["crmId"]), headers=headers)).status_code == 200
    assert (await _get(gw, url.format(other["crmId"]), role=Role.ADMIN)).status_code == 200


@pytest.mark.postgres
async def test_customers_without_a_number_come_last_on_postgresql(
    postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    databases = Databases(tmp_path_factory.mktemp("crm-only-pg"))
    url = await databases.postgres(postgres_url, migrated=False)
    try:
        async with running_gateway(
            url, options=SimulatorOptions(customers=40, items=20), seed_read_model=True
        ) as pg:
            await _check_customer_ordering(pg)
            account = next(
                c
                for c in (await _get(pg, "/api/v1/customers?first=200&couplingState=crm_only")).json()[
                    "items"
                ]
                if not c["number"]
            )
            found = await _get(pg, f"/api/v1/customers/crm:{account['crmId']}")
            assert found.status_code == 200 and found.json() == account
    finally:
        await databases.drop_all()
