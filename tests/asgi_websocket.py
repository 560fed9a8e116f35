"""A WebSocket client that talks ASGI to an app in the test's own event loop (what httpx's
ASGITransport is for HTTP): the handshake, text frames and the close code the app sends, through the
app's whole middleware stack. uvicorn would need a WebSocket library the project does not depend on."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

WAIT_SECONDS = 10.0  # a guard against a hung test, not a measurement


@dataclass(frozen=True)
class Closed:
    code: int
    reason: str


class HandshakeRefused(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(f"the app closed the WebSocket before accepting it (code {code})")
        self.code = code


class AsgiWebSocket:
    def __init__(self, to_app: asyncio.Queue[Any], from_app: asyncio.Queue[Any], subprotocol: str | None):
        self._to_app = to_app
        self._from_app = from_app
        self.subprotocol = subprotocol
        self.closed: Closed | None = None

    async def send_json(self, message: dict[str, Any]) -> None:
        await self._to_app.put({"type": "websocket.receive", "text": json.dumps(message)})

    async def receive(self) -> dict[str, Any] | Closed:
        """The next JSON message, or how the app closed the connection."""
        if self.closed is not None:
            return self.closed
        event = await asyncio.wait_for(self._from_app.get(), WAIT_SECONDS)
        if event["type"] == "websocket.close":
            self.closed = Closed(event.get("code", 1000), event.get("reason") or "")
            return self.closed
        assert event["type"] == "websocket.send", event
        message: dict[str, Any] = json.loads(event["text"])
        return message


@asynccontextmanager
async def connect(
    app: Any, path: str, *, headers: dict[str, str] | None = None, subprotocols: tuple[str, ...] = ()
) -> AsyncIterator[AsgiWebSocket]:
    to_app: asyncio.Queue[Any] = asyncio.Queue()
    from_app: asyncio.Queue[Any] = asyncio.Queue()
    raw_headers = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    raw_headers.append((b"host", b"gateway.test"))
    if subprotocols:
        raw_headers.append((b"sec-websocket-protocol", ", ".join(subprotocols).encode()))
    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": "ws",
        "server": ("gateway.test", 80),
        "client": ("127.0.0.1", 50000),
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": raw_headers,
        "subprotocols": list(subprotocols),
    }
    task = asyncio.create_task(app(scope, to_app.get, from_app.put))
    try:
        await to_app.put({"type": "websocket.connect"})
        event = await asyncio.wait_for(from_app.get(), WAIT_SECONDS)
        if event["type"] == "websocket.close":
            raise HandshakeRefused(event.get("code", 1000))
        assert event["type"] == "websocket.accept", event
        yield AsgiWebSocket(to_app, from_app, event.get("subprotocol"))
    finally:
        await to_app.put({"type": "websocket.disconnect", "code": 1000})
        await asyncio.wait_for(task, WAIT_SECONDS)
