"""Incremental sync after a full one: idle runs cost one request, our own writes never echo, a
human's edit made with any account syncs, each conflict and deletion policy, idempotent creates
across a crash, the match dry run, and the fence refusing a stale writer."""

from __future__ import annotations

import math
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import select

from gateway.domain import Side
from gateway.errors import StaleLease, UpstreamNotFound
from gateway.simulators import SimulatorOptions
from gateway.store import couplings as couplings_store
from gateway.store import mirror, sync_state
from gateway.store.sync_tables import MirrorRecord
from gateway.store.tables import Coupling, CouplingState, ErrorAction, ErrorStatus, JobError
from gateway.sync import catalog
from gateway.sync import engine as engine_module
from gateway.sync.full import FullSync
from gateway.sync.pricing_mirror import ERP_PRICING
from tests.sync.world import World, build_world, customer_values

OPTIONS = SimulatorOptions(customers=20, items=20)
WRITES = ("POST", "PATCH", "DELETE")

CUSTOMER_AND_DEPENDENCIES = ["SALESPEOPLE", "CURRENCY", "PRICE LIST", "CUSTOMER"]

# The core cases run on SQLite and PostgreSQL; the policy matrix on SQLite only.
SQLITE = pytest.mark.parametrize("backend", ["sqlite"])


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    w = await build_world(database_url, OPTIONS)
    yield w
    await w.close()


@pytest.fixture
async def synced(world: World) -> World:
    await FullSync(world.engine).run(mappings=CUSTOMER_AND_DEPENDENCIES)
    return world


async def _writes(w: World, side: str) -> int:
    stats = await w.stats(side)
    return sum(stats["byMethod"].get(m, 0) for m in WRITES)


async def _total(w: World, side: str) -> int:
    return int((await w.stats(side))["total"])


async def _pair(w: World, mapping: str = "CUSTOMER") -> Coupling:
    """A coupled customer whose account already carried its number (the plainest case)."""
    async with w.sessions() as session:
        rows = (
            await session.exec(
                select(Coupling).where(
                    Coupling.mapping == mapping, Coupling.state == CouplingState.COUPLED.value
                )
            )
        ).all()
    for coupling in sorted(rows, key=lambda c: c.erp_key or ""):
        if coupling.crm_id != engine_module.crm_id_for(mapping, coupling.erp_id):
            return coupling
    raise AssertionError("no coupled pair that existed on both sides")


async def _run_both(w: World, mapping: str = "CUSTOMER") -> list[engine_module.RunSummary]:
    return [
        await w.engine.run(mapping=mapping, direction="erp_to_crm"),
        await w.engine.run(mapping=mapping, direction="crm_to_erp"),
    ]


async def test_idle_runs_cost_one_request_and_our_writes_never_echo(synced: World) -> None:
    w = synced
    # The first incremental runs see the full sync's own writes come back: none is written again.
    writes = (await _writes(w, "erp"), await _writes(w, "crm"))
    for summary in await _run_both(w):
        assert summary.counts["modified"] == summary.counts["inserted"] == 0, summary
    assert (await _writes(w, "erp"), await _writes(w, "crm")) == writes
    # Idle: one request per mapping-direction (an empty delta or an empty filtered page).
    before = (await _total(w, "erp"), await _total(w, "crm"))
    await _run_both(w)
    assert (await _total(w, "erp"), await _total(w, "crm")) == (before[0] + 1, before[1] + 1)


async def test_an_edit_made_with_the_integration_account_syncs_and_does_not_echo(synced: World) -> None:
    w = synced
    await _run_both(w)
    coupling = await _pair(w)
    # Our own connector is the integration user: Microsoft would ignore this edit; we must not.
    await w.crm.update("accounts", uuid.UUID(coupling.crm_id), {"telephone1": "+1 555 0100"}, etag="*")
    summary = await w.engine.run(mapping="CUSTOMER", direction="crm_to_erp")
    assert summary.counts["modified"] == 1
    erp, crm = await customer_values(w, coupling)
    assert erp["phoneNumber"] == crm["telephone1"] == "+1 555 0100"
    crm_writes = await _writes(w, "crm")
    echo = await w.engine.run(mapping="CUSTOMER", direction="erp_to_crm")  # sees our ERP write
    assert echo.counts["modified"] == 0
    assert await _writes(w, "crm") == crm_writes
    # And an ERP edit flows the other way.
    await w.erp.update("customers", coupling.erp_id, {"city": "Lyon"}, etag="*")
    assert (await w.engine.run(mapping="CUSTOMER", direction="erp_to_crm")).counts["modified"] == 1
    assert (await customer_values(w, coupling))[1]["address1_city"] == "Lyon"


