"""The Dataverse connector against the CRM simulator: WhoAmI, typed pages, change tracking with
deletions, creates, upserts by key and alternate key, ETag-guarded updates and deletes."""

from __future__ import annotations

import uuid

import pytest

from gateway.errors import PreconditionFailed, UpstreamNotFound, UpstreamProtocolError
from gateway.upstream.crm import CrmConnector, primary_key
from gateway.upstream.odata import Query
from tests.upstream.conftest import Upstream


def test_primary_keys() -> None:
    assert primary_key("accounts") == "accountid"
    assert primary_key("transactioncurrencies") == "transactioncurrencyid"
    assert primary_key("uomschedules") == "uomscheduleid"
    assert primary_key("productpricelevels") == "productpricelevelid"
    assert primary_key("salesorderdetails") == "salesorderdetailid"
    assert primary_key("systemusers") == "systemuserid"


async def test_who_am_i(crm: CrmConnector, crm_sim: Upstream) -> None:
    organisation = await crm.who_am_i()
    assert organisation.url == crm_sim.root
    assert uuid.UUID(organisation.organization_id) and uuid.UUID(organisation.user_id)
    # The simulator has no `organizations` set: the base currency is the one with exchange rate 1.
    rate_one = await crm.client.get("transactioncurrencies", query=Query(filter="exchangerate eq 1"))
    assert [row["isocurrencycode"] for row in rate_one["value"]] == [organisation.base_currency_code]


async def test_pages_of_records(crm_sim: Upstream) -> None:
    crm = CrmConnector(crm_sim.client(page_size=8))
    records = [r async for page in crm.pages("accounts", select=["name", "accountnumber"]) for r in page]
    assert records and len(records) == len({r.id for r in records})
    assert all(r.etag and r.etag.startswith('W/"') for r in records)
    ordered = [
        r
        async for page in crm.pages("accounts", filter="statecode eq 0", orderby=["name desc"])
        for r in page
    ]
    names = [r.values["name"] for r in ordered]
    assert names == sorted(names, reverse=True)
    assert all(r.modified_at is not None for r in ordered)


async def test_track_changes_returns_changes_and_deletions(crm_sim: Upstream) -> None:
    crm = CrmConnector(crm_sim.client(page_size=10))
    initial, deleted, link = await crm.track_changes("accounts", select=["name"])
    assert initial and deleted == [] and link.startswith(crm_sim.api_root)
    all_ids = {r.id for r in initial}
    assert len(all_ids) == len(initial)
    victim = initial[0]
    changed = await crm.update("accounts", initial[1].id, {"name": "Renamed"}, etag=initial[1].etag or "*")
    created = await crm.create("accounts", {"name": "Brand new"})
    await crm.delete("accounts", victim.id)
    changes, deletions, link2 = await crm.track_changes("accounts", delta_link=link)
    assert {r.id for r in changes} == {changed.id, created.id}
    assert [(d.entity_set, d.id) for d in deletions] == [("accounts", victim.id)]
    assert link2 != link
    assert all("odata.track-changes" in r.headers["prefer"] for r in crm_sim.transport.api("GET")[-2:])
    quiet = await crm.track_changes("accounts", delta_link=link2)
    assert quiet[0] == [] and quiet[1] == []


async def test_create_upsert_update_delete(crm: CrmConnector) -> None:
    created = await crm.create("accounts", {"name": "Zoë & Co", "accountnumber": "CRM-1"})
    assert created.id and created.etag and created.values["name"] == "Zoë & Co"
    chosen = str(uuid.uuid4())
    by_id = await crm.upsert("accounts", chosen, {"name": "chosen key"})
    assert by_id.id == chosen
    by_alternate = await crm.upsert("accounts", {"accountnumber": "CRM-1"}, {"name": "via alternate key"})
    assert by_alternate.id == created.id and by_alternate.values["name"] == "via alternate key"
    fresh = await crm.upsert("accounts", {"accountnumber": "O'Neil/2"}, {"name": "created by upsert"})
    assert fresh.id not in (created.id, chosen)
    assert (await crm.get("accounts", {"accountnumber": "O'Neil/2"})).id == fresh.id
    with pytest.raises(PreconditionFailed) as stale:
        await crm.update("accounts", created.id, {"name": "late"}, etag=created.etag or "*")
    assert stale.value.status == 412
    with pytest.raises(UpstreamNotFound):
        await crm.update("accounts", str(uuid.uuid4()), {"name": "never created"}, etag="*")
    await crm.delete("accounts", created.id, etag=by_alternate.etag)
    with pytest.raises(UpstreamNotFound):
        await crm.get("accounts", created.id)


async def test_track_changes_without_delta_link_is_a_protocol_error(crm_sim: Upstream) -> None:
    import httpx

    crm = CrmConnector(crm_sim.client())

    async def strip(request: httpx.Request, forward):  # type: ignore[no-untyped-def]
        response = await forward()
        body = response.json()
        body.pop("@odata.deltaLink", None)
        return httpx.Response(200, json=body)

    crm_sim.transport.hook = strip
    with pytest.raises(UpstreamProtocolError):
        await crm.track_changes("accounts")
