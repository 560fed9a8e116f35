"""Through 10% injected faults of every kind (429, 503, timeouts, dropped connections), a full read
of a large table still yields every record exactly once, and each fault cost exactly one retry."""

from __future__ import annotations

from gateway.upstream.crm import CrmConnector
from gateway.upstream.erp import ErpConnector
from gateway.upstream.odata import Query
from tests.upstream.conftest import MakeUpstream, fast_retry

ALL_KINDS = ["429", "503", "timeout", "drop"]


async def test_erp_customers_exactly_once_through_faults(make_upstream: MakeUpstream) -> None:
    erp_sim = make_upstream("erp", bulk_rows={"customers": 3000})
    retry = fast_retry(erp_sim.sleeps, max_retries=8)
    erp = ErpConnector(erp_sim.client(page_size=50, timeout_seconds=0.25, retry=retry))
    await erp.company_id()
    expected = erp_sim.options.customers + 3000
    await erp_sim.faults(rate=0.1, kinds=ALL_KINDS, seed=2026, timeoutSeconds=30, retryAfterSeconds=1)
    ids: list[str] = []
    async for page in erp.pages("customers", select=["id", "number"]):
        ids.extend(record.id for record in page)
    assert len(ids) == len(set(ids)) == expected
    injected = (await erp_sim.control("faults"))["injected"]
    assert {"timeout", "drop", "503"} <= set(injected)  # (seeded: the same faults every run)
    assert erp.client.stats.retries == sum(injected.values())
    assert erp_sim.sleeps.delays.count(1.0) >= injected.get("429", 0)


async def test_crm_accounts_exactly_once_through_faults(make_upstream: MakeUpstream) -> None:
    crm_sim = make_upstream("crm", bulk_rows={"accounts": 2000})
    retry = fast_retry(crm_sim.sleeps, max_retries=8)
    crm = CrmConnector(crm_sim.client(page_size=50, timeout_seconds=0.25, retry=retry))
    await crm_sim.faults(rate=0.1, kinds=ALL_KINDS, seed=7, timeoutSeconds=30, retryAfterSeconds=1)
    ids: list[str] = []
    async for page in crm.pages("accounts", select=["accountid", "name"]):
        ids.extend(record.id for record in page)
    injected = (await crm_sim.control("faults"))["injected"]
    await crm_sim.faults(rate=0.0, kinds=ALL_KINDS)  # (this also clears the simulator's tally)
    count = (await crm.client.get("accounts", query=Query(count=True, top=0)))["@odata.count"]
    assert len(ids) == len(set(ids)) == count >= 2000
    assert set(injected) == set(ALL_KINDS)
    assert crm.client.stats.retries == sum(injected.values())
