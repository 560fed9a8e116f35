"""The sync engine's test world: a migrated store (SQLite, and PostgreSQL where marked), both
simulators in-process behind the real connectors, and a SyncEngine over them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from gateway.config import Settings, load_settings
from gateway.domain import Side
from gateway.simulators import SimulatorOptions, create_crm_simulator, create_erp_simulator
from gateway.store import couplings as couplings_store
from gateway.store import mirror, sync_state
from gateway.store.engine import SessionFactory, create_engine, session_factory
from gateway.store.tables import Coupling
from gateway.sync.catalog import ensure_default_mappings
from gateway.sync.engine import SyncEngine
from gateway.sync.full import FullSync
from gateway.upstream.crm import CrmConnector
from gateway.upstream.erp import ErpConnector
from gateway.upstream.factory import build_crm_connector, build_erp_connector
from gateway.upstream.transport import in_process_transport


@dataclass
class World:
    erp_sim: Starlette
    crm_sim: Starlette
    erp: ErpConnector
    crm: CrmConnector
    db: AsyncEngine
    sessions: SessionFactory
    engine: SyncEngine

    async def sim(self, side: str, method: str, path: str, body: Any = None) -> Any:
        app = self.erp_sim if side == "erp" else self.crm_sim
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim") as client:
            response = await client.request(method, path, json=body)
            response.raise_for_status()
            return response.json() if response.content else None

    async def stats(self, side: str) -> dict[str, Any]:
        return dict(await self.sim(side, "GET", "/_sim/stats"))

    async def close(self) -> None:
        await self.erp.aclose()
        await self.crm.aclose()
        await self.db.dispose()


ERP_ROOT = "http://erp.sim"
CRM_ROOT = "http://crm.sim"


def world_settings(database_url: str, options: SimulatorOptions, **overrides: object) -> Settings:
    """Settings pointing at the two simulators (the same as tests/gateway_harness.py, without the app)."""
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
        "upstream_max_retries": 6,
        "upstream_backoff_base_seconds": 0.01,
        "upstream_backoff_max_seconds": 0.05,
        "upstream_timeout_seconds": 5.0,
    }
    values.update(overrides)
    return load_settings(**values)


async def build_world(database_url: str, options: SimulatorOptions, **overrides: object) -> World:
    settings = world_settings(database_url, options, **overrides)
    erp_sim, crm_sim = create_erp_simulator(options), create_crm_simulator(options)
    erp = build_erp_connector(settings, transport=in_process_transport(erp_sim))
    crm = build_crm_connector(settings, transport=in_process_transport(crm_sim))
    db = create_engine(database_url)
    sessions = session_factory(db)
    await ensure_default_mappings(sessions)
    return World(erp_sim, crm_sim, erp, crm, db, sessions, SyncEngine(sessions=sessions, erp=erp, crm=crm))


async def couple_salesperson(w: World, code: str) -> None:
    """Couple an ERP salesperson the demo data leaves uncoupled (RH) to a CRM user no one holds:
    the customers it owns, which failed for want of an owner, can then synchronize."""
    async with w.sessions.begin() as session:
        people = await mirror.load_records(session, side=Side.ERP, entity_set="salespersonPurchasers")
        person = next(p for p in people.values() if p.values.get("code") == code)
        coupled = {c.crm_id for c in await sync_state.mapping_couplings(session, mapping="SALESPEOPLE")}
        users = await mirror.load_records(session, side=Side.CRM, entity_set="systemusers")
        user = next(u for u in users.values() if u.id not in coupled)
        await couplings_store.create_coupling(
            session, mapping="SALESPEOPLE", erp_id=person.id, crm_id=user.id, erp_key=code
        )


async def customer_values(w: World, coupling: Coupling) -> tuple[dict[str, Any], dict[str, Any]]:
    """A CUSTOMER pair's values as BC and Dataverse hold them now: (customer, account)."""
    erp = await w.erp.get("customers", coupling.erp_id)
    crm = await w.crm.get("accounts", uuid.UUID(coupling.crm_id))
    return dict(erp.values), dict(crm.values)


@pytest.fixture
def sim_options() -> SimulatorOptions:
    return SimulatorOptions(customers=30, items=20)


@pytest.fixture
async def world(database_url: str, sim_options: SimulatorOptions) -> AsyncIterator[World]:
    w = await build_world(database_url, sim_options)
    yield w
    await w.close()


class ManualClock:
    """A clock for RetryGate that moves only when a test moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


CUSTOMER_AND_DEPENDENCIES = ["SALESPEOPLE", "CURRENCY", "PRICE LIST", "CUSTOMER"]


async def synced_customers(database_url: str, **overrides: object) -> tuple[World, ManualClock]:
    """A world whose CUSTOMER mapping is fully synchronized and read back once (the full sync's own
    writes seen as unchanged), with a standing retry clock."""
    w = await build_world(database_url, SimulatorOptions(customers=20, items=20), **overrides)
    clock = ManualClock()
    w.engine.retries.clock = clock
    await FullSync(w.engine).run(mappings=CUSTOMER_AND_DEPENDENCIES)
    await w.engine.run(mapping="CUSTOMER", direction="erp_to_crm")
    return w, clock
