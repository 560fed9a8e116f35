"""Demo mode: both simulators with demo data on loopback, the gateway configured to use them,
SQLite under ./var/, the in-process cache, and one fresh API key per role.

Either simulator may instead run in a process of its own (`gateway simulate erp|crm`, whose
defaults are the demo's tenant and credentials): the plan then points at its URL and serves none."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp

from gateway.config import Settings, env_name, load_settings
from gateway.domain import Role
from gateway.errors import ConfigurationError
from gateway.services.access import AccessService
from gateway.simulators import SimulatorOptions, create_crm_simulator, create_erp_simulator
from gateway.store.engine import create_engine, session_factory
from gateway.store.reset import clear_synchronization, ran_synchronization
from gateway.web.rest_admin_ops import WEBHOOK_PATH

DEMO_TENANT = "demo"
DEMO_ENVIRONMENT = "production"
DEMO_CLIENT_ID = "gateway-demo"
DEMO_CLIENT_SECRET = "demo-secret"  # noqa: S105 - the simulators' published demo credential
DEMO_KEY_PREFIX = "demo-"
# BC sends a notification about 30 s after a change; the demo's simulator waits 1 s so that the
# near-real-time path (issue 3: a change applied on the other side within 5 s) can be seen at work.
DEMO_WEBHOOK_DELAY_SECONDS = 1.0
# Dataverse has no webhooks here: its change-tracking poll (one request when nothing changed) runs
# every 2 s for the crm_to_erp directions, so CRM edits also arrive within the 5 s target.
DEMO_CRM_POLL_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class DemoPlan:
    settings: Settings
    erp_app: ASGIApp | None  # None: the ERP simulator runs elsewhere (settings.erp_base_url)
    crm_app: ASGIApp | None
    erp_port: int
    crm_port: int


def plan_demo(
    *,
    host: str,
    port: int,
    erp_port: int,
    crm_port: int,
    seed: int,
    customers: int,
    items: int,
    erp_url: str | None = None,
    crm_url: str | None = None,
) -> DemoPlan:
    """Settings pointing at simulators on `erp_port` and `crm_port` (served by this process), or at
    `erp_url` / `crm_url` (simulators already running elsewhere); GATEWAY_* variables that the demo
    does not set itself (database, cache, log level) still apply, and so do those of the webhook URL,
    its clientState and the CRM poll interval, which the demo only defaults."""
    options = SimulatorOptions(
        seed=seed,
        customers=customers,
        items=items,
        tenant=DEMO_TENANT,
        environment=DEMO_ENVIRONMENT,
        client_id=DEMO_CLIENT_ID,
        client_secret=DEMO_CLIENT_SECRET,
        webhook_delay_seconds=DEMO_WEBHOOK_DELAY_SECONDS,
    )
    erp_root = (erp_url or f"http://{host}:{erp_port}").rstrip("/")
    crm_root = (crm_url or f"http://{host}:{crm_port}").rstrip("/")
    settings = load_settings(
        demo=True,
        host=host,
        port=port,
        erp_base_url=erp_root,
        erp_tenant=DEMO_TENANT,
        erp_environment=DEMO_ENVIRONMENT,
        erp_token_url=f"{erp_root}/{DEMO_TENANT}/oauth2/v2.0/token",
        erp_client_id=DEMO_CLIENT_ID,
        erp_client_secret=DEMO_CLIENT_SECRET,
        crm_base_url=crm_root,
        crm_token_url=f"{crm_root}/{DEMO_TENANT}/oauth2/v2.0/token",
        crm_client_id=DEMO_CLIENT_ID,
        crm_client_secret=DEMO_CLIENT_SECRET,
        crm_scope=f"{crm_root}/.default",
        **_unless_set(
            # The ERP simulator (in this process, or `gateway simulate erp` with --erp-url) reaches our
            # receiver over real loopback HTTP; a fresh clientState per start authenticates its notifications.
            webhook_url=f"http://{_reachable(host)}:{port}{WEBHOOK_PATH}",
            webhook_client_state=secrets.token_urlsafe(24),
            crm_poll_seconds=DEMO_CRM_POLL_SECONDS,
        ),
    )
    return DemoPlan(
        settings=settings,
        erp_app=None if erp_url else create_erp_simulator(options),
        crm_app=None if crm_url else create_crm_simulator(options),
        erp_port=erp_port,
        crm_port=crm_port,
    )


def _unless_set(**values: object) -> dict[str, object]:
    """The demo's own values, except those a GATEWAY_* variable sets (GATEWAY_WEBHOOK_URL= turns
    webhook subscriptions off, e.g. for a benchmark that must see no background upstream call)."""
    return {name: value for name, value in values.items() if env_name(name) not in os.environ}


def _reachable(host: str) -> str:
    """An address the simulator can call back: a wildcard listen address is reached on loopback."""
    return "127.0.0.1" if host in ("", "0.0.0.0") else ("[::1]" if host == "::" else host)  # noqa: S104


async def issue_demo_keys(engine: AsyncEngine) -> dict[Role, str]:
    """Revoke the previous run's demo keys and issue one new key per role."""
    access = AccessService(sessions=session_factory(engine))
    for key in await access.list_keys():
        if key.name.startswith(DEMO_KEY_PREFIX) and not key.revoked:
            await access.revoke(key_id=key.key_id)
    issued: dict[Role, str] = {}
    for role in Role:
        new_key = await access.issue(role=role.value, name=f"{DEMO_KEY_PREFIX}{role.value}")
        issued[role] = new_key.plaintext
    return issued


