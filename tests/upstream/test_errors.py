"""Every failure leaves the client as a gateway error class: HTTP statuses with their OData error
codes, garbage bodies, timeouts and dropped connections (from the simulators' own fault injection)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from gateway.errors import (
    FatalUpstreamError,
    PreconditionFailed,
    RetriableUpstreamError,
    UpstreamAuthError,
    UpstreamBadRequest,
    UpstreamError,
    UpstreamNotFound,
    UpstreamProtocolError,
    UpstreamThrottled,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from gateway.upstream.client import ODataClient
from gateway.upstream.odata import Query, entity_path
from gateway.upstream.policy import RetryPolicy
from tests.upstream.conftest import Forward, Upstream, fast_retry

STATUS_CLASSES: list[tuple[int, type[UpstreamError]]] = [
    (400, UpstreamBadRequest),
    (401, UpstreamAuthError),
    (403, UpstreamAuthError),
    (404, UpstreamNotFound),
    (405, UpstreamBadRequest),
    (408, UpstreamTimeout),
    (409, UpstreamBadRequest),
    (412, PreconditionFailed),
    (422, UpstreamBadRequest),
    (429, UpstreamThrottled),
    (500, FatalUpstreamError),
    (502, UpstreamUnavailable),
    (503, UpstreamUnavailable),
    (504, UpstreamUnavailable),
]


@pytest.mark.parametrize(("status", "error_class"), STATUS_CLASSES)
async def test_status_maps_to_error_class(
    crm_sim: Upstream, status: int, error_class: type[UpstreamError]
) -> None:
    client = crm_sim.client(auth=False, retry=fast_retry(crm_sim.sleeps, max_retries=0))

    async def answer(request: httpx.Request, forward: Forward) -> httpx.Response:
        body = {"error": {"code": f"E{status}", "message": f"status {status} from the server"}}
        return httpx.Response(status, json=body, headers={"Retry-After": "3"})

    crm_sim.transport.hook = answer
    with pytest.raises(UpstreamError) as caught:
        await client.get("accounts")
    error = caught.value
    assert type(error) is error_class
    assert (error.status, error.code, error.service, error.method) == (status, f"E{status}", "crm", "GET")
    assert str(error).startswith(f"status {status} from the server")
    assert isinstance(error, RetriableUpstreamError) == (status in (408, 429, 502, 503, 504))
    if status == 429:
        assert isinstance(error, UpstreamThrottled) and error.retry_after == 3.0


async def test_real_404_400_and_412_from_the_simulator(erp_sim: Upstream) -> None:
    client = erp_sim.client()
    company = (await client.get("v2.0/companies"))["value"][0]["id"]
    customers = f"v2.0/companies({company})/customers"
    with pytest.raises(UpstreamNotFound) as missing:
        await client.get(entity_path(customers, uuid.uuid4()))
    assert missing.value.status == 404 and missing.value.code
    with pytest.raises(UpstreamBadRequest) as bad:
        await client.get(customers, query=Query(filter="displayName eq"))
    assert bad.value.status == 400 and bad.value.code
    row = (await client.get(customers, query=Query(top=1)))["value"][0]
    path = entity_path(customers, row["id"])
    await client.request(
        "PATCH", path, json_body={"city": "Zürich"}, headers={"If-Match": row["@odata.etag"]}
    )
    with pytest.raises(PreconditionFailed) as stale:
        await client.request(
            "PATCH", path, json_body={"city": "Bern"}, headers={"If-Match": row["@odata.etag"]}
        )
    assert stale.value.status == 412 and stale.value.code == "Request_EntityChanged"


@pytest.mark.parametrize("content", [b"<html>gateway error</html>", b'{"value": [', b""])
async def test_garbage_body_is_a_protocol_error(crm_sim: Upstream, content: bytes) -> None:
    client = crm_sim.client()

    async def garbage(request: httpx.Request, forward: Forward) -> httpx.Response:
        await forward()
        return httpx.Response(200, content=content, headers={"Content-Type": "application/json"})

    crm_sim.transport.hook = garbage
    with pytest.raises(UpstreamProtocolError):
        await client.get("accounts")
    assert len(crm_sim.transport.api()) == 1  # not retried: the same garbage would come back


async def test_a_collection_without_value_is_a_protocol_error(crm_sim: Upstream) -> None:
    client = crm_sim.client()

    async def no_value(request: httpx.Request, forward: Forward) -> httpx.Response:
        await forward()
        return httpx.Response(200, json={"items": []})

    crm_sim.transport.hook = no_value
    with pytest.raises(UpstreamProtocolError):
        async for _ in client.pages("accounts"):
            pass


async def test_timeout_is_enforced_on_an_in_process_server(erp_sim: Upstream) -> None:
    client = erp_sim.client(timeout_seconds=0.2, retry=fast_retry(erp_sim.sleeps, max_retries=1))
    await client.get("v2.0/companies")  # token first, so only API calls time out
    await erp_sim.faults(rate=1.0, kinds=["timeout"], timeoutSeconds=30)
    with pytest.raises(UpstreamTimeout) as caught:
        await client.get("v2.0/companies")
    assert caught.value.service == "erp" and caught.value.method == "GET"
    assert len(erp_sim.transport.api("GET")) == 1 + 2  # one try and one retry
    assert (await erp_sim.control("faults"))["injected"] == {"timeout": 2}


async def test_dropped_connection_is_unavailable(crm_sim: Upstream) -> None:
    client = crm_sim.client(retry=fast_retry(crm_sim.sleeps, max_retries=2))
    await crm_sim.faults(rate=1.0, kinds=["drop"])
    with pytest.raises(UpstreamUnavailable) as caught:
        await client.get("accounts")
    assert "RemoteProtocolError" in str(caught.value)
    assert len(crm_sim.transport.api("GET")) == 3


async def test_unreachable_host_is_unavailable() -> None:
    async def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    delays: list[float] = []

    async def record(seconds: float) -> None:
        delays.append(seconds)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as http:
        client = ODataClient(
            http,
            base_url="http://down.example/api/",
            service="erp",
            retry=RetryPolicy(max_retries=2, sleep=record),
        )
        with pytest.raises(UpstreamUnavailable):
            await client.request("POST", "things", json_body={"a": 1})
    assert len(delays) == 2  # never reached the server: even a POST may be sent again
