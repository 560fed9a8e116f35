"""The ASGI shell around OData services: token endpoint, bearer auth, service protection, faults,
latency, request statistics and the ``/_sim`` control API. Both simulators are built from it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from .faults import FaultInjector
from .odata.engine import ODataService, StoreRef
from .odata.errors import ODataError
from .odata.paths import split_path
from .odata.store import Store
from .odata.wire import ODataRequest, ODataResponse, parse_query
from .protection import ServiceProtection, Throttled
from .stats import RequestStats
from .tokens import TokenIssuer

BatchHandler = Callable[[ODataService, ODataRequest], ODataResponse]


@dataclass
class ServiceRoot:
    """One OData service root, e.g. ``/v2.0/{tenant}/{environment}/api/v2.0``."""

    pattern: str
    service: ODataService
    batch: BatchHandler
    params: dict[str, str]  # path parameters the URL must carry (tenant, environment)


class _DroppedResponse(Response):
    """Starts a response, then fails, so the server closes the connection mid-response."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"100000")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"value":[', "more_body": True})
        # Over uvicorn any exception closes the connection; in-process, httpx.ASGITransport re-raises
        # it as is, so raising httpx's own error gives clients the same failure both ways.
        raise httpx.RemoteProtocolError("simulated connection drop (/_sim/faults kind 'drop')")


def entity_label(path: str) -> str:
    """The entity set (or $batch, $metadata, function) a request path addresses, for statistics."""
    parts = split_path(path)
    if len(parts) > 1 and parts[0].startswith("companies("):
        parts = parts[1:]
    if not parts:
        return "(root)"
    name = parts[0].split("(")[0]
    if len(parts) > 1 and not parts[-1].startswith("$"):
        name = parts[-1].split("(")[0]
    return name


