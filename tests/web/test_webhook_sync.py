"""Near-real-time ERP → CRM: the gateway subscribes to BC webhooks on start (the handshake answered
by its own receiver), and an ERP change (or deletion, under the mapping's deletion policy) reaches the
CRM through a notification while the mapping's polling interval is a day, so only the webhook can
explain the run."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from gateway.domain import Role
from gateway.simulators import SimulatorOptions
from gateway.store import migrate
from gateway.store.engine import create_engine, session_factory
from gateway.store.jobs import list_jobs
from gateway.store.leases import get_lease
from gateway.store.types import utcnow
from gateway.sync.catalog import ensure_default_mappings, update_mapping
from tests.gateway_harness import WEBHOOK_URL, Harness, running_gateway

SECRET = "webhook-test-state"
LEASE = "CUSTOMER:erp_to_crm"
ORDERS = "SALES ORDER:crm_to_erp"
CHECK = "ERP DELETIONS customers"
DAY = 86_400


async def _sim(app: Any, method: str, path: str, body: Any = None) -> Any:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim") as client:
        response = await client.request(method, path, json=body)
        response.raise_for_status()
        return response.json() if response.content else None


async def _token(app: Any, scope: str) -> str:
    """A bearer token from the simulator's own token endpoint, as any other client would get one."""
    form = {
        "grant_type": "client_credentials",
        "client_id": "gateway-demo",
        "client_secret": "demo-secret",
        "scope": scope,
    }
    return str((await _sim_form(app, "/demo/oauth2/v2.0/token", form))["access_token"])


async def _sim_form(app: Any, path: str, form: dict[str, str]) -> Any:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim") as client:
        response = await client.post(path, data=form)
        response.raise_for_status()
        return response.json()


async def _erp_customer(gw: Harness, *, delete: bool = False) -> dict[str, Any]:
    """The first ERP customer, given a new phone number (or deleted), through BC's API."""
    info = await _sim(gw.erp_sim, "GET", "/_sim/info")
    token = await _token(gw.erp_sim, info["scope"])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=gw.erp_sim),
        base_url=f"http://sim{info['apiPath']}companies({info['companyId']})/",
        headers={"Authorization": f"Bearer {token}"},
    ) as client:
        rows = (await client.get("customers", params={"$top": "1"})).json()["value"]
        if delete:
            gone = await client.delete(f"customers({rows[0]['id']})", headers={"If-Match": "*"})
            assert gone.status_code == 204, gone.text
            return dict(rows[0])
        patched = await client.patch(
            f"customers({rows[0]['id']})", json={"phoneNumber": "+32 9 555 01 01"}, headers={"If-Match": "*"}
        )
        assert patched.status_code == 200, patched.text
        return dict(patched.json())


async def _crm_id(gw: Harness, erp_id: str) -> str:
    couplings = await gw.client.get(
        "/api/v1/admin/couplings",
        params={"mapping": "CUSTOMER", "record": erp_id},
        headers=gw.auth(Role.ADMIN),
    )
    [coupling] = couplings.json()["items"]
    return str(coupling["crmId"])


async def _crm_account(gw: Harness, crm_id: str) -> dict[str, Any] | None:
    token = await _token(gw.crm_sim, "http://crm.sim/.default")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=gw.crm_sim), headers={"Authorization": f"Bearer {token}"}
    ) as client:
        account = await client.get(f"http://sim/api/data/v9.2/accounts({crm_id})")
    return None if account.status_code == 404 else dict(account.json())


async def _crm_phone(gw: Harness, erp_id: str) -> str | None:
    account = await _crm_account(gw, await _crm_id(gw, erp_id))
    return None if account is None else account.get("telephone1")


