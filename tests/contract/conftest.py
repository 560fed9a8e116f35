"""Fixtures of the contract suite: one `server` fixture parametrized over the ERP simulator, the CRM
simulator and SAP CAP (a real, independent OData v4 server started once per session)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from gateway.simulators import SimulatorOptions, create_crm_simulator, create_erp_simulator
from gateway.upstream.auth import TokenProvider
from gateway.upstream.client import ODataClient
from gateway.upstream.policy import ClientLimits, RetryPolicy
from gateway.upstream.transport import in_process_transport
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
            date=("Contacts", "born"),
            new_row=lambda text: {"name": text, "number": f"T{next(_numbers):05d}", "seq": 0},
            server_page_size=25,
        )
    finally:
        await http.aclose()


def _simulator_client(
    http: httpx.AsyncClient, *, root: str, api_root: str, service: str, scope: str
) -> ODataClient:
    options = SimulatorOptions()
    auth = TokenProvider(
        http,
        token_url=f"{root}/{options.tenant}/oauth2/v2.0/token",
        client_id=options.client_id,
        client_secret=options.client_secret,
        scope=scope,
        service=service,
    )
    return ODataClient(
        http,
        base_url=api_root,
        service=service,
        auth=auth,
        limits=_limits(),
        retry=RetryPolicy(max_retries=0),
    )


async def _erp_case() -> AsyncIterator[ServerCase]:
    root = "http://erp.sim"
    options = SimulatorOptions(customers=60, items=20)
    async with httpx.AsyncClient(transport=in_process_transport(create_erp_simulator(options))) as http:
        client = _simulator_client(
            http,
            root=root,
            api_root=f"{root}/v2.0/{options.tenant}/{options.environment}/api/",
            service="erp",
            scope="https://api.businesscentral.dynamics.com/.default",
        )
        company = (await client.get("v2.0/companies"))["value"][0]["id"]
        yield ServerCase(
            name="erp",
            client=client,
            collection=f"v2.0/companies({company})/customers",
            key="id",
            text="displayName",
            timestamp="lastModifiedDateTime",
            date=(f"v2.0/companies({company})/salesOrders", "orderDate"),
            new_row=lambda text: {"displayName": text},
        )


async def _crm_case() -> AsyncIterator[ServerCase]:
    root = "http://crm.sim"
    options = SimulatorOptions(customers=60, items=20)
    async with httpx.AsyncClient(transport=in_process_transport(create_crm_simulator(options))) as http:
        client = _simulator_client(
            http, root=root, api_root=f"{root}/api/data/v9.2/", service="crm", scope=f"{root}/.default"
        )
        yield ServerCase(
            name="crm",
            client=client,
            collection="accounts",
            key="accountid",
            text="name",
            timestamp="modifiedon",
            date=None,  # Dataverse keeps date-only columns as DateTimeOffset
            new_row=lambda text: {"name": text},
        )


@pytest.fixture(params=["erp", "crm", pytest.param("cap", marks=pytest.mark.cap)])
async def server(request: pytest.FixtureRequest) -> AsyncIterator[ServerCase]:
    if request.param == "cap":
        cases = _cap_case(request.getfixturevalue("cap_server"))
    elif request.param == "erp":
        cases = _erp_case()
    else:
        cases = _crm_case()
    async for case in cases:
        yield case
