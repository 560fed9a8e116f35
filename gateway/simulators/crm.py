"""Dataverse simulator: Web API v9.2 over one seeded store, behind an Entra-style token endpoint,
with Dataverse's service protection limits and an application user per client for WhoAmI.
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.applications import Starlette

from .dataverse.flavor import DataverseFlavor
from .dataverse.model import crm_model
from .hosting import ServiceRoot, SimulatorHost
from .odata.batch_multipart import handle_multipart_batch
from .odata.engine import ODataService, StoreRef
from .odata.store import Store
from .options import SimulatorOptions
from .protection import Limits, ServiceProtection
from .seeding import bulk_rows, demo_data
from .tokens import TokenIssuer

BATCH_LIMIT = 1_000
_NS = uuid.UUID("0d7c3f8e-1c55-4e0b-8a43-2b8f7a1f9e20")


def application_user_id(client_id: str) -> str:
    """The systemuserid of the application user the simulator creates for a client id."""
    return str(uuid.uuid5(_NS, f"application-user:{client_id}"))


def _application_users(clients: list[str], business_unit: str) -> list[dict[str, Any]]:
    return [
        {
            "systemuserid": application_user_id(client),
            "fullname": f"# {client}",
            "applicationid": str(uuid.uuid5(_NS, f"application:{client}")),
            "isdisabled": False,
            "islicensed": False,
            "isintegrationuser": False,
            "accessmode": 4,  # non-interactive
            "_businessunitid_value": business_unit,
        }
        for client in clients
    ]


def build_crm_store(
    options: SimulatorOptions,
    crm: dict[str, list[dict[str, Any]]],
    *,
    clients: list[str],
    business_unit: str,
    seeded_at: float,
) -> Store:
    """A fresh store holding the seeded CRM data (called at start and on every /_sim/reset)."""
    model = crm_model()
    store = Store(model, clock=options.clock, seeded_at=seeded_at)
    for name, rows in crm.items():
        if model.get(name) is None:
            store.load_warnings.append(f"CRM data set {name} has no entity set")
            continue
        store.load(name, rows)
    known = {row.get("systemuserid") for row in crm.get("systemusers", [])}
    store.load(
        "systemusers",
        [u for u in _application_users(clients, business_unit) if u["systemuserid"] not in known],
    )
    for name, count in options.bulk_rows.items():
        entity_set = model.get(name)
        if entity_set is None:
            raise ValueError(f"bulk_rows: no CRM entity set {name}")
        store.load(name, bulk_rows(entity_set, count, seed=options.seed), trusted=True)
    return store


def create_crm_simulator(options: SimulatorOptions) -> Starlette:
    """The Dataverse simulator as an ASGI app; see docs/simulators.md for its URLs."""
    crm = demo_data(options).crm
    clients = [options.client_id, *options.extra_clients]
    business_unit = str(uuid.uuid5(_NS, f"business-unit:{options.seed}"))
    organization = str(uuid.uuid5(_NS, f"organization:{options.seed}"))
    seeded_at = options.clock()  # fixed here: every reset stamps the seed rows with it again

    def factory() -> Store:
        return build_crm_store(
            options, crm, clients=clients, business_unit=business_unit, seeded_at=seeded_at
        )

    store_ref = StoreRef(factory())
    flavor = DataverseFlavor(
        business_unit_id=business_unit,
        organization_id=organization,
        users={client: application_user_id(client) for client in clients},
    )
    service = ODataService(
        model=crm_model(), store_ref=store_ref, flavor=flavor, max_page_size=options.max_page_size
    )

    def batch(svc: ODataService, request: Any) -> Any:
        return handle_multipart_batch(svc, request, limit=BATCH_LIMIT)

    issuer = TokenIssuer(
        tenant=options.tenant,
        clients={options.client_id: options.client_secret, **options.extra_clients},
        lifetime_seconds=options.token_lifetime_seconds,
        audience="dataverse",
        scope_ok=lambda scope: scope.strip().endswith("/.default"),
        clock=options.clock,
    )
    limits = Limits(
        requests=options.rate_limit_requests or 6_000,
        window_seconds=options.rate_limit_window_seconds,
        concurrency=options.max_concurrency or 52,
        queue=0 if options.queue_size is None else options.queue_size,
        count_rejected=True,
    )
    host = SimulatorHost(
        roots=[ServiceRoot("/api/data/v9.2", service, batch, {})],
        store_ref=store_ref,
        store_factory=factory,
        issuer=issuer,
        protection=ServiceProtection(limits, clock=options.clock),
        public_base_url=options.public_base_url,
        info={
            "kind": "crm",
            "tenant": options.tenant,
            "apiPath": "/api/data/v9.2/",
            "tokenPath": f"/{options.tenant}/oauth2/v2.0/token",
            "businessUnitId": business_unit,
            "organizationId": organization,
            "applicationUserId": application_user_id(options.client_id),
            "loadWarnings": store_ref.store.load_warnings,
        },
    )
    return host.build_app()