async def test_an_incremental_run_loads_only_the_couplings_and_records_it_can_touch(synced: World) -> None:
    """Memory follows the changes: one changed customer loads its coupling, its two records and the
    uncoupled ones (match candidates), not every coupling and record of the mapping."""
    w = synced
    await _run_both(w)  # the full sync's own writes come back once
    coupling = await _pair(w)
    async with w.sessions() as session:
        every = await sync_state.mapping_couplings(session, mapping="CUSTOMER")
        free = {
            entity: len(
                await sync_state.uncoupled_records(session, mapping="CUSTOMER", side=side, entity_set=entity)
            )
            for side, entity in ((Side.ERP, "customers"), (Side.CRM, "accounts"))
        }
    loaded: Counter[str] = Counter()

    def coupling_loaded(target: Coupling, _context: object) -> None:
        loaded[f"coupling {target.mapping}"] += 1

    def record_loaded(target: MirrorRecord, _context: object) -> None:
        loaded[target.entity_set] += 1

    await w.erp.update("customers", coupling.erp_id, {"phoneNumber": "+1 555 0199"}, etag="*")
    event.listen(Coupling, "load", coupling_loaded)
    event.listen(MirrorRecord, "load", record_loaded)
    try:
        summary = await w.engine.run(mapping="CUSTOMER", direction="erp_to_crm")
    finally:
        event.remove(Coupling, "load", coupling_loaded)
        event.remove(MirrorRecord, "load", record_loaded)
    assert summary.counts["modified"] == 1
    assert (await customer_values(w, coupling))[1]["telephone1"] == "+1 555 0199"
    # Once for the run, once more where the written pair's coupling is updated.
    assert len(every) > 10 and loaded["coupling CUSTOMER"] <= 2, loaded
    # Each record of the pair at most twice (the run's read, and mirroring the page or our write).
    assert loaded["customers"] <= 2 + free["customers"] and loaded["accounts"] <= 2 + free["accounts"], (
        loaded,
        free,
    )
    assert free["customers"] + free["accounts"] < len(every)


async def _edit_both(
    w: World, coupling: Coupling, erp: dict[str, Any], crm: dict[str, Any], *, erp_last: bool = False
) -> None:
    if erp_last:
        await w.crm.update("accounts", uuid.UUID(coupling.crm_id), crm, etag="*")
    await w.erp.update("customers", coupling.erp_id, erp, etag="*")
    if not erp_last:
        await w.crm.update("accounts", uuid.UUID(coupling.crm_id), crm, etag="*")


@pytest.mark.parametrize(
    ("policy", "expected_phone"),
    # Dataverse stamps whole seconds and BC milliseconds, so "latest" is the ERP edit made last.
    [("erp_wins", "ERP-1"), ("crm_wins", "CRM-1"), ("latest_wins", "ERP-1")],
)
@SQLITE
async def test_conflict_policies_pick_a_winner(synced: World, policy: str, expected_phone: str) -> None:
    w = synced
    await _run_both(w)
    await catalog.update_mapping(w.sessions, "CUSTOMER", {"conflictPolicy": policy})
    coupling = await _pair(w)
    await _edit_both(
        w, coupling, {"phoneNumber": "ERP-1"}, {"telephone1": "CRM-1"}, erp_last=policy == "latest_wins"
    )
    # The ERP run writes with the mirror's (stale) CRM ETag: a 412, a re-read, the policy applies.
    await _run_both(w)
    erp, crm = await customer_values(w, coupling)
    assert erp["phoneNumber"] == crm["telephone1"] == expected_phone
    writes = (await _writes(w, "erp"), await _writes(w, "crm"))
    await _run_both(w)
    assert (await _writes(w, "erp"), await _writes(w, "crm")) == writes


@dataclass
class SimClock:
    """The simulators' clock: an hour behind ours (so every stamp is in the engine's past), or
    frozen at a chosen instant while a test edits a record."""

    frozen: float | None = None

    def __call__(self) -> float:
        return self.frozen if self.frozen is not None else time.time() - 3600


