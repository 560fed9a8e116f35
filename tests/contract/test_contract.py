"""One OData contract, three servers: paging, filters with awkward literals, $select, $orderby,
$count, key lookup and error mapping behave the same through our client on each of them."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest

from gateway.errors import UpstreamBadRequest, UpstreamNotFound
from gateway.upstream.odata import Query, entity_path, odata_literal, parse_datetime
from tests.contract.cases import ServerCase

# One process runs every test of this group (pytest-xdist): they share one server per session.
pytestmark = pytest.mark.xdist_group("contract")

AWKWARD = [
    "O'Brien & Sons",
    "''",
    "a b  c",
    "Zoë Müller-Łukasz",
    "日本語 株式会社",
    "A+B=C?D#E%20",
    "100% / 50%",
    'He said "hi"; then left',
    "semi;colon,comma(paren)",
]


async def all_rows(case: ServerCase, query: Query | None = None) -> tuple[list[dict[str, Any]], int]:
    rows: list[dict[str, Any]] = []
    pages = 0
    async for page in case.client.pages(case.collection, query=query):
        rows.extend(page)
        pages += 1
    return rows, pages


async def create(case: ServerCase, text: str) -> dict[str, Any]:
    response = await case.client.request(
        "POST", case.collection, json_body=case.new_row(text), headers={"Prefer": "return=representation"}
    )
    assert response.status in (200, 201)
    assert isinstance(response.body, dict)
    return response.body


async def test_paging_returns_every_row_exactly_once(server: ServerCase) -> None:
    rows, pages = await all_rows(server)
    ids = [row[server.key] for row in rows]
    assert len(ids) == len(set(ids))
    first = await server.client.get(server.collection, query=Query(count=True, top=1))
    assert first["@odata.count"] == len(rows)
    page_size = server.server_page_size or server.client.limits.page_size
    assert pages == -(-len(rows) // page_size)  # every page full but the last
    assert pages >= 3


async def test_count_with_filter(server: ServerCase) -> None:
    rows, _ = await all_rows(server)
    some = rows[len(rows) // 2][server.text]
    expected = sum(1 for row in rows if row[server.text] == some)
    body = await server.client.get(
        server.collection, query=Query(filter=f"{server.text} eq {odata_literal(some)}", count=True)
    )
    assert body["@odata.count"] == expected
    assert len(body["value"]) == min(expected, server.server_page_size or expected)


@pytest.mark.parametrize("awkward", AWKWARD)
async def test_filter_on_awkward_string_literal(server: ServerCase, awkward: str) -> None:
    text = f"{awkward} {uuid.uuid4().hex[:8]}"
    created = await create(server, text)
    rows, _ = await all_rows(server, Query(filter=f"{server.text} eq {odata_literal(text)}"))
    assert [(row[server.key], row[server.text]) for row in rows] == [(created[server.key], text)]


async def test_filter_and_key_lookup_by_guid(server: ServerCase) -> None:
    rows, _ = await all_rows(server, Query(top=3))
    target = rows[-1]
    guid = uuid.UUID(str(target[server.key]))
    found, _ = await all_rows(server, Query(filter=f"{server.key} eq {odata_literal(guid)}"))
    assert [row[server.key] for row in found] == [target[server.key]]
    single = await server.client.get(entity_path(server.collection, str(guid)))
    assert single[server.key] == target[server.key]
    assert single[server.text] == target[server.text]


async def test_filter_on_datetime(server: ServerCase) -> None:
    rows, _ = await all_rows(server)
    stamps = sorted(parse_datetime(row[server.timestamp]) for row in rows)
    assert None not in stamps
    pivot = stamps[len(stamps) // 2]
    assert pivot is not None
    found, _ = await all_rows(server, Query(filter=f"{server.timestamp} gt {odata_literal(pivot)}"))
    assert len(found) == sum(1 for stamp in stamps if stamp is not None and stamp > pivot)
    assert all((parse_datetime(row[server.timestamp]) or pivot) > pivot for row in found)


async def test_filter_on_date(server: ServerCase) -> None:
    if server.date is None:
        pytest.skip(f"{server.name}: no Edm.Date property to filter on")
    collection, prop = server.date
    rows: list[dict[str, Any]] = []
    async for page in server.client.pages(collection):
        rows.extend(page)
    dates = sorted(date.fromisoformat(row[prop]) for row in rows if row.get(prop))
    assert len(set(dates)) >= 3
    pivot = dates[len(dates) // 2]
    found: list[dict[str, Any]] = []
    async for page in server.client.pages(
        collection, query=Query(filter=f"{prop} lt {odata_literal(pivot)}")
    ):
        found.extend(page)
    assert 0 < len(found) == sum(1 for d in dates if d < pivot)
    assert all(date.fromisoformat(row[prop]) < pivot for row in found)


async def test_select_limits_properties(server: ServerCase) -> None:
    rows, _ = await all_rows(server, Query(select=[server.key, server.text], top=5))
    assert len(rows) == 5
    for row in rows:
        assert {name for name in row if not name.startswith("@")} == {server.key, server.text}


async def test_orderby_and_top(server: ServerCase) -> None:
    rows, _ = await all_rows(server, Query(orderby=[f"{server.timestamp} desc", server.key]))
    stamps = [parse_datetime(row[server.timestamp]) for row in rows]
    assert stamps == sorted(stamps, reverse=True)  # type: ignore[type-var]
    top, _ = await all_rows(server, Query(orderby=[f"{server.timestamp} desc", server.key], top=3))
    assert [row[server.key] for row in top] == [row[server.key] for row in rows[:3]]


async def test_missing_key_is_not_found(server: ServerCase) -> None:
    with pytest.raises(UpstreamNotFound) as caught:
        await server.client.get(entity_path(server.collection, str(uuid.uuid4())))
    assert caught.value.status == 404
    assert caught.value.service == server.client.service


@pytest.mark.parametrize("bad_filter", ["{text} eq", "nosuchproperty eq 1", "{text} eq 'unterminated"])
async def test_bad_filter_is_bad_request(server: ServerCase, bad_filter: str) -> None:
    with pytest.raises(UpstreamBadRequest) as caught:
        await server.client.get(server.collection, query=Query(filter=bad_filter.format(text=server.text)))
    assert caught.value.status == 400
