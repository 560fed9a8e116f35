"""BC webhooks: subscribe with the validation handshake, notifications per change (created, updated,
deleted, collection above 1,000), retries on 5xx, removal on other errors, renewal and expiry."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from gateway.simulators import SimulatorOptions, create_erp_simulator

from .conftest import BC_API, BC_INT, BC_SCOPE, authed_client, options
from .fixtures import COMPANY, CUST_1, ITEM_1, ORDER_1

ROOT = f"companies({COMPANY})"
RESOURCE = f"/api/v2.0/{ROOT}/customers"


class Receiver:
    """A subscriber: echoes validation tokens, records notifications, answers with ``status``."""

    def __init__(self) -> None:
        self.handshakes = 0
        self.notifications: list[dict[str, Any]] = []
        self.status = 200
        self.echo = True

    async def hook(self, request: Request) -> Response:
        token = request.query_params.get("validationToken")
        if token is not None:
            self.handshakes += 1
            return PlainTextResponse(token if self.echo else "nope")
        self.notifications.append(await request.json())
        return Response(status_code=self.status)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])


class Clock:
    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def bcw(receiver: Receiver, clock: Clock) -> Any:
    app = create_erp_simulator(
        options(
            webhook_delay_seconds=0,
            webhook_transport=httpx.ASGITransport(app=receiver.app()),
            clock=clock,
            token_lifetime_seconds=30 * 86400,
        )
    )
    async with await authed_client(app, BC_SCOPE, BC_API) as client:
        yield client


async def _subscribe(client: httpx.AsyncClient, resource: str = RESOURCE) -> httpx.Response:
    return await client.post(
        "subscriptions",
        json={"notificationUrl": "http://receiver.test/hook", "resource": resource, "clientState": "s3cret"},
    )


async def _deliver(client: httpx.AsyncClient) -> dict[str, int]:
    return dict((await client.post("https://sim.test/_sim/webhooks")).json())


async def test_subscribe_and_get_notified(bcw: httpx.AsyncClient, receiver: Receiver) -> None:
    created = await _subscribe(bcw)
    assert created.status_code == 201, created.text
    subscription = created.json()
    assert receiver.handshakes == 1
    assert subscription["resource"] == f"api/v2.0/{ROOT}/customers"
    assert subscription["expirationDateTime"] > subscription["lastModifiedDateTime"]

    await bcw.patch(f"{ROOT}/customers({CUST_1})", json={"city": "Lyon"}, headers={"If-Match": "*"})
    new = (await bcw.post(f"{ROOT}/customers", json={"displayName": "Hooked"})).json()
    await bcw.delete(f"{ROOT}/customers({new['id']})", headers={"If-Match": "*"})
    await bcw.patch(
        f"{ROOT}/items({ITEM_1})", json={"gtin": "1"}, headers={"If-Match": "*"}
    )  # not subscribed
    atomic = {
        "requests": [
            {"id": "1", "method": "POST", "url": f"{ROOT}/customers", "body": {"displayName": "Rolled back"}},
            {"id": "2", "method": "POST", "url": f"{ROOT}/customers", "body": {"bogus": 1}},
        ]
    }
    await bcw.post("$batch", json=atomic, headers={"Isolation": "snapshot"})

    assert await _deliver(bcw) == {"sent": 1, "failed": 0, "removed": 0}
    [notice] = receiver.notifications
    changes = [(v["changeType"], v["resource"]) for v in notice["value"]]
    assert changes == [
        ("updated", f"api/v2.0/{ROOT}/customers({CUST_1})"),
        ("created", f"api/v2.0/{ROOT}/customers({new['id']})"),
        ("deleted", f"api/v2.0/{ROOT}/customers({new['id']})"),
    ]
    assert {v["clientState"] for v in notice["value"]} == {"s3cret"}
    assert {v["subscriptionId"] for v in notice["value"]} == {subscription["subscriptionId"]}
    assert await _deliver(bcw) == {"sent": 0, "failed": 0, "removed": 0}


async def test_more_changes_than_the_threshold_become_one_collection_notice(receiver: Receiver) -> None:
    assert SimulatorOptions().webhook_collection_threshold == 1_000  # BC's number
    app = create_erp_simulator(
        options(
            webhook_delay_seconds=0,
            webhook_transport=httpx.ASGITransport(app=receiver.app()),
            webhook_collection_threshold=5,
        )
    )
    async with await authed_client(app, BC_SCOPE, BC_API) as client:
        await _subscribe(client)
        for count in (5, 6):
            requests = [
                {"id": str(i), "method": "POST", "url": f"{ROOT}/customers", "body": {"displayName": f"N{i}"}}
                for i in range(count)
            ]
            response = await client.post("$batch", json={"requests": requests})
            assert {r["status"] for r in response.json()["responses"]} == {201}
            await _deliver(client)
    five, six = receiver.notifications
    assert [v["changeType"] for v in five["value"]] == ["created"] * 5
    assert [(v["changeType"], v["resource"]) for v in six["value"]] == [
        ("collection", f"api/v2.0/{ROOT}/customers")
    ]


async def test_handshake_must_echo_and_resource_must_exist(
    bcw: httpx.AsyncClient, receiver: Receiver
) -> None:
    assert (
        await _subscribe(bcw, "/api/v2.0/companies(00000000-0000-4000-8000-000000000000)/customers")
    ).status_code == 400
    assert (await _subscribe(bcw, f"/api/v2.0/{ROOT}/nothings")).status_code == 400
    receiver.echo = False
    assert (await _subscribe(bcw)).status_code == 400
    listed = await bcw.get("subscriptions")
    assert listed.json()["value"] == []
    anonymous = await bcw.get("subscriptions", headers={"Authorization": ""})
    assert anonymous.status_code == 401


async def test_retry_on_5xx_and_removal_on_other_errors(bcw: httpx.AsyncClient, receiver: Receiver) -> None:
    await _subscribe(bcw)
    await bcw.patch(f"{ROOT}/customers({CUST_1})", json={"city": "Nice"}, headers={"If-Match": "*"})
    receiver.status = 503
    assert await _deliver(bcw) == {"sent": 0, "failed": 1, "removed": 0}
    receiver.status = 200
    assert await _deliver(bcw) == {"sent": 1, "failed": 0, "removed": 0}
    assert receiver.notifications[0] == receiver.notifications[1]  # the same notice, retried
    await bcw.patch(f"{ROOT}/customers({CUST_1})", json={"city": "Metz"}, headers={"If-Match": "*"})
    receiver.status = 400
    assert await _deliver(bcw) == {"sent": 0, "failed": 0, "removed": 1}
    assert (await bcw.get("subscriptions")).json()["value"] == []


async def test_renew_delete_and_expiry(bcw: httpx.AsyncClient, receiver: Receiver, clock: Clock) -> None:
    subscription = (await _subscribe(bcw)).json()
    url = f"subscriptions('{subscription['subscriptionId']}')"
    assert (await bcw.patch(url, json={})).status_code == 428
    clock.now += 2 * 86400
    renewed = await bcw.patch(url, json={}, headers={"If-Match": subscription["@odata.etag"]})
    assert renewed.status_code == 200
    assert renewed.json()["expirationDateTime"] > subscription["expirationDateTime"]
    assert receiver.handshakes == 2
    clock.now += 3 * 86400 + 1
    assert (await _deliver(bcw))["removed"] == 1
    assert (await bcw.get(url)).status_code == 404
    again = (await _subscribe(bcw)).json()
    deleted = await bcw.delete(f"subscriptions('{again['subscriptionId']}')", headers={"If-Match": "*"})
    assert deleted.status_code == 204


async def test_background_delivery_after_the_delay(receiver: Receiver) -> None:
    import asyncio

    app = create_erp_simulator(
        options(webhook_delay_seconds=0.05, webhook_transport=httpx.ASGITransport(app=receiver.app()))
    )
    async with await authed_client(app, BC_SCOPE, BC_API) as client:
        subscription = (await _subscribe(client)).json()
        await client.patch(f"{ROOT}/customers({CUST_1})", json={"city": "Gent"}, headers={"If-Match": "*"})
        for _ in range(200):
            if receiver.notifications:
                break
            await asyncio.sleep(0.05)
        assert [v["changeType"] for v in receiver.notifications[0]["value"]] == ["updated"]
        await client.delete(f"subscriptions('{subscription['subscriptionId']}')", headers={"If-Match": "*"})
        await asyncio.sleep(0.2)  # the delivery loop ends once no subscription is left


async def test_a_custom_api_page_can_be_subscribed_too(receiver: Receiver) -> None:
    """BC webhooks work on API pages of custom APIs (ours: bcgateway/integration/v1.0) as on v2.0."""
    app = create_erp_simulator(
        options(webhook_delay_seconds=0, webhook_transport=httpx.ASGITransport(app=receiver.app()))
    )
    resource = f"/api/bcgateway/integration/v1.0/{ROOT}/priceListLines"
    async with (
        await authed_client(app, BC_SCOPE, BC_API) as client,
        await authed_client(app, BC_SCOPE, BC_INT) as integration,
    ):
        created = await _subscribe(client, resource)
        assert created.status_code == 201, created.text
        assert created.json()["resource"] == resource.lstrip("/")
        # A set of the other API under this API's path is refused.
        assert (
            await _subscribe(client, f"/api/bcgateway/integration/v1.0/{ROOT}/customers")
        ).status_code == 400
        lines = (await integration.get(f"{ROOT}/priceListLines")).json()["value"]
        await integration.patch(
            f"{ROOT}/priceListLines({lines[0]['id']})", json={"unitPrice": 9.5}, headers={"If-Match": "*"}
        )
        assert await _deliver(client) == {"sent": 1, "failed": 0, "removed": 0}
    [notice] = receiver.notifications
    assert [(v["changeType"], v["resource"]) for v in notice["value"]] == [
        ("updated", f"{resource.lstrip('/')}({lines[0]['id']})")
    ]


async def test_a_shipment_notifies_the_shipped_items_too(bcw: httpx.AsyncClient, receiver: Receiver) -> None:
    """Posting a shipment moves the item's `inventory` and lastModifiedDateTime (ITEM-PRODUCT carries
    inventory to the CRM's quantityonhand), so an `items` subscriber is told, as a `salesOrders` one is."""
    assert (await _subscribe(bcw, f"/api/v2.0/{ROOT}/items")).status_code == 201
    before = (await bcw.get(f"{ROOT}/items({ITEM_1})")).json()
    shipped = await bcw.post("https://sim.test/_sim/ship", json={"orderId": ORDER_1})
    assert shipped.status_code == 200, shipped.text
    after = (await bcw.get(f"{ROOT}/items({ITEM_1})")).json()
    assert after["inventory"] == before["inventory"] - 2
    assert await _deliver(bcw) == {"sent": 1, "failed": 0, "removed": 0}
    [notice] = receiver.notifications
    assert [(v["changeType"], v["resource"]) for v in notice["value"]] == [
        ("updated", f"api/v2.0/{ROOT}/items({ITEM_1})")
    ]