@SQLITE
async def test_latest_wins_takes_the_provably_later_edit_and_the_erp_on_a_tie(database_url: str) -> None:
    """BC stamps milliseconds and Dataverse whole seconds: a CRM edit in the next second wins; a CRM
    edit later in the same second cannot be told apart from an earlier one (a tie: the ERP wins)."""
    clock = SimClock()
    w = await build_world(database_url, replace(OPTIONS, clock=clock))
    try:
        await FullSync(w.engine).run(mappings=CUSTOMER_AND_DEPENDENCIES)
        await _run_both(w)
        await catalog.update_mapping(w.sessions, "CUSTOMER", {"conflictPolicy": "latest_wins"})
        coupling = await _pair(w)
        second = math.floor(clock()) + 2  # after every stamp the simulators gave so far

        async def edit(erp_at: float, erp: str, crm_at: float, crm: str) -> None:
            clock.frozen = second + erp_at
            await w.erp.update("customers", coupling.erp_id, {"phoneNumber": erp}, etag="*")
            clock.frozen = second + crm_at
            await w.crm.update("accounts", uuid.UUID(coupling.crm_id), {"telephone1": crm}, etag="*")
            clock.frozen = None

        await edit(0.900, "ERP-1", 1.100, "CRM-1")  # BC ...:00.900, Dataverse ...:01: the CRM is later
        await _run_both(w)
        erp, crm = await customer_values(w, coupling)
        assert erp["phoneNumber"] == crm["telephone1"] == "CRM-1"
        await edit(2.300, "ERP-2", 2.700, "CRM-2")  # BC ...:02.300, Dataverse ...:02: a tie
        await _run_both(w)
        erp, crm = await customer_values(w, coupling)
        assert erp["phoneNumber"] == crm["telephone1"] == "ERP-2"
    finally:
        await w.close()


@SQLITE
async def test_merge_keeps_both_sides_changes_and_falls_back_on_the_same_field(synced: World) -> None:
    w = synced
    await _run_both(w)
    await catalog.update_mapping(
        w.sessions, "CUSTOMER", {"conflictPolicy": "merge", "mergeFallback": "erp_wins"}
    )
    coupling = await _pair(w)
    await _edit_both(
        w,
        coupling,
        {"city": "Lyon", "phoneNumber": "ERP-1"},
        {"emailaddress1": "crm@example.com", "telephone1": "CRM-1"},
    )
    await _run_both(w)
    erp, crm = await customer_values(w, coupling)
    assert erp["city"] == crm["address1_city"] == "Lyon"
    assert erp["email"] == crm["emailaddress1"] == "crm@example.com"
    assert erp["phoneNumber"] == crm["telephone1"] == "ERP-1"  # the named fallback decided


@SQLITE
async def test_manual_conflicts_are_skipped_and_listed_with_both_values(synced: World) -> None:
    w = synced
    await _run_both(w)
    await catalog.update_mapping(w.sessions, "CUSTOMER", {"conflictPolicy": "manual"})
    coupling = await _pair(w)
    await _edit_both(w, coupling, {"phoneNumber": "ERP-1"}, {"telephone1": "CRM-1"})
    await _run_both(w)
    erp, crm = await customer_values(w, coupling)
    assert (erp["phoneNumber"], crm["telephone1"]) == ("ERP-1", "CRM-1")
    async with w.sessions() as session:
        errors = (
            await session.exec(
                select(JobError).where(
                    JobError.erp_id == coupling.erp_id, JobError.status == ErrorStatus.OPEN.value
                )
            )
        ).all()
        state = (await session.get(Coupling, coupling.id)).state  # type: ignore[union-attr]
    assert len(errors) == 1 and errors[0].field == "telephone1"
    assert "ERP 'ERP-1' vs CRM 'CRM-1'" in errors[0].cause[0]
    assert set(errors[0].actions) == {"force-erp", "force-crm", "ignore"}
    assert state == CouplingState.CONFLICT.value
    # The admin forces the CRM value.
    await w.engine.act_on_pair(mapping="CUSTOMER", coupling_id=coupling.id or 0, action=ErrorAction.FORCE_CRM)
    erp, crm = await customer_values(w, coupling)
    assert erp["phoneNumber"] == crm["telephone1"] == "CRM-1"


