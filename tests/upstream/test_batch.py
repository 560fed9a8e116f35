"""`$batch` in both formats against the simulators: chunking to each service's limit, per-operation
results in order, failures that stop or roll back, and which batches may be repeated."""

from __future__ import annotations

import pytest

from gateway.errors import UpstreamUnavailable
from gateway.upstream.crm import CrmConnector
from gateway.upstream.erp import ErpConnector
from gateway.upstream.odata import Query
from gateway.upstream.writes import Write
from tests.upstream.conftest import Upstream


async def count_rows(client, target: str, filter: str) -> int:  # type: ignore[no-untyped-def]
    body = await client.get(target, query=Query(filter=filter, count=True, top=0))
    return int(body["@odata.count"])


async def test_erp_json_batch_is_chunked_to_100(erp_sim: Upstream) -> None:
    erp = ErpConnector(erp_sim.client(batch_size=100))
    writes = [Write.create("customers", {"displayName": f"Batch {i:03d}"}) for i in range(230)]
    results = await erp.batch(writes)
    assert [r.index for r in results] == list(range(230))
    assert all(r.status == 201 and r.ok and r.etag for r in results)
    assert {r.body["displayName"] for r in results if r.body} == {f"Batch {i:03d}" for i in range(230)}
    batches = [r for r in erp_sim.transport.api("POST") if r.url.path.endswith("/$batch")]
    assert len(batches) == 3
    customers = await erp.collection_path("customers")
    assert await count_rows(erp.client, customers, "startswith(displayName,'Batch ')") == 230


async def test_erp_batch_size_setting_is_capped_by_bc_limit(erp_sim: Upstream) -> None:
    erp = ErpConnector(erp_sim.client(batch_size=500))
    results = await erp.batch([Write.create("customers", {"displayName": f"x{i}"}) for i in range(150)])
    assert all(r.ok for r in results)
    assert len([r for r in erp_sim.transport.api("POST") if r.url.path.endswith("/$batch")]) == 2


async def test_erp_batch_stops_at_a_failure_and_reports_the_rest(erp_sim: Upstream) -> None:
    erp = ErpConnector(erp_sim.client())
    created = await erp.create("customers", {"displayName": "Stale"})
    await erp.update("customers", created.id, {"city": "Bern"}, etag=created.etag or "*")
    writes = [
        Write.create("customers", {"displayName": "ok 1"}),
        Write.update("customers", created.id, {"city": "Basel"}, etag=created.etag or "*"),
        Write.create("customers", {"displayName": "ok 2"}),
    ]
    results = await erp.batch(writes)
    assert [r.status for r in results] == [201, 412, 424]
    assert results[1].error_code == "Request_EntityChanged"


async def test_erp_atomic_batch_rolls_back_and_says_so(erp_sim: Upstream) -> None:
    erp = ErpConnector(erp_sim.client())
    created = await erp.create("customers", {"displayName": "Stale"})
    await erp.update("customers", created.id, {"city": "Bern"}, etag=created.etag or "*")
    writes = [
        Write.create("customers", {"displayName": "Atomic 1"}),
        Write.create("customers", {"displayName": "Atomic 2"}),
        Write.update("customers", created.id, {"city": "Basel"}, etag=created.etag or "*"),
    ]
    results = await erp.batch(writes, atomic=True)
    assert [(r.status, r.error_code) for r in results] == [
        (424, "RolledBack"),
        (424, "RolledBack"),
        (412, "Request_EntityChanged"),
    ]
    assert erp_sim.transport.api("POST")[-1].headers["isolation"] == "snapshot"
    customers = await erp.collection_path("customers")
    assert await count_rows(erp.client, customers, "startswith(displayName,'Atomic ')") == 0


async def test_erp_has_no_upsert() -> None:
    erp = ErpConnector.__new__(ErpConnector)
    with pytest.raises(ValueError):
        erp._operation("c", Write.upsert("customers", {"number": "C1"}, {"displayName": "x"}))


async def test_crm_multipart_batch_is_chunked_with_per_operation_results(crm_sim: Upstream) -> None:
    # (The cap at the service's own limit is shown with BC's 100 above: 1,000 real ops would be slow.)
    crm = CrmConnector(crm_sim.client(batch_size=100))
    writes = [
        Write.upsert("accounts", {"accountnumber": f"B{i:05d}"}, {"name": f"Bulk {i}"}) for i in range(250)
    ]
    results = await crm.batch(writes)
    assert [r.index for r in results] == list(range(250))
    assert all(r.ok and r.etag for r in results)
    assert results[0].body is not None and results[0].body["accountnumber"] == "B00000"
    batches = [r for r in crm_sim.transport.api("POST") if r.url.path.endswith("/$batch")]
    assert len(batches) == 3
    assert all(r.headers["content-type"].startswith("multipart/mixed; boundary=") for r in batches)
    assert await count_rows(crm.client, "accounts", "startswith(accountnumber,'B')") == 250


async def test_crm_batch_continues_past_a_failure(crm_sim: Upstream) -> None:
    crm = CrmConnector(crm_sim.client())
    account = await crm.create("accounts", {"name": "Target"})
    writes = [
        Write.create("accounts", {"name": "first"}),
        Write.update("accounts", account.id, {"name": "stale"}, etag='W/"1"'),
        Write.delete("accounts", account.id),
    ]
    results = await crm.batch(writes)
    assert [r.status for r in results][1:] == [412, 204]
    assert results[0].status in (200, 201) and results[0].body and results[0].body["name"] == "first"
    assert results[1].error_code


async def test_crm_atomic_batch_is_one_change_set(crm_sim: Upstream) -> None:
    crm = CrmConnector(crm_sim.client())
    account = await crm.create("accounts", {"name": "Target"})
    writes = [
        Write.create("accounts", {"name": "Changeset A"}),
        Write.create("accounts", {"name": "Changeset B"}),
        Write.update("accounts", account.id, {"name": "stale"}, etag='W/"1"'),
    ]
    results = await crm.batch(writes, atomic=True)
    assert [r.status for r in results] == [412, 412, 412]
    assert await count_rows(crm.client, "accounts", "startswith(name,'Changeset ')") == 0


async def test_a_batch_with_creates_is_not_repeated_but_one_of_upserts_is(crm_sim: Upstream) -> None:
    crm = CrmConnector(crm_sim.client())
    await crm.client.get("accounts", query=Query(top=1))
    await crm_sim.faults(rate=1.0, kinds=["503"])
    with pytest.raises(UpstreamUnavailable):
        await crm.batch([Write.create("accounts", {"name": "once"})])
    assert len(crm_sim.transport.api("POST")) == 1
    with pytest.raises(UpstreamUnavailable):
        await crm.batch([Write.upsert("accounts", {"accountnumber": "R1"}, {"name": "again"})])
    assert len(crm_sim.transport.api("POST")) == 1 + 1 + crm.client.retry.max_retries
