"""What an incremental round costs when nothing changed: upstream, counted by the simulators, one
request per mapping-direction, except ERP PRICING while no BC subscription covers its standard-API
sets (its sets' reads in one `$batch` per BC API, two) and SALES ORDER while a transferred order
waits for its fulfilled status and no BC subscription covers the ERP orders (their poll, then made
every run); with subscriptions, those polls are made every ERP_POLL_FALLBACK or when BC notified a
change. In the store, failed records are not processed again until they or their dependencies
change."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlmodel import select
from starlette.applications import Starlette

from gateway.domain import Side
from gateway.simulators import SimulatorOptions
from gateway.store import erp_watch, jobs, mirror, sync_state, watermarks
from gateway.store.sync_tables import MirrorRecord
from gateway.store.tables import Coupling, ErrorStatus, JobError
from gateway.store.types import utcnow
from gateway.sync import catalog
from gateway.sync.erp_polls import ERP_POLL_FALLBACK
from gateway.sync.full import FullSync
from gateway.sync.subscriptions import SubscriptionManager
from gateway.web.webhooks import webhook_routes
from tests.sync.world import World, build_world, couple_salesperson

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])

OPTIONS = SimulatorOptions(customers=40, items=20)


@pytest.fixture
async def synced(database_url: str) -> AsyncIterator[World]:
    w = await build_world(database_url, OPTIONS, erp_page_size=5)
    await FullSync(w.engine).run()
    yield w
    await w.close()


@pytest.fixture
async def subscribed(database_url: str) -> AsyncIterator[World]:
    """The synced world with our BC subscriptions in place (the ERP simulator's handshakes reach our
    real receiver route; no notification is delivered unless a test asks for it)."""
    receiver = Starlette(routes=webhook_routes())
    options = SimulatorOptions(
        customers=40, items=20, webhook_delay_seconds=0, webhook_transport=httpx.ASGITransport(app=receiver)
    )
    w = await build_world(database_url, options, erp_page_size=5)
    await FullSync(w.engine).run()
    manager = SubscriptionManager(
        sessions=w.sessions,
        erp=w.erp,
        notification_url="http://gateway.test/api/v1/admin/webhooks/bc",
        client_state="idle-test-state",
        holder="w1/subscriptions",
    )
    passed = await manager.run_once()
    assert passed is not None and passed.ok and any(r.endswith("/salesOrders") for r in passed.created)
    yield w
    await w.close()


def _requests(stats: dict[str, Any]) -> Counter[str]:
    return Counter({f"{r['method']} {r['entitySet']}": r["count"] for r in stats["requests"]})


async def _requests_of(w: World) -> dict[str, Counter[str]]:
    return {side: _requests(await w.stats(side)) for side in ("erp", "crm")}


async def _round(w: World) -> dict[tuple[str, str], dict[str, Counter[str]]]:
    """Every schedule entry once, in order; the requests each one made, by side and kind."""
    made = {}
    for mapping, direction, _ in await catalog.schedule_entries(w.sessions):
        before = await _requests_of(w)
        summary = await w.engine.run(mapping=mapping, direction=direction)
        assert summary.status in ("success", "error"), summary
        after = await _requests_of(w)
        made[(mapping, direction)] = {side: after[side] - before[side] for side in after}
    return made


def _total(made: dict[str, Counter[str]]) -> int:
    return sum(made["erp"].values()) + sum(made["crm"].values())


async def test_an_idle_round_makes_one_request_per_mapping_direction(synced: World) -> None:
    w = synced
    await _round(w)  # reads back the full sync's own writes
    idle = await _round(w)
    assert len(idle) == 12
    for (mapping, direction), made in idle.items():
        if mapping == "ERP PRICING":
            # 11 sets: 9 in the integration API, 2 in API v2.0; each API has its own $batch, and
            # with no BC subscription covering the v2.0 sets both are sent every run.
            assert made["erp"] == Counter({"POST $batch": 2}) and not made["crm"]
        elif mapping == "SALES ORDER":
            # Transferred orders wait for their fulfilled status and no BC subscription tells us of
            # shipments: the ERP orders are polled too, every run.
            assert made["crm"] == Counter({"GET salesorders": 1}), made
            assert made["erp"] == Counter({"GET salesOrders": 1}), made
        else:
            assert _total(made) == 1, (mapping, direction, made)

    # Every transferred order shipped: the status flows back, then nothing awaits it.
    async with w.sessions() as session:
        transferred = [c.erp_id for c in await sync_state.mapping_couplings(session, mapping="SALES ORDER")]
    assert transferred
    for erp_id in transferred:  # a shipment posted in BC for each
        await w.sim("erp", "POST", "/_sim/ship", {"orderId": erp_id})
    summary = await w.engine.run(mapping="SALES ORDER", direction="crm_to_erp")
    assert summary.counts["modified"] == len(transferred)
    await w.engine.run(mapping="SALES ORDER", direction="crm_to_erp")  # sees its own status writes
    before = await _requests_of(w)
    await w.engine.run(mapping="SALES ORDER", direction="crm_to_erp")
    after = await _requests_of(w)
    assert {side: after[side] - before[side] for side in after} == {
        "erp": Counter(),
        "crm": Counter({"GET salesorders": 1}),
    }


async def test_batched_pricing_reads_follow_next_links_and_reach_the_mirror(synced: World) -> None:
    w = synced
    await _round(w)
    lines = [r async for page in w.erp.pages("priceListLines", api="integration") for r in page][:7]
    groups = [r async for page in w.erp.pages("customerPriceGroups", api="integration") for r in page]
    group = groups[0]
    for line in lines:  # 7 changed rows with pages of 5: the batched first page and one next link
        await w.erp.update(
            "priceListLines", line.id, {"unitPrice": 1234.5}, etag=line.etag or "*", api="integration"
        )
    await w.erp.update(
        "customerPriceGroups", group.id, {"description": "changed"}, etag=group.etag or "*", api="integration"
    )
    before = await _requests_of(w)
    summary = await w.engine.run(mapping="ERP PRICING", direction="erp_to_crm")
    after = await _requests_of(w)
    assert summary.status == "success" and summary.counts["modified"] == 8
    assert after["erp"] - before["erp"] == Counter({"POST $batch": 2, "GET priceListLines": 1})
    # Its job counts the 8 rows it read done out of a total of 8 (the total stayed 0 before).
    async with w.sessions() as session:
        (job_id,) = summary.job_ids
        job = await jobs.get_job(session, job_id=job_id)
    assert (job.done, job.total) == (8, 8)
    async with w.sessions() as session:
        mirrored = await mirror.load_records(
            session, side=Side.ERP, entity_set="priceListLines", ids=[line.id for line in lines]
        )
        mirrored_group = await mirror.load_records(
            session, side=Side.ERP, entity_set="customerPriceGroups", ids=[group.id]
        )
    assert {r.values["unitPrice"] for r in mirrored.values()} == {1234.5} and len(mirrored) == 7
    assert mirrored_group[group.id].values["description"] == "changed"
    # Idle again: the watermarks moved past those changes.
    before = await _requests_of(w)
    summary = await w.engine.run(mapping="ERP PRICING", direction="erp_to_crm")
    after = await _requests_of(w)
    assert summary.counts["modified"] == 0
    assert after["erp"] - before["erp"] == Counter({"POST $batch": 2})
    async with w.sessions() as session:
        (job_id,) = summary.job_ids
        job = await jobs.get_job(session, job_id=job_id)
    assert (job.done, job.total) == (0, 0), (job.done, job.total)


async def _errors(w: World, mapping: str) -> tuple[int, int]:
    """(open errors, all error rows) of `mapping`."""
    async with w.sessions() as session:
        rows = (await session.exec(select(JobError).where(JobError.mapping == mapping))).all()
    return sum(1 for e in rows if e.status == ErrorStatus.OPEN.value), len(rows)


async def test_failed_records_are_retried_when_a_dependency_changes_or_after_a_backoff(synced: World) -> None:
    w = synced
    now = [1000.0]
    w.engine.retries.clock = lambda: now[0]
    w.engine.retries.forget("CUSTOMER")
    open_, rows = await _errors(w, "CUSTOMER")
    owner = "owner: salesperson RH is not coupled to a user"
    async with w.sessions() as session:
        reasons = {e.reason for e in (await session.exec(select(JobError))).all()}
    assert open_ > 0 and owner in reasons
    first = await w.engine.run(mapping="CUSTOMER", direction="erp_to_crm")  # retries once, then waits
    assert first.counts["failed"] > 0
    open_, rows = await _errors(w, "CUSTOMER")
    # Nothing changed: the failed records are not processed again (no new error rows, nothing done).
    idle = await w.engine.run(mapping="CUSTOMER", direction="erp_to_crm")
    assert idle.counts["failed"] == idle.counts["done"] == 0
    assert await _errors(w, "CUSTOMER") == (open_, rows)
    # After the backoff they are tried again (and fail again: each gets a fresh error row).
    now[0] += 301
    again = await w.engine.run(mapping="CUSTOMER", direction="erp_to_crm")
    assert again.counts["failed"] == first.counts["failed"]
    assert (await _errors(w, "CUSTOMER"))[0] == open_
    # A dependency changes (salesperson RH gets coupled to a user): retried at once, and resolved.
    await couple_salesperson(w, "RH")
    fixed = await w.engine.run(mapping="CUSTOMER", direction="erp_to_crm")
    assert fixed.counts["modified"] + fixed.counts["inserted"] > 0
    async with w.sessions() as session:
        still = (
            await session.exec(
                select(JobError).where(
                    JobError.mapping == "CUSTOMER",
                    JobError.status == ErrorStatus.OPEN.value,
                    JobError.reason == owner,
                )
            )
        ).all()
    assert not still


async def test_an_idle_sales_order_run_loads_no_lines_lookups_or_erp_orders(synced: World) -> None:
    w = synced
    now = [1000.0]
    w.engine.retries.clock = lambda: now[0]
    await w.engine.run(mapping="SALES ORDER", direction="crm_to_erp")  # reads back the full sync's writes
    await w.engine.run(mapping="SALES ORDER", direction="crm_to_erp")
    loaded: Counter[str] = Counter()

    def coupling_loaded(target: Coupling, _context: object) -> None:
        loaded[f"coupling {target.mapping}"] += 1

    def record_loaded(target: MirrorRecord, _context: object) -> None:
        loaded[target.entity_set] += 1

    async def idle_run() -> Counter[str]:
        loaded.clear()
        event.listen(Coupling, "load", coupling_loaded)
        event.listen(MirrorRecord, "load", record_loaded)
        try:
            summary = await w.engine.run(mapping="SALES ORDER", direction="crm_to_erp")
        finally:
            event.remove(Coupling, "load", coupling_loaded)
            event.remove(MirrorRecord, "load", record_loaded)
        assert summary.status == "success" and summary.counts["inserted"] == 0
        return Counter(loaded)

    # Only the transferred orders, to see whether one still awaits its status (it does: ERP poll).
    idle = await idle_run()
    async with w.sessions() as session:
        transferred = len(await sync_state.mapping_couplings(session, mapping="SALES ORDER"))
    assert transferred > 0
    assert idle == Counter({"coupling SALES ORDER": transferred, "salesorders": transferred}), idle
    # After the retry backoff the run looks at everything again (orders that failed to transfer).
    now[0] += 301
    again = await idle_run()
    assert again["coupling CUSTOMER"] > 0 and again["salesorderdetails"] > 0 and again["salesOrders"] > 0


async def test_an_idle_sales_order_run_polls_bc_only_when_notified_or_after_the_fallback(
    subscribed: World,
) -> None:
    w = subscribed
    await _round(w)  # reads back the full sync's writes; the first ERP poll (none recorded yet)
    async with w.sessions() as session:
        transferred = [c.erp_id for c in await sync_state.mapping_couplings(session, mapping="SALES ORDER")]
    assert transferred  # orders wait for their fulfilled status
    idle = await _round(w)
    assert idle[("SALES ORDER", "crm_to_erp")] == {"erp": Counter(), "crm": Counter({"GET salesorders": 1})}
    assert all(_total(made) == 1 for made in idle.values())
    # No poll due: not even the transferred orders are loaded to see whether one awaits its status.
    loaded: Counter[str] = Counter()

    def coupling_loaded(target: Coupling, _context: object) -> None:
        loaded[f"coupling {target.mapping}"] += 1

    def record_loaded(target: MirrorRecord, _context: object) -> None:
        loaded[target.entity_set] += 1

    event.listen(Coupling, "load", coupling_loaded)
    event.listen(MirrorRecord, "load", record_loaded)
    try:
        await w.engine.run(mapping="SALES ORDER", direction="crm_to_erp")
    finally:
        event.remove(Coupling, "load", coupling_loaded)
        event.remove(MirrorRecord, "load", record_loaded)
    assert not loaded, loaded

    async def requests_of_a_run() -> dict[str, Counter[str]]:
        before = await _requests_of(w)
        summary = await w.engine.run(mapping="SALES ORDER", direction="crm_to_erp")
        assert summary.status == "success", summary
        after = await _requests_of(w)
        return {side: after[side] - before[side] for side in after}

    # A shipment nobody told us of waits for the fallback poll...
    await w.sim("erp", "POST", "/_sim/ship", {"orderId": transferred[0]})
    assert (await requests_of_a_run())["erp"] == Counter()
    async with w.sessions.begin() as session:  # ERP_POLL_FALLBACK passed since the last poll
        mark = await watermarks.get_watermark(session, mapping="SALES ORDER", direction="erp_to_crm")
        assert mark is not None and mark.polled_at is not None
        await watermarks.set_polled(
            session, mapping="SALES ORDER", direction="erp_to_crm", at=mark.polled_at - ERP_POLL_FALLBACK
        )
    before = await _requests_of(w)
    fallback = await w.engine.run(mapping="SALES ORDER", direction="crm_to_erp")
    after = await _requests_of(w)
    assert after["erp"] - before["erp"] == Counter({"GET salesOrders": 1})
    assert fallback.counts["modified"] == 1  # ...which reports it back
    await w.engine.run(mapping="SALES ORDER", direction="crm_to_erp")  # sees its own status writes
    assert (await requests_of_a_run())["erp"] == Counter()

    # A notification for the ERP orders (what the receiver records) makes the next run poll, once.
    async with w.sessions.begin() as session:
        await erp_watch.record_notified(session, entity_sets=["salesOrders"], at=utcnow())
    assert (await requests_of_a_run())["erp"] == Counter({"GET salesOrders": 1})
    assert (await requests_of_a_run())["erp"] == Counter()

    # The subscription manager lost the subscription (a failed pass): polled every run again.
    async with w.sessions.begin() as session:
        await erp_watch.record_verified(session, verified=[], lost=["salesOrders"], at=utcnow())
    assert (await requests_of_a_run())["erp"] == Counter({"GET salesOrders": 1})
    assert (await requests_of_a_run())["erp"] == Counter({"GET salesOrders": 1})


async def test_an_idle_round_loads_no_couplings_or_records(synced: World) -> None:
    """Lookups (the couplings of CUSTOMER's salespeople, ITEM-PRODUCT's unit groups, PRICE LIST
    LINE's items and units, ...) are loaded only once a run has something to reconcile; whether open
    errors are due for a retry is decided from aggregates, without loading them either."""
    w = synced
    await _round(w)  # reads back the full sync's own writes
    await _round(w)  # failed records tried once more with their dependencies (then they wait)
    loaded: Counter[str] = Counter()

    def coupling_loaded(target: Coupling, _context: object) -> None:
        loaded[f"coupling {target.mapping}"] += 1

    def record_loaded(target: MirrorRecord, _context: object) -> None:
        loaded[target.entity_set] += 1

    async with w.sessions() as session:
        failing = {
            e.mapping
            for e in (await session.exec(select(JobError))).all()
            if e.status == ErrorStatus.OPEN.value
        }
    # Mappings whose idle runs have open errors to consider, and ones without.
    assert {"CUSTOMER", "ITEM-PRODUCT", "PRICE LIST LINE"} <= failing and "ITEM UOM" not in failing
    for mapping, direction, _ in await catalog.schedule_entries(w.sessions):
        loaded.clear()
        event.listen(Coupling, "load", coupling_loaded)
        event.listen(MirrorRecord, "load", record_loaded)
        try:
            summary = await w.engine.run(mapping=mapping, direction=direction)
        finally:
            event.remove(Coupling, "load", coupling_loaded)
            event.remove(MirrorRecord, "load", record_loaded)
        assert summary.counts["done"] == 0, (mapping, summary)
        if mapping == "SALES ORDER":  # the transferred orders, to see whether one awaits its status
            assert set(loaded) == {"coupling SALES ORDER", "salesorders"}, loaded
        else:
            assert not loaded, (mapping, direction, loaded)


async def test_an_idle_erp_pricing_run_polls_the_standard_api_only_when_notified_or_after_the_fallback(
    subscribed: World,
) -> None:
    w = subscribed
    await _round(w)  # the first gated polls (none recorded yet): both batches
    idle = await _round(w)
    # Our subscriptions cover locations and unitsOfMeasure: only the integration API's $batch.
    assert idle[("ERP PRICING", "erp_to_crm")] == {"erp": Counter({"POST $batch": 1}), "crm": Counter()}

    async def pricing_run() -> tuple[Counter[str], dict[str, int]]:
        before = await _requests_of(w)
        summary = await w.engine.run(mapping="ERP PRICING", direction="erp_to_crm")
        assert summary.status == "success", summary
        after = await _requests_of(w)
        return after["erp"] - before["erp"], summary.counts

    async def mirrored_unit(code: str) -> dict[str, Any]:
        async with w.sessions() as session:
            rows = await mirror.load_records(session, side=Side.ERP, entity_set="unitsOfMeasure")
        return next(dict(r.values) for r in rows.values() if r.values.get("code") == code)

    # A unit of measure renamed in BC's standard API waits while nobody told us of it...
    units = [u async for page in w.erp.pages("unitsOfMeasure") for u in page]
    unit = units[0]
    code, name = str(unit.values["code"]), f"{unit.values['displayName']} (renamed)"
    await w.erp.update("unitsOfMeasure", unit.id, {"displayName": name}, etag="*")
    made, counts = await pricing_run()
    assert made == Counter({"POST $batch": 1}) and counts["modified"] == 0
    assert (await mirrored_unit(code))["displayName"] != name
    # ...until BC's notification (what the receiver records): the next run sends both batches, once.
    async with w.sessions.begin() as session:
        await erp_watch.record_notified(session, entity_sets=["unitsOfMeasure"], at=utcnow())
    made, counts = await pricing_run()
    assert made == Counter({"POST $batch": 2}) and counts["modified"] == 1
    assert (await mirrored_unit(code))["displayName"] == name
    assert (await pricing_run())[0] == Counter({"POST $batch": 1})

    # ERP_POLL_FALLBACK passed since the last standard-API poll: polled anyway.
    async with w.sessions.begin() as session:
        for entity_set in ("locations", "unitsOfMeasure"):
            mark = await watermarks.get_watermark(
                session, mapping=f"ERP PRICING:{entity_set}", direction="erp_to_crm"
            )
            assert mark is not None and mark.polled_at is not None
            await watermarks.set_polled(
                session,
                mapping=f"ERP PRICING:{entity_set}",
                direction="erp_to_crm",
                at=mark.polled_at - ERP_POLL_FALLBACK,
            )
    assert (await pricing_run())[0] == Counter({"POST $batch": 2})
    assert (await pricing_run())[0] == Counter({"POST $batch": 1})

    # The subscription manager lost the subscriptions (a failed pass): both batches every run again.
    async with w.sessions.begin() as session:
        await erp_watch.record_verified(
            session, verified=[], lost=["locations", "unitsOfMeasure"], at=utcnow()
        )
    assert (await pricing_run())[0] == Counter({"POST $batch": 2})
    assert (await pricing_run())[0] == Counter({"POST $batch": 2})
