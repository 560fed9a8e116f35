"""Fixtures for the simulator tests: apps over fixture data and authenticated httpx clients.

Every client talks to the app in-process through httpx.ASGITransport.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from gateway.simulators import SimulatorOptions, create_crm_simulator, create_erp_simulator

from .fixtures import FixtureData

BC_API = "/v2.0/demo/production/api/v2.0/"
BC_INT = "/v2.0/demo/production/api/bcgateway/integration/v1.0/"
CRM_API = "/api/data/v9.2/"
BC_SCOPE = "https://api.businesscentral.dynamics.com/.default"
CRM_SCOPE = "https://demo.crm.dynamics.com/.default"


class Clock:
    """A settable stand-in for ``time.time`` (SimulatorOptions.clock): tests move time, never sleep."""

    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


def options(**overrides: Any) -> SimulatorOptions:
    return SimulatorOptions(demo_data=FixtureData(), **overrides)


async def token(
    client: httpx.AsyncClient, scope: str, *, client_id: str = "gateway-demo", secret: str = "demo-secret"
) -> str:
    response = await client.post(
        "/demo/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "scope": scope,
        },
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def authed_client(app: Starlette, scope: str, base: str) -> httpx.AsyncClient:
    """A client rooted at ``base`` with a bearer token; usable with ``async with``."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://sim.test") as tmp:
        bearer = await token(tmp, scope)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="https://sim.test" + base,
        headers={"Authorization": f"Bearer {bearer}"},
    )


@pytest.fixture
def erp_app() -> Starlette:
    return create_erp_simulator(options())


@pytest.fixture
def crm_app() -> Starlette:
    return create_crm_simulator(options())


@pytest.fixture
async def bc(erp_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """Client rooted at the BC API v2.0 service root."""
    client = await authed_client(erp_app, BC_SCOPE, BC_API)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def bci(erp_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """Client rooted at the BC integration API service root."""
    client = await authed_client(erp_app, BC_SCOPE, BC_INT)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def dv(crm_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    client = await authed_client(crm_app, CRM_SCOPE, CRM_API)
    try:
        yield client
    finally:
        await client.aclose()