@pytest.mark.parametrize("policy", ["uncouple", "restore", "propagate", "manual"])
@SQLITE
async def test_deletion_policies(synced: World, policy: str) -> None:
    w = synced
    await _run_both(w)
    await catalog.update_mapping(w.sessions, "CUSTOMER", {"deletionPolicy": policy})
    coupling = await _pair(w)
    await w.crm.delete("accounts", uuid.UUID(coupling.crm_id))
    await w.engine.run(mapping="CUSTOMER", direction="crm_to_erp")
    async with w.sessions() as session:
        after = await session.get(Coupling, coupling.id)
    if policy == "uncouple":
        assert after is None
        await w.erp.get("customers", coupling.erp_id)  # the ERP customer stays
    elif policy == "restore":
        assert after is not None and after.state == CouplingState.COUPLED.value
        restored = await w.crm.get("accounts", uuid.UUID(coupling.crm_id))  # same id again
        assert restored.values["accountnumber"] == coupling.erp_key
    elif policy == "propagate":
        assert after is None
        with pytest.raises(UpstreamNotFound):
            await w.erp.get("customers", coupling.erp_id)
    else:
        assert after is not None and after.state == CouplingState.ORPHANED.value
        async with w.sessions() as session:
            errors = (await session.exec(select(JobError).where(JobError.crm_id == coupling.crm_id))).all()
        assert [set(e.actions) for e in errors] == [{"restore", "uncouple", "ignore"}]
        await w.engine.act_on_pair(
            mapping="CUSTOMER", coupling_id=coupling.id or 0, action=ErrorAction.RESTORE
        )
        assert (await w.crm.get("accounts", uuid.UUID(coupling.crm_id))).values[
            "accountnumber"
        ] == coupling.erp_key


