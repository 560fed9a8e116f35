"""GraphQL Mesh's OData handler (npm, not ours) reads the ERP and CRM simulators: the schema it builds
from our $metadata, filters with awkward literals, and paging; what Mesh cannot do is pinned here too."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.mesh.conftest import TRICKY_NAME
from tests.mesh.csdl import parse_csdl
from tests.mesh.mesh_server import Mesh, MeshStack

# One process runs every test of this group (pytest-xdist): they share one server per session.
pytestmark = pytest.mark.xdist_group("mesh")

PAGE = 7
# Mesh's own Edm -> GraphQL scalar table (@graphql-mesh/odata), for the Edm types our models use.
GRAPHQL_SCALAR = {
    "Edm.Guid": "GUID",
    "Edm.String": "String",
    "Edm.Int32": "Int",
    "Edm.Int64": "BigInt",
    "Edm.Decimal": "Float",
    "Edm.Double": "Float",
    "Edm.Boolean": "Boolean",
    "Edm.DateTimeOffset": "DateTime",
    "Edm.Date": "Date",
}
# entity set, key, text field per simulator
TARGET = {"erp": ("customers", "id", "displayName"), "crm": ("accounts", "accountid", "name")}

TYPE_QUERY = """query($name: String!) {
  __type(name: $name) { fields { name type { kind name ofType { kind name } } } }
}"""
QUERY_FIELDS = "{ __schema { queryType { fields { name type { kind ofType { name } } } } } }"


@pytest.fixture(params=["erp", "crm"])
def stack(request: pytest.FixtureRequest) -> MeshStack:
    result: MeshStack = request.getfixturevalue(f"{request.param}_stack")
    return result


def data(answer: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in answer, answer["errors"]
    result: dict[str, Any] = answer["data"]
    return result


def rows(mesh: Mesh, entity_set: str, fields: str, options: str = "", **kw: Any) -> list[dict[str, Any]]:
    args = f"(queryOptions: {{{options}}})" if options else ""
    result: list[dict[str, Any]] = data(mesh.query(f"{{ {entity_set}{args} {{ {fields} }} }}", **kw))[
        entity_set
    ]
    return result


def filtered(mesh: Mesh, entity_set: str, fields: str, odata_filter: str) -> list[dict[str, Any]]:
    query = f"query($f: String) {{ {entity_set}(queryOptions: {{filter: $f}}) {{ {fields} }} }}"
    result: list[dict[str, Any]] = data(mesh.query(query, {"f": odata_filter}))[entity_set]
    return result


def literal(text: str) -> str:
    """An OData string literal; '&' pre-encoded as %26 because Mesh decodes the URL before sending it."""
    return "'" + text.replace("'", "''").replace("&", "%26") + "'"


def ascii_lower(text: str) -> str:
    # The simulators compare strings case-insensitively for ASCII only, as SQL Server's collation does.
    return text.translate(str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"))


def simulator_count(stack: MeshStack, entity_set: str) -> int:
    response = httpx.get(
        f"{stack.odata_root}{entity_set}/$count",
        headers={"Authorization": f"Bearer {stack.token}"},
        timeout=10,
    )
    response.raise_for_status()
    return int(response.text)


def test_schema_has_every_entity_set_with_typed_fields(stack: MeshStack) -> None:
    metadata = httpx.get(
        f"{stack.simulator.service_root}$metadata",
        headers={"Authorization": f"Bearer {stack.token}"},
        timeout=10,
    )
    csdl = parse_csdl(metadata.text)
    fields = {
        f["name"]: f["type"] for f in data(stack.mesh.query(QUERY_FIELDS))["__schema"]["queryType"]["fields"]
    }
    assert len(csdl.entity_sets) >= 10
    for entity_set, type_name in csdl.entity_sets.items():
        assert fields[entity_set] == {"kind": "LIST", "ofType": {"name": type_name}}, entity_set
        assert f"{entity_set}Count" in fields
        generated = {
            f["name"]: f["type"]
            for f in data(stack.mesh.query(TYPE_QUERY, {"name": type_name}))["__type"]["fields"]
        }
        for prop, (edm, nullable) in csdl.types[type_name].properties.items():
            scalar = {"kind": "SCALAR", "name": GRAPHQL_SCALAR[edm]}
            want = scalar if nullable else {"kind": "NON_NULL", "name": None, "ofType": scalar}
            got = generated[prop]
            assert {k: got[k] for k in want} == want, f"{type_name}.{prop} ({edm})"


def test_filter_with_quote_ampersand_and_umlaut_returns_exactly_the_match(stack: MeshStack) -> None:
    entity_set, key, text = TARGET[stack.simulator.kind]
    everything = rows(stack.mesh, entity_set, f"{key} {text}")
    assert len(everything) == simulator_count(stack, entity_set)
    expected = {r[key] for r in everything if r[text] == TRICKY_NAME}
    assert len(expected) == 1
    found = filtered(stack.mesh, entity_set, f"{key} {text}", f"{text} eq {literal(TRICKY_NAME)}")
    assert [r[key] for r in found] == list(expected)
    assert found[0][text] == TRICKY_NAME


@pytest.mark.parametrize(
    ("odata_filter", "matches"),
    [
        ("startswith({text},'O''Brien')", lambda name: ascii_lower(name).startswith("o'brien")),
        ("contains({text},'Müller')", lambda name: "müller" in ascii_lower(name)),
        (
            "endswith({text},'Interiors') and contains({text},'&')",
            lambda n: n.endswith("Interiors") and "&" in n,
        ),
    ],
)
def test_string_functions_return_the_same_rows_as_filtering_everything(
    stack: MeshStack, odata_filter: str, matches: Any
) -> None:
    entity_set, key, text = TARGET[stack.simulator.kind]
    everything = rows(stack.mesh, entity_set, f"{key} {text}")
    expected = sorted(r[key] for r in everything if matches(r[text]))
    assert expected
    got = filtered(stack.mesh, entity_set, key, odata_filter.format(text=text).replace("&", "%26"))
    assert sorted(r[key] for r in got) == expected


@pytest.mark.xfail(
    strict=True,
    reason="Mesh bug (@graphql-mesh/odata 0.22.18, getUrlString): it decodeURIComponent()s the whole URL "
    "before fetch, so a raw '&' in a $filter literal splits the query string and the simulator answers "
    "400 'Failed to tokenize' (a '+' in a literal also turns into a space); workaround: write %26",
)
def test_raw_ampersand_in_a_filter_literal(stack: MeshStack) -> None:
    entity_set, key, text = TARGET[stack.simulator.kind]
    escaped = TRICKY_NAME.replace("'", "''")
    found = filtered(stack.mesh, entity_set, f"{key} {text}", f"{text} eq '{escaped}'")
    assert [r[text] for r in found] == [TRICKY_NAME]


def test_erp_top_skip_pages_return_every_customer_once(erp_stack: MeshStack) -> None:
    mesh = erp_stack.mesh
    everything = [r["id"] for r in rows(mesh, "customers", "id")]
    total = data(mesh.query("{ customersCount }"))["customersCount"]
    assert total == len(everything) == simulator_count(erp_stack, "customers") > 3 * PAGE
    seen: list[str] = []
    sizes: list[int] = []
    while True:
        page = rows(mesh, "customers", "id number", f'top: {PAGE}, skip: {len(seen)}, orderby: "number"')
        sizes.append(len(page))
        seen += [r["id"] for r in page]
        if len(page) < PAGE:
            break
    assert len(seen) == len(set(seen)) == total
    assert set(seen) == set(everything)
    assert sizes == [PAGE] * (total // PAGE) + [total % PAGE]


def test_crm_keyset_pages_return_every_account_once(crm_stack: MeshStack) -> None:
    """Dataverse has no $skip (Mesh shows its 400), so page by key: orderby + top + 'accountid gt last'."""
    mesh = crm_stack.mesh
    refused = mesh.query(f"{{ accounts(queryOptions: {{top: {PAGE}, skip: {PAGE}}}) {{ accountid }} }}")
    assert "$skip" in refused["errors"][0]["message"]
    everything = [r["accountid"] for r in rows(mesh, "accounts", "accountid")]
    total = data(mesh.query("{ accountsCount }"))["accountsCount"]
    assert total == len(everything) == simulator_count(crm_stack, "accounts") > 3 * PAGE
    seen: list[str] = []
    while True:
        after = f'filter: "accountid gt {seen[-1]}", ' if seen else ""
        page = rows(mesh, "accounts", "accountid", f'{after}top: {PAGE}, orderby: "accountid"')
        seen += [r["accountid"] for r in page]
        if len(page) < PAGE:
            break
    assert len(seen) == len(set(seen)) == total
    assert set(seen) == set(everything)


def test_mesh_stops_at_the_first_server_page(stack: MeshStack) -> None:
    """Mesh forwards Prefer: odata.maxpagesize but drops @odata.nextLink: a client gets one page, silently."""
    entity_set, key, _ = TARGET[stack.simulator.kind]
    total = simulator_count(stack, entity_set)
    page = rows(stack.mesh, entity_set, key, headers={"Prefer": f"odata.maxpagesize={PAGE}"})
    assert len(page) == PAGE < total


@pytest.mark.xfail(
    strict=True,
    reason="Mesh limitation (@graphql-mesh/odata 0.22.18, addIdentifierToUrl): the ERP $metadata declares "
    "the containment navigation company -> customers (tests/simulators/test_metadata.py), but Mesh "
    "follows it as companies/<id>/customers (key-as-segment), which BC and the simulator reject",
)
def test_erp_company_navigates_to_its_customers(erp_stack: MeshStack) -> None:
    company = erp_stack.simulator.info()["companyId"]
    answer = erp_stack.mesh.query(f'{{ companiesByid(id: "{company}") {{ customers {{ number }} }} }}')
    assert len(data(answer)["companiesByid"]["customers"]) == simulator_count(erp_stack, "customers")


@pytest.mark.xfail(
    strict=True,
    reason="Mesh limitation (@graphql-mesh/odata 0.22.18, addIdentifierToUrl): it addresses an entity as "
    "'<set>/<key>/' (OData 4.01 key-as-segment) unless the row carries @odata.id, so every …By<key> "
    "field and every navigation field (ownerid, order_details, salesOrderLines) asks for "
    "accounts/<guid>/… and the simulator answers 400 'Invalid path segment', as BC and Dataverse "
    "(OData 4.0, keys in parentheses) would; test_curl_odata checks keys, lookups and navigation",
)
def test_key_access_and_navigation(stack: MeshStack) -> None:
    entity_set, key, text = TARGET[stack.simulator.kind]
    first = rows(stack.mesh, entity_set, f"{key} {text}", "top: 1")[0]
    answer = stack.mesh.query(f'{{ {entity_set}By{key}({key}: "{first[key]}") {{ {text} }} }}')
    assert data(answer)[f"{entity_set}By{key}"] == {text: first[text]}