async def forget_last_run(database_url: str) -> bool:
    """A store synchronized with the simulators of an earlier demo run holds couplings to records
    that no longer exist (those simulators' data lived in memory): start it afresh, keys kept.
    Only a store an earlier demo ran against (it holds demo keys) is emptied: one that synchronized
    without ever serving the demo (a real deployment's, say GATEWAY_DATABASE_URL left set in the
    shell) is refused, untouched."""
    engine = create_engine(database_url)
    try:
        if not await ran_synchronization(engine):
            return False
        keys = await AccessService(sessions=session_factory(engine)).list_keys()
        if not any(key.name.startswith(DEMO_KEY_PREFIX) for key in keys):
            raise ConfigurationError(
                "GATEWAY_DATABASE_URL",
                "this store has synchronized with upstreams but never served the demo; the demo's "
                "in-process simulators start with fresh data and would empty it, so it is left as it "
                "is: point GATEWAY_DATABASE_URL at an empty store, or unset it for the demo's own",
            )
        return await clear_synchronization(engine)
    finally:
        await engine.dispose()


async def prepare_keys(database_url: str) -> dict[Role, str]:
    engine = create_engine(database_url)
    try:
        return await issue_demo_keys(engine)
    finally:
        await engine.dispose()


CLEARED_NOTE = (
    "  (the store's synchronization from the last demo run was cleared: the simulators start",
    "   with fresh data; API keys made with `gateway keys create` stay)",
)


def banner(plan: DemoPlan, keys: dict[Role, str], *, cleared: bool = False) -> str:
    s = plan.settings
    gateway = f"http://{s.host}:{s.port}"
    erp_api = f"{s.erp_base_url}/v2.0/{s.erp_tenant}/{s.erp_environment}/api/v2.0/"
    query = quote("{upstreams{erp{reachable company{displayName}}crm{reachable}}}", safe="")
    lines = [
        "",
        "erp-crm-gateway demo",
        f"  gateway     {gateway}",
        f"  GraphQL     {gateway}/graphql",
        f"  health      {gateway}/healthz   {gateway}/readyz",
        f"  ERP (Business Central simulator)  {erp_api}",
        f"  CRM (Dataverse simulator)         {s.crm_base_url}/api/data/v9.2/",
        f"  store       {s.database_url}",
        f"  cache       {s.cache_url}",
        *(CLEARED_NOTE if cleared else ()),
        "",
        "API keys (new on every start; send as 'Authorization: Bearer <key>'):",
    ]
    lines += [f"  {role.value:<6} {key}" for role, key in keys.items()]
    if s.sales_scope == "own":
        # The demo's sales key names no salesperson: under `own` it would list no customer at all.
        lines += [
            "  (GATEWAY_SALES_SCOPE=own: the sales key above names no salesperson and sees no customers;",
            "   make one that does: gateway keys create --role sales --salesperson CODE)",
        ]
    lines += [
        "",
        "Try:",
        f"  curl -H 'Authorization: Bearer {keys[Role.ADMIN]}' '{gateway}/graphql?query={query}'",
        "",
    ]
    return "\n".join(lines)
