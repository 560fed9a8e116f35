"""Dataverse change tracking: deltaLink on the last page, then changed rows and $deletedEntity rows,
a fresh deltaLink each time, and the options change tracking forbids."""

from __future__ import annotations

import httpx

from .fixtures import ACCOUNT_1, ACCOUNT_2

TRACK = {"Prefer": "odata.track-changes"}


async def test_delta_link_returns_changes_and_deletions(dv: httpx.AsyncClient) -> None:
    first = await dv.get(
        "accounts?$select=name,accountnumber",
        headers={**TRACK, "Prefer": "odata.track-changes,odata.maxpagesize=1"},
    )
    body = first.json()
    assert "odata.track-changes" in first.headers["Preference-Applied"]
    assert "@odata.deltaLink" not in body
    second = (await dv.get(body["@odata.nextLink"], headers=TRACK)).json()
    assert len(body["value"]) + len(second["value"]) == 2
    delta_link = second["@odata.deltaLink"]
    assert "$deltatoken=" in delta_link and "$select=name,accountnumber" in delta_link

    nothing = (await dv.get(delta_link)).json()
    assert nothing["value"] == []
    assert nothing["@odata.context"].endswith("/$delta")

    await dv.patch(f"accounts({ACCOUNT_1})", json={"name": "Changed"})
    created = await dv.post("accounts", json={"name": "New"})
    new_id = created.headers["OData-EntityId"].rsplit("(", 1)[1].rstrip(")")
    await dv.delete(f"accounts({ACCOUNT_2})")
    changes = (await dv.get(nothing["@odata.deltaLink"])).json()
    values = changes["value"]
    assert [v.get("accountid") for v in values[:2]] == [ACCOUNT_1, new_id]
    assert values[0]["name"] == "Changed"
    assert values[2] == {
        "@odata.context": "https://sim.test/api/data/v9.2/$metadata#accounts/$deletedEntity",
        "id": ACCOUNT_2,
        "reason": "deleted",
    }
    assert changes["@odata.deltaLink"] != nothing["@odata.deltaLink"]
    after = (await dv.get(changes["@odata.deltaLink"])).json()
    assert after["value"] == []


async def test_change_tracking_forbids_filter_orderby_top(dv: httpx.AsyncClient) -> None:
    for query in ("$filter=name%20eq%20'x'", "$orderby=name", "$top=1"):
        response = await dv.get(f"accounts?{query}", headers=TRACK)
        assert response.status_code == 400, query
    assert (await dv.get("accounts?$deltatoken=garbage")).status_code == 400


async def test_other_sets_track_their_own_changes(dv: httpx.AsyncClient) -> None:
    start = (await dv.get("products", headers=TRACK)).json()["@odata.deltaLink"]
    await dv.patch(f"accounts({ACCOUNT_1})", json={"name": "Only accounts changed"})
    assert (await dv.get(start)).json()["value"] == []
