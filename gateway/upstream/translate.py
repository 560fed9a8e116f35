"""Turns HTTP statuses, OData error bodies and httpx exceptions into the gateway's error classes,
so nothing above `gateway.upstream` ever sees httpx (like httpx's own `map_httpcore_exceptions`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from gateway.errors import (
    FatalUpstreamError,
    PreconditionFailed,
    UpstreamAuthError,
    UpstreamBadRequest,
    UpstreamError,
    UpstreamNotFound,
    UpstreamProtocolError,
    UpstreamThrottled,
    UpstreamTimeout,
    UpstreamUnavailable,
)


def odata_error(body: object) -> tuple[str | None, str | None]:
    """(code, message) from an OData error body `{"error": {"code", "message"}}`, or from OAuth's
    `{"error": "invalid_client", "error_description": …}`."""
    if not isinstance(body, Mapping):
        return None, None
    error = body.get("error")
    if isinstance(error, Mapping):
        code = error.get("code")
        message = error.get("message")
        return (str(code) if code is not None else None, str(message) if message is not None else None)
    if isinstance(error, str):
        description = body.get("error_description")
        return error, str(description) if description is not None else None
    return None, None


def parse_json_body(content: bytes) -> Any:
    if not content:
        return None
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return None


def error_for_status(
    status: int,
    *,
    body: object,
    service: str,
    method: str | None = None,
    url: str | None = None,
    retry_after: float | None = None,
) -> UpstreamError:
    """The error class for a non-2xx status; the OData error code and message travel with it."""
    code, message = odata_error(body)
    text = message or f"{service or 'upstream'} answered HTTP {status}"
    common: dict[str, Any] = {
        "service": service,
        "status": status,
        "code": code,
        "method": method,
        "url": url,
    }
    if status == 429:
        return UpstreamThrottled(text, retry_after=retry_after, **common)
    if status in (502, 503, 504):
        return UpstreamUnavailable(text, **common)
    if status == 408:
        return UpstreamTimeout(text, **common)
    if status in (401, 403):
        return UpstreamAuthError(text, **common)
    if status == 404:
        return UpstreamNotFound(text, **common)
    if status == 412:
        return PreconditionFailed(text, **common)
    if 400 <= status < 500:
        return UpstreamBadRequest(text, **common)
    # 500 and other server errors: the server failed on this request; repeating it blindly is not
    # known to help, so they are fatal (callers still see status and code).
    return FatalUpstreamError(text, **common)


def error_for_exception(
    exc: BaseException, *, service: str, method: str | None = None, url: str | None = None
) -> UpstreamError:
    """The error class for a transport-level failure (no HTTP status)."""
    common: dict[str, Any] = {"service": service, "method": method, "url": url}
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return UpstreamTimeout(f"{service or 'upstream'} did not answer in time ({detail})", **common)
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError | httpx.InvalidURL):
        return UpstreamProtocolError(f"request could not be sent ({detail})", **common)
    if isinstance(exc, httpx.TransportError | httpx.StreamError | OSError):
        return UpstreamUnavailable(f"connection to {service or 'upstream'} failed ({detail})", **common)
    return UpstreamProtocolError(
        f"unexpected failure talking to {service or 'upstream'} ({detail})", **common
    )


def reached_server(exc: BaseException) -> bool:
    """False only when the request certainly never left us (so even a POST may be sent again)."""
    return not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
