"""The gateway's HTTP protocol joins a response's head and body into one socket write
(`gateway.serving.JoinedWrites`): counted over a real uvicorn server on a loopback port, and the
wrapper's own rules (held until the end of the turn or 64 KiB, close/write_eof send what is held,
abort drops it) against a recording transport."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from gateway.serving import JoinedWrites, Served, server_config
from tests.uvicorn_server import serving

REQUESTS = 10


async def _small(request: Request) -> Response:
    return JSONResponse({"items": [{"itemNumber": "1000-L", "inventory": 167}]})


async def _stream(request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        for part in (b"one,", b"two,", b"three"):
            yield part
            await asyncio.sleep(0.01)

    return StreamingResponse(chunks(), media_type="text/plain")


async def _big(request: Request) -> Response:
    return Response(b"x" * (200 * 1024), media_type="application/octet-stream")


async def _closing(request: Request) -> Response:
    return JSONResponse({"bye": True}, headers={"Connection": "close"})


APP = Starlette(
    routes=[
        Route("/small", _small),
        Route("/stream", _stream),
        Route("/big", _big),
        Route("/closing", _closing),
    ]
)


def serving_app(http: str | None = None) -> AbstractAsyncContextManager[str]:
    config = server_config(Served("test", APP, "127.0.0.1", 0), "critical")
    config.lifespan = "off"
    if http is not None:
        config.http = http
    return serving(config)


class SocketWrites:
    """Counts `write` calls on asyncio's socket transports (server and client side alike; the
    client here writes one request per response)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from asyncio import selector_events

        self.count = 0
        original: Callable[..., None] = selector_events._SelectorSocketTransport.write

        def write(transport: Any, data: Any) -> None:
            self.count += 1
            original(transport, data)

        monkeypatch.setattr(selector_events._SelectorSocketTransport, "write", write)


async def _writes_for_small_answers(monkeypatch: pytest.MonkeyPatch, http: str | None) -> int:
    async with serving_app(http) as root, httpx.AsyncClient(base_url=root) as client:
        assert (await client.get("/small")).status_code == 200  # the connection is open from here
        writes = SocketWrites(monkeypatch)
        for _ in range(REQUESTS):
            response = await client.get("/small")
            assert response.json() == {"items": [{"itemNumber": "1000-L", "inventory": 167}]}
        return writes.count - REQUESTS  # the client's own request writes


async def test_a_small_answer_is_one_socket_write(monkeypatch: pytest.MonkeyPatch) -> None:
    assert await _writes_for_small_answers(monkeypatch, None) == REQUESTS


async def test_uvicorns_own_protocol_writes_head_and_body_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    """The upstream behaviour JoinedWrites works around: when it changes, this test says so."""
    assert await _writes_for_small_answers(monkeypatch, "httptools") == 2 * REQUESTS


async def test_streamed_big_and_closing_answers_arrive_whole() -> None:
    async with serving_app() as root, httpx.AsyncClient(base_url=root) as client:
        for _ in range(2):  # on one kept-alive connection, in turn
            streamed = await client.get("/stream")
            assert streamed.status_code == 200 and streamed.text == "one,two,three"
            big = await client.get("/big")
            assert big.status_code == 200 and big.content == b"x" * (200 * 1024)
        closing = await client.get("/closing")
        assert closing.json() == {"bye": True} and closing.headers["connection"] == "close"
        assert (await client.get("/small")).status_code == 200  # a new connection


class Recording:
    """The part of an asyncio transport JoinedWrites calls, recording what reaches it."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.buffered = 7

    def write(self, data: bytes) -> None:
        self.events.append(data)

    def close(self) -> None:
        self.events.append("close")

    def write_eof(self) -> None:
        self.events.append("eof")

    def abort(self) -> None:
        self.events.append("abort")

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def is_closing(self) -> bool:
        return False


async def test_writes_in_one_turn_leave_as_one_at_its_end() -> None:
    raw = Recording()
    joined = JoinedWrites(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
    joined.write(b"HTTP/1.1 200 OK\r\n\r\n")
    joined.write(memoryview(b"body"))
    joined.write(b"")
    assert raw.events == [] and joined.get_write_buffer_size() == 7 + 23
    assert joined.is_closing() is False  # the rest is the wrapped transport's
    await asyncio.sleep(0)
    assert raw.events == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
    joined.write(b"x" * JoinedWrites.MAX_HELD)
    assert raw.events[-1] == b"x" * JoinedWrites.MAX_HELD  # past the bound: at once
    await asyncio.sleep(0)
    assert len(raw.events) == 2


async def test_close_and_eof_send_what_is_held_abort_drops_it() -> None:
    raw = Recording()
    joined = JoinedWrites(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
    joined.write(b"a")
    joined.close()
    joined.write(b"b")
    joined.write_eof()
    joined.write(b"c")
    joined.abort()
    await asyncio.sleep(0)
    assert raw.events == [b"a", "close", b"b", "eof", "abort"]
