"""An httpx transport that runs an ASGI app in-process but fails like a socket served by uvicorn:
an app that dies mid-response is a dropped connection (`httpx.RemoteProtocolError`), not a Python error."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import httpx

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class _Dropped(Exception):
    """The app broke off after the response had started: a server would close the socket."""


class _AsServer:
    """Wraps an ASGI app the way uvicorn runs it: an exception before the response starts becomes a
    plain 500; an exception (or a return) after the start but before the last body chunk drops the
    connection; an exception after a complete response is only logged."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            await self._app(scope, receive, send)
            return
        started = False
        complete = False

        async def tracking_send(message: Message) -> None:
            nonlocal started, complete
            if message["type"] == "http.response.start":
                started = True
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                complete = True
            await send(message)

        try:
            await self._app(scope, receive, tracking_send)
        except Exception:
            if complete:
                log.exception("in-process app raised after its response was complete")
                return
            if started:
                raise _Dropped from None
            log.exception("in-process app raised before responding; answering 500 like uvicorn")
            await _internal_error(send)
            return
        if started and not complete:
            raise _Dropped
        if not started:
            await _internal_error(send)


async def _internal_error(send: Send) -> None:
    body = b"Internal Server Error"
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 500, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


class InProcessTransport(httpx.AsyncBaseTransport):
    """`httpx.ASGITransport` with socket-like failure semantics."""

    def __init__(self, app: ASGIApp) -> None:
        self._inner = httpx.ASGITransport(app=_AsServer(app))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self._inner.handle_async_request(request)
        except _Dropped:
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body", request=request
            ) from None

    async def aclose(self) -> None:
        await self._inner.aclose()


def in_process_transport(app: Any) -> httpx.AsyncBaseTransport:
    """A transport that sends every request to the ASGI `app` (a simulator) in this process."""
    return InProcessTransport(app)
