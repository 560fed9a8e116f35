"""The catalog over REST (`/api/v1/...`) against a whole gateway: camelCase JSON, cursor pages with
RFC 8288 `Link` headers, strong ETags with 304, problem+json for bad input (400) and unknown (404),
and the same sales scope as GraphQL."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from gateway.domain import Role
from gateway.simulators import SimulatorOptions
from tests.gateway_harness import Harness, running_gateway

pytestmark = pytest.mark.asyncio(loop_scope="module")
LINK = re.compile(r'^<(?P<url>[^>]+)>; rel="next"$')


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def gw(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    path = tmp_path_factory.mktemp("catalog-rest") / "gw.db"
    async with running_gateway(
        f"sqlite+aiosqlite:///{path}",
        options=SimulatorOptions(customers=40, items=20),
        seed_read_model=True,
        sales_scope="own",
    ) as harness:
        yield harness


async def _get(gw: Harness, url: str, role: Role = Role.APP, **kwargs: Any) -> Any:
    headers = {**gw.auth(role), **kwargs.pop("headers", {})}
    return await gw.client.get(url, headers=headers, **kwargs)


async def test_link_headers_walk_every_customer_once(gw: Harness) -> None:
    url: str | None = "/api/v1/customers?first=7&orderBy=-name"
    seen: list[dict[str, Any]] = []
    while url:
        response = await _get(gw, url)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        seen.extend(body["items"])
        link = response.headers.get("link")
        assert (link is not None) == body["pageInfo"]["hasNextPage"]
        if link is None:
            break
        match = LINK.match(link)
        assert match, link
        url = match["url"]
        assert "orderBy=-name" in url and "first=7" in url
    names = [c["name"] for c in seen]
    assert names == sorted(names, reverse=True)
    assert len({(c["erpId"], c["crmId"]) for c in seen}) == len(seen) > 40
    first = seen[0]
    assert set(first) >= {"erpId", "crmId", "couplingState", "lastSynchronizedAt", "number", "creditLimit"}
    assert isinstance(first["creditLimit"], int | float) and "crmOwnerId" not in first


async def test_filters_and_one_customer(gw: Harness) -> None:
    response = await _get(gw, "/api/v1/customers", params={"couplingState": "coupled,error", "first": 200})
    items = response.json()["items"]
    assert items and {c["couplingState"] for c in items} == {"coupled", "error"}
    number = items[0]["number"]
    one = await _get(gw, f"/api/v1/customers/{number}")
    assert one.status_code == 200 and one.json()["number"] == number
    assert one.json()["erpId"] == items[0]["erpId"]
    blocked = (await _get(gw, "/api/v1/customers", params={"blocked": "true", "first": 200})).json()["items"]
    assert blocked and all(c["blocked"] != " " for c in blocked)
    since = (await _get(gw, "/api/v1/customers", params={"changedSince": "2100-01-01T00:00:00Z"})).json()
    assert since["items"] == [] and since["pageInfo"] == {"hasNextPage": False, "endCursor": None}


async def test_etag_and_conditional_get(gw: Harness) -> None:
    response = await _get(gw, "/api/v1/items?first=5")
    etag = response.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    again = await _get(gw, "/api/v1/items?first=5", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    weak = await _get(gw, "/api/v1/items?first=5", headers={"If-None-Match": f'"other", W/{etag}'})
    assert weak.status_code == 304
    other = await _get(gw, "/api/v1/items?first=6", headers={"If-None-Match": etag})
    assert other.status_code == 200 and other.headers["etag"] != etag
    item = other.json()["items"][0]["number"]
    detail = await _get(gw, f"/api/v1/items/{item}")
    assert detail.status_code == 200 and detail.json()["units"]
    assert (
        await _get(gw, f"/api/v1/items/{item}", headers={"If-None-Match": detail.headers["etag"]})
    ).status_code == 304


async def test_price_list_with_paged_lines(gw: Harness) -> None:
    response = await _get(gw, "/api/v1/price-lists/S00001?first=2")
    body = response.json()
    assert body["code"] == "S00001" and len(body["lines"]["items"]) == 2
    assert isinstance(body["lines"]["items"][0]["unitPrice"], int | float)
    match = LINK.match(response.headers["link"])
    assert match
    following = await _get(gw, match["url"])
    assert following.json()["lines"]["items"][0]["lineNo"] > body["lines"]["items"][-1]["lineNo"]
    lists = (await _get(gw, "/api/v1/price-lists?search=export")).json()["items"]
    assert lists and all("export" in (p["code"] + p["description"]).lower() for p in lists)


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/customers?first=0", "first"),
        ("/api/v1/customers?first=201", "first"),
        ("/api/v1/customers?first=ten", "first"),
        ("/api/v1/customers?after=garbage", "after"),
        ("/api/v1/customers?blocked=maybe", "blocked"),
        ("/api/v1/customers?couplingState=married", "couplingState"),
        ("/api/v1/customers?changedSince=yesterday", "changedSince"),
        ("/api/v1/customers?changedSince=2026-01-01T00:00:00", "changedSince"),
        ("/api/v1/customers?orderBy=balance", "orderBy"),
        ("/api/v1/customers?colour=red", "colour"),
        ("/api/v1/items?salespersonCode=KW", "salespersonCode"),
        ("/api/v1/price-lists?blocked=true", "blocked"),
        ("/api/v1/price-lists/S00001?after=garbage", "after"),
        # A parameter given twice used to be answered for its last value only, with a 200.
        ("/api/v1/customers?first=1&first=3", "first"),
        ("/api/v1/items?couplingState=coupled&couplingState=erp_only", "couplingState"),
        ("/api/v1/price-lists/S00001?first=1&first=2", "first"),
    ],
)
async def test_bad_input_is_a_400_problem(gw: Harness, url: str, field: str) -> None:
    response = await _get(gw, url)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == 400 and body["field"] == field and body["detail"]


@pytest.mark.parametrize("url", ["/api/v1/customers/NOPE", "/api/v1/items/NOPE", "/api/v1/price-lists/NOPE"])
async def test_unknown_records_are_404_problems(gw: Harness, url: str) -> None:
    response = await _get(gw, url)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "NOPE" in response.json()["detail"]


async def test_the_sales_scope_applies_to_rest_too(gw: Harness) -> None:
    issued = await gw.app.state.services.access.issue(role="sales", salesperson_code="KW", name="kw-rest")
    headers = {"Authorization": f"Bearer {issued.plaintext}"}
    mine = (await gw.client.get("/api/v1/customers?first=200", headers=headers)).json()["items"]
    assert mine and all(c["salespersonCode"] == "KW" for c in mine)
    everyone = (await _get(gw, "/api/v1/customers?first=200", role=Role.ADMIN)).json()["items"]
    other = next(c for c in everyone if c["salespersonCode"] not in ("KW", "") and c["number"])
    assert (await gw.client.get(f"/api/v1/customers/{other['number']}", headers=headers)).status_code == 404
    assert (await gw.client.get("/api/v1/customers")).status_code == 401


@pytest.mark.parametrize("first", ["0", "-1", "201", "x"])
async def test_price_list_line_page_size_is_checked(gw: Harness, first: str) -> None:
    code = (await gw.client.get("/api/v1/price-lists", headers=gw.auth(Role.ADMIN))).json()["items"][0][
        "code"
    ]
    response = await gw.client.get(
        f"/api/v1/price-lists/{code}", params={"first": first}, headers=gw.auth(Role.ADMIN)
    )
    assert response.status_code == 400
    assert response.json()["field"] == "first"


async def test_a_cursor_of_one_list_is_refused_by_another(gw: Harness) -> None:
    # A customers cursor (its position a customer number) used to start the items page after that
    # number, a page of some other list, with a 200.
    page = (await _get(gw, "/api/v1/customers?first=2")).json()
    cursor = page["pageInfo"]["endCursor"]
    assert (await _get(gw, f"/api/v1/customers?first=2&after={cursor}")).status_code == 200
    for url, words in (
        ("/api/v1/items", "after is a cursor of customers, not of items; start again without it"),
        ("/api/v1/price-lists", "after is a cursor of customers, not of price lists; start again without it"),
    ):
        response = await _get(gw, f"{url}?first=2&after={cursor}")
        assert response.status_code == 400, response.text
        assert response.json()["field"] == "after" and response.json()["detail"] == words