@asynccontextmanager
async def _gateway(
    tmp_path: Path, *, collection_threshold: int = 1_000, **customer_mapping: Any
) -> AsyncIterator[Harness]:
    """The demo-like gateway whose CUSTOMER and SALES ORDER mappings poll once a day (a run of them
    within a test is a webhook's doing), after its first full sync, its first runs and its BC
    subscriptions (9: the 6 sets read towards the CRM, SALES ORDER's ERP orders and ERP PRICING's 2
    standard-API sets)."""
    url = f"sqlite+aiosqlite:///{tmp_path}/gw.db"
    await asyncio.to_thread(migrate.upgrade, url)
    engine = create_engine(url)
    try:
        await ensure_default_mappings(session_factory(engine))
        await update_mapping(
            session_factory(engine), "CUSTOMER", {"intervalSeconds": DAY, **customer_mapping}
        )
        await update_mapping(session_factory(engine), "SALES ORDER", {"intervalSeconds": DAY})
    finally:
        await engine.dispose()
    async with running_gateway(
        url,
        options=SimulatorOptions(
            customers=20,
            items=20,
            webhook_delay_seconds=0,
            webhook_collection_threshold=collection_threshold,
        ),
        erp_webhooks=True,
        demo=True,
        webhook_url=WEBHOOK_URL,
        webhook_client_state=SECRET,
        scheduler_poll_seconds=0.05,
    ) as gw:
        scheduler = gw.app.state.scheduler
        async with asyncio.timeout(180):
            for lease in (LEASE, ORDERS):
                while scheduler.stats.by_lease.get(lease, 0) < 1 or lease in scheduler.running:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            while len((await _sim(gw.erp_sim, "GET", "/_sim/webhooks"))["subscriptions"]) < 9:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        yield gw


async def _store(gw: Harness) -> tuple[Any, list[Any]]:
    engine = create_engine(gw.settings.database_url)
    try:
        async with session_factory(engine)() as session:
            lease = await get_lease(session, name=LEASE)
            jobs = await list_jobs(session, mapping="CUSTOMER", limit=50)
    finally:
        await engine.dispose()
    return lease, list(jobs)


async def test_an_erp_change_reaches_the_crm_through_a_webhook_while_polling_is_a_day_away(
    tmp_path: Path,
) -> None:
    async with _gateway(tmp_path) as gw:
        scheduler = gw.app.state.scheduler
        state = await _sim(gw.erp_sim, "GET", "/_sim/webhooks")
        assert {s["notificationUrl"] for s in state["subscriptions"]} == {WEBHOOK_URL}
        assert state["counters"]["handshakes"] == 9  # each answered by the gateway on the first try

        customer = await _erp_customer(gw)
        assert await _crm_phone(gw, customer["id"]) != "+32 9 555 01 01"
        runs = scheduler.stats.by_lease[LEASE]
        delivered = await _sim(gw.erp_sim, "POST", "/_sim/webhooks")  # BC's delay, elapsed now
        assert delivered["sent"] >= 1 and delivered["removed"] == 0
        async with asyncio.timeout(120):
            while await _crm_phone(gw, customer["id"]) != "+32 9 555 01 01":  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            while LEASE in scheduler.running:  # noqa: ASYNC110  (its job row is final once it ends)
                await asyncio.sleep(0.05)
        assert scheduler.stats.by_lease[LEASE] > runs
        lease, jobs = await _store(gw)
        # The schedule never made it due: the wake request did.
        assert lease is not None and lease.due_at is not None
        assert lease.requested_at is not None and lease.due_at > utcnow() + timedelta(hours=23)
        assert any(j.direction == "erp_to_crm" and j.modified >= 1 for j in jobs)


async def test_an_erp_deletion_notified_by_webhook_follows_the_deletion_policy_at_once(
    tmp_path: Path,
) -> None:
    async with _gateway(tmp_path, deletionPolicy="propagate") as gw:
        scheduler = gw.app.state.scheduler
        customer = await _erp_customer(gw, delete=True)
        crm_id = await _crm_id(gw, customer["id"])
        runs = scheduler.stats.by_lease[LEASE]
        await _sim(gw.erp_sim, "POST", "/_sim/webhooks")
        async with asyncio.timeout(120):  # the woken run has started and finished
            while scheduler.stats.by_lease[LEASE] == runs or LEASE in scheduler.running:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        assert await _crm_account(gw, crm_id) is None
        couplings = await gw.client.get(
            "/api/v1/admin/couplings",
            params={"mapping": "CUSTOMER", "record": customer["id"]},
            headers=gw.auth(Role.ADMIN),
        )
        assert couplings.json()["items"] == []
        lease, jobs = await _store(gw)
        assert (
            lease is not None and lease.due_at is not None and lease.due_at > utcnow() + timedelta(hours=23)
        )
        assert sum(j.deleted for j in jobs) == 1  # the CRM account, by the woken erp_to_crm run


