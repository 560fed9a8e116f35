"""Business Central simulator: API v2.0 and the bcgateway integration API over one seeded store,
behind an Entra-style token endpoint, with BC's service protection limits.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .bc import availability, shipping, webhooks
from .bc.flavor import BusinessCentralFlavor
from .bc.model import api_model, integration_model, storage_model
from .bc.webhooks import WebhookHub
from .hosting import ServiceRoot, SimulatorHost
from .odata.batch_json import handle_json_batch
from .odata.engine import ODataService, StoreRef
from .odata.model import ServiceModel
from .odata.store import Store
from .options import SimulatorOptions
from .protection import Limits, ServiceProtection
from .seeding import bulk_rows, demo_data
from .tokens import TokenIssuer

BC_SCOPE = "https://api.businesscentral.dynamics.com/.default"
BATCH_LIMIT = 100
_PRIVATE = {"_stock"}


def _company_id(erp: dict[str, list[dict[str, Any]]]) -> str:
    companies = erp.get("companies") or []
    if not companies:
        raise ValueError("ERP demo data has no company")
    return str(companies[0]["id"])


def _subscribable(model: ServiceModel) -> set[str]:
    """The entity sets webhooks can watch: stored, company-scoped collections (as in BC)."""
    return {s.name for s in model.sets if s.company_scoped and not s.computed}


def build_erp_store(
    options: SimulatorOptions, erp: dict[str, list[dict[str, Any]]], *, seeded_at: float
) -> Store:
    """A fresh store holding the seeded ERP data (called at start and on every /_sim/reset);
    seed rows without a lastModifiedDateTime get ``seeded_at``."""
    model = storage_model()
    store = Store(model, clock=options.clock, seeded_at=seeded_at)
    stock_table = availability.install(store)
    webhooks.install(store)
    company = _company_id(erp)
    for name, rows in erp.items():
        if name in _PRIVATE:
            continue
        entity_set = model.get(name)
        if entity_set is None:
            store.load_warnings.append(f"ERP data set {name} has no entity set")
            continue
        store.load(name, rows, company=company if entity_set.company_scoped else None)
    for name, count in options.bulk_rows.items():
        entity_set = model.get(name)
        if entity_set is None or entity_set.computed:
            raise ValueError(f"bulk_rows: no stored ERP entity set {name}")
        store.load(name, bulk_rows(entity_set, count, seed=options.seed), company=company, trusted=True)
    availability.load_stock(store, stock_table, erp.get("_stock", []), company=company)
    return store


def create_erp_simulator(options: SimulatorOptions) -> Starlette:
    """The Business Central simulator as an ASGI app; see docs/simulators.md for its URLs."""
    erp = demo_data(options).erp
    seeded_at = options.clock()  # fixed here: every reset stamps the seed rows with it again
    store_ref = StoreRef(build_erp_store(options, erp, seeded_at=seeded_at))
    flavor = BusinessCentralFlavor()
    api = ODataService(
        model=api_model(), store_ref=store_ref, flavor=flavor, max_page_size=options.max_page_size
    )
    integration = ODataService(
        model=integration_model(), store_ref=store_ref, flavor=flavor, max_page_size=options.max_page_size
    )
    params = {"tenant": options.tenant, "environment": options.environment}

    def batch(service: ODataService, request: Any) -> Any:
        return handle_json_batch(service, request, limit=BATCH_LIMIT)

    roots = [
        ServiceRoot("/v2.0/{tenant}/{environment}/api/v2.0", api, batch, params),
        ServiceRoot(
            "/v2.0/{tenant}/{environment}/api/bcgateway/integration/v1.0", integration, batch, params
        ),
    ]
    issuer = TokenIssuer(
        tenant=options.tenant,
        clients={options.client_id: options.client_secret, **options.extra_clients},
        lifetime_seconds=options.token_lifetime_seconds,
        audience="https://api.businesscentral.dynamics.com",
        scope_ok=lambda scope: scope.strip() == BC_SCOPE,
        clock=options.clock,
    )
    limits = Limits(
        requests=options.rate_limit_requests or 6_000,
        window_seconds=options.rate_limit_window_seconds,
        concurrency=options.max_concurrency or 5,
        queue=95 if options.queue_size is None else options.queue_size,
    )
    company = _company_id(erp)
    prefix = f"/v2.0/{options.tenant}/{options.environment}"
    host = SimulatorHost(
        roots=roots,
        store_ref=store_ref,
        store_factory=lambda: build_erp_store(options, erp, seeded_at=seeded_at),
        issuer=issuer,
        protection=ServiceProtection(limits, clock=options.clock),
        public_base_url=options.public_base_url,
        info={
            "kind": "erp",
            "tenant": options.tenant,
            "environment": options.environment,
            "companyId": company,
            "apiPath": f"{prefix}/api/v2.0/",
            "integrationPath": f"{prefix}/api/bcgateway/integration/v1.0/",
            "tokenPath": f"/{options.tenant}/oauth2/v2.0/token",
            "scope": BC_SCOPE,
            "loadWarnings": store_ref.store.load_warnings,
        },
    )

    async def control_stock(request: Request) -> Response:
        try:
            payload = json.loads(await request.body())
            rows = payload if isinstance(payload, list) else [payload]
            count = availability.set_stock(store_ref.store, rows, company=company)
        except (ValueError, TypeError, AttributeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"updated": count})

    async def control_ship(request: Request) -> Response:
        try:
            body = json.loads(await request.body())
            if not isinstance(body, dict):
                raise ValueError('send {"orderNumber" or "orderId": ..., "lines": {"<sequence>": qty}}')
            store = store_ref.store
            result = shipping.ship(
                store, store.metadata.tables[availability.STOCK_TABLE], body, company=company, log=hub.log
            )
        except ValueError as exc:  # json.JSONDecodeError is one too
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(result)

    hub = WebhookHub(
        store_ref=store_ref,
        api_root=f"{prefix}/api/v2.0",
        companies={company},
        sets={
            "v2.0": _subscribable(api_model()),
            "bcgateway/integration/v1.0": _subscribable(integration_model()),
        },
        delay_seconds=options.webhook_delay_seconds,
        transport=options.webhook_transport,
        collection_threshold=options.webhook_collection_threshold,
    )
    flavor.change_log = hub.log
    host.on_reset.append(hub.reset)

    async def control_webhooks(request: Request) -> Response:
        if request.method == "POST":  # deliver everything logged so far, without waiting
            return JSONResponse(await hub.deliver(older_than=0))
        subscriptions = [s.as_json() for s in hub.subscriptions.values()]
        return JSONResponse({"subscriptions": subscriptions, "counters": dict(hub.counters)})

    subscriptions = host.protected(roots[0], "subscriptions", hub.endpoint)
    methods = ["GET", "POST", "PATCH", "DELETE"]
    api_path = "/v2.0/{tenant}/{environment}/api/v2.0"
    return host.build_app(
        extra_routes=[
            Route("/_sim/stock", control_stock, methods=["POST"]),
            Route("/_sim/ship", control_ship, methods=["POST"]),
            Route("/_sim/webhooks", control_webhooks, methods=["GET", "POST"]),
            Route(f"{api_path}/subscriptions", subscriptions, methods=methods),
            Route(f"{api_path}/subscriptions({{key}})", subscriptions, methods=methods),
        ]
    )
