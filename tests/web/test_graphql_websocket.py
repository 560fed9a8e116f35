"""GraphQL over WebSocket against a whole gateway (ASGI, through every middleware): the API key in
the `connection_init` payload for browsers that cannot set headers, or in the handshake's header as
before; bad keys closed with 4403, operations before the acknowledgement with 4401, and the roles of
the key that authenticated the connection."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from gateway.domain import Role
from gateway.simulators import SimulatorOptions
from tests.asgi_websocket import AsgiWebSocket, Closed, HandshakeRefused, connect
from tests.gateway_harness import Harness, running_gateway

pytestmark = pytest.mark.asyncio(loop_scope="module")
TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"
ME = "{ me { role name } }"
ORDER = """mutation { createSalesOrder(input: {customerNumber: "C10000",
  lines: [{itemNumber: "1896-S", quantity: 1}]}) { __typename ... on PermissionDenied { message } } }"""
INTROSPECTION = "{ __schema { queryType { name } } }"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def gw(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    path = tmp_path_factory.mktemp("graphql-ws") / "gw.db"
    async with running_gateway(
        f"sqlite+aiosqlite:///{path}", options=SimulatorOptions(customers=20, items=20), seed_read_model=True
    ) as harness:
        yield harness


async def _init(ws: AsgiWebSocket, payload: dict[str, Any] | None) -> dict[str, Any] | Closed:
    await ws.send_json({"type": "connection_init", **({} if payload is None else {"payload": payload})})
    return await ws.receive()


async def _run(ws: AsgiWebSocket, query: str, op_id: str = "1") -> dict[str, Any]:
    """One operation over graphql-transport-ws: its single `next` payload, then `complete`."""
    await ws.send_json({"id": op_id, "type": "subscribe", "payload": {"query": query}})
    result = await ws.receive()
    assert isinstance(result, dict) and result["type"] == "next" and result["id"] == op_id, result
    done = await ws.receive()
    assert done == {"id": op_id, "type": "complete"}, done
    payload: dict[str, Any] = result["payload"]
    return payload


def _payloads(gw: Harness, role: Role) -> list[dict[str, str]]:
    key = gw.keys[role]
    return [{"Authorization": f"Bearer {key}"}, {"authorization": f"bearer {key}"}, {"apiKey": key}]


async def test_the_key_in_connection_init_authenticates_the_connection(gw: Harness) -> None:
    for role in (Role.APP, Role.SALES, Role.ADMIN):
        for payload in _payloads(gw, role):
            async with connect(gw.app, "/graphql", subprotocols=(TRANSPORT_WS,)) as ws:
                assert ws.subprotocol == TRANSPORT_WS
                assert await _init(ws, payload) == {"type": "connection_ack"}
                answer = await _run(ws, ME)
                assert answer["data"]["me"]["role"] == role.name, answer


async def test_roles_apply_as_over_http(gw: Harness) -> None:
    async with connect(gw.app, "/graphql", subprotocols=(TRANSPORT_WS,)) as ws:
        assert await _init(ws, {"apiKey": gw.keys[Role.APP]}) == {"type": "connection_ack"}
        order = await _run(ws, ORDER, "order")
        assert order["data"]["createSalesOrder"]["__typename"] == "PermissionDenied"
        await ws.send_json({"id": "schema", "type": "subscribe", "payload": {"query": INTROSPECTION}})
        refused = await ws.receive()  # a validation failure is the protocol's `error` message
        assert isinstance(refused, dict) and refused["type"] == "error", refused
        assert "introspection" in refused["payload"][0]["message"]
    async with connect(gw.app, "/graphql", subprotocols=(TRANSPORT_WS,)) as ws:
        assert await _init(ws, {"apiKey": gw.keys[Role.ADMIN]}) == {"type": "connection_ack"}
        allowed = await _run(ws, INTROSPECTION, "schema")
        assert allowed["data"]["__schema"]["queryType"]["name"] == "Query"
    over_http = await gw.client.post("/graphql", json={"query": ORDER}, headers=gw.auth(Role.APP))
    assert over_http.json()["data"]["createSalesOrder"] == order["data"]["createSalesOrder"]


@pytest.mark.parametrize(
    "payload",
    [
        None,
        {},
        {"Authorization": "Bearer gw_not-a-key"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"apiKey": ""},
        {"apiKey": 12345},
        {"token": "whatever"},
    ],
)
async def test_a_missing_or_bad_key_closes_with_4403(gw: Harness, payload: dict[str, Any] | None) -> None:
    async with connect(gw.app, "/graphql", subprotocols=(TRANSPORT_WS,)) as ws:
        assert await _init(ws, payload) == Closed(4403, "Forbidden")


async def test_a_revoked_key_closes_with_4403(gw: Harness) -> None:
    access = gw.app.state.services.access
    issued = await access.issue(role="sales", name="ws-revoked")
    async with connect(gw.app, "/graphql", subprotocols=(TRANSPORT_WS,)) as ws:
        assert await _init(ws, {"apiKey": issued.plaintext}) == {"type": "connection_ack"}
    await access.revoke(key_id=issued.principal.key_id)
    async with connect(gw.app, "/graphql", subprotocols=(TRANSPORT_WS,)) as ws:
        assert await _init(ws, {"apiKey": issued.plaintext}) == Closed(4403, "Forbidden")


async def test_an_operation_before_the_acknowledgement_closes_with_4401(gw: Harness) -> None:
    async with connect(gw.app, "/graphql", subprotocols=(TRANSPORT_WS,)) as ws:
        await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": ME}})
        assert await ws.receive() == Closed(4401, "Unauthorized")


async def test_the_header_still_authenticates_and_a_bad_one_is_refused(gw: Harness) -> None:
    async with connect(gw.app, "/graphql", headers=gw.auth(Role.SALES), subprotocols=(TRANSPORT_WS,)) as ws:
        assert await _init(ws, None) == {"type": "connection_ack"}
        assert (await _run(ws, ME))["data"]["me"]["role"] == "SALES"
    # the header wins over a payload key
    async with connect(gw.app, "/graphql", headers=gw.auth(Role.APP), subprotocols=(TRANSPORT_WS,)) as ws:
        assert await _init(ws, {"apiKey": gw.keys[Role.ADMIN]}) == {"type": "connection_ack"}
        assert (await _run(ws, ME))["data"]["me"]["role"] == "APP"
    with pytest.raises(HandshakeRefused):
        async with connect(
            gw.app, "/graphql", headers={"Authorization": "Bearer gw_nope"}, subprotocols=(TRANSPORT_WS,)
        ):
            pass


async def test_other_paths_still_need_the_header(gw: Harness) -> None:
    with pytest.raises(HandshakeRefused) as refused:
        async with connect(gw.app, "/api/v1/customers", subprotocols=(TRANSPORT_WS,)):
            pass
    assert refused.value.code == 4401


async def test_the_legacy_graphql_ws_protocol_takes_the_key_too(gw: Harness) -> None:
    async with connect(gw.app, "/graphql", subprotocols=(LEGACY_WS,)) as ws:
        assert ws.subprotocol == LEGACY_WS
        # (strawberry runs only subscriptions over this protocol, and the schema has none yet)
        assert await _init(ws, {"apiKey": gw.keys[Role.APP]}) == {"type": "connection_ack"}
    async with connect(gw.app, "/graphql", subprotocols=(LEGACY_WS,)) as ws:
        error = await _init(ws, {"apiKey": "gw_wrong"})
        assert isinstance(error, dict) and error["type"] == "connection_error", error
        assert isinstance(await ws.receive(), Closed)
