"""The OpenAPI 3.1 document: valid, behind a key, and covering every REST route there is."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from openapi_spec_validator import validate
from starlette.routing import Route

from gateway.domain import Role
from gateway.web.routes import build_routes, rest_operations
from tests.gateway_harness import Harness, running_gateway

NOT_REST = {"/healthz", "/readyz", "/graphql", "/openapi.json"}


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_gateway(f"sqlite+aiosqlite:///{tmp_path}/gw.db") as harness:
        yield harness


async def test_document_is_valid_openapi_31(gw: Harness) -> None:
    assert (await gw.client.get("/openapi.json")).status_code == 401
    response = await gw.client.get("/openapi.json", headers=gw.auth(Role.APP))
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_rest_route_is_documented_and_nothing_else() -> None:
    routes = {
        (method, re.sub(r":\w+}", "}", route.path))
        for route in build_routes(graphql_ide=False)
        if isinstance(route, Route) and route.path not in NOT_REST
        for method in (route.methods or ()) - {"HEAD"}
    }
    documented = {(op.method, op.path) for op in rest_operations()}
    assert routes == documented
