"""The same simulators driven by curl (a subprocess, no code of ours in the request path): what Mesh
cannot show — $metadata as XML, following @odata.nextLink, and %20-encoded filters with '' quoting."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any
from urllib.parse import quote

import pytest

from tests.mesh.conftest import TRICKY_NAME
from tests.mesh.csdl import parse_csdl
from tests.mesh.mesh_server import MeshStack
from tests.servers import in_ci

# One process runs every test of this group (pytest-xdist): they share one server per session.
pytestmark = pytest.mark.xdist_group("mesh")

PAGE = 7
ERP_SETS = {"companies", "customers", "items", "currencies", "salesOrders", "salesOrderLines"}
CRM_SETS = {
    "accounts",
    "systemusers",
    "transactioncurrencies",
    "products",
    "salesorders",
    "salesorderdetails",
}
TARGET = {"erp": ("customers", "id", "displayName"), "crm": ("accounts", "accountid", "name")}


@pytest.fixture(params=["erp", "crm"])
def stack(request: pytest.FixtureRequest) -> MeshStack:
    if shutil.which("curl") is None:
        if in_ci():
            pytest.fail("curl is not installed (CI=true: the curl OData checks must run)")
        pytest.skip("curl is not installed")
    result: MeshStack = request.getfixturevalue(f"{request.param}_stack")
    return result


def curl(stack: MeshStack, url: str, *headers: str) -> tuple[int, dict[str, str], str]:
    """GET url with the bearer token: status, headers (lower-case names), body; curl sends the URL as is."""
    argv = ["curl", "-sS", "--globoff", "-D", "-", "-H", f"Authorization: Bearer {stack.token}"]
    for header in headers:
        argv += ["-H", header]
    out = subprocess.run([*argv, url], capture_output=True, check=True, timeout=30).stdout.decode()
    head, _, body = out.partition("\r\n\r\n")
    status_line, *lines = head.split("\r\n")
    fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), fields, body


def curl_json(stack: MeshStack, url: str, *headers: str) -> dict[str, Any]:
    status, _, body = curl(stack, url, *headers)
    assert status == 200, body
    result: dict[str, Any] = json.loads(body)
    return result


def test_metadata_is_csdl_xml_listing_the_sets(stack: MeshStack) -> None:
    status, fields, body = curl(stack, f"{stack.simulator.service_root}$metadata")
    assert status == 200
    assert fields["content-type"].startswith("application/xml")
    csdl = parse_csdl(body)
    assert (ERP_SETS if stack.simulator.kind == "erp" else CRM_SETS) <= set(csdl.entity_sets)
    for entity_set in csdl.entity_sets:
        entity_type = csdl.set_type(entity_set)
        assert entity_type.key, entity_set
        assert all(key in entity_type.properties for key in entity_type.key), entity_set


def test_following_next_links_returns_every_row_once(stack: MeshStack) -> None:
    entity_set, key, _ = TARGET[stack.simulator.kind]
    total = int(curl(stack, f"{stack.odata_root}{entity_set}/$count")[2])
    assert total > 3 * PAGE
    url: str | None = f"{stack.odata_root}{entity_set}?$select={key}"
    seen: list[str] = []
    pages = 0
    while url:
        status, fields, body = curl(stack, url, f"Prefer: odata.maxpagesize={PAGE}")
        assert status == 200, body
        assert fields["preference-applied"] == f"odata.maxpagesize={PAGE}"
        page = json.loads(body)
        assert len(page["value"]) <= PAGE
        seen += [row[key] for row in page["value"]]
        url = page.get("@odata.nextLink")
        pages += 1
    assert len(seen) == len(set(seen)) == total
    assert pages >= -(-total // PAGE)


def test_filter_with_percent_20_spaces_and_doubled_quotes(stack: MeshStack) -> None:
    entity_set, key, text = TARGET[stack.simulator.kind]
    everything = curl_json(stack, f"{stack.odata_root}{entity_set}?$select={key},{text}")["value"]
    expected = [row[key] for row in everything if row[text] == TRICKY_NAME]
    assert len(expected) == 1
    odata_filter = f"{text} eq '{TRICKY_NAME.replace(chr(39), chr(39) * 2)}'"
    encoded = quote(odata_filter, safe="'()")  # spaces %20, & %26, ü %C3%BC; quotes stay literal
    assert "%20" in encoded and "%26" in encoded and "+" not in encoded
    found = curl_json(stack, f"{stack.odata_root}{entity_set}?$select={key},{text}&$filter={encoded}")[
        "value"
    ]
    assert [row[key] for row in found] == expected
    # '+' is not a space in an OData URL: the same filter with '+' is refused, not silently misread.
    status, _, _ = curl(stack, f"{stack.odata_root}{entity_set}?$filter={encoded.replace('%20', '+')}")
    assert status == 400


def test_key_access_lookup_expansion_and_navigation(stack: MeshStack) -> None:
    """What Mesh cannot address (keys in parentheses), by curl: a row by key, a Dataverse lookup
    expanded, and the to-many navigation (order lines) against a filter on the foreign key."""
    root = stack.odata_root
    if stack.simulator.kind == "crm":
        row = curl_json(
            stack,
            f"{root}accounts?$select=accountid,name,_ownerid_value&$filter=_ownerid_value%20ne%20null&$top=1",
        )["value"][0]
        by_key = curl_json(
            stack, f"{root}accounts({row['accountid']})?$select=name&$expand=ownerid($select=fullname)"
        )
        assert by_key["name"] == row["name"]
        owner = curl_json(stack, f"{root}systemusers({row['_ownerid_value']})?$select=fullname")
        assert by_key["ownerid"]["systemuserid"] == row["_ownerid_value"]
        assert by_key["ownerid"]["fullname"] == owner["fullname"]
        orders, nav, lines, fk = "salesorders", "order_details", "salesorderdetails", "_salesorderid_value"
        order_key, line_key = "salesorderid", "salesorderdetailid"
    else:
        row = curl_json(stack, f"{root}customers?$select=id,displayName&$top=1")["value"][0]
        assert (
            curl_json(stack, f"{root}customers({row['id']})?$select=displayName")["displayName"]
            == row["displayName"]
        )
        orders, nav, lines, fk = "salesOrders", "salesOrderLines", "salesOrderLines", "documentId"
        order_key, line_key = "id", "id"
    order = curl_json(stack, f"{root}{orders}?$select={order_key}&$top=1")["value"][0][order_key]
    navigated = curl_json(stack, f"{root}{orders}({order})/{nav}?$select={line_key}")["value"]
    filtered = curl_json(stack, f"{root}{lines}?$select={line_key}&$filter={fk}%20eq%20{order}")["value"]
    assert navigated
    assert sorted(r[line_key] for r in navigated) == sorted(r[line_key] for r in filtered)
