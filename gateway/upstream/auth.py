"""Bearer tokens by the OAuth2 client-credentials grant (Microsoft Entra ID): fetched on first use,
cached, refreshed before expiry, one refresh at a time. The secret and token never reach a log or repr."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from gateway.errors import UpstreamAuthError, UpstreamError, UpstreamProtocolError
from gateway.upstream.translate import error_for_exception, error_for_status, parse_json_body


@dataclass(frozen=True, slots=True)
class _Token:
    value: str
    expires_at: float  # on the provider's monotonic clock

    def __repr__(self) -> str:  # never show the bearer value
        return f"_Token(expires_at={self.expires_at:.0f})"


class TokenProvider:
    """Client-credentials token source for one upstream.

    `token()` returns a valid token, fetching it when missing or within `refresh_margin_seconds` of
    expiry; concurrent callers share one request. `refresh(stale=…)` is for a 401 with a token we
    believed valid: it fetches anew unless another caller already replaced that token.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        scope: str,
        service: str = "",
        timeout_seconds: float = 30.0,
        refresh_margin_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._token_url = token_url
        self._client_id = client_id
        self.__secret = client_secret
        self._scope = scope
        self._service = service
        self._timeout = timeout_seconds
        self._margin = refresh_margin_seconds
        self._clock = clock
        self._lock = asyncio.Lock()
        self._token: _Token | None = None
        self.fetches = 0
        """How many token requests this provider has sent (for stats and tests)."""

    def __repr__(self) -> str:
        return (
            f"TokenProvider(service={self._service!r}, token_url={self._token_url!r}, "
            f"client_id={self._client_id!r})"
        )

    def _valid(self, token: _Token | None) -> bool:
        return token is not None and self._clock() < token.expires_at

    async def token(self) -> str:
        current = self._token
        if current is not None and self._valid(current):
            return current.value
        async with self._lock:
            # Another caller may have fetched while we waited for the lock.
            current = self._token
            if current is not None and self._valid(current):
                return current.value
            self._token = await self._fetch()
            return self._token.value

    async def refresh(self, *, stale: str | None) -> str:
        async with self._lock:
            current = self._token
            if current is not None and current.value != stale and self._valid(current):
                return current.value
            self._token = await self._fetch()
            return self._token.value

    async def _fetch(self) -> _Token:
        form = {
            "grant_type": "client_credentials",
            "client_id": self._client_id,
            "client_secret": self.__secret,
            "scope": self._scope,
        }
        self.fetches += 1
        try:
            async with asyncio.timeout(self._timeout):
                response = await self._http.post(
                    self._token_url, data=form, headers={"Accept": "application/json"}
                )
        except (httpx.HTTPError, TimeoutError, OSError) as exc:
            raise error_for_exception(
                exc, service=self._service, method="POST", url=self._token_url
            ) from None
        body = parse_json_body(response.content)
        if response.status_code != 200:
            error = error_for_status(
                response.status_code, body=body, service=self._service, method="POST", url=self._token_url
            )
            if response.status_code in (400, 401, 403):
                # The token endpoint answers 400/401 for bad credentials (invalid_client, …).
                raise UpstreamAuthError(
                    f"token request refused: {error.args[0]}",
                    service=self._service,
                    status=response.status_code,
                    code=error.code,
                    method="POST",
                    url=self._token_url,
                )
            raise error
        return self._parse(body)

    def _parse(self, body: object) -> _Token:
        if not isinstance(body, dict):
            raise self._protocol("token response is not a JSON object")
        value = body.get("access_token")
        if not isinstance(value, str) or not value:
            raise self._protocol("token response has no access_token")
        try:
            lifetime = float(body.get("expires_in", 3600))
        except (TypeError, ValueError):
            raise self._protocol("token response has a bad expires_in") from None
        # Refresh a margin before expiry; for short-lived tokens at most half the lifetime early.
        margin = min(self._margin, lifetime / 2)
        return _Token(value=value, expires_at=self._clock() + lifetime - margin)

    def _protocol(self, message: str) -> UpstreamError:
        return UpstreamProtocolError(message, service=self._service, method="POST", url=self._token_url)
