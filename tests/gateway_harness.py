"""A whole gateway in-process for tests: both simulators behind in-process transports, a fresh
SQLite (or PostgreSQL) store, and one API key per role."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import httpx
from starlette.applications import Starlette

from gateway.app import create_app
from gateway.config import Settings, load_settings
from gateway.demo import issue_demo_keys
from gateway.domain import Role
from gateway.simulators import SimulatorOptions, create_crm_simulator, create_erp_simulator
from gateway.store import migrate
from gateway.store.engine import create_engine
from gateway.upstream.transport import in_process_transport
from tests.read_model_seed import seed_read_model as seed

ERP_ROOT = "http://erp.sim"
CRM_ROOT = "http://crm.sim"
GATEWAY_ROOT = "http://gateway.test"
WEBHOOK_URL = f"{GATEWAY_ROOT}/api/v1/admin/webhooks/bc"


class LateApp:
    """An ASGI app that forwards to `app`, set later: the ERP simulator's webhook transport must
    exist before the gateway it calls back is built."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert self.app is not None, "the gateway is not built yet"
        await self.app(scope, receive, send)


async def simulator_requests(*sims: Starlette) -> int:
    """Requests these simulators have answered so far (token requests included)."""
    total = 0
    for sim in sims:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim), base_url="http://sim") as c:
            total += int((await c.get("/_sim/stats")).json()["total"])
    return total


@dataclass
class Harness:
    app: Starlette
    erp_sim: Starlette
    crm_sim: Starlette
    settings: Settings
    keys: dict[Role, str]
    client: httpx.AsyncClient

    def auth(self, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


def harness_settings(database_url: str, options: SimulatorOptions, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "erp_base_url": ERP_ROOT,
        "erp_tenant": options.tenant,
        "erp_environment": options.environment,
        "erp_token_url": f"{ERP_ROOT}/{options.tenant}/oauth2/v2.0/token",
        "erp_client_id": options.client_id,
        "erp_client_secret": options.client_secret,
        "crm_base_url": CRM_ROOT,
        "crm_token_url": f"{CRM_ROOT}/{options.tenant}/oauth2/v2.0/token",
        "crm_client_id": options.client_id,
        "crm_client_secret": options.client_secret,
        "upstream_max_retries": 2,
        "upstream_backoff_base_seconds": 0.01,
        "upstream_backoff_max_seconds": 0.05,
        "upstream_timeout_seconds": 5.0,
    }
    values.update(overrides)
    return load_settings(**values)


@asynccontextmanager
async def running_gateway(
    database_url: str,
    *,
    options: SimulatorOptions | None = None,
    seed_read_model: bool = False,
    erp_webhooks: bool = False,
    **overrides: object,
) -> AsyncIterator[Harness]:
    """`erp_webhooks`: the ERP simulator's webhook handshakes and notifications reach this gateway
    in-process at WEBHOOK_URL (set GATEWAY_WEBHOOK_URL to it for subscriptions)."""
    options = options or SimulatorOptions(customers=20, items=20)
    late = LateApp()
    if erp_webhooks:
        options = replace(options, webhook_transport=httpx.ASGITransport(app=late))
    settings = harness_settings(database_url, options, **overrides)
    await asyncio.to_thread(migrate.upgrade, database_url)
    engine = create_engine(database_url)
    try:
        keys = await issue_demo_keys(engine)
        if seed_read_model:  # the simulators' demo data, projected as the sync engine would
            await seed(engine, seed=options.seed, customers=options.customers, items=options.items)
    finally:
        await engine.dispose()
    erp_sim, crm_sim = create_erp_simulator(options), create_crm_simulator(options)
    app = create_app(
        settings, erp_transport=in_process_transport(erp_sim), crm_transport=in_process_transport(crm_sim)
    )
    late.app = app
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=GATEWAY_ROOT) as client,
    ):
        yield Harness(app, erp_sim, crm_sim, settings, keys, client)
