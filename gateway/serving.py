"""Serving ASGI apps with uvicorn: the gateway, the simulators, or all three in one process (demo);
or the gateway in several worker processes on one port (`gateway run --workers N`): on Linux each
worker listens on a socket of its own (SO_REUSEPORT), elsewhere they share one.

Part of the composition root, beside `gateway.cli` and `gateway.app`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import sys
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import uvicorn
from starlette.types import ASGIApp
from uvicorn.config import STARTUP_FAILURE
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


# Linux balances connections across the listening sockets of one SO_REUSEPORT group by a hash of
# each connection's addresses; other systems (macOS, the BSDs) accept the option without balancing.
REUSE_PORT = sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT")


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _reuse_port_socket(host: str, port: int, *, reuse_address: bool) -> socket.socket:
    """A TCP socket bound to `host:port` with SO_REUSEPORT (and SO_REUSEADDR if asked); created
    with IPPROTO_TCP, so connections it accepts get TCP_NODELAY (see `bind_tcp_socket`)."""
    sock = socket.socket(_family(host), socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        if reuse_address:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def reserve_port(host: str, port: int) -> socket.socket:
    """A socket bound to `host:port` with SO_REUSEPORT and never listening: it holds the port for
    the workers' listening sockets (and keeps holding it while one is replaced) but takes no
    connection, since the kernel hands connections to listening sockets only. Port 0 picks one.

    Bound without SO_REUSEADDR, so `check_port_free`'s probe (which has it, and not SO_REUSEPORT)
    still collides with it and a second `gateway run` on the port is refused even before the
    workers listen. That bind also fails while connections of an earlier server on the port (a
    `gateway run` without `--workers`, or one from before SO_REUSEPORT) wait out TIME_WAIT; then the
    socket is bound with SO_REUSEADDR, as uvicorn binds its own, which still fails on a listener."""
    try:
        return _reuse_port_socket(host, port, reuse_address=False)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise ConfigurationError(
                "GATEWAY_PORT", f"port {port} on {host} is not free ({exc.strerror})"
            ) from None
    try:
        return _reuse_port_socket(host, port, reuse_address=True)
    except OSError as exc:
        raise ConfigurationError(
            "GATEWAY_PORT", f"port {port} on {host} is not free ({exc.strerror})"
        ) from None


def bind_worker_socket(host: str, port: int) -> socket.socket:
    """A worker's own socket on `host:port`, in the SO_REUSEPORT group of `reserve_port`'s socket;
    asyncio makes it listen (accepted connections get TCP_NODELAY)."""
    return _reuse_port_socket(host, port, reuse_address=True)


def _bind_in_worker(host: str, port: int) -> socket.socket:
    """`bind_worker_socket` as a worker process starts; a failure ends the worker as a start-up
    failure (uvicorn's supervisor then stops, rather than restarting it over and over)."""
    try:
        return bind_worker_socket(host, port)
    except OSError as exc:
        print(f"gateway: worker cannot listen on port {port} on {host} ({exc.strerror})", file=sys.stderr)
        raise SystemExit(STARTUP_FAILURE) from None


@dataclass(frozen=True, slots=True)
class WorkerSocket:
    """Stands in for the listening socket uvicorn's supervisor hands every worker process: the
    supervisor pickles the same list for each worker it starts (or replaces), and this unpickles,
    in the worker, as a socket of the worker's own (`_bind_in_worker`). The supervising process thus
    holds no listening socket."""

    host: str
    port: int

    def __reduce__(self) -> tuple[Any, tuple[str, int]]:
        return _bind_in_worker, (self.host, self.port)


def serve_workers(*, host: str, port: int, workers: int, log_level: str = "info") -> None:
    """Serve the gateway in `workers` processes; this process supervises them (restarts one that
    dies, stops all on Ctrl-C or SIGTERM).

    On Linux each worker listens on a socket of its own in one SO_REUSEPORT group, and the kernel
    spreads new connections across them. With one shared socket (the fallback elsewhere) every
    worker is woken by a new connection and asyncio accepts all that are pending on one wake-up,
    so the first worker awake took most of a burst of keep-alive connections and kept them
    (bench/api.py: 48/2, 39/11, 37/13 of 50). A worker's socket closes with it: connections the
    kernel had queued on it but the worker had not accepted are reset."""
    config = workers_config(host=host, port=port, workers=workers, log_level=log_level)
    if REUSE_PORT:
        reserved = reserve_port(host, port)
        bound_port = reserved.getsockname()[1]
        # uvicorn's type says sockets; spawning pickles them, which is where `WorkerSocket` binds.
        sockets = cast(list[socket.socket], [WorkerSocket(host, bound_port)])
    else:
        reserved = bind_tcp_socket(config)
        sockets = [reserved]
    try:
        Multiprocess(config, sockets=sockets).run()
    finally:
        reserved.close()
