"""The admin use cases: mappings, a background full sync watched through its review lines, runs,
jobs, errors and their actions, couplings made and removed by hand, and match-based coupling."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gateway.errors import Busy, InvalidInput, NotFound
from gateway.services.sync_control import SyncControl
from gateway.simulators import SimulatorOptions
from gateway.store import job_errors
from tests.sync.world import World, build_world

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])


@pytest.fixture
async def control(database_url: str) -> AsyncIterator[tuple[World, SyncControl]]:
    w = await build_world(database_url, SimulatorOptions(customers=20, items=20))
    c = SyncControl(sessions=w.sessions, engine=w.engine)
    yield w, c
    await c.aclose()
    await w.close()


async def test_full_sync_in_the_background_with_review_lines(control: tuple[World, SyncControl]) -> None:
    _, c = control
    before = await c.full_sync_status()
    assert not before["running"]
    assert {
        line["jobs"]["erp_to_crm"]["status"] for line in before["lines"] if "erp_to_crm" in line["jobs"]
    } == {"blank"}
    started = await c.start_full_sync(mappings=["SALESPEOPLE", "CURRENCY", "PRICE LIST", "CUSTOMER"])
    assert started["running"]
    with pytest.raises(Busy):
        await c.start_full_sync()
    with pytest.raises(InvalidInput, match="NOPE"):  # the names are checked before whether one runs
        await c.start_full_sync(mappings=["NOPE"])
    summaries = await c.wait_full_sync()
    assert [s["mapping"] for s in summaries] == ["CURRENCY", "SALESPEOPLE", "PRICE LIST", "CUSTOMER"]
    status = await c.full_sync_status()
    lines = {line["mapping"]: line for line in status["lines"]}
    assert not status["running"]
    customer = lines["CUSTOMER"]
    assert customer["dependencies"] == ["SALESPEOPLE", "CURRENCY", "PRICE LIST"]
    assert customer["recommendation"] == "couple records"
    assert customer["jobs"]["erp_to_crm"]["status"] == "error"  # the ambiguous customer is reported
    assert customer["jobs"]["erp_to_crm"]["total"] > 0 and customer["jobs"]["erp_to_crm"]["jobId"]
    assert lines["CURRENCY"]["jobs"]["erp_to_crm"]["status"] == "success"
    currency = lines["CURRENCY"]["jobs"]["erp_to_crm"]
    assert currency["done"] == currency["total"] > 0
    assert lines["ITEM-PRODUCT"]["jobs"]["erp_to_crm"]["status"] == "blank"
    job = await c.get_job(customer["jobs"]["erp_to_crm"]["jobId"])
    assert job["errors"] and all(e["reason"] for e in job["errors"])
    assert (await c.list_jobs(mapping="CUSTOMER", type="full"))[0]["mapping"] == "CUSTOMER"


async def test_mappings_errors_and_couplings(control: tuple[World, SyncControl]) -> None:
    w, c = control
    assert len(await c.list_mappings()) == 9
    patched = await c.patch_mapping("CUSTOMER", {"intervalSeconds": 10})
    assert patched["intervalSeconds"] == 10
    assert (await c.reset_mappings())[5]["intervalSeconds"] == 30
    with pytest.raises(NotFound):
        await c.get_mapping("NOPE")

    await c.start_full_sync(mappings=["SALESPEOPLE", "CURRENCY", "PRICE LIST", "CUSTOMER"])
    await c.wait_full_sync()
    errors = await c.list_errors(mapping="CUSTOMER")
    ambiguous = next(e for e in errors if "records match" in e["reason"])
    owner = next(e for e in errors if e["field"] == "owner")
    # The admin settles the ambiguity by coupling one candidate by hand.
    candidate = ambiguous["cause"][1].removeprefix("candidates: ").split(" ")[0]
    made = await c.create_coupling(mapping="CUSTOMER", erp_key=ambiguous["erpKey"], crm_id=candidate)
    assert made["run"]["status"] in ("success", "error")
    assert (await c.list_couplings(mapping="CUSTOMER", erp_key=ambiguous["erpKey"]))[0]["crmId"] == candidate
    assert ambiguous["id"] not in {e["id"] for e in await c.list_errors(mapping="CUSTOMER")}  # settled
    # Errors of a coupled record may name either side only: an action on one naming the ERP side
    # lists one naming the CRM side as the record's too.
    async with w.sessions.begin() as session:
        by_erp = await job_errors.add_job_error(
            session,
            job_id=ambiguous["jobId"],
            mapping="CUSTOMER",
            reason="phone: too long",
            erp_id=made["erpId"],
            actions=["ignore"],
        )
        by_crm = await job_errors.add_job_error(
            session,
            job_id=ambiguous["jobId"],
            mapping="CUSTOMER",
            reason="name: too long",
            crm_id=made["crmId"],
            actions=["ignore"],
        )
    listed = (await c.error_action(by_erp.id or 0, "ignore"))["openErrors"]
    assert listed == [{"id": by_crm.id, "reason": "name: too long", "new": False}]
    assert (await c.error_action(by_crm.id or 0, "ignore"))["openErrors"] == []
    # Retrying the owner error without coupling the salesperson fails again, naming it again.
    retried = await c.error_action(owner["id"], "retry")
    assert retried["status"] == "resolved"  # superseded by the new error of the retry
    again = [e for e in await c.list_errors(mapping="CUSTOMER") if e["field"] == "owner"]
    assert [e["reason"] for e in again] == ["owner: salesperson RH is not coupled to a user"]
    assert retried["openErrors"] == [{"id": again[0]["id"], "reason": again[0]["reason"], "new": True}]
    with pytest.raises(InvalidInput):
        await c.error_action(again[0]["id"], "dance")
    # Another error of the same record, open before the action: still listed, but not new, so the
    # action is not taken for failed (`gateway errors action` exits 0).
    async with w.sessions.begin() as session:
        other = await job_errors.add_job_error(
            session,
            job_id=again[0]["jobId"],
            mapping="CUSTOMER",
            reason="name: too long for the ERP",
            erp_id=again[0]["erpId"],
            actions=["ignore"],
        )
    ignored = (await c.error_actions([again[0]["id"]], "ignore"))[0]
    assert ignored["status"] == "ignored"
    assert ignored["openErrors"] == [{"id": other.id, "reason": "name: too long for the ERP", "new": False}]
    assert (await c.error_action(other.id or 0, "ignore"))["openErrors"] == []
    assert not [e for e in await c.list_errors(mapping="CUSTOMER") if e["field"] == "owner"]
    assert await c.delete_coupling(made["id"]) is True
    assert await c.delete_coupling(made["id"]) is False
    runs = await c.run_mapping("CUSTOMER")
    assert [r["direction"] for r in runs] == ["erp_to_crm", "crm_to_erp"]
    dry = await c.match(
        mapping="CUSTOMER", fields=[{"erpField": "displayName", "crmField": "name"}], dry_run=True
    )
    assert dry["dryRun"] and dry["ambiguous"]


async def test_admin_runs_take_the_mapping_leases(control: tuple[World, SyncControl]) -> None:
    """A run now, or a full sync, never overlaps a worker's run of the same mapping-direction."""
    from gateway.store import leases
    from gateway.sync.scheduler import lease_name

    w, c = control
    c.lease_wait_seconds = 0.5
    async with w.sessions.begin() as session:  # a worker is running CURRENCY right now
        grant = await leases.acquire(
            session, name=lease_name("CURRENCY", "erp_to_crm"), holder="worker-1", ttl=60
        )
    assert grant is not None
    with pytest.raises(Busy):
        await c.run_mapping("CURRENCY")
    with pytest.raises(Busy):
        await c.start_full_sync(mappings=["CURRENCY"])
    assert not (await c.full_sync_status())["running"]
    async with w.sessions.begin() as session:
        assert await leases.release(session, name=grant.name, holder="worker-1", generation=grant.generation)
    [run] = await c.run_mapping("CURRENCY")
    assert run["status"] in {"success", "error"}
    async with w.sessions.begin() as session:  # the admin run took the lease, then gave it back
        again = await leases.acquire(session, name=grant.name, holder="worker-1", ttl=60)
    assert again is not None and again.generation == grant.generation + 2