class SimulatorHost:
    """Owns the mutable simulator state; routes call into it."""

    def __init__(
        self,
        *,
        roots: list[ServiceRoot],
        store_ref: StoreRef,
        store_factory: Callable[[], Store],
        issuer: TokenIssuer,
        protection: ServiceProtection,
        public_base_url: str | None,
        info: dict[str, Any],
    ) -> None:
        self.roots = roots
        self.store_ref = store_ref
        self.store_factory = store_factory
        self.issuer = issuer
        self.protection = protection
        self.faults = FaultInjector()
        self.stats = RequestStats()
        self.latency_ms = 0.0
        self.public_base_url = public_base_url
        self.info = info
        self.on_reset: list[Callable[[], None]] = []

    # -- API ------------------------------------------------------------------------------------

    def api_endpoint(self, root: ServiceRoot) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            return await self._api(root, request)

        return endpoint

    def _error(
        self, root: ServiceRoot, status: int, kind: str, message: str, headers: dict[str, str]
    ) -> Response:
        answer = root.service.error_response(ODataError(status, kind, message, headers=headers))
        return self._to_starlette(answer)

    async def _api(self, root: ServiceRoot, request: Request) -> Response:
        path = str(request.path_params.get("path", ""))
        method = request.method.upper()
        label = entity_label(path)
        for name, expected in root.params.items():
            if request.path_params.get(name) != expected:
                response = self._error(
                    root, 404, "NotFound", f"The {name} '{request.path_params.get(name)}' does not exist.", {}
                )
                self.stats.record(method=method, entity_set=label, status=404)
                return response
        client = self.issuer.verify(request.headers.get("authorization"))
        if client is None:
            challenge = f'Bearer authorization_uri="https://login.microsoftonline.com/{self.issuer.tenant}/oauth2/authorize"'
            response = self._error(
                root,
                401,
                "Unauthorized",
                "The credentials provided are incorrect or the access token is missing or expired.",
                {"WWW-Authenticate": challenge},
            )
            self.stats.record(method=method, entity_set=label, status=401)
            return response
        try:
            async with self.protection.slot(client):
                response, status = await self._serve(root, request, path, method, client)
        except Throttled as exc:
            response = self._error(
                root,
                429,
                "TooManyRequests",
                f"{exc.reason}. Retry after {exc.retry_after} seconds.",
                {"Retry-After": str(exc.retry_after)},
            )
            status = 429
        except ClientDisconnect:
            # The client gave up (e.g. its timeout during a "timeout" fault): count it as nginx's
            # 499 "client closed request", so the stats still see every request that arrived.
            response, status = Response(status_code=499), 499
        self.stats.record(method=method, entity_set=label, status=status)
        return response

    async def _serve(
        self, root: ServiceRoot, request: Request, path: str, method: str, client: str
    ) -> tuple[Response, int]:
        fault = self.faults.pick()
        config = self.faults.config
        if fault == "429":
            retry = str(config.retry_after_seconds)
            message = f"Rate limit is exceeded. Try again in {retry} seconds."
            return self._error(root, 429, "TooManyRequests", message, {"Retry-After": retry}), 429
        if fault == "503":
            return self._error(
                root, 503, "ServiceUnavailable", "The service is temporarily unavailable.", {}
            ), 503
        if fault == "timeout":
            await asyncio.sleep(config.timeout_seconds)
        if self.latency_ms > 0:
            await asyncio.sleep(self.latency_ms / 1000)
        body = await request.body()
        service_root = self._service_root(root, request)
        odata_request = ODataRequest(
            method=method,
            path=path,
            query=parse_query(request.url.query),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            service_root=service_root,
            client_id=client,
        )
        if path.strip("/") == "$batch":
            if method != "POST":
                answer = root.service.error_response(
                    ODataError(405, "MethodNotAllowed", "Use POST for $batch.")
                )
            else:
                try:
                    answer = root.batch(root.service, odata_request)
                except ODataError as exc:
                    answer = root.service.error_response(exc)
        else:
            answer = root.service.handle(odata_request)
        if fault == "drop":
            return _DroppedResponse(), 0
        return self._to_starlette(answer), answer.status

    def _service_root(self, root: ServiceRoot, request: Request) -> str:
        base = self.public_base_url or str(request.base_url)
        prefix = root.pattern.format(**{k: request.path_params.get(k, "") for k in root.params})
        return base.rstrip("/") + prefix + "/"

    @staticmethod
    def _to_starlette(answer: ODataResponse) -> Response:
        headers = {"OData-Version": "4.0", **answer.headers}
        if answer.status == 204:
            return Response(status_code=204, headers=headers)
        return Response(
            content=answer.body_bytes(),
            status_code=answer.status,
            headers=headers,
            media_type=answer.media_type(),
        )

    def protected(
        self, root: ServiceRoot, label: str, handler: Callable[[Request], Any]
    ) -> Callable[[Request], Any]:
        """An endpoint outside the OData engine with the same bearer check, limits and statistics."""

        async def endpoint(request: Request) -> Response:
            method = request.method.upper()
            client = self.issuer.verify(request.headers.get("authorization"))
            if client is None:
                response = self._error(
                    root, 401, "Unauthorized", "The access token is missing or expired.", {}
                )
            else:
                try:
                    async with self.protection.slot(client):
                        response = await handler(request)
                except Throttled as exc:
                    response = self._error(
                        root, 429, "TooManyRequests", exc.reason, {"Retry-After": str(exc.retry_after)}
                    )
                except ClientDisconnect:  # the caller went away mid-body (a client shutting down):
                    # nobody reads an answer; without this uvicorn logs a traceback per request.
                    response = Response(status_code=499)
            self.stats.record(method=method, entity_set=label, status=response.status_code)
            return response

        return endpoint

    # -- tokens ---------------------------------------------------------------------------------

    async def token(self, request: Request) -> Response:
        response = await self.issuer.endpoint(request)
        if response.status_code == 200:
            self.stats.tokens_issued += 1
        return response

    # -- control API ----------------------------------------------------------------------------

    async def _json(self, request: Request) -> dict[str, Any]:
        raw = await request.body()
        if not raw.strip():
            return {}
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        return data

    async def control_stats(self, request: Request) -> Response:
        snapshot = self.stats.snapshot()
        snapshot["throttled"] = self.protection.throttled
        snapshot["faults"] = self.faults.describe()
        snapshot["latencyMs"] = self.latency_ms
        snapshot["limits"] = self._limits()
        return JSONResponse(snapshot)

    async def control_info(self, request: Request) -> Response:
        return JSONResponse(self.info)

    async def control_reset(self, request: Request) -> Response:
        self.store_ref.store.conn.close()
        self.store_ref.store.engine.dispose()
        self.store_ref.store = self.store_factory()
        self.stats.reset()
        self.protection.reset()
        for callback in self.on_reset:
            callback()
        return JSONResponse({"reset": True})

    async def control_faults(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                self.faults.configure(await self._json(request))
            except (ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(self.faults.describe())

    async def control_latency(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                ms = float((await self._json(request)).get("ms", 0))
            except (ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            if ms < 0:
                return JSONResponse({"error": "ms must be >= 0"}, status_code=400)
            self.latency_ms = ms
        return JSONResponse({"ms": self.latency_ms})

    def _limits(self) -> dict[str, Any]:
        limits = self.protection.limits
        return {
            "requests": limits.requests,
            "windowSeconds": limits.window_seconds,
            "concurrency": limits.concurrency,
            "queue": limits.queue,
            "maxPageSize": self.roots[0].service.max_page_size,
        }

    async def control_limits(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                data = await self._json(request)
                limits = self.protection.limits
                numbers: dict[str, float] = {
                    "requests": int(data.get("requests", limits.requests)),
                    "windowSeconds": float(data.get("windowSeconds", limits.window_seconds)),
                    "concurrency": int(data.get("concurrency", limits.concurrency)),
                    "queue": int(data.get("queue", limits.queue)),
                    "maxPageSize": int(data.get("maxPageSize", self.roots[0].service.max_page_size)),
                }
            except (ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            if min(numbers["requests"], numbers["concurrency"], numbers["maxPageSize"]) < 1 or (
                numbers["queue"] < 0 or numbers["windowSeconds"] <= 0
            ):
                return JSONResponse({"error": "limits must be positive"}, status_code=400)
            limits.requests = int(numbers["requests"])
            limits.window_seconds = float(numbers["windowSeconds"])
            limits.concurrency = int(numbers["concurrency"])
            limits.queue = int(numbers["queue"])
            for root in self.roots:
                root.service.max_page_size = int(numbers["maxPageSize"])
        return JSONResponse(self._limits())

    # -- app ------------------------------------------------------------------------------------

    def build_app(
        self,
        token_pattern: str = "/{tenant}/oauth2/v2.0/token",  # noqa: S107
        extra_routes: list[Route] | None = None,
    ) -> Starlette:
        routes: list[Route] = [
            *(extra_routes or []),
            Route(token_pattern, self.token, methods=["POST"]),
            Route("/_sim/stats", self.control_stats, methods=["GET"]),
            Route("/_sim/info", self.control_info, methods=["GET"]),
            Route("/_sim/reset", self.control_reset, methods=["POST"]),
            Route("/_sim/faults", self.control_faults, methods=["GET", "POST"]),
            Route("/_sim/latency", self.control_latency, methods=["GET", "POST"]),
            Route("/_sim/limits", self.control_limits, methods=["GET", "POST"]),
        ]
        methods = ["GET", "POST", "PATCH", "PUT", "DELETE", "MERGE"]
        for root in self.roots:
            endpoint = self.api_endpoint(root)
            routes.append(Route(root.pattern, endpoint, methods=methods))
            routes.append(Route(root.pattern + "/{path:path}", endpoint, methods=methods))
        app = Starlette(routes=routes)
        app.state.simulator = self
        return app
