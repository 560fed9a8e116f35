"""The composition root of the web app: `create_app(settings)` wires store, cache, upstream
connectors and services into a Starlette app whose lifespan owns them all."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware

from gateway.cache import cache_reachable, create_cache
from gateway.config import Settings
from gateway.services.access import AccessService
from gateway.services.availability import AvailabilityService
from gateway.services.availability_units import ErpItemUnits
from gateway.services.catalog import CatalogService
from gateway.services.container import Services
from gateway.services.orders import OrderService
from gateway.services.pricing import PricingService
from gateway.services.readiness import ReadinessService
from gateway.services.status import StatusService
from gateway.services.sync_control import SyncControl
from gateway.store.engine import create_engine, read_session_factory, session_factory
from gateway.store.health import ping
from gateway.sync.engine import SyncEngine
from gateway.sync.loop_watch import watching_the_loop
from gateway.sync.scheduler import request_sync
from gateway.sync.worker import ensure_mappings, sync_worker
from gateway.upstream.factory import open_upstreams
from gateway.web.auth import ApiKeyBackend, RequireAuthentication, on_auth_error
from gateway.web.errors import exception_handlers
from gateway.web.routes import build_routes
from gateway.web.webhooks import BcWebhookConfig

log = logging.getLogger("gateway")


def create_app(
    settings: Settings,
    *,
    erp_transport: httpx.AsyncBaseTransport | None = None,
    crm_transport: httpx.AsyncBaseTransport | None = None,
) -> Starlette:
    """Build the gateway. Transports are injected for in-process simulators and fault tests;
    by default the connectors use the network."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            # First in, last out: the watch covers start-up and shutdown too (GATEWAY_LOOP_WATCH_SECONDS).
            app.state.loop_watch = await stack.enter_async_context(
                watching_the_loop(settings.loop_watch_seconds)
            )
            engine = create_engine(settings.database_url)
            stack.push_async_callback(engine.dispose)
            cache = create_cache(settings.cache_url)
            stack.push_async_callback(cache.close)
            # One request budget per upstream identity for everything in this process (issue 3 §5).
            erp, crm = open_upstreams(
                settings, stack, erp_transport=erp_transport, crm_transport=crm_transport
            )

            status = StatusService(erp=erp, crm=crm, timeout_seconds=settings.readiness_timeout_seconds)
            availability = AvailabilityService(
                source=erp,
                cache=cache,
                units=ErpItemUnits(erp=erp, cache=cache),
                fresh_seconds=settings.availability_fresh_seconds,
                max_stale_seconds=settings.availability_max_stale_seconds,
                chunk_size=settings.availability_chunk_size,
                breaker_failures=settings.availability_breaker_failures,
                breaker_reset_seconds=settings.availability_breaker_reset_seconds,
                deadline_seconds=settings.availability_deadline_seconds,
            )
            stack.push_async_callback(availability.aclose)

            async def store_probe() -> tuple[bool, str | None]:
                return await ping(engine)

            async def cache_probe() -> tuple[bool, str | None]:
                return await cache_reachable(cache)

            # The admin endpoints' use cases; the mappings exist before the first admin reads them.
            sessions = session_factory(engine)
            await ensure_mappings(sessions)
            sync = SyncControl(
                sessions=sessions,
                engine=SyncEngine(sessions=sessions, erp=erp, crm=crm),
                lease_ttl=settings.lease_ttl_seconds,
            )
            stack.push_async_callback(sync.aclose)
            catalog = CatalogService(sessions=read_session_factory(engine), sales_scope=settings.sales_scope)
            pricing = PricingService(
                sessions=read_session_factory(engine),
                catalog=catalog,
            )
            app.state.settings = settings
            app.state.engine = engine  # for operators' tools and tests that count statements
            app.state.services = Services(
                access=AccessService(
                    sessions=sessions,
                    read_sessions=read_session_factory(engine),
                    cache_seconds=settings.api_key_cache_seconds,
                ),
                status=status,
                readiness=ReadinessService(
                    store=store_probe,
                    cache=cache_probe,
                    erp=erp,
                    crm=crm,
                    timeout_seconds=settings.readiness_timeout_seconds,
                ),
                availability=availability,
                catalog=catalog,
                pricing=pricing,
                orders=OrderService(catalog=catalog, quotes=pricing, crm=crm),
                sync=sync,
            )
            if settings.runs_scheduler_in_process():
                # Demo (or GATEWAY_SCHEDULER_IN_PROCESS=true): this process syncs too, under the same
                # leases as `gateway worker` processes; it stops (gracefully) before the connectors close.
                app.state.scheduler = await stack.enter_async_context(
                    sync_worker(
                        settings,
                        sessions=session_factory(engine),
                        erp=erp,
                        crm=crm,
                        initial_full_sync=settings.demo,
                    )
                )

            async def wake(mapping: str, direction: str) -> None:
                # A webhook asks for a run now: this process's scheduler when it has one, else the
                # lease row, which whichever `gateway worker` is free picks up on its next tick.
                scheduler = getattr(app.state, "scheduler", None)
                if scheduler is not None:
                    scheduler.wake(mapping, direction)
                else:
                    await request_sync(sessions, mapping=mapping, direction=direction)

            secret = settings.webhook_client_state
            app.state.bc_webhook = BcWebhookConfig(
                client_state=secret.get_secret_value() or None if secret is not None else None, wake=wake
            )
            log.info("gateway ready (demo=%s)", settings.demo)
            # What exists now (schema, SQLAlchemy metadata and caches, in demo the simulators' data)
            # lives as long as the app: frozen, the collector stops walking it in every full
            # collection (a p99 stall of tens of ms per GraphQL page, bench/profile_read.py).
            gc.freeze()
            stack.callback(gc.unfreeze)
            yield

    return Starlette(
        routes=build_routes(graphql_ide=settings.demo),
        middleware=[
            Middleware(AuthenticationMiddleware, backend=ApiKeyBackend(), on_error=on_auth_error),
            Middleware(RequireAuthentication),
        ],
        exception_handlers=exception_handlers(),
        lifespan=lifespan,
    )
