"""The admin endpoints over HTTP against a whole gateway and the in-process simulators: the admin
role only, a full sync watched through its review lines, then jobs, errors, couplings and match,
and bad input answered with a 400 problem naming the field."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway.domain import Role
from tests.gateway_harness import Harness, running_gateway

A = "/api/v1/admin"
FEW = ["SALESPEOPLE", "CURRENCY", "PRICE LIST", "CUSTOMER"]

EVERY_OPERATION: list[tuple[str, str, Any]] = [
    ("GET", "/mappings", None),
    ("GET", "/mappings/CUSTOMER", None),
    ("PATCH", "/mappings/CUSTOMER", {"enabled": True}),
    ("POST", "/mappings/reset", None),
    ("POST", "/sync/full", {}),
    ("GET", "/sync/full", None),
    ("POST", "/mappings/CURRENCY/run", {}),
    ("GET", "/jobs", None),
    ("GET", "/jobs/x", None),
    ("GET", "/errors", None),
    ("POST", "/errors/1/ignore", None),
    ("POST", "/errors/actions", {"ids": [1], "action": "ignore"}),
    ("GET", "/couplings", None),
    ("POST", "/couplings", {"mapping": "CURRENCY", "erpKey": "EUR", "crmKey": "EUR"}),
    ("DELETE", "/couplings/1", None),
    ("POST", "/couplings/match", {"mapping": "CURRENCY"}),
]


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_gateway(f"sqlite+aiosqlite:///{tmp_path}/gw.db") as harness:
        yield harness


async def _call(gw: Harness, method: str, path: str, body: Any = None, role: Role | None = Role.ADMIN) -> Any:
    headers = gw.auth(role) if role is not None else {}
    return await gw.client.request(method, f"{A}{path}", json=body, headers=headers)


async def _full_sync(gw: Harness, mappings: list[str]) -> dict[str, Any]:
    started = await _call(gw, "POST", "/sync/full", {"mappings": mappings})
    assert started.status_code == 202, started.text
    assert started.json()["running"] is True
    again = await _call(gw, "POST", "/sync/full", {})
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert "(gateway sync status) shows its progress" in again.json()["detail"]  # where to watch it
    # An unknown mapping is a 400 naming it whether or not a full sync runs.
    unknown = await _call(gw, "POST", "/sync/full", {"mappings": ["NOPE"]})
    assert unknown.status_code == 400, unknown.text
    assert unknown.json()["field"] == "mappings" and "NOPE" in unknown.json()["detail"]
    async with asyncio.timeout(120):
        while True:
            review = (await _call(gw, "GET", "/sync/full")).json()
            if not review["running"]:
                return review
            await asyncio.sleep(0.05)


async def test_only_admin_keys_pass(gw: Harness) -> None:
    for method, path, body in EVERY_OPERATION:
        for role in (Role.SALES, Role.APP):
            response = await _call(gw, method, path, body, role=role)
            assert response.status_code == 403, (method, path, role)
            assert response.headers["content-type"] == "application/problem+json"
        assert (await _call(gw, method, path, body, role=None)).status_code == 401, (method, path)
    assert (await _call(gw, "GET", "/mappings")).status_code == 200


async def test_full_sync_review_then_jobs_errors_couplings_and_match(gw: Harness) -> None:
    before = (await _call(gw, "GET", "/sync/full")).json()
    assert {line["mapping"] for line in before["lines"]} >= set(FEW)
    assert all(job["status"] == "blank" for line in before["lines"] for job in line["jobs"].values())

    review = await _full_sync(gw, FEW)
    lines = {line["mapping"]: line for line in review["lines"]}
    assert [lines[m]["selected"] for m in FEW] == [True] * 4
    customer = lines["CUSTOMER"]
    assert customer["dependencies"] == ["SALESPEOPLE", "CURRENCY", "PRICE LIST"]
    assert customer["recommendation"] == "couple records"
    to_crm = customer["jobs"]["erp_to_crm"]
    assert to_crm["status"] == "error" and to_crm["done"] == to_crm["total"] > 0 and to_crm["jobId"]
    assert lines["CURRENCY"]["jobs"]["erp_to_crm"]["status"] == "success"
    assert lines["ITEM-PRODUCT"]["jobs"]["erp_to_crm"]["status"] == "blank"

    jobs = (await _call(gw, "GET", "/jobs?mapping=CUSTOMER&type=full")).json()["items"]
    assert to_crm["jobId"] in {j["id"] for j in jobs}
    assert {j["mapping"] for j in jobs} == {"CUSTOMER"}
    assert (await _call(gw, "GET", "/jobs?status=success&first=1")).json()["items"][0]["status"] == "success"
    assert (await _call(gw, "GET", "/jobs?status=abandoned")).json()["items"] == []  # no worker died
    job = (await _call(gw, "GET", f"/jobs/{to_crm['jobId']}")).json()
    assert job["errors"] and all(e["jobId"] == job["id"] for e in job["errors"])
    assert (await _call(gw, "GET", "/jobs/no-such-job")).status_code == 404

    # Errors: filters and a keyset walk one at a time finds the same rows as one page.
    errors = (await _call(gw, "GET", "/errors?mapping=CUSTOMER")).json()
    assert errors["items"] and not errors["pageInfo"]["hasNextPage"]
    walked, after = [], None
    while True:
        page = (
            await _call(gw, "GET", "/errors?mapping=CUSTOMER&first=1" + (f"&after={after}" if after else ""))
        ).json()
        walked += [e["id"] for e in page["items"]]
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
    assert walked == [e["id"] for e in errors["items"]]
    by_job = (await _call(gw, "GET", f"/errors?job={to_crm['jobId']}")).json()["items"]
    assert by_job and {e["jobId"] for e in by_job} == {to_crm["jobId"]}
    ambiguous = next(e for e in errors["items"] if "records match" in e["reason"])
    by_record = (await _call(gw, "GET", f"/errors?record={ambiguous['erpId']}")).json()["items"]
    assert ambiguous["id"] in {e["id"] for e in by_record}

    # Couplings: a cursor walk covers every coupling of the mapping once.
    currency = (await _call(gw, "GET", "/couplings?mapping=CURRENCY&first=1000")).json()["items"]
    assert currency and {c["state"] for c in currency} == {"coupled"}
    seen, after = [], None
    while True:
        page = (
            await _call(
                gw, "GET", "/couplings?mapping=CURRENCY&first=2" + (f"&after={after}" if after else "")
            )
        ).json()
        seen += [c["id"] for c in page["items"]]
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
    assert seen == [c["id"] for c in currency]
    one = currency[0]
    assert [
        c["id"]
        for c in (await _call(gw, "GET", f"/couplings?number={one['erpKey']}&mapping=CURRENCY")).json()[
            "items"
        ]
    ] == [one["id"]]
    assert [
        c["id"] for c in (await _call(gw, "GET", f"/couplings?record={one['crmId']}")).json()["items"]
    ] == [one["id"]]

    # Match dry run: the ambiguous customer and its candidates, nothing written.
    dry = await _call(
        gw,
        "POST",
        "/couplings/match",
        {"mapping": "CUSTOMER", "fields": [{"erpField": "displayName", "crmField": "name"}]},
    )
    assert dry.status_code == 200 and dry.json()["dryRun"] is True
    report = dry.json()
    assert any(a["id"] == ambiguous["erpId"] and len(a["candidates"]) >= 2 for a in report["ambiguous"])
    assert set(report["noMatch"]) == {"erp", "crm"}
    # A field neither the mapping nor the side's records have is a 400 naming it, on either side.
    for fields, where, name in (
        ([{"erpField": "nosuch", "crmField": "name"}], "fields.0.erpField", "nosuch"),
        (
            [{"erpField": "displayName", "crmField": "name"}, {"erpField": "number", "crmField": "nosuch"}],
            "fields.1.crmField",
            "nosuch",
        ),
        ([{"erpField": "number+nosuch", "crmField": "accountnumber"}], "fields.0.erpField", "number+nosuch"),
    ):
        unknown = await _call(gw, "POST", "/couplings/match", {"mapping": "CUSTOMER", "fields": fields})
        assert unknown.status_code == 400, unknown.text
        assert unknown.headers["content-type"] == "application/problem+json"
        assert unknown.json()["field"] == where and repr(name) in unknown.json()["detail"]
    count = len((await _call(gw, "GET", "/couplings?mapping=CUSTOMER&first=1000")).json()["items"])
    again = (await _call(gw, "POST", "/couplings/match", {"mapping": "CUSTOMER", "dryRun": True})).json()
    assert len((await _call(gw, "GET", "/couplings?mapping=CUSTOMER&first=1000")).json()["items"]) == count
    assert again["mapping"] == "CUSTOMER"

    # The admin settles the ambiguity by coupling one candidate by hand; twice is a conflict.
    candidate = next(a for a in report["ambiguous"] if a["id"] == ambiguous["erpId"])["candidates"][0]["id"]
    made = await _call(
        gw, "POST", "/couplings", {"mapping": "CUSTOMER", "erpKey": ambiguous["erpKey"], "crmId": candidate}
    )
    assert made.status_code == 201, made.text
    assert made.json()["crmId"] == candidate and made.json()["run"]["status"] in ("success", "error")
    duplicate = await _call(
        gw,
        "POST",
        "/couplings",
        {"mapping": "CUSTOMER", "erpKey": ambiguous["erpKey"], "crmId": candidate, "synchronize": False},
    )
    assert duplicate.status_code == 409
    assert (await _call(gw, "DELETE", f"/couplings/{made.json()['id']}")).status_code == 204
    assert (await _call(gw, "DELETE", f"/couplings/{made.json()['id']}")).status_code == 404

    # An action the error does not offer is refused, naming the offered ones, and not applied:
    # a retry of an ambiguous match would only recreate it.
    assert ambiguous["actions"] == ["ignore"]

    async def status_of_ambiguous() -> str:
        rows = (await _call(gw, "GET", f"/errors?record={ambiguous['erpId']}&status=all")).json()["items"]
        return str(next(e["status"] for e in rows if e["id"] == ambiguous["id"]))

    before_refusal = await status_of_ambiguous()
    refused = await _call(gw, "POST", f"/errors/{ambiguous['id']}/retry")
    assert refused.status_code == 400, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["field"] == "action" and "ignore" in refused.json()["detail"]
    in_bulk = (
        await _call(gw, "POST", "/errors/actions", {"ids": [ambiguous["id"]], "action": "retry"})
    ).json()["results"]
    assert len(in_bulk) == 1 and "ignore" in in_bulk[0]["problem"] and "status" not in in_bulk[0]
    assert await status_of_ambiguous() == before_refusal

    # Error actions: one by path, several at once (an unknown id is reported, not fatal).
    owner = [
        e
        for e in (await _call(gw, "GET", "/errors?mapping=CUSTOMER")).json()["items"]
        if e["field"] == "owner"
    ]
    assert owner
    # A retry that fails again resolves the retried error and opens a new one: the answer names it.
    retried = (await _call(gw, "POST", f"/errors/{owner[0]['id']}/retry")).json()
    assert retried["status"] == "resolved" and "error" in {r["status"] for r in retried["run"]}
    assert [e["reason"] for e in retried["openErrors"]] == [owner[0]["reason"]], retried
    owner[0] = {**owner[0], "id": retried["openErrors"][0]["id"]}
    ignored = await _call(gw, "POST", f"/errors/{owner[0]['id']}/ignore")
    assert ignored.status_code == 200 and ignored.json()["status"] == "ignored"
    assert ignored.json()["openErrors"] == []
    rest = [e["id"] for e in owner[1:]][:9]
    bulk = (await _call(gw, "POST", "/errors/actions", {"ids": [*rest, 999_999], "action": "ignore"})).json()[
        "results"
    ]
    assert [r.get("status") for r in bulk[:-1]] == ["ignored"] * len(rest)
    assert bulk[-1]["error"] == 999_999 and "problem" in bulk[-1]
    listed = (await _call(gw, "GET", "/errors?mapping=CUSTOMER&status=ignored")).json()["items"]
    assert {e["id"] for e in owner} <= {e["id"] for e in listed}

    # A run now, in one direction and in each.
    runs = (await _call(gw, "POST", "/mappings/CUSTOMER/run", {"direction": "crm_to_erp"})).json()["runs"]
    assert [r["direction"] for r in runs] == ["crm_to_erp"]
    runs = (await _call(gw, "POST", "/mappings/CUSTOMER/run")).json()["runs"]
    assert [r["direction"] for r in runs] == ["erp_to_crm", "crm_to_erp"]
    assert (await _call(gw, "POST", "/mappings/CURRENCY/run", {"direction": "crm_to_erp"})).status_code == 400


async def test_mappings_patch_and_reset(gw: Harness) -> None:
    listed = (await _call(gw, "GET", "/mappings")).json()["items"]
    assert [m["name"] for m in listed][:2] == ["SALESPEOPLE", "CURRENCY"] and len(listed) == 9
    patched = await _call(
        gw,
        "PATCH",
        "/mappings/CUSTOMER",
        {
            "conflictPolicy": "merge",
            "mergeFallback": "crm_wins",
            "deletionPolicy": "uncouple",
            "intervalSeconds": 5,
            "enabled": False,
        },
    )
    assert patched.status_code == 200, patched.text
    got = (await _call(gw, "GET", "/mappings/CUSTOMER")).json()
    assert (
        got["conflictPolicy"],
        got["mergeFallback"],
        got["deletionPolicy"],
        got["intervalSeconds"],
        got["enabled"],
    ) == (
        "merge",
        "crm_wins",
        "uncouple",
        5,
        False,
    )
    fields = got["fields"][:2]
    assert (await _call(gw, "PATCH", "/mappings/CUSTOMER", {"fields": fields})).json()["fields"] == fields
    reset = (await _call(gw, "POST", "/mappings/reset")).json()["items"]
    customer = next(m for m in reset if m["name"] == "CUSTOMER")
    assert customer["enabled"] is True and customer["intervalSeconds"] == 30 and len(customer["fields"]) > 2
    assert (await _call(gw, "GET", "/mappings/NOPE")).status_code == 404
    assert (await _call(gw, "PATCH", "/mappings/NOPE", {"enabled": True})).status_code == 404


BAD_INPUT: list[tuple[str, str, Any, str]] = [
    ("PATCH", "/mappings/CUSTOMER", {"colour": "red"}, "colour"),
    ("PATCH", "/mappings/CUSTOMER", {"conflictPolicy": "coin_toss"}, "conflictPolicy"),
    ("PATCH", "/mappings/CUSTOMER", {"direction": 3}, "direction"),
    ("PATCH", "/mappings/CUSTOMER", {"intervalSeconds": 0}, "intervalSeconds"),
    ("PATCH", "/mappings/CUSTOMER", {"mergeFallback": "merge"}, "mergeFallback"),
    ("PATCH", "/mappings/CUSTOMER", {"fields": "all"}, "fields"),
    (
        "PATCH",
        "/mappings/CUSTOMER",
        {"fields": [{"erpField": "a", "direction": "up"}]},
        "fields.0.direction",
    ),
    (
        "PATCH",
        "/mappings/CUSTOMER",
        {"fields": [{"erpField": "a", "transforms": ["shout"]}]},
        "fields.0.transforms.0",
    ),
    (
        "PATCH",
        "/mappings/CUSTOMER",
        {"fields": [{"erpField": "a", "crmField": "b", "lookup": {"mapping": "NOPE"}}]},
        "fields",
    ),
    ("PATCH", "/mappings/CUSTOMER", {"fields": [{"label": "neither side"}]}, "fields"),
    ("PATCH", "/mappings/CUSTOMER", [1, 2], "body"),
    ("PATCH", "/mappings/CUSTOMER", None, "body"),
    ("POST", "/sync/full", {"mappings": ["NOPE"]}, "mappings"),
    ("POST", "/sync/full", {"mappings": "CUSTOMER"}, "mappings"),
    ("POST", "/mappings/CUSTOMER/run", {"direction": "sideways"}, "direction"),
    ("POST", "/errors/actions", {"ids": [], "action": "ignore"}, "ids"),
    ("POST", "/errors/actions", {"ids": [1], "action": "dance"}, "action"),
    ("POST", "/errors/actions", {"ids": [1]}, "action"),
    ("POST", "/errors/1/dance", None, "action"),
    ("POST", "/errors/0/ignore", None, "id"),
    ("DELETE", "/couplings/0", None, "id"),
    ("POST", "/errors/actions", {"ids": [1, 1], "action": "ignore"}, "ids"),
    ("POST", "/errors/actions", {"ids": list(range(1, 12)), "action": "ignore"}, "ids"),
    ("POST", "/couplings", {"erpId": "x"}, "mapping"),
    (
        "POST",
        "/couplings",
        {"mapping": "CURRENCY", "erpId": "x", "erpKey": "y", "crmKey": "EUR"},
        "erpId",
    ),
    ("POST", "/couplings/match", {"mapping": "CUSTOMER", "dryRun": "yes"}, "dryRun"),
    (
        "POST",
        "/couplings/match",
        {"mapping": "CUSTOMER", "fields": [{"erpField": "a"}]},
        "fields.0.crmField",
    ),
    ("GET", "/jobs?status=sleeping", None, "status"),
    ("GET", "/jobs?first=0", None, "first"),
    ("GET", "/jobs?colour=red", None, "colour"),
    ("GET", "/errors?after=abc", None, "after"),
    ("GET", "/couplings?state=happy", None, "state"),
    ("GET", "/couplings?first=x", None, "first"),
    # A mapping name no row can carry (names are upper case) is a typo, not an empty list.
    ("GET", "/jobs?mapping=customer", None, "mapping"),
    ("GET", "/errors?mapping=customer", None, "mapping"),
    ("GET", "/couplings?mapping=customer", None, "mapping"),
]


async def test_bad_input_is_a_400_naming_the_field(gw: Harness) -> None:
    for method, path, body, field in BAD_INPUT:
        response = await _call(gw, method, path, body)
        assert response.status_code == 400, (method, path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["field"] == field, (method, path, response.json())


async def test_deeply_nested_bodies_are_a_400(gw: Harness) -> None:
    # Nested a little less deep than json.loads gives up at, the body was parsed and the 400's quote
    # of the value (or jsonschema) raised RecursionError: an unhandled 500. Where exactly depends on
    # the stack the request runs on, hence the range.
    for depth in (33, *range(700, 1_000), 5_000):
        body = '{"enabled": ' + "[" * depth + "]" * depth + "}"
        response = await gw.client.patch(
            f"{A}/mappings/CUSTOMER",
            content=body,
            headers={**gw.auth(Role.ADMIN), "Content-Type": "application/json"},
        )
        assert response.status_code == 400, (depth, response.text)
        assert response.json()["field"] == "body", (depth, response.json())
    # 32 levels (the object and 31 arrays) are read, then refused by the schema as usual.
    body = '{"enabled": ' + "[" * 31 + "]" * 31 + "}"
    response = await gw.client.patch(
        f"{A}/mappings/CUSTOMER",
        content=body,
        headers={**gw.auth(Role.ADMIN), "Content-Type": "application/json"},
    )
    assert response.status_code == 400 and response.json()["field"] == "enabled", response.text


async def test_a_field_with_one_side_needs_a_constant(gw: Harness) -> None:
    # {"erpField": "displayName"} alone used to be saved as "write null into displayName": the next
    # crm_to_erp run blanked the name of every customer it wrote in Business Central.
    before = (await _call(gw, "GET", "/mappings/CUSTOMER")).json()["fields"]
    cases = [
        ({"erpField": "displayName"}, "fields.0.crmField", "every run would blank displayName"),
        ({"crmField": "name", "direction": "erp_to_crm"}, "fields.0.erpField", "every run would blank name"),
        (
            {"erpField": "displayName", "direction": "erp_to_crm", "constant": "x"},
            "fields.0.direction",
            "must be crm_to_erp or bidirectional, not erp_to_crm",
        ),
    ]
    for field, where, words in cases:
        response = await _call(gw, "PATCH", "/mappings/CUSTOMER", {"fields": [field]})
        assert response.status_code == 400, response.text
        assert response.json()["field"] == where and words in response.json()["detail"], response.json()
    assert (await _call(gw, "GET", "/mappings/CUSTOMER")).json()["fields"] == before
    # The defaults' own one-sided fields carry a constant (customertypecode 3): they still pass.
    assert any(f["erpField"] is None and f["constant"] is not None for f in before)
    again = await _call(gw, "PATCH", "/mappings/CUSTOMER", {"fields": before})
    assert again.status_code == 200 and again.json()["fields"] == before


async def test_listings_by_mapping_name_the_mappings_when_the_name_is_unknown(gw: Harness) -> None:
    unknown = await _call(gw, "GET", "/errors?mapping=customer")
    assert unknown.json()["detail"] == (
        "unknown mapping 'customer'; the mappings are SALESPEOPLE, CURRENCY, UNIT GROUP, ITEM UOM, "
        "PRICE LIST, CUSTOMER, ITEM-PRODUCT, PRICE LIST LINE, SALES ORDER, and ERP PRICING"
    )
    names = "SALESPEOPLE, CURRENCY, UNIT GROUP, ITEM UOM, PRICE LIST, CUSTOMER, ITEM-PRODUCT, PRICE LIST LINE"
    for method, path, body in (
        ("GET", "/mappings/customer", None),
        ("PATCH", "/mappings/customer", {"enabled": True}),
        ("POST", "/mappings/customer/run", {}),
        ("POST", "/couplings", {"mapping": "customer", "erpKey": "C1", "crmKey": "C1"}),
    ):
        missing = await _call(gw, method, path, body)
        assert missing.status_code == 404, (method, path, missing.text)
        assert (
            missing.json()["detail"] == f"no mapping named 'customer'; the mappings are {names}, SALES ORDER"
        )
    # The names jobs carry besides the mappings': ERP PRICING and the ERP deletion checks.
    for name in ("CUSTOMER", "ERP PRICING", "ERP DELETIONS customers"):
        for path in ("/jobs", "/errors", "/couplings"):
            listed = await gw.client.get(f"{A}{path}", params={"mapping": name}, headers=gw.auth(Role.ADMIN))
            assert listed.status_code == 200, (name, path, listed.text)


async def test_a_bad_filter_says_what_a_filter_is(gw: Harness) -> None:
    # Not "'…' is not of type 'null'" (the nullable branch) nor "not is required" (one alternative).
    cases = [
        ({"erpFilter": "number eq C1"}, "erpFilter", 'erpFilter: "number eq C1" is not an object'),
        (
            {"crmFilter": {"name": {"a": 1}}},
            "crmFilter.name",
            'crmFilter.name: must be a value, a list of values (any of them) or {"not": value}',
        ),
    ]
    for body, field, detail in cases:
        response = await _call(gw, "PATCH", "/mappings/CUSTOMER", body)
        assert response.status_code == 400, response.text
        assert (response.json()["field"], response.json()["detail"]) == (field, detail)
    fine = await _call(gw, "PATCH", "/mappings/CUSTOMER", {"crmFilter": {"statecode": {"not": 1}}})
    assert fine.status_code == 200 and fine.json()["crmFilter"] == {"statecode": {"not": 1}}


async def test_bad_values_are_quoted_as_json_not_python(gw: Harness) -> None:
    # Not "enabled: None is not of type 'boolean'" nor "conflictPolicy: 'x' is not one of ['erp_wins', …]".
    cases = [
        ("PATCH", "/mappings/CUSTOMER", {"enabled": None}, "enabled: null is not true or false"),
        (
            "PATCH",
            "/mappings/CUSTOMER",
            {"intervalSeconds": "often"},
            'intervalSeconds: "often" is not an integer',
        ),
        (
            "PATCH",
            "/mappings/CUSTOMER",
            {"conflictPolicy": "coin_toss"},
            'conflictPolicy: "coin_toss" is not one of erp_wins, crm_wins, latest_wins, merge, manual',
        ),
        ("POST", "/errors/actions", {"ids": [], "action": "ignore"}, "ids: needs at least 1 item"),
        ("POST", "/errors/actions", {"ids": [1, 1], "action": "ignore"}, "ids: has the same item twice"),
        (
            "POST",
            "/errors/actions",
            {"ids": list(range(1, 12)), "action": "ignore"},
            "ids: takes at most 10 items, not 11",
        ),
        (
            "GET",
            "/errors?after=abc",
            None,
            'after: "abc" is not a cursor this API gave out (the endCursor of a page)',
        ),
    ]
    for method, path, body, detail in cases:
        response = await _call(gw, method, path, body)
        assert response.status_code == 400 and response.json()["detail"] == detail, response.text
    token = await gw.client.post(f"{A}/webhooks/bc", params={"validationToken": ""})
    assert token.json()["detail"] == "validationToken: must not be empty", token.text


async def test_a_coupling_names_each_record_once(gw: Harness) -> None:
    for body, detail in (
        (
            {"mapping": "CURRENCY", "crmKey": "EUR"},
            "give the ERP record's id (erpId) or its key (erpKey), one of them, not neither",
        ),
        (
            {"mapping": "CURRENCY", "erpId": "x", "erpKey": "EUR", "crmKey": "EUR"},
            "give the ERP record's id (erpId) or its key (erpKey), one of them, not both",
        ),
    ):
        response = await _call(gw, "POST", "/couplings", body)
        assert response.status_code == 400 and response.json()["detail"] == detail, response.text


async def test_a_body_that_is_not_json_is_a_400(gw: Harness) -> None:
    response = await gw.client.patch(
        f"{A}/mappings/CUSTOMER",
        content=b"{nope",
        headers={**gw.auth(Role.ADMIN), "content-type": "application/json"},
    )
    assert response.status_code == 400 and response.json()["field"] == "body"


async def test_routing_of_ids_and_methods(gw: Harness) -> None:
    assert (await _call(gw, "DELETE", "/couplings/abc")).status_code == 404
    assert (await _call(gw, "POST", "/errors/x/ignore")).status_code == 404
    not_allowed = await _call(gw, "DELETE", "/couplings/match")
    assert not_allowed.status_code == 405 and not_allowed.headers["allow"] == "POST"
    assert (await _call(gw, "PUT", "/mappings/CUSTOMER", {})).status_code == 405
    assert (await gw.client.head(f"{A}/sync/full", headers=gw.auth(Role.ADMIN))).status_code == 200
