"""The gateway bench/profile_read.py measures: a SQLite store seeded once with the demo data at the
asked size (reused by later runs), both simulators in-process, and a fresh admin key per run."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
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
from tests.gateway_harness import simulator_requests
from tests.read_model_seed import seed_read_model

ERP_ROOT = "http://erp.sim"
CRM_ROOT = "http://crm.sim"
CUSTOMERS_QUERY = (
    "query($first: Int!) { customers(first: $first) { edges { node { number name"
    " salesperson { name } currency { code } defaultPriceList { code } } } } }"
)
PAGE = 50
QUOTE_LINES = 20


@dataclass(frozen=True)
class StoreSpec:
    customers: int
    items: int
    seed: int
    directory: Path

    @property
    def path(self) -> Path:
        # Named for the schema too: a store seeded before a migration lacks its tables, and rows
        # the projection writes (read-model versions) only exist when seeded by the same code.
        revision = migrate.head_revision()
        return self.directory / f"read-seed{self.seed}-c{self.customers}-i{self.items}-r{revision}.db"

    @property
    def url(self) -> str:
        return f"sqlite+aiosqlite:///{self.path}"

    def options(self) -> SimulatorOptions:
        return SimulatorOptions(seed=self.seed, customers=self.customers, items=self.items)


async def ensure_store(spec: StoreSpec) -> float:
    """Seed the store file unless it exists (seconds spent; 0 when reused). The demo data is
    projected into the read model as the sync engine would, and couplings made by number/code."""
    if spec.path.exists():
        return 0.0
    started = time.perf_counter()
    partial = spec.path.with_suffix(".partial")
    partial.parent.mkdir(parents=True, exist_ok=True)
    for leftover in partial.parent.glob(partial.name + "*"):
        leftover.unlink()
    url = f"sqlite+aiosqlite:///{partial}"
    await asyncio.to_thread(migrate.upgrade, url)
    engine = create_engine(url)
    try:
        await seed_read_model(engine, seed=spec.seed, customers=spec.customers, items=spec.items)
    finally:
        await engine.dispose()  # the last connection to close folds the WAL into the file
    partial.rename(spec.path)
    return time.perf_counter() - started


def settings_for(spec: StoreSpec, **overrides: Any) -> Settings:
    options = spec.options()
    values: dict[str, Any] = {
        "database_url": spec.url,
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
        # Nothing but the read path runs: no scheduler, and a warmed availability stays fresh.
        "scheduler_in_process": False,
        "availability_fresh_seconds": 3600.0,
        "availability_max_stale_seconds": 7200.0,
        "log_level": "WARNING",
    }
    values.update(overrides)
    return load_settings(**values)


@dataclass
class Built:
    app: Starlette
    erp_sim: Starlette
    crm_sim: Starlette
    admin_key: str


async def build(spec: StoreSpec) -> Built:
    engine = create_engine(spec.url)
    try:
        keys = await issue_demo_keys(engine)
    finally:
        await engine.dispose()
    options = spec.options()
    erp_sim, crm_sim = create_erp_simulator(options), create_crm_simulator(options)
    app = create_app(
        settings_for(spec),
        erp_transport=in_process_transport(erp_sim),
        crm_transport=in_process_transport(crm_sim),
    )
    return Built(app, erp_sim, crm_sim, keys[Role.ADMIN])


async def upstream_requests(built: Built) -> int:
    """Requests both simulators have answered so far (token requests included)."""
    return await simulator_requests(built.erp_sim, built.crm_sim)


@asynccontextmanager
async def running(spec: StoreSpec) -> AsyncIterator[Built]:
    built = await build(spec)
    async with built.app.router.lifespan_context(built.app):
        yield built


@dataclass(frozen=True)
class Fixtures:
    customer: str
    items: list[str]

    @property
    def hit_item(self) -> str:
        return self.items[0]

    def quote_body(self) -> dict[str, Any]:
        lines = [{"itemNumber": n, "quantity": 1 + i % 7} for i, n in enumerate(self.items[:QUOTE_LINES])]
        return {"customerNumber": self.customer, "lines": lines}


async def fixtures(client: httpx.AsyncClient) -> Fixtures:
    """What bench/api.py asks for: the first 20 unblocked inventory items, the first customer with
    a number; the availability item is warmed (its first answer comes from the ERP simulator)."""
    numbers: list[str] = []
    after: str | None = None
    while len(numbers) < QUOTE_LINES + 1:
        params = {"first": "200", **({"after": after} if after else {})}
        page = (await client.get("/api/v1/items", params=params)).raise_for_status().json()
        numbers += [i["number"] for i in page["items"] if i["type"] == "Inventory" and not i["blocked"]]
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
    # CRM-only accounts without a number sort first (6,478 of them at 20,000 customers): page on.
    customer = ""
    after = None
    while not customer:
        params = {"first": "200", **({"after": after} if after else {})}
        page = (await client.get("/api/v1/customers", params=params)).raise_for_status().json()
        customer = next((c["number"] for c in page["items"] if c["number"]), "")
        after = page["pageInfo"]["endCursor"]
        if not customer and not page["pageInfo"]["hasNextPage"]:
            raise RuntimeError("no customer has a number")
    found = Fixtures(customer=customer, items=numbers)
    (await client.get("/api/v1/availability", params={"items": found.hit_item})).raise_for_status()
    return found
