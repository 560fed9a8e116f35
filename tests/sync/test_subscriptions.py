"""BC webhook subscriptions kept by the syncer: created with the handshake for every ERP entity set an
enabled mapping reads towards the CRM, renewed once less than a day of BC's 3 days remains, recreated
when BC dropped one (a 404), deleted when no mapping needs it, and managed by one process at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from gateway.config import load_settings
from gateway.simulators import SimulatorOptions
from gateway.store.leases import list_leases
from gateway.sync import catalog
from gateway.sync.deletion_requests import checked_set
from gateway.sync.orphans import split_lease_name
from gateway.sync.subscriptions import RECHECK_SECONDS, SubscriptionManager
from gateway.sync.worker import subscription_manager
from gateway.web.webhooks import webhook_routes
from tests.sync.world import World, build_world

URL = "http://gateway.test/api/v1/admin/webhooks/bc"
SECRET = "our-client-state"
DAY = 86_400.0
# The ERP entity sets the default mappings read towards the CRM (v2.0 and our integration API),
# with SALES ORDER's ERP orders (their fulfilled status flows back) and ERP PRICING's standard-API
# sets (polled only when due while subscriptions cover them).
EXPECTED_SETS = {
    "salesOrders",
    "locations",
    "unitsOfMeasure",
    "currencies",
    "items",
    "itemUnitsOfMeasure",
    "priceListHeaders",
    "customers",
    "priceListLines",
}


CHECKED_SETS = EXPECTED_SETS - {"salesOrders", "locations", "unitsOfMeasure"}


async def _checks_asked(world: World) -> dict[str, datetime | None]:
    """Per ERP set with a deletion check asked for, when it was last asked."""
    async with world.sessions() as session:
        leases = await list_leases(session)
    return {
        entity_set: lease.requested_at
        for lease in leases
        if (entity_set := checked_set(split_lease_name(lease.name)[0])) is not None
    }


class SimClock:
    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now

    def aware(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)


@pytest.fixture
def clock() -> SimClock:
    return SimClock()


@pytest.fixture
async def hooked(database_url: str, clock: SimClock) -> AsyncIterator[World]:
    """The sync world whose ERP simulator calls our real receiver route (no app state behind it:
    handshakes are answered, every notification is refused with 401, as for a foreign clientState)."""
    receiver = Starlette(routes=webhook_routes())
    options = SimulatorOptions(
        customers=20,
        items=20,
        clock=clock,
        token_lifetime_seconds=int(30 * DAY),
        webhook_delay_seconds=0,
        webhook_transport=httpx.ASGITransport(app=receiver),
    )
    world = await build_world(database_url, options)
    yield world
    await world.close()


def _manager(world: World, clock: SimClock, holder: str = "w1/subscriptions") -> SubscriptionManager:
    return SubscriptionManager(
        sessions=world.sessions,
        erp=world.erp,
        notification_url=URL,
        client_state=SECRET,
        holder=holder,
        clock=clock.aware,
    )


async def _listed(world: World) -> tuple[list[dict[str, Any]], dict[str, int]]:
    state = await world.sim("erp", "GET", "/_sim/webhooks")
    return list(state["subscriptions"]), dict(state["counters"])


def _set_of(resource: str) -> str:
    return resource.rstrip("/").rsplit("/", 1)[-1]


def _subscription_writes(stats: dict[str, Any]) -> int:
    return sum(
        row["count"]
        for row in stats["requests"]
        if row["entitySet"] == "subscriptions" and row["method"] != "GET"
    )


async def test_created_with_the_handshake_renewed_near_expiry_and_left_alone_otherwise(
    hooked: World, clock: SimClock
) -> None:
    manager = _manager(hooked, clock)
    first = await manager.run_once()
    assert first is not None and first.ok, first
    assert {_set_of(r) for r in first.created} == EXPECTED_SETS
    listed, counters = await _listed(hooked)
    assert {_set_of(s["resource"]) for s in listed} == EXPECTED_SETS
    assert {(s["notificationUrl"], s["clientState"]) for s in listed} == {(URL, SECRET)}
    assert counters["handshakes"] == len(EXPECTED_SETS)

    # The next pass is not due before the recheck interval; a pass now changes nothing (one GET).
    assert await manager.run_once() is None
    before = _subscription_writes(await hooked.stats("erp"))
    idle = await manager.reconcile(await hooked.erp.subscriptions())
    assert len(idle.unchanged) == len(EXPECTED_SETS) and not (idle.created or idle.renewed)
    assert _subscription_writes(await hooked.stats("erp")) == before

    # Two days later (more than a day left) still nothing; past that, every one is renewed in place.
    clock.now += 1.9 * DAY
    assert not (await manager.reconcile(await hooked.erp.subscriptions())).renewed
    clock.now += 0.2 * DAY
    assert await manager.run_once() is not None  # due again: the recheck interval has long passed
    renewed, counters = await _listed(hooked)
    assert {s["subscriptionId"] for s in renewed} == {s["subscriptionId"] for s in listed}
    assert counters["handshakes"] == 2 * len(EXPECTED_SETS)
    horizon = datetime.fromtimestamp(clock.now + 2.9 * DAY, UTC).isoformat()
    assert all(s["expirationDateTime"] > horizon[:19] for s in renewed)
    assert RECHECK_SECONDS < DAY  # many passes fit in the renewal margin


async def test_recreated_after_bc_dropped_it_and_deleted_when_no_mapping_reads_the_set(
    hooked: World, clock: SimClock
) -> None:
    manager = _manager(hooked, clock)
    await manager.run_once()
    # Each subscription created asks for its set's deletion check (notices may have been missed
    # before it existed): the sets erp_to_crm runs read, not salesOrders nor ERP PRICING's.
    asked = await _checks_asked(hooked)
    assert set(asked) == CHECKED_SETS
    known = await hooked.erp.subscriptions()
    # A delivery the receiver refuses (401: not a retriable status) makes BC drop the subscription.
    customer = (await hooked.erp.pages("customers").__anext__())[0]
    await hooked.erp.update("customers", customer.id, {"city": "Ghent"}, etag="*")
    delivered = await hooked.sim("erp", "POST", "/_sim/webhooks")
    assert delivered == {"sent": 0, "failed": 0, "removed": 1}
    assert "customers" not in {_set_of(s["resource"]) for s in (await _listed(hooked))[0]}

    # Renewing what we listed before the drop: BC answers 404, and the subscription is created anew.
    clock.now += 2.5 * DAY
    result = await manager.reconcile(known)
    assert [_set_of(r) for r in result.recreated] == ["customers"]
    assert len(result.renewed) == len(EXPECTED_SETS) - 1
    listed, _ = await _listed(hooked)
    customers = [s for s in listed if _set_of(s["resource"]) == "customers"]
    assert len(customers) == 1
    assert customers[0]["subscriptionId"] not in {s.id for s in known}
    # Recreated: notices of customers were lost meanwhile, so its deletion check is asked for again.
    again = await _checks_asked(hooked)
    assert {name for name in CHECKED_SETS if again[name] != asked[name]} == {"customers"}

    # A mapping disabled: its set's subscription goes (items stay: ITEM-PRODUCT still reads them).
    for name in ("CURRENCY", "UNIT GROUP"):
        await catalog.update_mapping(hooked.sessions, name, {"enabled": False})
    result = await manager.reconcile(await hooked.erp.subscriptions())
    assert [_set_of(r) for r in result.deleted] == ["currencies"]
    assert {_set_of(s["resource"]) for s in (await _listed(hooked))[0]} == EXPECTED_SETS - {"currencies"}


async def test_one_process_manages_them_and_other_subscribers_are_left_alone(
    hooked: World, clock: SimClock
) -> None:
    foreign = await hooked.erp.create_subscription(
        resource=await hooked.erp.subscription_resource("customers"),
        notification_url="http://someone.else/api/v1/admin/webhooks/bc",
        client_state="theirs",
    )
    one, two = _manager(hooked, clock, "w1/subscriptions"), _manager(hooked, clock, "w2/subscriptions")
    assert await one.run_once() is not None
    assert await two.run_once() is None  # the lease says the next pass is not due yet
    listed, _ = await _listed(hooked)
    assert len(listed) == len(EXPECTED_SETS) + 1
    assert foreign.id in {s["subscriptionId"] for s in listed}
    clock.now += RECHECK_SECONDS + 1
    assert await two.run_once() is not None  # whoever looks first once it is due
    assert len((await _listed(hooked))[0]) == len(EXPECTED_SETS) + 1


def test_no_manager_without_a_notification_url_and_a_client_state() -> None:
    assert load_settings(webhook_url=URL).webhook_subscription() is None
    assert load_settings(webhook_client_state=SECRET).webhook_subscription() is None
    assert load_settings(webhook_url=URL, webhook_client_state=SECRET).webhook_subscription() == (URL, SECRET)
    settings = load_settings(webhook_client_state=SECRET)
    assert subscription_manager(settings, sessions=None, erp=None, worker_id="w") is None  # type: ignore[arg-type]


def test_the_demo_subscribes_its_own_receiver_with_a_fresh_client_state(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gateway.demo import DEMO_CRM_POLL_SECONDS, plan_demo

    for name in ("GATEWAY_WEBHOOK_URL", "GATEWAY_WEBHOOK_CLIENT_STATE", "GATEWAY_CRM_POLL_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    sizes = {"erp_port": 9001, "crm_port": 9002, "seed": 1, "customers": 20, "items": 20}
    one = plan_demo(host="0.0.0.0", port=9000, **sizes).settings
    two = plan_demo(host="127.0.0.1", port=9000, **sizes).settings
    assert one.webhook_url == "http://127.0.0.1:9000/api/v1/admin/webhooks/bc" == two.webhook_url
    assert one.webhook_subscription() is not None and two.webhook_subscription() is not None
    assert one.webhook_subscription() != two.webhook_subscription()  # a new clientState per start
    assert one.crm_poll_seconds == DEMO_CRM_POLL_SECONDS
    # GATEWAY_* variables win: an empty URL turns subscriptions off (benchmarks that count calls).
    monkeypatch.setenv("GATEWAY_WEBHOOK_URL", "")
    monkeypatch.setenv("GATEWAY_CRM_POLL_SECONDS", "600")
    quiet = plan_demo(host="127.0.0.1", port=9000, **sizes).settings
    assert quiet.webhook_subscription() is None and quiet.crm_poll_seconds == 600
