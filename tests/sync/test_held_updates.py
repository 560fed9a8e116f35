"""Pair updates a run holds back to fill whole `$batch`es are not lost when the run fails after it
has read them (its watermark has moved past those records): sent anyway when the run still owns its
leases, else left as open errors that the next run, whoever holds the lease, retries within
seconds."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from gateway.errors import StaleLease
from gateway.store import sync_state
from gateway.store.tables import Coupling, CouplingState
from tests.sync.world import ManualClock, World, synced_customers

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])
PHONE = "+1 555 0177"


class FailingFence:
    """Lets the run's first two commits through (its job rows, then its page read with the
    watermark), then fails every later one with `failure` (only the third when `once`)."""

    def __init__(self, failure: Exception, *, once: bool = False) -> None:
        self.failure, self.once, self.checks = failure, once, 0

    async def check(self, session: Any) -> None:
        self.checks += 1
        if self.checks == 3 or (self.checks > 3 and not self.once):
            raise self.failure


@pytest.fixture
async def synced(database_url: str) -> AsyncIterator[tuple[World, ManualClock]]:
    # CRM batches of 4: the 3 updates below stay held until the end of the run's reconciling.
    w, clock = await synced_customers(database_url, crm_batch_size=4)
    yield w, clock
    await w.close()


async def _edit_three(w: World) -> list[Coupling]:
    async with w.sessions() as session:
        rows = await sync_state.mapping_couplings(session, mapping="CUSTOMER")
    pairs = sorted(
        (c for c in rows if c.state == CouplingState.COUPLED.value), key=lambda c: c.erp_key or ""
    )[:3]
    for pair in pairs:
        await w.erp.update("customers", pair.erp_id, {"phoneNumber": PHONE}, etag="*")
    return pairs


async def _crm_phones(w: World, pairs: list[Coupling]) -> list[object]:
    return [(await w.crm.get("accounts", uuid.UUID(p.crm_id))).values.get("telephone1") for p in pairs]


async def test_a_run_that_loses_its_lease_leaves_its_unsent_updates_to_the_next_holder(
    synced: tuple[World, ManualClock],
) -> None:
    w, clock = synced
    pairs = await _edit_three(w)
    with pytest.raises(StaleLease):
        await w.engine.run(
            mapping="CUSTOMER", direction="erp_to_crm", fence=FailingFence(StaleLease("taken over"))
        )
    assert await _crm_phones(w, pairs) != [PHONE] * 3  # not sent: the lease was gone
    open_errors = [e for e in await _open_errors(w) if "before this record's update was sent" in e.reason]
    assert sorted(e.erp_id for e in open_errors) == sorted(p.erp_id for p in pairs)
    clock.now += 5  # the next holder's run (nothing new to read) retries them
    summary = await w.engine.run(mapping="CUSTOMER", direction="erp_to_crm")
    assert summary.counts["modified"] == 3
    assert await _crm_phones(w, pairs) == [PHONE] * 3
    assert not [e for e in await _open_errors(w) if "before this record's update was sent" in e.reason]


async def test_a_run_failing_for_another_reason_still_sends_what_it_held(
    synced: tuple[World, ManualClock],
) -> None:
    w, _ = synced
    pairs = await _edit_three(w)
    summary = await w.engine.run(
        mapping="CUSTOMER",
        direction="erp_to_crm",
        fence=FailingFence(RuntimeError("store hiccup"), once=True),
    )
    assert summary.status == "error" and "store hiccup" in (summary.message or "")
    assert await _crm_phones(w, pairs) == [PHONE] * 3


async def _open_errors(w: World) -> list[Any]:
    from sqlmodel import select

    from gateway.store.tables import ErrorStatus, JobError

    async with w.sessions() as session:
        statement = select(JobError).where(
            JobError.mapping == "CUSTOMER", JobError.status == ErrorStatus.OPEN.value
        )
        return list((await session.exec(statement)).all())
