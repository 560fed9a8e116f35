"""Paging and URL encoding against the simulators: nextLinks (absolute and relative), an empty last
page, the page-size preference, streaming one page at a time, and `%20` rather than `+` on the wire."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from gateway.errors import UpstreamProtocolError
from gateway.upstream.odata import Query, odata_literal
from tests.upstream.conftest import Forward, Upstream


async def collect(client: Any, target: str, query: Query | None = None) -> tuple[list[dict[str, Any]], int]:
    rows: list[dict[str, Any]] = []
    pages = 0
    async for page in client.pages(target, query=query):
        rows.extend(page)
        pages += 1
    return rows, pages


async def company_path(upstream: Upstream, client: Any) -> str:
    companies = await client.get("v2.0/companies")
    return f"v2.0/companies({companies['value'][0]['id']})/customers"


@pytest.mark.parametrize("kind", ["erp", "crm"])
async def test_absolute_next_links_are_followed_to_the_end(make_upstream, kind: str) -> None:  # type: ignore[no-untyped-def]
    upstream: Upstream = make_upstream(kind)
    client = upstream.client(page_size=7)
    target = await company_path(upstream, client) if kind == "erp" else "accounts"
    first = await client.get(target, query=Query(count=True, top=0))
    total = first["@odata.count"]
    upstream.transport.requests.clear()
    rows, pages = await collect(client, target)
    key = "id" if kind == "erp" else "accountid"
    assert len(rows) == total == len({row[key] for row in rows})
    assert pages == -(-total // 7)
    gets = upstream.transport.api("GET")
    assert len(gets) == pages
    assert all(r.headers["prefer"] == "odata.maxpagesize=7" for r in gets)
    assert all(r.url.host == httpx.URL(upstream.root).host for r in gets)


def _relativise(body: dict[str, Any], context_base: str) -> dict[str, Any]:
    link = body.get("@odata.nextLink")
    if isinstance(link, str) and link.startswith(context_base):
        body["@odata.nextLink"] = link[len(context_base) :]
    return body


async def test_relative_next_links_resolve_against_the_context_url(erp_sim: Upstream) -> None:
    client = erp_sim.client(page_size=9)
    target = await company_path(erp_sim, client)
    expected, _ = await collect(client, target)
    service_root = erp_sim.api_root + "v2.0/"
    relativised = 0

    async def relative_links(request: httpx.Request, forward: Forward) -> httpx.Response:
        nonlocal relativised
        response = await forward()
        body = response.json()
        if "@odata.nextLink" in body:
            relativised += 1
            # As OData allows: relative to the service root the @odata.context names.
            _relativise(body, service_root)
            assert not body["@odata.nextLink"].startswith("http")
        return httpx.Response(response.status_code, json=body)

    erp_sim.transport.hook = relative_links
    rows, pages = await collect(client, target)
    assert [r["id"] for r in rows] == [r["id"] for r in expected]
    assert relativised == pages - 1 > 2


async def test_an_empty_last_page_ends_paging(crm_sim: Upstream) -> None:
    client = crm_sim.client(page_size=10)
    total = (await client.get("accounts", query=Query(count=True, top=0)))["@odata.count"]
    crm_sim.transport.requests.clear()
    served_empty = 0

    async def empty_tail(request: httpx.Request, forward: Forward) -> httpx.Response:
        nonlocal served_empty
        if "skiptoken=THE-END" in str(request.url):
            served_empty += 1
            return httpx.Response(200, json={"value": [], "@odata.nextLink": str(request.url) + "x"})
        response = await forward()
        body = response.json()
        if "@odata.nextLink" not in body:
            # A full last page may still carry a nextLink that then returns an empty page.
            body["@odata.nextLink"] = crm_sim.api_root + "accounts?$skiptoken=THE-END"
        return httpx.Response(response.status_code, json=body)

    crm_sim.transport.hook = empty_tail
    rows, pages = await collect(client, "accounts")
    assert served_empty == 1
    assert len(rows) == len({r["accountid"] for r in rows}) == total
    assert len(crm_sim.transport.api("GET")) == pages + 1  # the empty page was asked for, not yielded


async def test_pages_stream_one_request_per_page_consumed(crm_sim: Upstream) -> None:
    client = crm_sim.client(page_size=5)
    seen = 0
    async for page in client.pages("accounts"):
        seen += len(page)
        break
    assert seen == 5
    assert len(crm_sim.transport.api("GET")) == 1


async def test_a_next_link_to_another_host_is_refused(erp_sim: Upstream) -> None:
    client = erp_sim.client(page_size=5)
    target = await company_path(erp_sim, client)

    async def foreign(request: httpx.Request, forward: Forward) -> httpx.Response:
        response = await forward()
        body = response.json()
        body["@odata.nextLink"] = "https://attacker.example/steal?$skiptoken=1"
        return httpx.Response(200, json=body)

    erp_sim.transport.hook = foreign
    with pytest.raises(UpstreamProtocolError):
        await collect(client, target)
    assert all(r.url.host == "erp.sim" for r in erp_sim.transport.requests)


async def test_a_repeated_next_link_is_a_protocol_error(crm_sim: Upstream) -> None:
    client = crm_sim.client(page_size=5)

    async def loop(request: httpx.Request, forward: Forward) -> httpx.Response:
        response = await forward()
        body = response.json()
        body["@odata.nextLink"] = crm_sim.api_root + "accounts?$skiptoken=SAME"
        return httpx.Response(200, json=body)

    crm_sim.transport.hook = loop
    with pytest.raises(UpstreamProtocolError):
        await collect(client, "accounts")
    assert len(crm_sim.transport.api("GET")) == 2  # the second SAME link is caught before it is sent


@pytest.mark.parametrize(
    "name", ["O'Brien & Sons", "Zoë + Łukasz #1", "100% sure?", "a  b", "日本語", "x=y;z,(w)/v"]
)
async def test_awkward_literals_are_encoded_and_found(crm_sim: Upstream, name: str) -> None:
    client = crm_sim.client()
    created = await client.request(
        "POST", "accounts", json_body={"name": name}, headers={"Prefer": "return=representation"}
    )
    crm_sim.transport.requests.clear()
    rows, _ = await collect(
        client, "accounts", Query(filter=f"name eq {odata_literal(name)}", select=["name"])
    )
    assert [(r["accountid"], r["name"]) for r in rows] == [(created.body["accountid"], name)]
    raw = crm_sim.transport.api("GET")[0].url.raw_path.decode("ascii")
    assert "+" not in raw.split("?", 1)[1]
    assert "$filter=name%20eq%20'" in raw
    assert json.dumps(name) not in raw  # nothing unencoded slipped through
