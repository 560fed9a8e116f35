"""Serving ASGI apps with uvicorn: the gateway, the simulators, or all three in one process (demo);
or the gateway in several worker processes sharing one listening socket (`gateway run --workers N`).

Part of the composition root, beside `gateway.cli` and `gateway.app`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors.multiprocess import Multiprocess

from gateway.errors import ConfigurationError


class _QuietSignalsServer(uvicorn.Server):
    """A server that leaves signal handling to the main server of the process."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class _MainServer(uvicorn.Server):
    """The process's signal handler (Ctrl-C, SIGTERM) that lets the process end normally after a
    graceful stop. uvicorn re-raises the signal as soon as this server has stopped, which in the demo
    cancelled the simulators' shutdown halfway (a traceback per simulator, then click's "Aborted!").
    (`_captured_signals` is uvicorn 0.54's list of the signals it re-raises; constraints.txt pins it.)
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        with super().capture_signals():
            try:
                yield
            finally:
                self._captured_signals.clear()


@dataclass(frozen=True, slots=True)
class Served:
    name: str
    app: ASGIApp
    host: str
    port: int


def check_port_free(host: str, port: int, setting: str) -> None:
    """Fail with a one-line message before starting when the port is taken."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigurationError(setting, f"port {port} on {host} is not free ({exc.strerror})") from None


class JoinedWrites:
    """An asyncio transport that joins the writes made in one event-loop turn into one `write`.

    uvicorn writes a response's status line and headers when the app sends `http.response.start`
    and the body when it sends `http.response.body`: two `send()` system calls, two TCP segments
    (TCP_NODELAY) and two wake-ups of the client for every small answer. Starlette sends both in
    the same turn, so they now leave as one. Writes are held until the end of the turn or until
    `MAX_HELD` bytes, whichever comes first; `close()` and `write_eof()` send what is held first,
    `abort()` drops it. Everything else is the wrapped transport's.
    """

    MAX_HELD = 64 * 1024

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.transport = transport
        self._loop = loop
        self._held: list[bytes] = []
        self._size = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._held:
            self._loop.call_soon(self.flush)
        self._held.append(bytes(data))
        self._size += len(data)
        if self._size >= self.MAX_HELD:
            self.flush()

    def writelines(self, lines: Iterable[bytes | bytearray | memoryview]) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        if self._held:
            data = self._held[0] if len(self._held) == 1 else b"".join(self._held)
            self._held.clear()
            self._size = 0
            self.transport.write(data)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def write_eof(self) -> None:
        self.flush()
        self.transport.write_eof()

    def abort(self) -> None:
        self._held.clear()
        self._size = 0
        self.transport.abort()

    def get_write_buffer_size(self) -> int:
        return self.transport.get_write_buffer_size() + self._size

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class JoinedWritesHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol writing through `JoinedWrites`; a WebSocket upgrade gets the
    plain transport (the WebSocket protocol paces its own writes)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(JoinedWrites(transport, self.loop))  # type: ignore[arg-type]

    def on_response_complete(self) -> None:
        # A whole answer goes out now, in the step that completed it, not at the end of the turn.
        if isinstance(self.transport, JoinedWrites):
            self.transport.flush()
        super().on_response_complete()

    def handle_websocket_upgrade(self) -> None:
        joined = self.transport
        if isinstance(joined, JoinedWrites):
            joined.flush()
            self.transport = joined.transport
        super().handle_websocket_upgrade()


# uvicorn's HTTP/1.1 implementation: httptools (C) rather than h11 (pure Python). A cached
# availability answer cost the server 0.15 ms of CPU against 0.21 ms with h11 (docs/benchmarks.md,
# API, "Cached availability: CPU per answer"); h11 parsing and event objects were a fifth of it.
# A path, not the class: `gateway run --workers N` pickles the configuration for its workers.
HTTP_PROTOCOL = "gateway.serving:JoinedWritesHttpProtocol"


def server_config(served: Served, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        served.app,
        host=served.host,
        port=served.port,
        http=HTTP_PROTOCOL,
        log_level=log_level.lower(),
        access_log=False,
        lifespan="on",
    )


async def serve_all(main: Served, helpers: Sequence[Served] = (), *, log_level: str = "info") -> None:
    """Start `helpers` first and wait until they listen, then serve `main` until it stops
    (Ctrl-C); helpers stop with it."""
    helper_servers = [_QuietSignalsServer(server_config(h, "warning")) for h in helpers]
    tasks = [asyncio.create_task(s.serve()) for s in helper_servers]
    try:
        while not all(s.started for s in helper_servers):
            for task in tasks:
                if task.done():  # a helper failed to start: surface its error
                    task.result()
                    raise RuntimeError("a simulator stopped during start-up")
            await asyncio.sleep(0.02)
        await _MainServer(server_config(main, log_level)).serve()
    finally:
        for server in helper_servers:
            server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)


def bind_tcp_socket(config: uvicorn.Config) -> socket.socket:
    """The listening socket of `config`, bound here to be shared by worker processes, with its
    protocol number set. uvicorn's `bind_socket()` leaves `proto` at 0; accepted connections inherit
    it, and asyncio turns on TCP_NODELAY only for sockets whose `proto` is IPPROTO_TCP. Without it,
    Nagle's algorithm meets the client's delayed ACK and every keep-alive response written in two
    parts (head, then body) waited about 40 ms: bench/api.py measured a cached availability answer
    at 44 ms p50 from `--workers 2` against 0.8 ms from one process (uvicorn issue #3149, open).
    Re-wrapping the descriptor lets the kernel report the real protocol (SO_PROTOCOL)."""
    bound = config.bind_socket()
    return socket.socket(fileno=bound.detach())


WORKER_APP = "gateway.serving:app_from_environment"
WORKER_HEALTHCHECK_SECONDS = 30


def app_from_environment() -> ASGIApp:
    """The gateway app of one worker process, from the GATEWAY_* environment it inherited (uvicorn
    starts workers by spawning a fresh interpreter, which calls this factory)."""
    from gateway.app import create_app
    from gateway.config import load_settings

    settings = load_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpcore", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    return create_app(settings)


def workers_config(*, host: str, port: int, workers: int, log_level: str = "info") -> uvicorn.Config:
    """The uvicorn configuration every worker process of `serve_workers` loads."""
    return uvicorn.Config(
        WORKER_APP,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        http=HTTP_PROTOCOL,
        log_level=log_level.lower(),
        access_log=False,
        lifespan="on",
        # The supervisor pings each worker every 0.5 s and replaces one that does not answer within
        # this; uvicorn's 5 s default replaced workers still starting up on a loaded machine.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
    )


def serve_workers(*, host: str, port: int, workers: int, log_level: str = "info") -> None:
    """Serve the gateway in `workers` processes that accept connections from one socket bound here;
    this process supervises them (restarts one that dies, stops all on Ctrl-C or SIGTERM)."""
    config = workers_config(host=host, port=port, workers=workers, log_level=log_level)
    sock = bind_tcp_socket(config)
    try:
        Multiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()
