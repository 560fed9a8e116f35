"""``$metadata`` of every service root parses as CSDL and describes every entity set we serve."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import httpx

from gateway.simulators.bc.model import api_sets, integration_sets
from gateway.simulators.dataverse.model import crm_sets

EDM = "{http://docs.oasis-open.org/odata/ns/edm}"


def _parse(text: str) -> tuple[dict[str, ET.Element], dict[str, str]]:
    root = ET.fromstring(text)
    schema = root.find(f".//{EDM}Schema")
    assert schema is not None
    types = {t.get("Name", ""): t for t in schema.findall(f"{EDM}EntityType")}
    sets = {s.get("Name", ""): s.get("EntityType", "") for s in schema.iter(f"{EDM}EntitySet")}
    return types, sets


async def test_bc_metadata_lists_every_set_with_types(bc: httpx.AsyncClient, bci: httpx.AsyncClient) -> None:
    for client, expected in ((bc, api_sets()), (bci, integration_sets())):
        response = await client.get("$metadata")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/xml")
        types, sets = _parse(response.text)
        assert set(sets) == {s.name for s in expected}
        for entity_set in expected:
            entity_type = types[sets[entity_set.name].split(".")[-1]]
            keys = [ref.get("Name") for ref in entity_type.iter(f"{EDM}PropertyRef")]
            assert keys == list(entity_set.key)
            props = {p.get("Name"): p.get("Type") for p in entity_type.findall(f"{EDM}Property")}
            assert props == {p.name: p.edm for p in entity_set.props}
    types, _ = _parse((await bc.get("$metadata")).text)
    nav = types["salesOrder"].find(f"{EDM}NavigationProperty")
    assert nav is not None
    assert nav.get("Name") == "salesOrderLines"
    assert nav.get("Type") == "Collection(Microsoft.NAV.salesOrderLine)"
    assert (
        types["customer"].find(f"{EDM}Property[@Name='lastModifiedDateTime']").get("Type")
        == "Edm.DateTimeOffset"
    )  # type: ignore[union-attr]
    _, int_sets = _parse((await bci.get("$metadata")).text)
    assert "itemAvailabilities" in int_sets


async def test_dataverse_metadata_has_sets_lookups_alternate_keys_and_whoami(dv: httpx.AsyncClient) -> None:
    text = (await dv.get("$metadata")).text
    types, sets = _parse(text)
    assert set(sets) == {s.name for s in crm_sets()}
    account = types["account"]
    assert [r.get("Name") for r in account.iter(f"{EDM}PropertyRef")] == ["accountid"]
    owner = account.find(f"{EDM}NavigationProperty[@Name='ownerid']")
    assert owner is not None and owner.get("Type") == "Microsoft.Dynamics.CRM.systemuser"
    constraint = owner.find(f"{EDM}ReferentialConstraint")
    assert constraint is not None and constraint.get("Property") == "_ownerid_value"
    assert account.find(f"{EDM}Property[@Name='versionnumber']").get("Type") == "Edm.Int64"  # type: ignore[union-attr]
    assert "OData.Community.Keys.V1.AlternateKeys" in text
    root = ET.fromstring(text)
    assert any(f.get("Name") == "WhoAmI" for f in root.iter(f"{EDM}Function"))


async def test_service_document(dv: httpx.AsyncClient) -> None:
    body = (await dv.get("")).json()
    assert {entry["name"] for entry in body["value"]} == {s.name for s in crm_sets()}


async def test_bc_company_contains_its_company_scoped_sets(bc: httpx.AsyncClient) -> None:
    """companies(<id>)/customers is a containment navigation, as Business Central declares it."""
    response = await bc.get("$metadata")
    ns = {"edm": "http://docs.oasis-open.org/odata/ns/edm"}
    root = ET.fromstring(response.text)
    company = next(t for t in root.iterfind(".//edm:EntityType", ns) if t.get("Name") == "company")
    navs = {n.get("Name"): n for n in company.iterfind("edm:NavigationProperty", ns)}
    for name in ("customers", "items", "salesOrders", "currencies"):
        assert navs[name].get("ContainsTarget") == "true"
        assert navs[name].get("Type", "").startswith("Collection(")
    assert "companies" not in navs
