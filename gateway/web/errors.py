"""Exception handlers: our error classes become problem+json with the right status; anything
unexpected becomes a 500 with a correlation id that also appears in the log (no details leak)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from gateway.errors import (
    AvailabilityUnavailable,
    Busy,
    CircuitOpen,
    InvalidInput,
    NotFound,
    NotSynchronized,
    PermissionDenied,
    UpstreamError,
)
from gateway.web.problems import problem

log = logging.getLogger("gateway.web")


async def _invalid_input(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidInput)
    return problem(400, "Bad Request", str(exc), field=exc.field)


async def _not_found(request: Request, exc: Exception) -> Response:
    return problem(404, "Not Found", str(exc))


async def _busy(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Busy)
    response = problem(409, "Conflict", str(exc))
    response.headers["Retry-After"] = str(max(1, round(exc.retry_after)))
    return response


async def _forbidden(request: Request, exc: Exception) -> Response:
    return problem(403, "Forbidden", str(exc))


async def _upstream(request: Request, exc: Exception) -> Response:
    correlation_id = uuid.uuid4().hex
    log.warning("upstream failure [%s] %s: %s", correlation_id, type(exc).__name__, exc)
    return problem(502, "Bad Gateway", "an upstream service failed", correlationId=correlation_id)


async def _availability(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AvailabilityUnavailable)
    response = problem(503, "Service Unavailable", str(exc))
    cause = exc.__cause__
    if isinstance(cause, CircuitOpen) and cause.retry_in > 0:
        response.headers["Retry-After"] = str(max(1, round(cause.retry_in)))
    return response


async def _not_synchronized(request: Request, exc: Exception) -> Response:
    return problem(503, "Service Unavailable", str(exc))


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    response = problem(exc.status_code, exc.detail or "Error")
    response.headers.update(exc.headers or {})  # e.g. Allow on 405
    return response


async def _unexpected(request: Request, exc: Exception) -> Response:
    correlation_id = uuid.uuid4().hex
    log.exception("unhandled error [%s] on %s %s", correlation_id, request.method, request.url.path)
    return problem(500, "Internal Server Error", "see the server log", correlationId=correlation_id)


def exception_handlers() -> Mapping[Any, Callable[[Request, Exception], Any]]:
    return {
        InvalidInput: _invalid_input,
        NotFound: _not_found,
        PermissionDenied: _forbidden,
        Busy: _busy,
        NotSynchronized: _not_synchronized,
        AvailabilityUnavailable: _availability,
        UpstreamError: _upstream,
        HTTPException: _http,
        Exception: _unexpected,
    }
