"""An incremental run does not compare a pair whose record came back exactly as mirrored and that
already settled at both records' current versions (the coupling's ETags are the mirror rows'). The
first round after a full sync reads back every record the full sync wrote: before, it loaded and
compared every one of those pairs (5,885 at 6,000 customers) to find each unchanged.

Counted, not timed: pairs compared (calls of the pure `reconcile`, spied, not replaced), couplings
and mirror rows built as ORM objects, SQL statements. What must still be compared is: a change
another mapping mirrored first (also one stamped within the same second as the settled version, so
a modified-on stamp could not tell), a record whose last sync failed, both sides edited (the
conflict policy applies), a pair that settled under other fields than the run's (changed between
runs, by a reset to defaults, or while the settling run went); our own writes coming back are
counted unchanged and written nowhere.
"""

from __future__ import annotations

import math
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import select

from gateway.domain import Side
from gateway.simulators import SimulatorOptions
from gateway.store import job_errors, mirror, sync_state
from gateway.store.engine import count_queries
from gateway.store.job_errors import FailedRecord
from gateway.store.sync_tables import MirrorRecord
from gateway.store.tables import Coupling, CouplingState, ErrorStatus, JobError
from gateway.sync import catalog
from gateway.sync import pairs as pairs_module
from gateway.sync.defaults import default_mappings
from gateway.sync.full import FullSync
from gateway.sync.model import field_to_dict, fingerprint, patch_mapping
from gateway.sync.runstate import RunSummary
from tests.sync.world import (
    CUSTOMER_AND_DEPENDENCIES,
    ManualClock,
    World,
    build_world,
    couple_salesperson,
    customer_values,
)

WRITES = ("POST", "PATCH", "DELETE")


@dataclass
class SimClock:
    """The simulators' clock: an hour behind ours, or frozen at a chosen instant during an edit."""

    frozen: float | None = None

    def __call__(self) -> float:
        return self.frozen if self.frozen is not None else time.time() - 3600


@pytest.fixture
async def synced(database_url: str) -> AsyncIterator[tuple[World, SimClock]]:
    """CUSTOMER fully synchronized; failed records (the demo data's salesperson RH) retried once by
    the first run and then waiting (the retry clock stands still)."""
    clock = SimClock()
    w = await build_world(database_url, SimulatorOptions(customers=30, items=20, clock=clock))
    w.engine.retries.clock = ManualClock()
    await FullSync(w.engine).run(mappings=CUSTOMER_AND_DEPENDENCIES)
    try:
        yield w, clock
    finally:
        await w.close()


class Meter:
    """Pairs compared, ORM objects built (per mapping for couplings, per entity set for mirror
    rows) and statements, over one block."""

    def __init__(self, w: World, monkeypatch: pytest.MonkeyPatch) -> None:
        self.w = w
        self.compared = 0
        self.numbers: Counter[str] = Counter()
        """Pairs compared, by ERP number."""
        self.built: Counter[str] = Counter()
        self.statements = 0
        original: Callable[..., Any] = pairs_module.reconcile

        def counting(*args: Any, **kwargs: Any) -> Any:
            self.compared += 1
            self.numbers[str(kwargs["erp"].get("number"))] += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(pairs_module, "reconcile", counting)

    def _coupling(self, target: Coupling, _context: object) -> None:
        self.built[f"coupling {target.mapping}"] += 1

    def _record(self, target: MirrorRecord, _context: object) -> None:
        self.built[target.entity_set] += 1

    async def run(self, mapping: str, direction: str, *, status: str | None = "success") -> RunSummary:
        self.compared, self.numbers, self.built, self.statements = 0, Counter(), Counter(), 0
        event.listen(Coupling, "load", self._coupling)
        event.listen(MirrorRecord, "load", self._record)
        try:
            with count_queries(self.w.db) as counter:
                summary = await self.w.engine.run(mapping=mapping, direction=direction)
        finally:
            event.remove(Coupling, "load", self._coupling)
            event.remove(MirrorRecord, "load", self._record)
        self.statements = counter.count
        assert status is None or summary.status == status, summary
        return summary


async def _writes(w: World) -> int:
    total = 0
    for side in ("erp", "crm"):
        stats = await w.stats(side)
        total += sum(stats["byMethod"].get(m, 0) for m in WRITES)
    return total


async def _couplings(w: World) -> list[Coupling]:
    async with w.sessions() as session:
        return await sync_state.mapping_couplings(session, mapping="CUSTOMER")


