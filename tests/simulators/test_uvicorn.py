"""Both simulators over a real uvicorn server on a loopback port: the 'drop' fault closes the
connection mid-response and the 'timeout' fault outlasts a client's read timeout."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from gateway.simulators import create_crm_simulator, create_erp_simulator
from tests.uvicorn_server import serving

from .conftest import BC_API, BC_SCOPE, CRM_API, CRM_SCOPE, options


def serve(app: Starlette) -> AbstractAsyncContextManager[str]:
    return serving(uvicorn.Config(app, log_level="critical", lifespan="off", timeout_graceful_shutdown=1))


async def _token(client: httpx.AsyncClient, scope: str) -> dict[str, str]:
    response = await client.post(
        "/demo/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "gateway-demo",
            "client_secret": "demo-secret",
            "scope": scope,
        },
    )
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.mark.parametrize(
    ("factory", "scope", "api"),
    [
        (create_erp_simulator, BC_SCOPE, BC_API + "companies"),
        (create_crm_simulator, CRM_SCOPE, CRM_API + "accounts"),
    ],
)
async def test_drop_and_timeout_faults_over_a_real_server(factory, scope: str, api: str) -> None:  # type: ignore[no-untyped-def]
    async with serve(factory(options())) as base, httpx.AsyncClient(base_url=base, timeout=5) as client:
        headers = await _token(client, scope)
        assert (await client.get(api, headers=headers)).status_code == 200

        await client.post("/_sim/faults", json={"rate": 1, "seed": 3, "kinds": ["drop"]})
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            await client.get(api, headers=headers)

        await client.post(
            "/_sim/faults", json={"rate": 1, "seed": 3, "kinds": ["timeout"], "timeoutSeconds": 1}
        )
        with pytest.raises(httpx.ReadTimeout):
            await client.get(api, headers=headers, timeout=0.2)

        await client.post("/_sim/faults", json={"rate": 0})
        assert (await client.get(api, headers=headers)).status_code == 200
        stats = (await client.get("/_sim/stats")).json()
        assert stats["faults"]["injected"] == {}  # reconfiguring clears the tally
        assert stats["byStatus"]["0"] == 1  # the dropped response
