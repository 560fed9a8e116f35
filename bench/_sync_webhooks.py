"""The sync benchmark's designed mode (issue 3 §4): the gateway's own app served by uvicorn on a free
loopback port, so that the ERP simulator (a child process) reaches its BC webhook receiver over real
HTTP; the subscription manager's pass putting our subscriptions in place; and the deliveries the
receiver answered, by entity set, with the runs each woke.

The app runs without its scheduler (the benchmark runs the rounds itself): a notification records
when BC notified the set (what lets a run skip a gated poll, gateway.sync.erp_polls) and asks for the
woken runs through their lease rows, as it does for `gateway worker` processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import socket
from collections import Counter
from collections.abc import AsyncIterator, Generator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from pydantic import SecretStr
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.app import create_app
from gateway.config import Settings
from gateway.web.rest_admin_ops import WEBHOOK_PATH
from gateway.web.webhooks import entity_id_of, entity_set_of


@dataclass
class Delivery:
    """One POST to the receiver: a handshake (subscription created or renewed) or notifications."""

    handshake: bool
    status: int
    notifications: list[tuple[str, str | None, str]] = field(default_factory=list)
    """(entity set, record id or None for a `collection` notice, changeType) of each notification."""
    woken: list[str] = field(default_factory=list)
    """"mapping direction" of each run the delivery woke (the receiver's answer)."""


class _Recording:
    """ASGI wrapper: every POST to the webhook path, what it carried and what the receiver answered."""

    def __init__(self, app: ASGIApp, log: list[Delivery]) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != WEBHOOK_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        handshake = "validationToken" in parse_qs(scope.get("query_string", b"").decode())
        body, answer, status = bytearray(), bytearray(), [0]

        async def receiving() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                body.extend(message.get("body", b""))
            return message

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            elif message["type"] == "http.response.body":
                answer.extend(message.get("body", b""))
            await send(message)

        await self.app(scope, receiving, sending)
        delivery = Delivery(handshake=handshake, status=status[0])
        if not handshake:
            sent = json.loads(body or b"{}").get("value", [])
            delivery.notifications = [
                (
                    entity_set_of(str(n.get("resource"))) or "?",
                    entity_id_of(str(n.get("resource"))),
                    str(n.get("changeType")),
                )
                for n in sent
            ]
            if status[0] == 202:
                woken = json.loads(answer).get("woken", [])
                delivery.woken = [f"{w['mapping']} {w['direction']}" for w in woken]
        self.log.append(delivery)


class _QuietSignals(uvicorn.Server):
    """The benchmark's process keeps its own signal handling (Ctrl-C stops the benchmark)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@dataclass
class Receiver:
    """The served gateway: its webhook URL, the clientState our subscriptions carry, and the log."""

    url: str
    client_state: str
    settings: Settings
    log: list[Delivery] = field(default_factory=list)
    _seen: int = 0

    def since_last(self) -> list[Delivery]:
        """The deliveries received since the previous call."""
        new = self.log[self._seen :]
        self._seen = len(self.log)
        return new


@contextlib.asynccontextmanager
async def serve_receiver(settings: Settings) -> AsyncIterator[Receiver]:
    """The gateway (`create_app`) with BC webhooks configured, on 127.0.0.1 and a free port, for as
    long as the block runs; its scheduler off."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}{WEBHOOK_PATH}"
    client_state = secrets.token_urlsafe(24)
    configured = settings.model_copy(
        update={
            "webhook_url": url,
            "webhook_client_state": SecretStr(client_state),
            "scheduler_in_process": False,
            "loop_watch_seconds": 0.0,  # the app's watchdog would watch the bench's rounds, not the app
        }
    )
    receiver = Receiver(url=url, client_state=client_state, settings=configured)
    app = _Recording(create_app(configured), receiver.log)
    server = _QuietSignals(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]), name="bench webhook receiver")
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("the webhook receiver stopped before it listened")
            await asyncio.sleep(0.02)
        yield receiver
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
        sock.close()


def summarize(deliveries: list[Delivery]) -> dict[str, Any]:
    """Deliveries, handshakes, notifications by entity set and change type, runs woken."""
    notes = [n for d in deliveries for n in d.notifications]
    return {
        "deliveries": sum(1 for d in deliveries if not d.handshake),
        "handshakes": sum(1 for d in deliveries if d.handshake),
        "refused": sum(1 for d in deliveries if d.status >= 300),
        "notifications": len(notes),
        "by_set": dict(sorted(Counter(f"{s} {change}" for s, _id, change in notes).items())),
        "woken": dict(sorted(Counter(w for d in deliveries for w in d.woken).items())),
    }


def notified_ids(deliveries: list[Delivery], entity_set: str) -> set[str]:
    """The record ids of `entity_set` named by the notifications (lower case)."""
    return {
        record.lower()
        for d in deliveries
        for s, record, _change in d.notifications
        if s == entity_set and record is not None
    }
