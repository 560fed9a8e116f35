"""Records that failed because the upstream was throttled, down or slow (after the client's own
retries) are retried after a short backoff that doubles while they keep failing, not after the
5-minute backoff of failures the record itself causes: a change caught by a brief outage arrives
seconds after the service is back."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from gateway.domain import BatchResult
from gateway.errors import RecordError, UpstreamThrottled, UpstreamUnavailable
from gateway.store import sync_state
from gateway.store.tables import Coupling, CouplingState
from gateway.sync.model import FieldMapping, MappingDirection, TableMapping
from gateway.sync.retries import RetryGate
from gateway.sync.runstate import as_record_error, is_transient
from tests.sync.world import ManualClock, World, synced_customers

SQLITE = pytest.mark.parametrize("backend", ["sqlite"])


PHONES = TableMapping(
    name="PHONES",
    erp_entity="customers",
    crm_entity="accounts",
    direction=MappingDirection.BIDIRECTIONAL,
    fields=(FieldMapping("phoneNumber", "telephone1"),),
)


def test_what_counts_as_an_upstream_caused_failure() -> None:
    assert is_transient(UpstreamUnavailable("down", service="crm", status=503))
    assert is_transient(UpstreamThrottled("slow down", service="erp", status=429))
    assert is_transient(as_record_error(UpstreamUnavailable("down")))  # kept as it is
    wrapped = RecordError("write failed")
    wrapped.__cause__ = UpstreamUnavailable("down")
    assert is_transient(wrapped)
    assert not is_transient(RecordError("owner: salesperson RH is not coupled to a user"))
    assert is_transient(BatchResult(index=0, status=429)) and is_transient(BatchResult(index=0, status=503))
    assert not is_transient(BatchResult(index=0, status=400))
    assert not is_transient(BatchResult(index=0, status=412))


def test_the_gate_retries_upstream_caused_failures_soon_and_backs_off() -> None:
    clock = ManualClock()
    gate = RetryGate(clock=clock)
    table = PHONES
    gate.tried(table, "deps")
    gate.settle(table, transient=False, retried=True)
    clock.now += 100
    assert not gate.due(table, "deps")  # the record's own failures wait the full backoff
    gate.settle(table, transient=True, retried=False)  # a write hit a 503
    clock.now += 4.9
    assert not gate.due(table, "deps")
    clock.now += 0.1
    assert gate.due(table, "deps")  # 5 s
    for wait in (10, 20, 40, 80, 160, 300, 300):  # each retry that fails the same way waits twice as long
        gate.tried(table, "deps")
        gate.settle(table, transient=True, retried=True)
        clock.now += wait - 0.1
        assert not gate.due(table, "deps"), wait
        clock.now += 0.1
        assert gate.due(table, "deps"), wait
    gate.tried(table, "deps")
    gate.settle(table, transient=False, retried=True)  # the service is back: the streak ends
    clock.now += 299
    assert not gate.due(table, "deps")
    assert gate.due(table, "other deps")


@pytest.fixture
async def synced(database_url: str) -> AsyncIterator[tuple[World, ManualClock]]:
    # No client retries: a 503 fails the write at once (the client's retries are tested elsewhere).
    w, clock = await synced_customers(database_url, upstream_max_retries=0)
    yield w, clock
    await w.close()


async def _healthy_pair(w: World) -> Coupling:
    async with w.sessions() as session:
        rows = await sync_state.mapping_couplings(session, mapping="CUSTOMER")
    return min((c for c in rows if c.state == CouplingState.COUPLED.value), key=lambda c: c.erp_key or "")


async def _crm_phone(w: World, coupling: Coupling) -> object:
    return (await w.crm.get("accounts", uuid.UUID(coupling.crm_id))).values.get("telephone1")


@SQLITE
async def test_a_change_caught_by_an_outage_arrives_soon_after_it_ends(
    synced: tuple[World, ManualClock],
) -> None:
    w, clock = synced
    pair = await _healthy_pair(w)
    await w.erp.update("customers", pair.erp_id, {"phoneNumber": "+1 555 0142"}, etag="*")
    await w.sim("crm", "POST", "/_sim/faults", {"rate": 1.0, "seed": 7, "kinds": ["503"]})
    first = await w.engine.run(mapping="CUSTOMER", direction="erp_to_crm")
    assert first.counts["failed"] >= 1 and first.counts["modified"] == 0
    clock.now += 5  # still down: the retry fails the same way, and the next one waits 10 s
    retried = await w.engine.run(mapping="CUSTOMER", direction="erp_to_crm")
    assert retried.counts["failed"] >= 1 and retried.counts["modified"] == 0
    await w.sim("crm", "POST", "/_sim/faults", {"rate": 0})
    clock.now += 9.9
    waiting = await w.engine.run(mapping="CUSTOMER", direction="erp_to_crm")
    assert waiting.counts["modified"] == 0 and await _crm_phone(w, pair) != "+1 555 0142"
    clock.now += 0.1
    back = await w.engine.run(mapping="CUSTOMER", direction="erp_to_crm")
    assert back.counts["modified"] == 1
    assert await _crm_phone(w, pair) == "+1 555 0142"


def test_a_retry_that_ends_in_an_exception_still_backs_off() -> None:
    """A retry run that raises never reaches settle(): the next attempt was booked when it started."""
    clock = ManualClock()
    gate = RetryGate(clock=clock)
    table = PHONES
    gate.tried(table, "deps")
    gate.settle(table, transient=True, retried=False)
    clock.now += 5
    assert gate.due(table, "deps")  # this retry raises: no tried(), no settle()
    clock.now += 9.9
    assert not gate.due(table, "deps")  # not every round: the wait doubled to 10 s
    clock.now += 0.1
    assert gate.due(table, "deps")
