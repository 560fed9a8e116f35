"""Deletion checks (gateway.sync.deletion_check): ERP customers deleted in BC without any `deleted`
notice are found by reading the set's ids (⌈N/page⌉ GETs) and follow CUSTOMER's deletion policy
through its erp_to_crm run; a read failing midway treats nothing as deleted; a set covered by a BC
subscription is read only when asked (a `collection` notice, a subscription created or recreated),
and rounds in between make no request."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest

from gateway.domain import Side
from gateway.simulators import SimulatorOptions
from gateway.store import deletion_hints, erp_watch, mirror, sync_state
from gateway.store.jobs import list_jobs
from gateway.store.leases import get_lease
from gateway.store.types import utcnow
from gateway.sync import catalog
from gateway.sync.deletion_check import DeletionCheck, WithDeletionChecks
from gateway.sync.deletion_requests import check_entries, check_name, request_check
from gateway.sync.full import FullSync
from gateway.sync.scheduler import Scheduler
from tests.sync.world import World, build_world

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])

CUSTOMERS = 40
PAGE = 5
OPTIONS = SimulatorOptions(customers=CUSTOMERS, items=20)


async def _world(database_url: str, policy: str = "uncouple", **overrides: object) -> World:
    w = await build_world(database_url, OPTIONS, erp_page_size=PAGE, **overrides)
    await catalog.update_mapping(w.sessions, "CUSTOMER", {"deletionPolicy": policy})
    await FullSync(w.engine).run()
    return w


@pytest.fixture
async def synced(database_url: str) -> AsyncIterator[World]:
    w = await _world(database_url)
    yield w
    await w.close()


async def _erp_gets(w: World) -> Counter[str]:
    stats = await w.stats("erp")
    return Counter({f"{r['method']} {r['entitySet']} {r['status']}": r["count"] for r in stats["requests"]})


async def _delete_in_bc(w: World, count: int) -> list[tuple[str, str, str]]:
    """Delete `count` coupled ERP customers straight in BC (no subscription: no notice is sent);
    returns (erp id, number, crm id) of each."""
    async with w.sessions() as session:
        couplings = sorted(
            await sync_state.mapping_couplings(session, mapping="CUSTOMER"), key=lambda c: c.erp_key or ""
        )
    gone = []
    for coupling in couplings[:count]:
        await w.erp.delete("customers", coupling.erp_id)
        gone.append((coupling.erp_id, coupling.erp_key or "", coupling.crm_id))
    return gone


async def _count_in_bc(w: World) -> int:
    return len([r async for page in w.erp.pages("customers", select=["id"]) for r in page])


async def _coupled_erp_ids(w: World) -> set[str]:
    async with w.sessions() as session:
        return {c.erp_id for c in await sync_state.mapping_couplings(session, mapping="CUSTOMER")}


async def _crm_exists(w: World, crm_id: str) -> bool:
    async with w.sessions() as session:
        rows = await mirror.load_records(session, side=Side.CRM, entity_set="accounts", ids=[crm_id])
    return crm_id in rows and not rows[crm_id].deleted


async def test_customers_deleted_without_a_notice_are_uncoupled_after_the_check(synced: World) -> None:
    w = synced
    gone = await _delete_in_bc(w, 2)
    check = DeletionCheck(sessions=w.sessions, erp=w.erp)
    # An incremental run alone never sees a deletion: the couplings stay.
    await w.engine.run(mapping="CUSTOMER", direction="erp_to_crm")
    assert {g[0] for g in gone} <= await _coupled_erp_ids(w)

    listed = await _count_in_bc(w)  # the demo customers and those the full sync created in BC
    before = await _erp_gets(w)
    summary = await check.run(entity_set="customers")
    made = await _erp_gets(w) - before
    assert made == Counter({"GET customers 200": math.ceil(listed / PAGE)})  # ids only, page by page
    assert summary is not None and summary.status == "success" and summary.type == "deletion_check"
    coupled = summary.counts["total"]
    assert summary.counts == {"deleted": 2, "unchanged": coupled - 2, "done": coupled, "total": coupled}
    async with w.sessions() as session:
        hinted = await deletion_hints.hinted_ids(session, mapping="CUSTOMER")
        lease = await get_lease(session, name="CUSTOMER:erp_to_crm")
        [job] = await list_jobs(session, mapping=check_name("customers"))
    assert sorted(hinted) == sorted(g[0] for g in gone)
    assert lease is not None and lease.requested_at is not None  # CUSTOMER's run asked for at once
    assert (job.type, job.direction, job.deleted) == ("deletion_check", "erp_to_crm", 2)
    assert job.message is not None and "no BC subscription covers the set" in job.message

    # CUSTOMER's run confirms the hints with BC (one `id in (…)` read listing neither) and applies
    # 'uncouple'; its usual poll is the other GET.
    before = await _erp_gets(w)
    run = await w.engine.run(mapping="CUSTOMER", direction="erp_to_crm")
    made = await _erp_gets(w) - before
    assert made == Counter({"GET customers 200": 2}), made
    assert run.counts["uncoupled"] == 2
    assert not ({g[0] for g in gone} & await _coupled_erp_ids(w))
    assert all([await _crm_exists(w, g[2]) for g in gone])  # uncouple leaves the CRM account

    # Checked again: those are known deleted now, nothing else is missing.
    again = await check.run(entity_set="customers")
    assert again is not None and again.counts["deleted"] == 0


@pytest.mark.parametrize("policy", ["propagate", "restore"])
async def test_the_mapping_policy_applies_to_what_the_check_found(database_url: str, policy: str) -> None:
    w = await _world(database_url, policy)
    try:
        [(erp_id, number, crm_id)] = await _delete_in_bc(w, 1)
        summary = await DeletionCheck(sessions=w.sessions, erp=w.erp).run(entity_set="customers")
        assert summary is not None and summary.counts["deleted"] == 1
        run = await w.engine.run(mapping="CUSTOMER", direction="erp_to_crm")
        if policy == "propagate":
            assert run.counts["deleted"] == 1
            assert not await _crm_exists(w, crm_id)
            assert erp_id not in await _coupled_erp_ids(w)
        else:  # restore: the ERP customer comes back (same number, new id) and is coupled again
            assert run.counts["inserted"] == 1, run
            back = [
                r async for page in w.erp.pages("customers", filter=f"number eq '{number}'") for r in page
            ]
            assert len(back) == 1 and back[0].id != erp_id
            async with w.sessions() as session:
                couplings = await sync_state.mapping_couplings(session, mapping="CUSTOMER")
            assert any(c.crm_id == crm_id and c.erp_id == back[0].id for c in couplings)
    finally:
        await w.close()


async def test_a_read_failing_midway_treats_nothing_as_deleted(database_url: str) -> None:
    # One retry: seed 15 at rate 0.5 lets pages 1 and 2 through, then fails page 3 twice in a row.
    w = await _world(database_url, upstream_max_retries=1)
    try:
        gone = await _delete_in_bc(w, 3)
        await w.sim("erp", "POST", "/_sim/faults", {"rate": 0.5, "seed": 15, "kinds": ["503"]})
        before = await _erp_gets(w)
        summary = await DeletionCheck(sessions=w.sessions, erp=w.erp).run(entity_set="customers")
        made = await _erp_gets(w) - before
        await w.sim("erp", "POST", "/_sim/faults", {"rate": 0})
        assert made == Counter({"GET customers 200": 2, "GET customers 503": 2})  # pages 1-2, page 3 twice
        assert summary is not None and summary.status == "error"
        assert summary.message is not None and "nothing was treated as deleted" in summary.message
        assert summary.counts["deleted"] == 0
        async with w.sessions() as session:
            assert await deletion_hints.hinted_ids(session, mapping="CUSTOMER") == []
        await w.engine.run(mapping="CUSTOMER", direction="erp_to_crm")
        assert {g[0] for g in gone} <= await _coupled_erp_ids(w)  # every coupling still there

        # The next check, reading every page, finds the three.
        summary = await DeletionCheck(sessions=w.sessions, erp=w.erp).run(entity_set="customers")
        assert summary is not None and summary.status == "success" and summary.counts["deleted"] == 3
    finally:
        await w.close()


async def _cover(w: World, entity_set: str, at: datetime) -> None:
    """Record our BC subscription to `entity_set` as seen in place at `at` (the manager's record)."""
    async with w.sessions.begin() as session:
        await erp_watch.record_verified(session, verified=[entity_set], lost=[], at=at)


async def test_a_covered_set_is_read_only_when_asked(synced: World) -> None:
    w = synced
    check = DeletionCheck(sessions=w.sessions, erp=w.erp)
    first = await check.run(entity_set="customers")  # never checked: read once
    assert first is not None and first.counts["deleted"] == 0
    await _cover(w, "customers", utcnow())
    await _delete_in_bc(w, 1)
    before = await _erp_gets(w)
    assert await check.run(entity_set="customers") is None  # covered, nobody asked: no request
    assert await _erp_gets(w) == before
    # A collection notice (or a subscription created or recreated) asks for it.
    async with w.sessions.begin() as session:
        assert await request_check(session, entity_sets=["customers", "salesOrders"]) == ["customers"]
    asked = await check.run(entity_set="customers")
    assert asked is not None and asked.counts["deleted"] == 1
    assert asked.message is not None and asked.message.startswith("asked for")
    assert await check.run(entity_set="customers") is None  # served: covered again
    # A subscription no longer seen in place: the set is read on its schedule again.
    await _cover(w, "customers", utcnow() - timedelta(hours=1))
    assert await check.run(entity_set="customers") is not None


async def test_scheduled_checks_read_once_per_interval_and_nothing_in_between(synced: World) -> None:
    w = synced
    now = [utcnow()]
    async with w.sessions() as session:
        mappings = await catalog.load_mappings(session)
    entries = check_entries(mappings, interval_seconds=3600)
    # The ERP sets the default mappings' erp_to_crm runs read (items: UNIT GROUP and ITEM-PRODUCT).
    sets = ("currencies", "items", "itemUnitsOfMeasure", "priceListHeaders", "customers", "priceListLines")
    assert sorted(e.mapping for e in entries) == sorted(check_name(s) for s in sets)
    runner = WithDeletionChecks(w.engine, DeletionCheck(sessions=w.sessions, erp=w.erp))
    scheduler = Scheduler(
        sessions=w.sessions, runner=runner, worker_id="w1", schedule=lambda: entries, clock=lambda: now[0]
    )

    async def round_() -> Counter[str]:
        before = await _erp_gets(w)
        await scheduler.run_once()
        return await _erp_gets(w) - before

    listed = await _count_in_bc(w)
    first = await round_()
    assert first["GET customers 200"] == math.ceil(listed / PAGE)
    sets_read = {key.split()[1] for key in first}
    assert all(key.startswith("GET ") and key.endswith(" 200") for key in first), first
    for _ in range(3):  # idle rounds within the hour: not one request
        now[0] += timedelta(minutes=10)
        assert await round_() == Counter()
    now[0] += timedelta(minutes=31)
    again = await round_()
    assert {key.split()[1] for key in again} == sets_read and again["GET customers 200"] == first[
        "GET customers 200"
    ]
    async with w.sessions() as session:
        jobs = await list_jobs(session, type="deletion_check", limit=50)
    assert len(jobs) == 2 * len(sets_read) and all(j.status == "success" for j in jobs)