async def test_retrying_many_errors_of_one_mapping_runs_it_once(control: tuple[World, SyncControl]) -> None:
    w, c = control
    # a second customer of the salesperson no CRM user stands for, beside the demo's one
    await w.erp.create("customers", {"displayName": "Second Owner-less Ltd", "salespersonCode": "RH"})
    await c.start_full_sync(mappings=["SALESPEOPLE", "CURRENCY", "PRICE LIST", "CUSTOMER"])
    await c.wait_full_sync()
    # the demo's ambiguous and owner-less customers: records that could not be coupled or created
    errors = [e for e in await c.list_errors(mapping="CUSTOMER") if e["status"] == "open"]
    uncoupled = [e for e in errors if "retry" in e["actions"]]
    assert len(uncoupled) >= 2, uncoupled
    ambiguous = [e for e in errors if e["actions"] == ["ignore"]]
    assert ambiguous  # a retry would only find the same candidates: refused, not run
    jobs_before = len(await c.list_jobs(mapping="CUSTOMER", type="sync"))
    results = await c.error_actions([e["id"] for e in [*uncoupled, *ambiguous]], "retry")
    assert all("run" in r for r in results[: len(uncoupled)])
    assert all("ignore" in r["problem"] and "run" not in r for r in results[len(uncoupled) :])
    runs = len(await c.list_jobs(mapping="CUSTOMER", type="sync")) - jobs_before
    assert runs == 2  # one run per direction of CUSTOMER, not one per error