@SQLITE
async def test_creates_are_idempotent_across_a_crash_between_write_and_coupling(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world
    real = couplings_store.create_couplings
    crashed: list[str] = []

    async def crash_once(session: Any, **kwargs: Any) -> list[Coupling]:
        # Creates pass the agreed values; the first create on each side "crashes" after its write.
        new = kwargs["new"]
        if new and new[0].last_synced and kwargs["mapping"] == "CUSTOMER":
            first = new[0]
            side = "crm" if first.crm_id == engine_module.crm_id_for("CUSTOMER", first.erp_id) else "erp"
            if side not in crashed:
                crashed.append(side)
                raise RuntimeError(f"killed after writing to {side}")
        return await real(session, **kwargs)

    monkeypatch.setattr(couplings_store, "create_couplings", crash_once)
    first = await FullSync(w.engine).run(mappings=["SALESPEOPLE", "CURRENCY", "PRICE LIST", "CUSTOMER"])
    # One side's creates crash each run (which first is the engine's order: ERP creates go first).
    assert len(crashed) == 1 and any(s.message for s in first)
    second = await FullSync(w.engine).run(mappings=["CUSTOMER"])
    assert sorted(crashed) == ["crm", "erp"] and second[0].message
    monkeypatch.setattr(couplings_store, "create_couplings", real)
    await FullSync(w.engine).run(mappings=["CUSTOMER"])
    await FullSync(w.engine).run(mappings=["CUSTOMER"])

    accounts = [r.values async for page in w.crm.pages("accounts") for r in page]  # type: ignore[attr-defined]
    customers = [r.values async for page in w.erp.pages("customers") for r in page]  # type: ignore[attr-defined]
    numbers = [a["accountnumber"] for a in accounts if a.get("accountnumber")]
    assert len(numbers) == len(set(numbers))
    assert len(customers) == len({c["number"] for c in customers})
    async with w.sessions() as session:
        couplings = (await session.exec(select(Coupling).where(Coupling.mapping == "CUSTOMER"))).all()
        open_errors = (
            await session.exec(select(JobError).where(JobError.status == ErrorStatus.OPEN.value))
        ).all()
    coupled_erp = {c.erp_id for c in couplings}
    reported = {e.erp_id for e in open_errors}
    # Every customer is coupled exactly once, or listed as an open error (ambiguous, owner missing).
    assert all(c["id"] in coupled_erp or c["id"] in reported for c in customers)
    assert len(reported - coupled_erp) == 2


@SQLITE
async def test_match_dry_run_proposes_pairs_without_writing(world: World) -> None:
    w = world
    await FullSync(w.engine).run(mappings=["SALESPEOPLE", "CURRENCY", "PRICE LIST"])
    writes = (await _writes(w, "erp"), await _writes(w, "crm"))
    report = await w.engine.match(mapping="CUSTOMER", dry_run=True)
    assert report["pairs"] and len(report["ambiguous"]) == 1
    assert len(report["ambiguous"][0]["candidates"]) == 2
    assert report["noMatch"]["erp"] and report["noMatch"]["crm"]
    assert (await _writes(w, "erp"), await _writes(w, "crm")) == writes
    async with w.sessions() as session:
        assert not (await session.exec(select(Coupling).where(Coupling.mapping == "CUSTOMER"))).all()
    # Matching on the number alone, case-sensitive, proposes only the numbered accounts.
    by_number = await w.engine.match(mapping="CUSTOMER", fields=[("number", "accountnumber")], dry_run=True)
    assert 0 < len(by_number["pairs"]) < len(report["pairs"])
    applied = await w.engine.match(mapping="CUSTOMER", dry_run=False)
    async with w.sessions() as session:
        couplings = (await session.exec(select(Coupling).where(Coupling.mapping == "CUSTOMER"))).all()
    assert {(c.erp_id, c.crm_id) for c in couplings} == {(p["erpId"], p["crmId"]) for p in applied["pairs"]}


class _StaleAfter:
    def __init__(self, checks: int) -> None:
        self.left = checks

    async def check(self, session: Any) -> None:
        self.left -= 1
        if self.left < 0:
            raise StaleLease("lease taken over")


@SQLITE
async def test_a_stale_fence_stops_the_run_before_it_commits(world: World) -> None:
    with pytest.raises(StaleLease):
        await world.engine.full(mapping="CURRENCY", fence=_StaleAfter(3))
    async with world.sessions() as session:
        assert not (await session.exec(select(Coupling))).all()


async def test_a_changed_customer_derives_its_price_list_from_its_own_pricing_row(database_url: str) -> None:
    """CUSTOMER's default price list is derived from the customer's `customerPricing` row (ERP
    PRICING mirrors them). A run loads those rows for the ERP customers it holds only, not the whole
    set (6,000 rows for one changed customer at 6,000 customers), and still derives the same list."""
    w = await build_world(database_url, OPTIONS)
    try:
        await FullSync(w.engine).run(mappings=[ERP_PRICING, *CUSTOMER_AND_DEPENDENCIES])
        await _run_both(w)
        async with w.sessions() as session:
            every = await sync_state.mapping_couplings(session, mapping="CUSTOMER")
            pricing = await mirror.load_records(session, side=Side.ERP, entity_set="customerPricing")
        # A coupled customer whose account has a default price list, derived from its pricing row.
        chosen: list[tuple[Coupling, str]] = []
        for c in sorted(every, key=lambda c: c.erp_key or ""):
            level = (await customer_values(w, c))[1]["_defaultpricelevelid_value"]
            code = c.last_synced.get("erp", {}).get("priceListCode")
            if c.state == CouplingState.COUPLED.value and level is not None and code is not None:
                chosen.append((c, level))
        coupling, price_level = chosen[0]
        loaded: Counter[str] = Counter()

        def record_loaded(target: MirrorRecord, _context: object) -> None:
            loaded[target.entity_set] += 1

        await w.erp.update("customers", coupling.erp_id, {"phoneNumber": "+1 555 0198"}, etag="*")
        event.listen(MirrorRecord, "load", record_loaded)
        try:
            summary = await w.engine.run(mapping="CUSTOMER", direction="erp_to_crm")
        finally:
            event.remove(MirrorRecord, "load", record_loaded)
        assert summary.counts["modified"] == 1, summary
        account = (await customer_values(w, coupling))[1]
        assert account["telephone1"] == "+1 555 0198"
        assert account["_defaultpricelevelid_value"] == price_level
        async with w.sessions() as session:
            after = await session.get(Coupling, coupling.id)
        # The run derived the same price list as the full sync did: its pricing row was loaded.
        assert (
            after is not None
            and after.last_synced["erp"]["priceListCode"] == (coupling.last_synced["erp"]["priceListCode"])
        )
        # At most one pricing row per ERP customer the run loaded (the changed one, the uncoupled).
        assert len(pricing) >= 20 and loaded["customerPricing"] <= loaded["customers"] < len(pricing), loaded
    finally:
        await w.close()
