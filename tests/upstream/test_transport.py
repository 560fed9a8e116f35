"""`in_process_transport` fails like a socket served by uvicorn: an app that dies mid-response is a
dropped connection, one that dies before responding is a 500, a normal answer passes untouched."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gateway.upstream.transport import in_process_transport


async def _ok(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"hello", "more_body": True})
    await send({"type": "http.response.body", "body": b" world"})


async def _dies_mid_response(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b'{"value":[', "more_body": True})
    raise ConnectionAbortedError("simulated drop")


async def _returns_mid_response(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{", "more_body": True})


async def _dies_before_responding(scope: Any, receive: Any, send: Any) -> None:
    raise RuntimeError("bug in the app")


async def _dies_after_responding(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 201, "headers": []})
    await send({"type": "http.response.body", "body": b"done"})
    raise RuntimeError("late failure")


async def get(app: Any) -> httpx.Response:
    async with httpx.AsyncClient(transport=in_process_transport(app)) as http:
        return await http.get("http://app.test/x")


async def test_a_normal_answer_passes() -> None:
    response = await get(_ok)
    assert (response.status_code, response.text) == (200, "hello world")


@pytest.mark.parametrize("app", [_dies_mid_response, _returns_mid_response])
async def test_breaking_off_mid_response_is_a_dropped_connection(app: Any) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        await get(app)


async def test_failing_before_responding_is_a_500(caplog: pytest.LogCaptureFixture) -> None:
    response = await get(_dies_before_responding)
    assert response.status_code == 500
    assert "bug in the app" in caplog.text


async def test_failing_after_a_complete_response_keeps_the_response() -> None:
    response = await get(_dies_after_responding)
    assert (response.status_code, response.text) == (201, "done")


async def test_simulator_drop_fault_surfaces_as_remote_protocol_error() -> None:
    from gateway.simulators import SimulatorOptions, create_crm_simulator

    app = create_crm_simulator(SimulatorOptions(customers=20, items=20))
    async with httpx.AsyncClient(transport=in_process_transport(app), base_url="http://crm.sim") as http:
        await http.post("/_sim/faults", json={"rate": 1.0, "kinds": ["drop"]})
        token = await http.post(
            "/demo/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "gateway-demo",
                "client_secret": "demo-secret",
                "scope": "http://crm.sim/.default",
            },
        )
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get("/api/data/v9.2/accounts", headers=headers)