async def test_a_killed_workers_full_sync_shows_abandoned_once_its_lease_is_taken_over(
    control: tuple[World, SyncControl],
) -> None:
    from datetime import timedelta

    from gateway.store import jobs, leases
    from gateway.store.types import utcnow

    w, c = control
    c.lease_wait_seconds = 0.5

    async def review() -> dict[str, object]:
        lines = {line["mapping"]: line for line in (await c.full_sync_status())["lines"]}
        result: dict[str, object] = lines["CURRENCY"]["jobs"]["erp_to_crm"]
        return result

    # worker-1 took CURRENCY for a full sync five minutes ago, opened its job, and was killed (no renewal).
    async with w.sessions.begin() as session:
        grant = await leases.acquire(
            session,
            name="CURRENCY:erp_to_crm",
            holder="worker-1",
            ttl=15,
            now=utcnow() - timedelta(minutes=5),
        )
        job = await jobs.create_job(
            session, mapping="CURRENCY", direction="erp_to_crm", type="full", status="running"
        )
    assert grant is not None
    assert (await review())["status"] == "in process"
    await c.run_mapping("CURRENCY")  # takes the expired lease over
    line = await review()
    assert (line["status"], line["jobId"]) == ("error", job.id)  # the latest full job, no longer in process
    shown = await c.get_job(job.id)
    assert shown["status"] == "abandoned" and shown["finishedAt"] is not None
    assert shown["message"].startswith(
        f"worker worker-1 stopped during this run; {c.holder} took CURRENCY:erp_to_crm"
    )
    assert shown["message"].endswith(
        "start the full synchronization again to finish it: it creates no duplicates"
    )
    assert [j["id"] for j in await c.list_jobs(status="abandoned")] == [job.id]
    assert await c.list_jobs(status="running") == []


async def test_a_match_that_fails_halfway_ends_its_job_with_the_failure(database_url: str) -> None:
    """Creating the unmatched records fails (Dataverse keeps answering 503): the coupling job ends
    in error, the answer says so, each record that could not be created is an open error naming
    the cause, and the pairs coupled before the creates stay."""
    w = await build_world(database_url, SimulatorOptions(customers=20, items=20), upstream_max_retries=0)
    c = SyncControl(sessions=w.sessions, engine=w.engine)
    try:
        await c.start_full_sync(mappings=["SALESPEOPLE", "CURRENCY", "PRICE LIST"])
        await c.wait_full_sync()
        dry = await c.match(mapping="CUSTOMER", dry_run=True)  # reads both sides into the mirror
        assert dry["pairs"] and dry["noMatch"]["erp"]
        await w.sim("crm", "POST", "/_sim/faults", {"rate": 1.0, "seed": 1, "kinds": ["503"]})
        report = await c.match(mapping="CUSTOMER", create_if_no_match=True, dry_run=False)
        await w.sim("crm", "POST", "/_sim/faults", {"rate": 0})
        assert report["status"] == "error"
        [job] = [j for j in await c.list_jobs(mapping="CUSTOMER") if j["id"] in report["jobIds"]]
        assert job["type"] == "coupling" and job["status"] == "error" and job["finishedAt"]
        assert job["counts"]["coupled"] == len(dry["pairs"]) and job["counts"]["failed"] > 0
        unavailable = [e for e in await c.list_errors(mapping="CUSTOMER") if "status=503" in e["reason"]]
        assert unavailable and all(e["status"] == "open" and "retry" in e["actions"] for e in unavailable)
    finally:
        await c.aclose()
        await w.close()
