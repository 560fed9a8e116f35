"""One request to one OData service root, as every connector sends it: auth (a fresh token once
on a 401), concurrency limits, the shared throttle, retries, and failures as `gateway.errors` classes."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, NoReturn
from urllib.parse import urlsplit

import httpx

from gateway.errors import (
    ConfigurationError,
    RetriableUpstreamError,
    UpstreamError,
    UpstreamNotFound,
    UpstreamProtocolError,
    UpstreamThrottled,
    UpstreamTimeout,
)
from gateway.upstream.auth import TokenProvider
from gateway.upstream.batch import IDEMPOTENT_METHODS
from gateway.upstream.odata import Query, odata_literal
from gateway.upstream.policy import CallBudget, ClientLimits, RetryPolicy, current_budget
from gateway.upstream.throttle import RequestGate
from gateway.upstream.translate import error_for_exception, error_for_status, parse_json_body, reached_server

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ODataResponse:
    status: int
    headers: Mapping[str, str]
    content: bytes
    body: Any
    """The parsed JSON body (None for an empty body or when raw content was asked for)."""
    url: str

    @property
    def etag(self) -> str | None:
        value = self.headers.get("etag")
        if value:
            return value
        raw = self.body.get("@odata.etag") if isinstance(self.body, Mapping) else None
        return raw if isinstance(raw, str) else None


@dataclass(slots=True)
class ClientStats:
    requests: int = 0
    retries: int = 0
    token_refreshes_on_401: int = 0


@dataclass
class _Failure(Exception):
    error: UpstreamError
    sent: bool = True
    """False when the request certainly never reached the server."""
    retry_after: float | None = None
    """The server's Retry-After (429, and 503/502/504 when they send one)."""


