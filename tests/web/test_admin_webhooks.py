"""The Business Central webhook receiver: the validationToken handshake, clientState checked before
anything is woken, and a notification that makes the syncer run the notified entity set's mapping —
through the lease row for `gateway worker` processes, or through the app's own scheduler."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from gateway.domain import Role
from gateway.simulators import SimulatorOptions
from gateway.store.engine import create_engine, session_factory
from gateway.store.leases import list_leases
from tests.gateway_harness import Harness, running_gateway

HOOK = "/api/v1/admin/webhooks/bc"
SECRET = "the-client-state"
COMPANY = "api/v2.0/companies(7b8c4f2e-0000-4000-8000-000000000001)"


def _notification(entity: str, client_state: str = SECRET) -> dict[str, Any]:
    return {
        "value": [
            {
                "subscriptionId": "s1",
                "clientState": client_state,
                "expirationDateTime": "2026-11-28T10:00:00Z",
                "resource": f"{COMPANY}/{entity}(1d2c3b4a-0000-4000-8000-000000000002)",
                "changeType": "updated",
                "lastModifiedDateTime": "2026-11-25T10:00:00Z",
            }
        ]
    }


async def _requested(database_url: str) -> set[str]:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            return {lease.name for lease in await list_leases(session) if lease.requested_at is not None}
    finally:
        await engine.dispose()


async def test_handshake_client_state_and_a_wake_through_the_lease_row(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/gw.db"
    async with running_gateway(url, webhook_client_state=SECRET) as gw:
        client = gw.client
        # The handshake needs no key and no clientState: the token comes back as text/plain.
        shake = await client.post(f"{HOOK}?validationToken=abc%20123")
        assert shake.status_code == 200 and shake.text == "abc 123"
        assert shake.headers["content-type"].startswith("text/plain")

        for bad in (_notification("customers", "forged"), _notification("customers", "")):
            refused = await client.post(HOOK, json=bad)
            assert refused.status_code == 401
        # One forged entry among good ones refuses the whole delivery.
        mixed = _notification("customers")
        mixed["value"] += _notification("items", "forged")["value"]
        assert (await client.post(HOOK, json=mixed)).status_code == 401
        assert await _requested(url) == set()

        accepted = await client.post(HOOK, json=_notification("customers"))
        assert accepted.status_code == 202
        assert accepted.json() == {
            "accepted": 1,
            "woken": [{"mapping": "CUSTOMER", "direction": "erp_to_crm"}],
        }
        assert await _requested(url) == {"CUSTOMER:erp_to_crm"}
        items = await client.post(HOOK, json=_notification("items"))
        # Every mapping that reads items from the ERP: unit groups come from the items' base units.
        assert [w["mapping"] for w in items.json()["woken"]] == ["UNIT GROUP", "ITEM-PRODUCT"]
        assert await _requested(url) == {
            "CUSTOMER:erp_to_crm",
            "UNIT GROUP:erp_to_crm",
            "ITEM-PRODUCT:erp_to_crm",
        }
        # ERP PRICING (no mapping row) polls its standard-API sets only when notified: both in one
        # delivery wake it once.
        pricing = _notification("unitsOfMeasure")
        pricing["value"] += _notification("locations")["value"]
        assert (await client.post(HOOK, json=pricing)).json()["woken"] == [
            {"mapping": "ERP PRICING", "direction": "erp_to_crm"}
        ]
        assert "ERP PRICING:erp_to_crm" in await _requested(url)

        # Malformed deliveries are a 400, never a 500; an API key changes nothing.
        for body in ({"value": []}, {"value": [{"clientState": SECRET}]}, {"nope": 1}, [1]):
            assert (await client.post(HOOK, json=body)).status_code == 400
        assert (
            await client.post(HOOK, json=_notification("customers", "x"), headers=gw.auth(Role.ADMIN))
        ).status_code == 401


async def test_without_a_configured_client_state_every_notification_is_refused(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/gw.db"
    async with running_gateway(url) as gw:
        assert (await gw.client.post(f"{HOOK}?validationToken=t")).text == "t"
        assert (await gw.client.post(HOOK, json=_notification("customers", ""))).status_code == 401
    assert await _requested(url) == set()


async def _idle(gw: Harness, lease: str, runs: int) -> None:
    scheduler = gw.app.state.scheduler
    async with asyncio.timeout(120):
        while scheduler.stats.by_lease.get(lease, 0) < runs or lease in scheduler.running:  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def test_a_notification_makes_the_in_process_scheduler_run_the_mapping(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/gw.db"
    async with running_gateway(
        url,
        options=SimulatorOptions(customers=20, items=20),
        webhook_client_state=SECRET,
        scheduler_in_process=True,
        scheduler_poll_seconds=0.05,
    ) as gw:
        # Every mapping runs once at start; the next scheduled run is an interval (30 s) away.
        await _idle(gw, "CURRENCY:erp_to_crm", 1)
        before = gw.app.state.scheduler.stats.by_lease["CURRENCY:erp_to_crm"]
        assert (await gw.client.post(HOOK, json=_notification("currencies", "forged"))).status_code == 401
        response = await gw.client.post(HOOK, json=_notification("currencies"))
        assert response.status_code == 202
        await _idle(gw, "CURRENCY:erp_to_crm", before + 1)
        assert gw.app.state.scheduler.stats.by_lease["CURRENCY:erp_to_crm"] == before + 1
