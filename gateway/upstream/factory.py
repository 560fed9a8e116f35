"""Builds the ERP and CRM connectors from `Settings`: HTTP client, token provider, limits and retry
policy. The composition root calls these; tests build `ODataClient`s directly with tiny limits."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import NamedTuple

import httpx

from gateway.config import Settings
from gateway.upstream.auth import TokenProvider
from gateway.upstream.client import ODataClient
from gateway.upstream.crm import API_PATH, CrmConnector
from gateway.upstream.erp import ErpConnector
from gateway.upstream.policy import ClientLimits, RetryPolicy
from gateway.upstream.throttle import UpstreamThrottle


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        max_retries=settings.upstream_max_retries,
        backoff_base_seconds=settings.upstream_backoff_base_seconds,
        backoff_max_seconds=settings.upstream_backoff_max_seconds,
    )


def build_throttle(settings: Settings) -> UpstreamThrottle:
    """The process's one request gate, shared across processes through Redis when the cache is Redis."""
    shared = settings.cache_url if settings.cache_url.startswith(("redis://", "rediss://")) else None
    return UpstreamThrottle(redis_url=shared)


def _identity(service: str, base_url: str, client_id: str) -> str:
    # Service protection counts per user (our client id) per service: that is what a 429 blocks.
    return f"{service}|{base_url}|{client_id}"


def _http(
    settings: Settings, transport: httpx.AsyncBaseTransport | None, http: httpx.AsyncClient | None
) -> tuple[httpx.AsyncClient, bool]:
    if http is not None:
        return http, False
    timeout = httpx.Timeout(settings.upstream_timeout_seconds)
    return httpx.AsyncClient(transport=transport, timeout=timeout, follow_redirects=False), True


def _auth(
    http: httpx.AsyncClient,
    *,
    token_url: str,
    client_id: str,
    secret: str,
    scope: str,
    service: str,
    timeout: float,
) -> TokenProvider | None:
    if not token_url:
        return None  # an upstream without auth (a local OData server): send no Authorization header
    return TokenProvider(
        http,
        token_url=token_url,
        client_id=client_id,
        client_secret=secret,
        scope=scope,
        service=service,
        timeout_seconds=timeout,
    )


def build_erp_connector(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    http: httpx.AsyncClient | None = None,
    throttle: UpstreamThrottle | None = None,
) -> ErpConnector:
    """`transport` (e.g. `in_process_transport(simulator)`) or a ready `http` client; neither → network.
    The connector owns (and `aclose()` closes) the httpx client only when it created it. `throttle`
    is the process's shared request gate (`build_throttle`); None sends without one."""
    client_http, owns = _http(settings, transport, http)
    base = settings.erp_base_url
    base_url = f"{base}/v2.0/{settings.erp_tenant}/{settings.erp_environment}/api/" if base else ""
    client = ODataClient(
        client_http,
        base_url=base_url,
        service="erp",
        auth=_auth(
            client_http,
            token_url=settings.erp_token_url,
            client_id=settings.erp_client_id,
            secret=settings.erp_client_secret.get_secret_value(),
            scope=settings.erp_scope,
            service="erp",
            timeout=settings.upstream_timeout_seconds,
        ),
        limits=ClientLimits(
            page_size=settings.erp_page_size,
            batch_size=settings.erp_batch_size,
            max_concurrency=settings.erp_max_concurrency,
            timeout_seconds=settings.upstream_timeout_seconds,
        ),
        retry=retry_policy(settings),
        owns_http=owns,
        base_url_setting="GATEWAY_ERP_BASE_URL",
        throttle=throttle,
        throttle_identity=_identity("erp", base_url, settings.erp_client_id),
    )
    return ErpConnector(client, company=settings.erp_company)


def build_crm_connector(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    http: httpx.AsyncClient | None = None,
    throttle: UpstreamThrottle | None = None,
) -> CrmConnector:
    client_http, owns = _http(settings, transport, http)
    base = settings.crm_base_url
    client = ODataClient(
        client_http,
        base_url=f"{base}/{API_PATH}" if base else "",
        service="crm",
        auth=_auth(
            client_http,
            token_url=settings.crm_token_url,
            client_id=settings.crm_client_id,
            secret=settings.crm_client_secret.get_secret_value(),
            scope=settings.crm_scope or (f"{base}/.default" if base else ""),
            service="crm",
            timeout=settings.upstream_timeout_seconds,
        ),
        limits=ClientLimits(
            page_size=settings.crm_page_size,
            batch_size=settings.crm_batch_size,
            max_concurrency=settings.crm_max_concurrency,
            timeout_seconds=settings.upstream_timeout_seconds,
        ),
        retry=retry_policy(settings),
        owns_http=owns,
        base_url_setting="GATEWAY_CRM_BASE_URL",
        throttle=throttle,
        throttle_identity=_identity("crm", base, settings.crm_client_id),
    )
    return CrmConnector(client)


class Upstreams(NamedTuple):
    erp: ErpConnector
    crm: CrmConnector


def open_upstreams(
    settings: Settings,
    stack: AsyncExitStack,
    *,
    erp_transport: httpx.AsyncBaseTransport | None = None,
    crm_transport: httpx.AsyncBaseTransport | None = None,
) -> Upstreams:
    """A process's one request budget and both connectors sharing it (issue 3 §5), closed by `stack`
    in reverse order: the composition roots (`gateway run`'s app, `gateway worker`) call this."""
    throttle = build_throttle(settings)
    stack.push_async_callback(throttle.aclose)
    erp = build_erp_connector(settings, transport=erp_transport, throttle=throttle)
    stack.push_async_callback(erp.aclose)
    crm = build_crm_connector(settings, transport=crm_transport, throttle=throttle)
    stack.push_async_callback(crm.aclose)
    return Upstreams(erp, crm)
