"""Dataverse writes: POST 204 + OData-EntityId, return=representation, PATCH upsert by key and by
alternate key, If-Match/If-None-Match rules, @odata.bind lookups and org-wide version numbers."""

from __future__ import annotations

import uuid

import httpx

from .fixtures import ACCOUNT_1, PRODUCT_1, USER_1, USER_2


async def test_post_answers_204_with_entity_id(dv: httpx.AsyncClient) -> None:
    response = await dv.post("accounts", json={"name": "Contoso", "accountnumber": "C77777"})
    assert response.status_code == 204
    entity_url = response.headers["OData-EntityId"]
    assert entity_url.startswith("https://sim.test/api/data/v9.2/accounts(")
    account = (await dv.get(entity_url)).json()
    assert account["name"] == "Contoso"
    assert account["statecode"] == 0 and account["statuscode"] == 1
    assert account["@odata.etag"] == f'W/"{account["versionnumber"]}"'
    assert account["createdon"] == account["modifiedon"]


async def test_return_representation_and_client_chosen_key(dv: httpx.AsyncClient) -> None:
    chosen = str(uuid.uuid4())
    response = await dv.post(
        "accounts",
        json={"accountid": chosen, "name": "Chosen"},
        headers={"Prefer": "return=representation"},
    )
    assert response.status_code == 201
    assert response.headers["Preference-Applied"] == "return=representation"
    assert response.json()["accountid"] == chosen
    again = await dv.post("accounts", json={"accountid": chosen, "name": "Twice"})
    assert again.status_code in (409, 412)


async def test_patch_upserts_by_key_and_alternate_key(dv: httpx.AsyncClient) -> None:
    new_id = str(uuid.uuid4())
    created = await dv.patch(f"accounts({new_id})", json={"name": "Upserted"})
    assert created.status_code == 204
    assert (await dv.get(f"accounts({new_id})")).json()["name"] == "Upserted"

    updated = await dv.patch("accounts(accountnumber='C10000')", json={"telephone1": "+41 44 000"})
    assert updated.status_code == 204
    assert (await dv.get(f"accounts({ACCOUNT_1})")).json()["telephone1"] == "+41 44 000"

    made = await dv.patch(
        "accounts(accountnumber='C-O''Neil/1')",
        json={"name": "O'Neil"},
        headers={"Prefer": "return=representation"},
    )
    assert made.status_code == 201
    assert made.json()["accountnumber"] == "C-O'Neil/1"
    fetched = await dv.get("accounts(accountnumber='C-O''Neil/1')")
    assert fetched.json()["name"] == "O'Neil"

    product = await dv.patch("products(productnumber='1896-S')", json={"price": 999})
    assert product.status_code == 204
    assert (await dv.get(f"products({PRODUCT_1})?$select=price")).json()["price"] == 999
    assert (await dv.patch("accounts(name='x')", json={})).status_code == 400


async def test_if_match_and_if_none_match(dv: httpx.AsyncClient) -> None:
    missing = str(uuid.uuid4())
    no_create = await dv.patch(f"accounts({missing})", json={"name": "x"}, headers={"If-Match": "*"})
    assert no_create.status_code == 404
    assert (await dv.get(f"accounts({missing})")).status_code == 404
    no_update = await dv.patch(f"accounts({ACCOUNT_1})", json={"name": "x"}, headers={"If-None-Match": "*"})
    assert no_update.status_code == 412
    current = (await dv.get(f"accounts({ACCOUNT_1})")).json()
    ok = await dv.patch(
        f"accounts({ACCOUNT_1})", json={"name": "Renamed"}, headers={"If-Match": current["@odata.etag"]}
    )
    assert ok.status_code == 204
    stale = await dv.patch(
        f"accounts({ACCOUNT_1})", json={"name": "Again"}, headers={"If-Match": current["@odata.etag"]}
    )
    assert stale.status_code == 412
    assert stale.json()["error"]["code"] == "0x80060882"
    assert (
        await dv.delete(f"accounts({ACCOUNT_1})", headers={"If-Match": current["@odata.etag"]})
    ).status_code == 412
    assert (await dv.delete(f"accounts({ACCOUNT_1})")).status_code == 204


async def test_bind_sets_lookup_value(dv: httpx.AsyncClient) -> None:
    response = await dv.patch(
        f"accounts({ACCOUNT_1})",
        json={"ownerid@odata.bind": f"/systemusers({USER_2})"},
        headers={"Prefer": "return=representation"},
    )
    assert response.status_code == 200
    assert response.json()["_ownerid_value"] == USER_2
    missing = await dv.patch(
        f"accounts({ACCOUNT_1})", json={"ownerid@odata.bind": f"/systemusers({uuid.uuid4()})"}
    )
    assert missing.status_code == 400
    wrong_set = await dv.patch(
        f"accounts({ACCOUNT_1})", json={"ownerid@odata.bind": f"/accounts({ACCOUNT_1})"}
    )
    assert wrong_set.status_code == 400
    direct = await dv.patch(f"accounts({ACCOUNT_1})", json={"_ownerid_value": USER_1})
    assert direct.status_code == 400
    unknown_nav = await dv.patch(
        f"accounts({ACCOUNT_1})", json={"nothing@odata.bind": f"/systemusers({USER_1})"}
    )
    assert unknown_nav.status_code == 400
    order = await dv.post(
        "salesorders",
        json={"name": "Order", "customerid_account@odata.bind": f"accounts({ACCOUNT_1})"},
        headers={"Prefer": "return=representation"},
    )
    assert order.status_code == 201
    assert order.json()["_customerid_value"] == ACCOUNT_1


async def test_version_numbers_grow_across_the_org(dv: httpx.AsyncClient) -> None:
    seen = []
    for name, body in (("accounts", {"name": "a"}), ("products", {"name": "p"}), ("accounts", {"name": "b"})):
        response = await dv.post(name, json=body, headers={"Prefer": "return=representation"})
        seen.append(response.json()["versionnumber"])
    assert seen == sorted(seen) and len(set(seen)) == 3
    top = (await dv.get("accounts?$orderby=versionnumber%20desc&$top=1")).json()["value"][0]
    assert top["versionnumber"] == seen[-1]


async def test_whoami_user_is_a_system_user(dv: httpx.AsyncClient) -> None:
    who = (await dv.get("WhoAmI()")).json()
    user = await dv.get(f"systemusers({who['UserId']})")
    assert user.status_code == 200
    assert user.json()["islicensed"] is False