async def _checks(gw: Harness) -> list[Any]:
    """The deletion checks of `customers` (gateway.sync.deletion_check), newest first."""
    engine = create_engine(gw.settings.database_url)
    try:
        async with session_factory(engine)() as session:
            return list(await list_jobs(session, mapping=CHECK, limit=50))
    finally:
        await engine.dispose()


async def test_erp_deletions_inside_a_collection_notice_follow_the_deletion_policy(tmp_path: Path) -> None:
    # Two changes are more than BC lists one by one here: they come as one `collection` notice,
    # which names no record; the set's deletion check finds the two.
    async with _gateway(tmp_path, collection_threshold=1, deletionPolicy="propagate") as gw:
        scheduler = gw.app.state.scheduler
        check = f"{CHECK}:erp_to_crm"
        async with asyncio.timeout(120):  # the start's checks (first one, subscription created) are over
            while not await _checks(gw) or check in scheduler.running:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        gone = [await _erp_customer(gw, delete=True) for _ in range(2)]
        crm_ids = [await _crm_id(gw, c["id"]) for c in gone]
        delivered = await _sim(gw.erp_sim, "POST", "/_sim/webhooks")
        assert delivered["sent"] >= 1 and delivered["removed"] == 0
        async with asyncio.timeout(120):
            while any([await _crm_account(gw, crm_id) is not None for crm_id in crm_ids]):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        latest = (await _checks(gw))[0]
        # Covered by a subscription, the set was read because the collection notice asked for it.
        assert (latest.type, latest.status, latest.deleted) == ("deletion_check", "success", 2)
        assert latest.message is not None and latest.message.startswith("asked for")
        _, jobs = await _store(gw)
        assert sum(j.deleted for j in jobs) == 2  # the CRM accounts, by CUSTOMER's erp_to_crm run


async def test_a_shipment_in_bc_marks_the_crm_order_fulfilled_through_a_webhook(tmp_path: Path) -> None:
    async with _gateway(tmp_path) as gw:
        scheduler = gw.app.state.scheduler
        couplings = await gw.client.get(
            "/api/v1/admin/couplings", params={"mapping": "SALES ORDER"}, headers=gw.auth(Role.ADMIN)
        )
        order = couplings.json()["items"][0]
        assert (await _crm_order(gw, order["crmId"]))["statecode"] == 1  # submitted, awaiting shipment
        runs = scheduler.stats.by_lease[ORDERS]
        await _sim(gw.erp_sim, "POST", "/_sim/ship", {"orderId": order["erpId"]})
        delivered = await _sim(gw.erp_sim, "POST", "/_sim/webhooks")  # BC's delay, elapsed now
        assert delivered["sent"] >= 1 and delivered["removed"] == 0
        async with asyncio.timeout(120):
            while (await _crm_order(gw, order["crmId"]))["statecode"] != 3:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        done = await _crm_order(gw, order["crmId"])
        assert (done["statecode"], done["statuscode"]) == (3, 100001) and done["datefulfilled"]
        assert scheduler.stats.by_lease[ORDERS] > runs  # woken: its schedule is a day away


async def _crm_order(gw: Harness, crm_id: str) -> dict[str, Any]:
    token = await _token(gw.crm_sim, "http://crm.sim/.default")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=gw.crm_sim), headers={"Authorization": f"Bearer {token}"}
    ) as client:
        response = await client.get(f"http://sim/api/data/v9.2/salesorders({crm_id})")
        response.raise_for_status()
    return dict(response.json())