async def _settled_pair(w: World) -> Coupling:
    """A CUSTOMER pair in step, settled with both records' ETags, with no open error."""
    async with w.sessions() as session:
        open_ids = {
            e.erp_id
            for e in (await session.exec(select(JobError).where(JobError.status == ErrorStatus.OPEN.value)))
        }
    for coupling in sorted(await _couplings(w), key=lambda c: c.erp_key or ""):
        if (
            coupling.state == CouplingState.COUPLED.value
            and coupling.erp_etag
            and coupling.crm_etag
            and coupling.erp_id not in open_ids
        ):
            return coupling
    raise AssertionError("no settled pair")


async def test_the_first_round_after_a_full_sync_compares_no_pair_already_in_step(
    synced: tuple[World, SimClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    w, _ = synced
    meter = Meter(w, monkeypatch)
    writes = await _writes(w)
    # The ERP run goes first: it also retries the failed records once (they then wait).
    await meter.run("CUSTOMER", "erp_to_crm")
    # The CRM run reads back every account the full sync created or updated.
    summary = await meter.run("CUSTOMER", "crm_to_erp")
    in_step = sum(1 for c in await _couplings(w) if c.state == CouplingState.COUPLED.value)
    assert summary.counts["unchanged"] == summary.counts["done"] >= 20, summary
    assert summary.counts["unchanged"] <= in_step
    assert summary.counts["modified"] == summary.counts["inserted"] == 0, summary
    # Before: every one of those pairs compared, its coupling and both records loaded.
    assert meter.compared == 0, meter.compared
    assert meter.built["coupling CUSTOMER"] == 0, meter.built
    # Nor a mirror row: the page upsert tells changed rows from unchanged ones by a Core select.
    assert meter.built["customers"] == meter.built["accounts"] == 0, meter.built
    read_back = meter.statements
    assert await _writes(w) == writes  # our own writes never echo
    # Nothing read: the idle run's statements; a round that reads every account back costs only a
    # few more (the page's upsert and the one query finding the pairs in step), not more per pair.
    await meter.run("CUSTOMER", "crm_to_erp")
    assert read_back <= meter.statements + 8, (read_back, meter.statements)


@pytest.mark.parametrize("same_second", [False, True], ids=["later", "same-second"])
async def test_a_change_another_mapping_mirrored_first_is_still_compared(
    synced: tuple[World, SimClock], monkeypatch: pytest.MonkeyPatch, same_second: bool
) -> None:
    """The account's new version reaches the mirror before this mapping's read (as another mapping
    of `accounts` would mirror it), so this read finds nothing new to the mirror; its ETag is not
    the one the pair settled at. Stamped within the settled version's second, a modified-on stamp
    cannot tell the versions apart; the ETag can."""
    w, clock = synced
    meter = Meter(w, monkeypatch)
    await meter.run("CUSTOMER", "erp_to_crm")
    await meter.run("CUSTOMER", "crm_to_erp")
    picked = await _settled_pair(w)
    # The pair settles again at a CRM version stamped at a second of our choosing, after every stamp
    # the simulators gave so far: the edit below then lands in that second, or two later, whatever
    # else the runs wrote (the simulator's stamps only ever grow).
    second = math.floor(clock()) + 2
    await w.erp.update("customers", picked.erp_id, {"phoneNumber": "+1 555 0141"}, etag="*")
    clock.frozen = second + 0.1
    await meter.run("CUSTOMER", "erp_to_crm")
    clock.frozen = None
    await meter.run("CUSTOMER", "crm_to_erp")
    async with w.sessions() as session:
        coupling = await session.get(Coupling, picked.id)
        assert coupling is not None and coupling.crm_etag
        rows = await mirror.load_records(session, side=Side.CRM, entity_set="accounts", ids=[coupling.crm_id])
    settled = rows[coupling.crm_id]
    assert settled.modified_at is not None and settled.etag == coupling.crm_etag
    assert settled.modified_at.timestamp() == second
    clock.frozen = second + (0.5 if same_second else 2)
    await w.crm.update("accounts", uuid.UUID(coupling.crm_id), {"telephone1": "+1 555 0142"}, etag="*")
    clock.frozen = None
    edited = await w.crm.get("accounts", uuid.UUID(coupling.crm_id))
    assert (edited.modified_at == settled.modified_at) is same_second
    async with w.sessions.begin() as session:
        await mirror.upsert_records(session, side=Side.CRM, entity_set="accounts", records=[edited])

    summary = await meter.run("CUSTOMER", "crm_to_erp")

    assert summary.counts["modified"] == 1, summary
    assert meter.compared == 1
    erp, crm = await customer_values(w, coupling)
    assert erp["phoneNumber"] == crm["telephone1"] == "+1 555 0142"


async def test_a_record_whose_sync_failed_is_still_retried(
    synced: tuple[World, SimClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A settled pair breaks (its customer gets salesperson RH, whom no CRM user holds): the
    coupling is left in error with its old ETags. Once RH is coupled the retry compares it and the
    change arrives, though neither record changed since."""
    w, _ = synced
    meter = Meter(w, monkeypatch)
    await meter.run("CUSTOMER", "erp_to_crm")
    await meter.run("CUSTOMER", "crm_to_erp")
    coupling = await _settled_pair(w)
    await w.erp.update(
        "customers", coupling.erp_id, {"salespersonCode": "RH", "phoneNumber": "+1 555 0143"}, etag="*"
    )
    failed = await meter.run("CUSTOMER", "erp_to_crm", status="error")
    assert failed.counts["failed"] == 1, failed
    async with w.sessions() as session:
        broken = await session.get(Coupling, coupling.id)
        assert broken is not None and broken.state == CouplingState.ERROR.value
    await couple_salesperson(w, "RH")  # what the failed records depend on changed: retried now

    # Other records of the demo data may fail again in this retry: not this one.
    retried = await meter.run("CUSTOMER", "crm_to_erp", status=None)

    assert meter.compared >= 1 and retried.counts["modified"] >= 1, retried
    assert (await customer_values(w, coupling))[1]["telephone1"] == "+1 555 0143"
    async with w.sessions() as session:
        fixed = await session.get(Coupling, coupling.id)
        assert fixed is not None and fixed.state == CouplingState.COUPLED.value
        assert fixed.erp_etag and fixed.crm_etag


@pytest.mark.parametrize("names", ["both", "erp"], ids=["error-names-both", "error-names-the-partner"])
async def test_a_pair_with_an_open_error_is_compared_when_read_back_though_its_retry_waits(
    synced: tuple[World, SimClock], monkeypatch: pytest.MonkeyPatch, names: str
) -> None:
    """A coupled pair with an open error (say an update a failed run never sent, PairsPart._end_held)
    is not taken for in step by its ETags: read back, it is compared, and its error closes, even
    while the retry of failed records waits for its backoff. Also when the error names only the ERP
    customer (as an ERP record's failure may) while the CRM run reads the pair's account back: the
    failed record is the partner of the one read."""
    w, _ = synced
    meter = Meter(w, monkeypatch)
    first = await meter.run("CUSTOMER", "erp_to_crm")  # tries the failed records: they now wait
    coupling = await _settled_pair(w)  # its account comes back in the CRM run below
    async with w.sessions.begin() as session:
        await job_errors.add_job_errors(
            session,
            mapping="CUSTOMER",
            records=[
                FailedRecord(
                    job_id=first.job_ids[0],
                    reason="the run ended before this record's update was sent",
                    erp_id=coupling.erp_id,
                    crm_id=coupling.crm_id if names == "both" else None,
                )
            ],
        )
        failed_erp, failed_crm = await sync_state.failed_record_ids(session, mapping="CUSTOMER")
    assert coupling.erp_id in failed_erp and (coupling.crm_id in failed_crm) is (names == "both")

    await meter.run("CUSTOMER", "crm_to_erp")

    assert meter.compared == 1
    async with w.sessions() as session:
        statement = select(JobError).where(
            JobError.erp_id == coupling.erp_id, JobError.status == ErrorStatus.OPEN.value
        )
        assert (await session.exec(statement)).all() == []


async def test_both_sides_edited_still_conflict_and_our_writes_come_back_unwritten(
    synced: tuple[World, SimClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    w, _ = synced
    meter = Meter(w, monkeypatch)
    await meter.run("CUSTOMER", "erp_to_crm")
    await meter.run("CUSTOMER", "crm_to_erp")
    await catalog.update_mapping(w.sessions, "CUSTOMER", {"conflictPolicy": "manual"})
    coupling = await _settled_pair(w)
    # A CRM edit flows to the ERP; the ERP run then reads our write back: in step, not compared.
    await w.crm.update("accounts", uuid.UUID(coupling.crm_id), {"telephone1": "+1 555 0144"}, etag="*")
    # (The mapping changed, so the demo data's failed records are retried too, and fail again.)
    assert (await meter.run("CUSTOMER", "crm_to_erp", status=None)).counts["modified"] == 1
    writes = await _writes(w)
    echo = await meter.run("CUSTOMER", "erp_to_crm")
    assert echo.counts["unchanged"] == echo.counts["done"] == 1, echo
    assert meter.compared == 0 and meter.built["coupling CUSTOMER"] == 0, (meter.compared, meter.built)
    assert await _writes(w) == writes
    # Both sides edit the same field: the manual policy leaves the pair in conflict, both values kept.
    await w.erp.update("customers", coupling.erp_id, {"phoneNumber": "ERP-1"}, etag="*")
    await w.crm.update("accounts", uuid.UUID(coupling.crm_id), {"telephone1": "CRM-1"}, etag="*")
    await meter.run("CUSTOMER", "erp_to_crm")
    await meter.run("CUSTOMER", "crm_to_erp")
    assert meter.compared >= 1
    erp, crm = await customer_values(w, coupling)
    assert (erp["phoneNumber"], crm["telephone1"]) == ("ERP-1", "CRM-1")
    async with w.sessions() as session:
        state = await session.get(Coupling, coupling.id)
        errors = (
            await session.exec(
                select(JobError).where(
                    JobError.erp_id == coupling.erp_id, JobError.status == ErrorStatus.OPEN.value
                )
            )
        ).all()
    assert state is not None and state.state == CouplingState.CONFLICT.value
    assert len(errors) == 1 and errors[0].field == "telephone1"


async def _without_city(w: World) -> list[dict[str, Any]]:
    """CUSTOMER's fields less address1_city, as an admin's PATCH sends them."""
    async with w.sessions() as session:
        table = await catalog.get_mapping(session, "CUSTOMER")
    kept = [field_to_dict(fm) for fm in table.fields if fm.crm_field != "address1_city"]
    assert len(kept) == len(table.fields) - 1
    return kept


async def _echo_of_an_erp_edit(w: World, meter: Meter, coupling: Coupling, phone: str) -> None:
    """The ERP run carries a phone edit to the CRM and settles the pair at the account it wrote:
    the CRM run reads that account back next, exactly as mirrored."""
    await w.erp.update("customers", coupling.erp_id, {"phoneNumber": phone}, etag="*")
    # (After a mapping change the demo data's failed records are retried too, and fail again.)
    assert (await meter.run("CUSTOMER", "erp_to_crm", status=None)).counts["modified"] == 1


async def test_a_pair_settled_by_a_run_that_began_before_a_mapping_change_is_compared_again(
    synced: tuple[World, SimClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run keeps the mapping it loaded at its start. An admin changes the fields while it runs,
    before it settles a pair: the ETags it stores were settled under the old fields, so a run under
    the new ones must not take that pair for in step (each coupling keeps the fingerprint of the
    mapping its ETags settled under)."""
    w, _ = synced
    meter = Meter(w, monkeypatch)
    await meter.run("CUSTOMER", "erp_to_crm")
    await meter.run("CUSTOMER", "crm_to_erp")
    coupling = await _settled_pair(w)
    kept = await _without_city(w)
    original = pairs_module.PairsPart._settle
    patched: list[bool] = []

    async def settle_after_a_patch(self: Any, run: Any, *args: Any, **kwargs: Any) -> Any:
        if not patched:
            patched.append(True)
            await catalog.update_mapping(w.sessions, "CUSTOMER", {"fields": kept})
        return await original(self, run, *args, **kwargs)

    monkeypatch.setattr(pairs_module.PairsPart, "_settle", settle_after_a_patch)
    await _echo_of_an_erp_edit(w, meter, coupling, "+1 555 0145")
    monkeypatch.setattr(pairs_module.PairsPart, "_settle", original)
    assert patched
    async with w.sessions() as session:
        new = fingerprint(await catalog.get_mapping(session, "CUSTOMER"))
        raced = await session.get(Coupling, coupling.id)
    # The racing run stamped the pair it wrote (at the account's new ETag) under the fields it
    # loaded, not the new ones; no pair has settled under the new fields yet.
    assert raced is not None and raced.crm_etag and raced.crm_etag != coupling.crm_etag
    assert raced.settled_under == coupling.settled_under != new
    assert not any(c.settled_under == new for c in await _couplings(w))

    # The CRM run reads that account back: under the new fields it is compared (the old code
    # counted it in step by the ETags the old run stored: compared 0), and settles under them.
    echo = await meter.run("CUSTOMER", "crm_to_erp", status=None)

    assert meter.numbers[coupling.erp_key or ""] == 1 and echo.counts["unchanged"] == 1, (meter.numbers, echo)
    async with w.sessions() as session:
        after = await session.get(Coupling, coupling.id)
    assert after is not None and after.settled_under == new and after.erp_etag and after.crm_etag


async def test_a_mapping_whose_fields_change_compares_its_pairs_again(
    synced: tuple[World, SimClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pairs in step under the old fields need not be under the new ones: a pair is taken for in
    step only under the mapping it settled under (a policy change keeps that), so each is compared
    again when its records are next read, as before couplings kept versions."""
    w, _ = synced
    meter = Meter(w, monkeypatch)
    await meter.run("CUSTOMER", "erp_to_crm")
    await meter.run("CUSTOMER", "crm_to_erp")
    coupling = await _settled_pair(w)
    # A policy change: the pair still in step, its echo not compared.
    await catalog.update_mapping(w.sessions, "CUSTOMER", {"conflictPolicy": "crm_wins"})
    await _echo_of_an_erp_edit(w, meter, coupling, "+1 555 0146")
    echo = await meter.run("CUSTOMER", "crm_to_erp", status=None)
    assert meter.numbers[coupling.erp_key or ""] == 0 and echo.counts["unchanged"] == 1, (meter.numbers, echo)

    # Between two runs, a field is dropped: the echo of the ERP run before is compared.
    await _echo_of_an_erp_edit(w, meter, coupling, "+1 555 0147")
    await catalog.update_mapping(w.sessions, "CUSTOMER", {"fields": await _without_city(w)})
    echo = await meter.run("CUSTOMER", "crm_to_erp", status=None)
    assert meter.numbers[coupling.erp_key or ""] == 1 and echo.counts["unchanged"] == 1, (meter.numbers, echo)
    # Settled again under the new fields: the next echo is not compared.
    await _echo_of_an_erp_edit(w, meter, coupling, "+1 555 0148")
    echo = await meter.run("CUSTOMER", "crm_to_erp", status=None)
    assert meter.numbers[coupling.erp_key or ""] == 0 and echo.counts["unchanged"] == 1, (meter.numbers, echo)

    # Restoring the defaults brings the city back: the same again.
    await _echo_of_an_erp_edit(w, meter, coupling, "+1 555 0149")
    await catalog.reset_mappings(w.sessions)
    echo = await meter.run("CUSTOMER", "crm_to_erp", status=None)
    assert meter.numbers[coupling.erp_key or ""] == 1 and echo.counts["unchanged"] == 1, (meter.numbers, echo)


async def test_a_full_sync_settles_every_pair_under_the_mapping_it_ran(
    synced: tuple[World, SimClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a change of fields, the full sync compares every pair and stamps each in-step pair
    with the new mapping's fingerprint; the first round after it compares none of them again."""
    w, _ = synced
    meter = Meter(w, monkeypatch)
    await meter.run("CUSTOMER", "erp_to_crm")
    await meter.run("CUSTOMER", "crm_to_erp")
    await catalog.update_mapping(w.sessions, "CUSTOMER", {"fields": await _without_city(w)})
    async with w.sessions() as session:
        new = fingerprint(await catalog.get_mapping(session, "CUSTOMER"))
    assert not any(c.settled_under == new for c in await _couplings(w))
    await FullSync(w.engine).run(mappings=CUSTOMER_AND_DEPENDENCIES)
    settled = [c for c in await _couplings(w) if c.erp_etag and c.crm_etag]
    assert len(settled) >= 20 and all(c.settled_under == new for c in settled)


def test_the_fingerprint_follows_what_decides_a_comparison() -> None:
    """Fields (any part of one) and direction change it; the policy, interval and filters do not
    (a pair that compares unchanged has no conflict to resolve, and is read or not by the filters)."""
    table = next(m for m in default_mappings() if m.name == "CUSTOMER")
    same = fingerprint(table)
    assert len(same) == 16 and fingerprint(replace(table)) == same
    for unchanged in (
        {"conflictPolicy": "manual"},
        {"intervalSeconds": 5},
        {"crmFilter": {"statecode": 0}},
        {"enabled": False},
    ):
        assert fingerprint(patch_mapping(table, unchanged)) == same, unchanged
    fields = [field_to_dict(fm) for fm in table.fields]
    upper = [dict(f, transforms=["upper"]) if f["crmField"] == "address1_city" else f for f in fields]
    for changed in (
        {"fields": fields[1:]},
        {"fields": upper},
        {"fields": [*fields[1:], fields[0]]},
        {"direction": "erp_to_crm"},
    ):
        assert fingerprint(patch_mapping(table, changed)) != same, changed