@dataclass
class _Unauthorized(Exception):
    error: UpstreamError
    token: str | None = field(default=None, repr=False)


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        # float's repr is the shortest text that round-trips; fine for amounts with ≤ 15 digits.
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime | date | time):
        return odata_literal(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dump_json(body: object) -> bytes:
    return json.dumps(body, default=_json_default, ensure_ascii=False, separators=(",", ":")).encode()


class ODataRequester:
    """Sends requests to one OData service root (see ODataClient, which adds paging and `$batch`)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        service: str,
        auth: TokenProvider | None = None,
        limits: ClientLimits | None = None,
        retry: RetryPolicy | None = None,
        owns_http: bool = False,
        base_url_setting: str = "",
        throttle: RequestGate | None = None,
        throttle_identity: str = "",
    ) -> None:
        self._http = http
        # An empty base URL is allowed (the app starts without upstreams); requests then fail with
        # ConfigurationError naming `base_url_setting`.
        self.base_url = base_url if not base_url or base_url.endswith("/") else base_url + "/"
        self._base_url_setting = base_url_setting or f"{service} base URL"
        self.service = service
        self.auth = auth
        self.limits = limits or ClientLimits()
        self.retry = retry or RetryPolicy()
        self.stats = ClientStats()
        self._owns_http = owns_http
        self._semaphore = asyncio.Semaphore(self.limits.max_concurrency)
        # The request budget shared with every client of the same upstream identity (see throttle.py).
        self.throttle = throttle
        self.throttle_identity = throttle_identity or f"{service}|{self.base_url}"
        origin = urlsplit(self.base_url)
        self._origin = (origin.scheme, origin.netloc)

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    # ---------------------------------------------------------------------------------- URLs

    def url(self, target: str, query: Query | None = None) -> str:
        if not self.base_url:
            raise ConfigurationError(self._base_url_setting, "is not set")
        if target.startswith(("http://", "https://")):
            url = target
            parts = urlsplit(url)
            if (parts.scheme, parts.netloc) != self._origin:
                # Never send our bearer token to another host because a payload said so.
                raise UpstreamProtocolError(
                    f"link points outside the service: {parts.scheme}://{parts.netloc}", service=self.service
                )
        else:
            url = self.base_url + target.lstrip("/")
        encoded = query.encode() if query else ""
        if encoded:
            url += ("&" if "?" in url else "?") + encoded
        return url

    # ------------------------------------------------------------------------------ requests

    async def request(
        self,
        method: str,
        target: str,
        *,
        query: Query | None = None,
        json_body: object = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        raw: bool = False,
    ) -> ODataResponse:
        """Send one request with retries. `idempotent` defaults from the method (POST is not);
        a request that is not idempotent is repeated only when it certainly never left us, or the
        server refused it with 429. A `policy.call_budget` around the call caps the retries and
        sets a deadline for all attempts and waits (past it: `UpstreamTimeout`)."""
        method = method.upper()
        url = self.url(target, query)
        repeatable = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        data = dump_json(json_body) if json_body is not None else content
        send_headers = {"Accept": "application/json", "OData-Version": "4.0", "OData-MaxVersion": "4.0"}
        if json_body is not None:
            send_headers["Content-Type"] = "application/json"
        send_headers.update(headers or {})
        budget = current_budget()
        max_retries = self.retry.max_retries
        if budget.max_retries is not None:
            max_retries = min(max_retries, budget.max_retries)
        attempt = 0
        refreshed = False
        maybe_applied = False  # an earlier attempt may have reached the server
        while True:
            try:
                return await self._attempt_within(budget, method, url, data, send_headers, raw=raw)
            except _Unauthorized as unauthorized:
                if self.auth is None or refreshed:
                    raise unauthorized.error from None
                # The token was revoked or expired early: fetch a new one once, then try again.
                refreshed = True
                self.stats.token_refreshes_on_401 += 1
                await self.auth.refresh(stale=unauthorized.token)
            except _Failure as failure:
                error = failure.error
                if not isinstance(error, RetriableUpstreamError):
                    if method == "DELETE" and maybe_applied and isinstance(error, UpstreamNotFound):
                        # Our earlier DELETE went through before its answer was lost: that is success.
                        log.info("DELETE %s: gone after a lost answer; treating as deleted", url)
                        return ODataResponse(status=204, headers={}, content=b"", body=None, url=url)
                    raise error from None
                safe = repeatable or not failure.sent or isinstance(error, UpstreamThrottled)
                if not safe or attempt >= max_retries:
                    raise error from None
                retry_after = failure.retry_after
                if retry_after is not None and retry_after > self.retry.max_retry_after_seconds:
                    raise error from None
                delay = self.retry.delay(attempt, retry_after)
                remaining = budget.remaining()
                if remaining is not None and delay >= remaining:
                    # The wait alone would outlast the caller's deadline: its last error is the answer.
                    raise error from None
                maybe_applied = maybe_applied or (failure.sent and not isinstance(error, UpstreamThrottled))
                attempt += 1
                self.stats.retries += 1
                log.info(
                    "retrying %s %s after %s (attempt %d of %d, waiting %.2fs)",
                    method,
                    url,
                    type(error).__name__,
                    attempt,
                    max_retries,
                    delay,
                )
                await self.retry.sleep(delay)

    async def _attempt_within(
        self,
        budget: CallBudget,
        method: str,
        url: str,
        data: bytes | None,
        headers: dict[str, str],
        *,
        raw: bool,
    ) -> ODataResponse:
        """One attempt; with a deadline, the token fetch, the queue for a slot, the throttle's wait
        and the request itself all end by it."""
        if budget.deadline is None:
            return await self._attempt(method, url, data, headers, raw=raw, max_wait=None)
        remaining = budget.deadline - asyncio.get_running_loop().time()
        deadline_error = UpstreamTimeout(
            f"{self.service} did not answer within the caller's deadline",
            service=self.service,
            method=method,
            url=url,
        )
        if remaining <= 0:
            raise _Failure(deadline_error, sent=False)
        try:
            async with asyncio.timeout_at(budget.deadline):
                return await self._attempt(method, url, data, headers, raw=raw, max_wait=remaining)
        except TimeoutError:
            raise _Failure(deadline_error) from None

    async def _attempt(
        self,
        method: str,
        url: str,
        data: bytes | None,
        headers: dict[str, str],
        *,
        raw: bool,
        max_wait: float | None,
    ) -> ODataResponse:
        token: str | None = None
        send_headers = dict(headers)
        if self.auth is not None:
            try:
                token = await self.auth.token()
            except UpstreamError as token_error:
                raise _Failure(token_error, sent=False) from None
            send_headers["Authorization"] = f"Bearer {token}"
        async with self._semaphore:
            if self.throttle is not None:
                # Inside the slot: a 429 seen while we queued for it still stops this request.
                longest = self.retry.max_retry_after_seconds
                await self.throttle.wait(
                    self.throttle_identity, max_wait=longest if max_wait is None else min(longest, max_wait)
                )
            self.stats.requests += 1
            try:
                # httpx's own timeouts do not apply to in-process transports; this one always does.
                async with asyncio.timeout(self.limits.timeout_seconds):
                    response = await self._http.request(method, url, content=data, headers=send_headers)
            except (httpx.HTTPError, TimeoutError, OSError) as exc:
                error = error_for_exception(exc, service=self.service, method=method, url=url)
                raise _Failure(error, sent=reached_server(exc)) from None
        try:
            return self._interpret(method, url, response, token=token, raw=raw)
        except _Failure as failure:
            if self.throttle is not None and response.status_code == 429 and failure.retry_after:
                await self.throttle.block(self.throttle_identity, failure.retry_after)
            raise

    def _interpret(
        self, method: str, url: str, response: httpx.Response, *, token: str | None, raw: bool
    ) -> ODataResponse:
        headers = {name.lower(): value for name, value in response.headers.items()}
        status = response.status_code
        if 200 <= status < 300:
            body: Any = None
            if not raw and response.content:
                body = parse_json_body(response.content)
                if body is None:
                    raise UpstreamProtocolError(
                        "the response body is not valid JSON",
                        service=self.service,
                        status=status,
                        method=method,
                        url=url,
                    )
            return ODataResponse(status=status, headers=headers, content=response.content, body=body, url=url)
        error_body = parse_json_body(response.content)
        retry_after = self.retry.parse_retry_after(headers.get("retry-after"))
        error = error_for_status(
            status, body=error_body, service=self.service, method=method, url=url, retry_after=retry_after
        )
        if status == 401:
            raise _Unauthorized(error, token)
        raise _Failure(error, retry_after=retry_after)

    async def get(self, target: str, *, query: Query | None = None) -> dict[str, Any]:
        response = await self.request("GET", target, query=query)
        if not isinstance(response.body, dict):
            self._protocol("expected a JSON object", url=response.url)
        return response.body

    def _protocol(self, message: str, *, url: str | None = None) -> NoReturn:
        raise UpstreamProtocolError(message, service=self.service, url=url)
