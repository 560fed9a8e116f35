"""Fixtures of the contract suite: one `server` fixture parametrized over the ERP simulator, the CRM
simulator and SAP CAP (a real, independent OData v4 server started once per session)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from gateway.upstream.client import ODataClient
from gateway.upstream.policy import ClientLimits, RetryPolicy
from tests.contract.cap_server import CapServer, start_cap_server
from tests.contract.cases import ServerCase

PAGE_SIZE = 7
_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def cap_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CapServer]:
    server = start_cap_server(tmp_path_factory.mktemp("cap"))
    yield server
    server.stop()


def _limits() -> ClientLimits:
    return ClientLimits(page_size=PAGE_SIZE, batch_size=50, max_concurrency=4, timeout_seconds=10)


async def _cap_case(server: CapServer) -> AsyncIterator[ServerCase]:
    http = httpx.AsyncClient()
    client = ODataClient(
        http, base_url=server.service_root, service="cap", limits=_limits(), retry=RetryPolicy(max_retries=0)
    )
    try:
        yield ServerCase(
            name="cap",
            client=client,
            collection="Contacts",
            key="ID",
            text="name",
            timestamp="updated",
            date="born",
            new_row=lambda text: {"name": text, "number": f"T{next(_numbers):05d}", "seq": 0},
            server_page_size=25,
        )
    finally:
        await http.aclose()


@pytest.fixture(params=[pytest.param("cap", marks=pytest.mark.cap)])
async def server(request: pytest.FixtureRequest) -> AsyncIterator[ServerCase]:
    if request.param == "cap":
        async for case in _cap_case(request.getfixturevalue("cap_server")):
            yield case
