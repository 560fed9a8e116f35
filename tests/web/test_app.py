"""The app skeleton over HTTP: health, readiness, authentication, the first GraphQL query."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.domain import Role
from tests.gateway_harness import Harness, running_gateway

QUERY = (
    "{ upstreams { erp { reachable company { id displayName currencyCode } }"
    " crm { reachable organisation { organizationId } } } me { role } }"
)


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_gateway(f"sqlite+aiosqlite:///{tmp_path}/gw.db") as harness:
        yield harness


async def test_healthz_needs_no_key(gw: Harness) -> None:
    response = await gw.client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_each_dependency(gw: Harness) -> None:
    response = await gw.client.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"store", "cache", "erp", "crm"}


@pytest.mark.parametrize("header", [None, "Bearer wrong-key", "Basic abc", "Bearer "])
async def test_graphql_without_a_valid_key_is_401(gw: Harness, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = await gw.client.get("/graphql", params={"query": QUERY}, headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 401


async def test_unknown_paths_also_need_a_key(gw: Harness) -> None:
    assert (await gw.client.get("/nope")).status_code == 401
    assert (await gw.client.get("/nope", headers=gw.auth(Role.APP))).status_code == 404


@pytest.mark.parametrize("role", list(Role))
async def test_graphql_reports_upstreams_for_every_role(gw: Harness, role: Role) -> None:
    response = await gw.client.get("/graphql", params={"query": QUERY}, headers=gw.auth(role))
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["me"]["role"] == role.value.upper()
    assert data["upstreams"]["erp"]["reachable"] is True
    assert data["upstreams"]["erp"]["company"]["displayName"]
    assert data["upstreams"]["erp"]["company"]["currencyCode"]
    assert data["upstreams"]["crm"]["reachable"] is True
    assert data["upstreams"]["crm"]["organisation"]["organizationId"]


async def test_graphql_post(gw: Harness) -> None:
    response = await gw.client.post(
        "/graphql", json={"query": "{ me { role name } }"}, headers=gw.auth(Role.SALES)
    )
    assert response.status_code == 200
    assert response.json()["data"]["me"] == {"role": "SALES", "name": "demo-sales"}


async def test_readyz_names_an_unreachable_upstream(tmp_path: Path) -> None:
    # the transports are in-process, so break the ERP by presenting a wrong client secret
    async with running_gateway(
        f"sqlite+aiosqlite:///{tmp_path}/gw.db", erp_client_secret="wrong-secret"
    ) as gw:
        response = await gw.client.get("/readyz")
        assert response.status_code == 503
        checks = response.json()["checks"]
        assert checks["erp"]["ok"] is False and "Auth" in checks["erp"]["error"]
        assert checks["crm"]["ok"] is True
        assert "wrong-secret" not in response.text
