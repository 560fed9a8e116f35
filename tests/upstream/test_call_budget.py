"""Per-call budgets (`policy.call_budget`): a caller that waits (readiness, live availability) caps the
retries of its requests and gives them a total deadline, without a second client. Against the
simulators with injected faults; attempts are counted on the wire and by the simulator."""

from __future__ import annotations

import asyncio

import pytest

from gateway.errors import UpstreamThrottled, UpstreamTimeout, UpstreamUnavailable
from gateway.upstream.policy import call_budget, current_budget
from tests.upstream.conftest import Upstream, fast_retry


async def test_no_retries_in_a_budget_of_none(erp_sim: Upstream) -> None:
    client = erp_sim.client(retry=fast_retry(erp_sim.sleeps, max_retries=6))
    await erp_sim.faults(rate=1.0, kinds=["503"])
    with pytest.raises(UpstreamUnavailable), call_budget(max_retries=0):
        await client.get("v2.0/companies")
    assert len(erp_sim.transport.api()) == 1
    assert erp_sim.sleeps.delays == []
    assert (await erp_sim.control("faults"))["injected"] == {"503": 1}


async def test_outside_a_budget_the_client_policy_applies(erp_sim: Upstream) -> None:
    client = erp_sim.client(retry=fast_retry(erp_sim.sleeps, max_retries=6))
    await erp_sim.faults(rate=1.0, kinds=["503"])
    with call_budget(max_retries=0):
        pass
    with pytest.raises(UpstreamUnavailable):
        await client.get("v2.0/companies")
    assert len(erp_sim.transport.api()) == 7  # the budget ended with its block


async def test_a_deadline_stops_retries_whose_wait_would_outlast_it(erp_sim: Upstream) -> None:
    # Backoff 1, 2, 4, 8 s (jitter pinned at its top); the recorded sleeps take no time.
    retry = fast_retry(
        erp_sim.sleeps, max_retries=6, backoff_base_seconds=1.0, backoff_max_seconds=60.0, random=lambda: 1.0
    )
    client = erp_sim.client(retry=retry)
    await erp_sim.faults(rate=1.0, kinds=["503"])
    with pytest.raises(UpstreamUnavailable), call_budget(seconds=5.0):
        await client.get("v2.0/companies")
    assert erp_sim.sleeps.delays == [1.0, 2.0, 4.0]  # an 8 s wait would end past the deadline
    assert len(erp_sim.transport.api()) == 4


async def test_a_stalled_upstream_costs_one_attempt_up_to_the_deadline(erp_sim: Upstream) -> None:
    # The client's own timeout (30 s) and 6 retries would hold the caller for minutes.
    client = erp_sim.client(retry=fast_retry(erp_sim.sleeps, max_retries=6), timeout_seconds=30.0)
    await erp_sim.faults(rate=1.0, kinds=["timeout"], timeoutSeconds=60)
    with pytest.raises(UpstreamTimeout) as caught, call_budget(seconds=0.2):
        await client.get("v2.0/companies")
    assert "deadline" in str(caught.value)
    assert (await erp_sim.control("faults"))["injected"] == {"timeout": 1}
    assert len(erp_sim.transport.api()) == 1
    assert erp_sim.sleeps.delays == []


async def test_a_retry_after_past_the_deadline_is_not_waited_for(crm_sim: Upstream) -> None:
    client = crm_sim.client(retry=fast_retry(crm_sim.sleeps, max_retries=6))
    await crm_sim.faults(rate=1.0, kinds=["429"], retryAfterSeconds=10)
    with pytest.raises(UpstreamThrottled), call_budget(seconds=2.0):
        await client.get("WhoAmI")
    assert len(crm_sim.transport.api()) == 1
    assert crm_sim.sleeps.delays == []


async def test_nested_budgets_keep_the_stricter_limit() -> None:
    loop = asyncio.get_running_loop()
    assert current_budget().max_retries is None and current_budget().deadline is None
    with call_budget(max_retries=2, seconds=100.0) as outer:
        with call_budget(max_retries=5, seconds=1.0) as inner:
            assert inner.max_retries == 2
            assert inner.deadline is not None and inner.deadline < loop.time() + 2.0
            assert current_budget() is inner
        with call_budget(seconds=500.0) as looser:
            assert looser.deadline == outer.deadline and looser.max_retries == 2
        assert current_budget() is outer
    assert current_budget().deadline is None


async def test_tasks_started_inside_a_budget_inherit_it(erp_sim: Upstream) -> None:
    client = erp_sim.client(retry=fast_retry(erp_sim.sleeps, max_retries=6))
    await erp_sim.faults(rate=1.0, kinds=["503"])
    with call_budget(max_retries=0):
        results = await asyncio.gather(
            client.get("v2.0/companies"), client.get("v2.0/companies"), return_exceptions=True
        )
    assert all(isinstance(result, UpstreamUnavailable) for result in results)
    assert len(erp_sim.transport.api()) == 2


@pytest.mark.parametrize(("retries", "seconds"), [(-1, None), (None, 0.0), (None, -1.0)])
async def test_a_nonsense_budget_is_refused(retries: int | None, seconds: float | None) -> None:
    with pytest.raises(ValueError), call_budget(max_retries=retries, seconds=seconds):
        pass
