"""In-process simulators for the upstream tests, behind a recording transport.

The recording transport is the only stand-in: it forwards to the simulator, counts what goes over the
wire (requests, in-flight peak) and, where a test says so, replaces a response the way a misbehaving
server or network would.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from gateway.simulators import SimulatorOptions, create_crm_simulator, create_erp_simulator
from gateway.upstream.auth import TokenProvider
from gateway.upstream.client import ODataClient
from gateway.upstream.crm import CrmConnector
from gateway.upstream.erp import ErpConnector
from gateway.upstream.policy import ClientLimits, RetryPolicy
from gateway.upstream.transport import in_process_transport

Forward = Callable[[], Awaitable[httpx.Response]]
Hook = Callable[[httpx.Request, Forward], Awaitable[httpx.Response]]


class RecordingTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.requests: list[httpx.Request] = []
        self.hook: Hook | None = None
        self.in_flight = 0
        self.peak = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:

            async def forward() -> httpx.Response:
                response = await self.inner.handle_async_request(request)
                await response.aread()
                return response

            if self.hook is None or "/oauth2/" in request.url.path:  # hooks stand in for the API only
                return await forward()
            return await self.hook(request, forward)
        finally:
            self.in_flight -= 1

    def api(self, method: str | None = None) -> list[httpx.Request]:
        """Requests to the OData API (not to the token endpoint)."""
        return [
            r
            for r in self.requests
            if "/oauth2/" not in r.url.path and (method is None or r.method == method)
        ]

    def tokens(self) -> list[httpx.Request]:
        return [r for r in self.requests if "/oauth2/" in r.url.path]


@dataclass
class SimClock:
    """Wall time plus an offset the test moves forward (the simulators read it for token expiry)."""

    offset: float = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@dataclass
class Sleeps:
    """Records the delays the retry policy asked for, without waiting them out."""

    delays: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def fast_retry(sleeps: Sleeps, **overrides: Any) -> RetryPolicy:
    values: dict[str, Any] = {
        "max_retries": 4,
        "backoff_base_seconds": 0.01,
        "backoff_max_seconds": 0.05,
        "sleep": sleeps,
    }
    values.update(overrides)
    return RetryPolicy(**values)


@dataclass
class Upstream:
    kind: str
    root: str
    api_root: str
    app: Any
    options: SimulatorOptions
    clock: SimClock
    transport: RecordingTransport
    sleeps: Sleeps
    https: list[httpx.AsyncClient] = field(default_factory=list)

    @property
    def scope(self) -> str:
        return (
            "https://api.businesscentral.dynamics.com/.default"
            if self.kind == "erp"
            else f"{self.root}/.default"
        )

    async def control(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        async with httpx.AsyncClient(transport=in_process_transport(self.app), base_url=self.root) as http:
            if body is None:
                response = await http.get(f"/_sim/{path}")
            else:
                response = await http.post(f"/_sim/{path}", json=body)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    async def faults(self, *, rate: float, kinds: list[str], seed: int = 7, **extra: Any) -> None:
        await self.control("faults", {"rate": rate, "kinds": kinds, "seed": seed, **extra})

    def token_provider(
        self, http: httpx.AsyncClient, *, secret: str | None = None, **kwargs: Any
    ) -> TokenProvider:
        return TokenProvider(
            http,
            token_url=f"{self.root}/{self.options.tenant}/oauth2/v2.0/token",
            client_id=self.options.client_id,
            client_secret=self.options.client_secret if secret is None else secret,
            scope=self.scope,
            service=self.kind,
            **kwargs,
        )

    def client(
        self,
        *,
        auth: bool = True,
        secret: str | None = None,
        retry: RetryPolicy | None = None,
        page_size: int = 7,
        batch_size: int = 100,
        max_concurrency: int = 4,
        timeout_seconds: float = 5.0,
        provider: TokenProvider | None = None,
    ) -> ODataClient:
        http = httpx.AsyncClient(transport=self.transport)
        self.https.append(http)
        if provider is None and auth:
            provider = self.token_provider(http, secret=secret)
        return ODataClient(
            http,
            base_url=self.api_root,
            service=self.kind,
            auth=provider,
            limits=ClientLimits(
                page_size=page_size,
                batch_size=batch_size,
                max_concurrency=max_concurrency,
                timeout_seconds=timeout_seconds,
            ),
            retry=retry or fast_retry(self.sleeps),
        )


def _options(clock: SimClock, **overrides: Any) -> SimulatorOptions:
    return SimulatorOptions(seed=11, customers=60, items=40, clock=clock, **overrides)


def build_upstream(kind: str, **overrides: Any) -> Upstream:
    clock = SimClock()
    options = _options(clock, **overrides)
    if kind == "erp":
        root = "http://erp.sim"
        app = create_erp_simulator(options)
        api_root = f"{root}/v2.0/{options.tenant}/{options.environment}/api/"
    else:
        root = "http://crm.sim"
        app = create_crm_simulator(options)
        api_root = f"{root}/api/data/v9.2/"
    return Upstream(
        kind=kind,
        root=root,
        api_root=api_root,
        app=app,
        options=options,
        clock=clock,
        transport=RecordingTransport(in_process_transport(app)),
        sleeps=Sleeps(),
    )


MakeUpstream = Callable[..., Upstream]


@pytest.fixture
async def make_upstream() -> AsyncIterator[MakeUpstream]:
    """`make_upstream("erp", bulk_rows={"customers": 2000})`: a simulator with non-default options."""
    built: list[Upstream] = []

    def make(kind: str, **overrides: Any) -> Upstream:
        upstream = build_upstream(kind, **overrides)
        built.append(upstream)
        return upstream

    yield make
    for upstream in built:
        for http in upstream.https:
            await http.aclose()


@pytest.fixture
def erp_sim(make_upstream: MakeUpstream) -> Upstream:
    return make_upstream("erp")


@pytest.fixture
def crm_sim(make_upstream: MakeUpstream) -> Upstream:
    return make_upstream("crm")


@pytest.fixture
def erp(erp_sim: Upstream) -> ErpConnector:
    return ErpConnector(erp_sim.client())


@pytest.fixture
def crm(crm_sim: Upstream) -> CrmConnector:
    return CrmConnector(crm_sim.client())


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)
